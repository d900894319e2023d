"""The per-grain and question marts against the sandbox's ground truth over nine weeks of a term.

The truth (what happened in the synthetic school, written by ``pipeline.sandbox.truth``) is laid out
as a lake and built into a warehouse; every number below is then computed again with pandas from the
truth tables alone, following docs/definitions.md.  (That extraction reproduces the truth exactly is
tested on real extractions in ``test_marts_vs_truth.py`` and the reliability suite.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.core.layout import DataDir
from pipeline.core.schemas import DAILY_TABLES, LESSONS

FIRST, LAST = date(2026, 9, 28), date(2026, 11, 29)  # nine ISO weeks of the autumn term
NOW = datetime(2026, 12, 1, 9, 0)
SEED, LESSONS_PER_DAY = 5, 12


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from pipeline.core.calendar import TZ
    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_truth
    from warehouse.build import build_warehouse, connect_readonly

    truth_dir = tmp_path_factory.mktemp("truth")
    school = School(seed=SEED, lessons_per_day=LESSONS_PER_DAY, now=NOW.replace(tzinfo=TZ))
    write_truth(school, FIRST, LAST, truth_dir)
    truth = {name: pd.read_parquet(truth_dir / f"{name}.parquet") for name in
             ("lessons", "attendance", "teacher_inout", "key_event_counts", "help_requests", "lessons_detail")}
    # the truth laid out as the lake (same schemas), one partition per day
    dirs = DataDir(tmp_path_factory.mktemp("data"))
    for name in DAILY_TABLES:
        table = pq.read_table(truth_dir / f"{name}.parquet")
        days = table.column("lesson_date").to_pylist()
        for day in sorted(set(days)):
            path = dirs.lake_file(name, day.isoformat())
            path.parent.mkdir(parents=True, exist_ok=True)
            mask = np.array([d == day for d in days])
            pq.write_table(table.filter(mask).select(DAILY_TABLES[name].names), path)
    out = dirs.warehouse
    build_warehouse(dirs.lake_dir(), out)
    con = connect_readonly(out)

    les = truth["lessons"].copy()
    les["lesson_date"] = pd.to_datetime(les["lesson_date"]).dt.date
    att = truth["attendance"].merge(les[["lesson_id", "status", "class_id", "scheduled_start", "lesson_date"]]
                                    .rename(columns={"lesson_date": "ld"}), on="lesson_id")
    att = att[att.status == 2].copy()
    att["attended"] = att.listen_minutes > 0
    att["day"] = pd.to_datetime(att.ld)
    att["week_start"] = (att.day - pd.to_timedelta(att.day.dt.day_of_week, unit="D")).dt.date
    yield con, truth, les, att
    con.close()


def rows(con, sql):
    return con.execute(sql).df()


def _trailing(flags: list[bool]) -> int:
    n = 0
    for f in reversed(flags):
        if not f:
            break
        n += 1
    return n


def _longest(flags: list[bool]) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def test_the_warehouse_covers_the_nine_weeks(env):
    con, *_ = env
    assert con.execute("SELECT data_from, data_to, days FROM etl_build").fetchall() == [(FIRST, LAST, 63)]
    assert con.execute("SELECT count(*), count(DISTINCT term) FROM dim_date").fetchall() == [(63, 1)]
    assert con.execute("SELECT DISTINCT term FROM dim_date").fetchall() == [("2026秋",)]


def test_absence_streaks_match_truth(env):
    con, _, _, att = env
    att = att.sort_values(["user_id", "scheduled_start", "lesson_id"])
    exp = {uid: (_trailing(list(~g.attended)), _longest(list(~g.attended)), len(g))
           for uid, g in att.groupby("user_id")}
    got = {r.user_id: (r.current_absence_streak, r.longest_absence_streak, r.lessons)
           for r in rows(con, "SELECT * FROM mart_students_at_risk").itertuples()}
    assert got == exp
    # the school has students who stopped coming: streaks long enough to act on
    assert max(v[0] for v in exp.values()) >= 3
    at_risk = set(rows(con, "SELECT user_id FROM mart_students_at_risk WHERE at_risk").user_id)
    assert {u for u, v in exp.items() if v[0] >= 3} <= at_risk


def test_four_week_trends_match_truth(env):
    con, _, _, att = env
    as_of = max(att.ld)
    last = att[att.ld > as_of - timedelta(days=28)]
    prev = att[(att.ld <= as_of - timedelta(days=28)) & (att.ld > as_of - timedelta(days=56))]
    got = rows(con, "SELECT user_id, rate_last_4w, rate_prev_4w FROM mart_students_at_risk").set_index("user_id")
    exp_last, exp_prev = last.groupby("user_id").attended.mean(), prev.groupby("user_id").attended.mean()
    assert got.rate_last_4w.dropna().to_dict() == pytest.approx(exp_last.to_dict())
    assert got.rate_prev_4w.dropna().to_dict() == pytest.approx(exp_prev.to_dict())
    cls = rows(con, "SELECT class_id, rate_last_4w, rate_prev_4w, falling FROM mart_class_attendance_trend"
               ).set_index("class_id")
    assert cls.rate_last_4w.dropna().to_dict() == pytest.approx(last.groupby("class_id").attended.mean().to_dict())
    assert cls.rate_prev_4w.dropna().to_dict() == pytest.approx(prev.groupby("class_id").attended.mean().to_dict())
    n_last, n_prev = last.groupby("class_id").lesson_id.nunique(), prev.groupby("class_id").lesson_id.nunique()
    change = last.groupby("class_id").attended.mean() - prev.groupby("class_id").attended.mean()
    falling = {c for c, d in change.dropna().items() if d <= -0.10 and n_last.get(c, 0) >= 2 and n_prev.get(c, 0) >= 2}
    assert set(cls.index[cls.falling]) == falling


def test_participation_matches_truth(env):
    con, truth, _, att = env
    kec = truth["key_event_counts"]
    part = kec[kec.event_type.isin(["handup", "toggle_mic_on", "onstage"]) & (kec.event_count > 0)]
    took = set(zip(part.lesson_id, part.user_id))
    came = att[att.attended].sort_values(["user_id", "scheduled_start", "lesson_id"]).copy()
    came["took"] = [(lid, uid) in took for lid, uid in zip(came.lesson_id, came.user_id)]
    exp = {uid: (len(g), int(g.took.sum()), _trailing(list(~g.took))) for uid, g in came.groupby("user_id")}
    got = {r.user_id: (r.attended_lessons, r.lessons_taking_part, r.lessons_without_taking_part)
           for r in rows(con, "SELECT * FROM mart_student_participation").itertuples()}
    assert got == exp and len(got) > 100


def test_class_week_attendance_matches_truth(env):
    con, _, _, att = env
    exp = att.groupby(["class_id", "week_start"]).agg(n=("attended", "size"), a=("attended", "sum"),
                                                      lessons=("lesson_id", "nunique"))
    got = rows(con, "SELECT class_id, week_start, student_lessons AS n, attended AS a, lessons_held AS lessons "
                    "FROM mart_class_attendance_week")
    got["week_start"] = pd.to_datetime(got.week_start).dt.date
    got = got.set_index(["class_id", "week_start"]).sort_index()
    assert got.astype(int).to_dict() == exp.astype(int).to_dict()
    # some classes meet more than once a week, so weekly rates pool several lessons
    assert exp.lessons.max() >= 2


def test_teacher_week_punctuality_matches_truth(env):
    con, truth, les, _ = env
    det, ti = truth["lessons_detail"], truth["teacher_inout"]
    held = les[les.status == 2].merge(ti[["lesson_id", "late_minutes"]], on="lesson_id")
    held = held.merge(det[["lesson_id", "teacher_id"]], on="lesson_id")
    d = pd.to_datetime(held.lesson_date)
    held["week_start"] = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date
    exp = held.groupby(["teacher_id", "week_start"]).agg(
        held=("lesson_id", "size"), late=("late_minutes", lambda s: int((s > 0).sum())))
    got = rows(con, "SELECT teacher_id, week_start, lessons_held AS held, late_starts AS late "
                    "FROM mart_teacher_punctuality_week WHERE lessons_held > 0")
    got["week_start"] = pd.to_datetime(got.week_start).dt.date
    assert got.set_index(["teacher_id", "week_start"]).sort_index().astype(int).to_dict() == exp.astype(int).to_dict()
    assert exp.late.sum() > 0


def test_school_week_counts_each_student_once(env):
    con, _, _, att = env
    exp = att.groupby("week_start").agg(students=("user_id", "nunique"), enrolled=("user_id", "size"),
                                        attended=("attended", "sum"))
    got = rows(con, "SELECT week_start, distinct_students AS students, students_enrolled AS enrolled, "
                    "students_attended AS attended FROM mart_school_week WHERE students_enrolled > 0")
    got["week_start"] = pd.to_datetime(got.week_start).dt.date
    assert got.set_index("week_start").sort_index().astype(int).to_dict() == exp.astype(int).to_dict()
    # summing days would count a student once per day: the week grain does not
    daily = rows(con, "SELECT sum(distinct_students) AS s FROM mart_daily_overview").s[0]
    assert daily > exp.students.sum()


def test_help_requests_per_class_week_and_type_match_truth(env):
    con, truth, les, _ = env
    h = truth["help_requests"].merge(les[["lesson_id", "class_id"]], on="lesson_id")
    d = pd.to_datetime(h.lesson_date)
    h["week_start"] = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date
    h["help_type"] = h.help_type.fillna("<none>")
    exp = h.groupby(["class_id", "week_start", "help_type"]).size()
    got = rows(con, "SELECT class_id, week_start, coalesce(help_type, '<none>') AS help_type, requests "
                    "FROM mart_help_requests_class_week")
    got["week_start"] = pd.to_datetime(got.week_start).dt.date
    assert got.set_index(["class_id", "week_start", "help_type"]).requests.sort_index().to_dict() == exp.to_dict()
    assert len(exp) > 0


def test_plain_duckdb_reads_beijing_hours(env, tmp_path):
    """No session setting: the stored wall time is the hour the school lived."""
    import duckdb

    con, _, les, _ = env
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    plain = duckdb.connect(path, read_only=True)
    try:
        got = dict(plain.execute("SELECT lesson_id, hour(scheduled_start) FROM dim_lesson").fetchall())
        hours = dict(plain.execute("SELECT lesson_id, start_hour FROM mart_lesson_attendance").fetchall())
    finally:
        plain.close()
    exp = {lid: ts.tz_convert("Asia/Shanghai").hour for lid, ts in zip(les.lesson_id, les.scheduled_start)}
    assert got == exp == hours
    assert LESSONS.field("scheduled_start").type.tz  # the lake keeps the zone; the warehouse shows wall time


def _periods(df: pd.DataFrame, day_col: str) -> pd.DataFrame:
    d = pd.to_datetime(df[day_col])
    df = df.copy()
    df["lesson_date"] = d.dt.date
    df["week_start"] = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date
    df["month_start"] = d.dt.to_period("M").dt.start_time.dt.date
    season = {1: "寒", 2: "寒", 3: "春", 4: "春", 5: "春", 6: "春", 7: "暑", 8: "暑"}
    df["term"] = d.dt.year.astype(str) + d.dt.month.map(lambda m: season.get(m, "秋"))
    return df


def _keyed(con, sql, keys):
    got = rows(con, sql)
    for k in keys:
        if k != "term" and k.endswith(("_start", "_date")):
            got[k] = pd.to_datetime(got[k]).dt.date
    return got.set_index(keys).sort_index()


@pytest.mark.parametrize("grain, key", [("day", "lesson_date"), ("week", "week_start"),
                                         ("month", "month_start"), ("term", "term")])
def test_student_attendance_per_grain_matches_truth(env, grain, key):
    con, _, _, att = env
    a = _periods(att, "ld")
    exp = a.groupby(["user_id", key]).agg(lessons=("attended", "size"), attended=("attended", "sum"))
    got = _keyed(con, f"SELECT user_id, {key}, lessons, attended FROM mart_student_attendance_{grain}",
                 ["user_id", key])
    assert got.astype(int).to_dict() == exp.astype(int).to_dict() and len(exp) > 0


def test_class_teacher_and_school_months_match_truth(env):
    con, truth, les, att = env
    a = _periods(att, "ld")
    exp = a.groupby(["class_id", "month_start"]).agg(n=("attended", "size"), a=("attended", "sum"))
    got = _keyed(con, "SELECT class_id, month_start, student_lessons AS n, attended AS a "
                      "FROM mart_class_attendance_month", ["class_id", "month_start"])
    assert got.astype(int).to_dict() == exp.astype(int).to_dict()
    exp = a.groupby("month_start").agg(students=("user_id", "nunique"), attended=("attended", "sum"))
    got = _keyed(con, "SELECT month_start, distinct_students AS students, students_attended AS attended "
                      "FROM mart_school_month WHERE students_enrolled > 0", ["month_start"])
    assert got.astype(int).to_dict() == exp.astype(int).to_dict()
    det, ti = truth["lessons_detail"], truth["teacher_inout"]
    held = _periods(les[les.status == 2].merge(ti[["lesson_id", "late_minutes"]], on="lesson_id")
                    .merge(det[["lesson_id", "teacher_id"]], on="lesson_id"), "lesson_date")
    exp = held.groupby(["teacher_id", "month_start"]).agg(
        held=("lesson_id", "size"), late=("late_minutes", lambda s: int((s > 0).sum())))
    got = _keyed(con, "SELECT teacher_id, month_start, lessons_held AS held, late_starts AS late "
                      "FROM mart_teacher_punctuality_month WHERE lessons_held > 0", ["teacher_id", "month_start"])
    assert got.astype(int).to_dict() == exp.astype(int).to_dict() and exp.late.sum() > 0


def test_teacher_punctuality_over_the_window_and_its_last_14_days_match_truth(env):
    con, truth, les, _ = env
    det, ti = truth["lessons_detail"], truth["teacher_inout"]
    held = les[les.status == 2].merge(ti[["lesson_id", "late_minutes"]], on="lesson_id") \
        .merge(det[["lesson_id", "teacher_id"]], on="lesson_id")
    recent = held[held.lesson_date > max(les.lesson_date) - timedelta(days=14)]
    got = rows(con, "SELECT teacher_id, late_starts, late_starts_14d, lessons_held_14d, period_start, period_end "
                    "FROM mart_teacher_punctuality WHERE lessons_held > 0").set_index("teacher_id")
    assert got.late_starts.to_dict() == held.groupby("teacher_id").late_minutes.apply(lambda s: int((s > 0).sum())
                                                                                      ).to_dict()
    r14 = recent.groupby("teacher_id").agg(n=("lesson_id", "size"), late=("late_minutes", lambda s: int((s > 0).sum())))
    assert {t: (int(v.lessons_held_14d), int(v.late_starts_14d)) for t, v in got.iterrows() if v.lessons_held_14d} == {
        t: (int(v.n), int(v.late)) for t, v in r14.iterrows()}
    assert {d.date() for d in pd.to_datetime(got.period_start)} == {FIRST}
    assert {d.date() for d in pd.to_datetime(got.period_end)} == {LAST}
