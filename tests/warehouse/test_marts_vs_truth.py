"""Marts built from a real extraction against the sandbox equal numbers computed independently,
with pandas, from the sandbox's ground truth (what really happened in the synthetic school)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.assets.test_extraction import extracted  # noqa: F401  (fixture; `truth` comes from tests/conftest.py)

pytestmark = pytest.mark.xdist_group("sandbox")


@pytest.fixture(scope="module")
def warehouse(extracted, tmp_path_factory):  # noqa: F811
    from warehouse.build import build_warehouse, connect_readonly

    data_dir, _ = extracted
    out = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    build_warehouse(data_dir / "lake", out)
    con = connect_readonly(out)
    yield con
    con.close()


def t(truth_dir, name):
    return pd.read_parquet(truth_dir / f"{name}.parquet")


def test_lesson_attendance_rate_matches_truth(warehouse, truth):
    lessons, att = t(truth, "lessons"), t(truth, "attendance")
    finished = set(lessons.loc[lessons.status == 2, "lesson_id"])
    expected = {lid: (g.listen_minutes > 0).mean() for lid, g in att.groupby("lesson_id") if lid in finished}
    got = dict(warehouse.execute("SELECT lesson_id, attendance_rate FROM mart_lesson_attendance "
                                 "WHERE attendance_rate IS NOT NULL").fetchall())
    assert got.keys() == expected.keys() and len(got) > 0
    for lid, rate in expected.items():
        assert got[lid] == pytest.approx(rate)
    # enrolled = every student API 23 lists, absent ones included
    enrolled = dict(warehouse.execute("SELECT lesson_id, enrolled FROM mart_lesson_attendance").fetchall())
    assert enrolled == att.groupby("lesson_id").size().to_dict() | {
        lid: 0 for lid in set(lessons.lesson_id) - set(att.lesson_id)}


def test_student_monthly_late_count_matches_truth(warehouse, truth):
    lessons, att = t(truth, "lessons"), t(truth, "attendance")
    fin = att[att.lesson_id.isin(lessons.loc[lessons.status == 2, "lesson_id"])]
    late = fin[(fin.listen_minutes > 0) & (fin.late_minutes > 0)].groupby("user_id").size()
    assert len(late) > 0
    got = dict(warehouse.execute("SELECT user_id, late FROM mart_student_attendance_month "
                                 "WHERE late > 0").fetchall())
    assert got == late.to_dict()


def test_teacher_late_starts_match_truth(warehouse, truth):
    lessons, ti = t(truth, "lessons"), t(truth, "teacher_inout")
    held = ti[ti.lesson_id.isin(lessons.loc[lessons.status == 2, "lesson_id"])]
    expected = held.groupby("teacher_id").apply(lambda g: int((g.late_minutes > 0).sum())).to_dict()
    got = dict(warehouse.execute("SELECT teacher_id, late_starts FROM mart_teacher_punctuality "
                                 "WHERE lessons_held > 0").fetchall())
    assert got == expected
    assert sum(expected.values()) > 0


def test_daily_overview_counts_match_truth(warehouse, truth):
    lessons = t(truth, "lessons")
    exp = lessons.groupby("lesson_date").agg(lessons=("lesson_id", "size"),
                                            finished=("status", lambda s: int((s == 2).sum())),
                                            expired=("status", lambda s: int((s == 3).sum())))
    got = warehouse.execute("SELECT lesson_date, lessons, finished, expired FROM mart_daily_overview "
                            "ORDER BY lesson_date").df().set_index("lesson_date")
    got.index = pd.to_datetime(got.index).date
    exp.index = pd.to_datetime(exp.index).date
    assert got.astype(int).to_dict() == exp.astype(int).to_dict()


def test_plain_duckdb_sees_the_beijing_start_hour_of_every_lesson(warehouse, truth):
    """Opened with plain ``duckdb.connect(path, read_only=True)``, no settings: hours are Beijing's."""
    import duckdb

    path = warehouse.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                             ).fetchall()[0][0]
    plain = duckdb.connect(path, read_only=True)
    try:
        plain.execute("SET TimeZone = 'UTC'")  # what a BI server's session has; the wall time must not move
        got = dict(plain.execute("SELECT lesson_id, start_hour FROM mart_lesson_attendance").fetchall())
        wall = dict(plain.execute("SELECT lesson_id, strftime(scheduled_start, '%H:%M') FROM dim_lesson").fetchall())
        hours = dict(plain.execute("SELECT lesson_id, hour(scheduled_start) FROM dim_lesson").fetchall())
    finally:
        plain.close()
    lessons = t(truth, "lessons")
    local = lessons.scheduled_start.dt.tz_convert("Asia/Shanghai")
    assert got == dict(zip(lessons.lesson_id, local.dt.hour)) and len(got) > 0
    assert wall == dict(zip(lessons.lesson_id, local.dt.strftime("%H:%M")))
    assert hours == got
