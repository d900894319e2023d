"""Warehouse build: tables, comments, empty inputs, determinism, atomic publish."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.lakegen import write_lake
from warehouse import build as wb
from warehouse.build import build_warehouse, connect_readonly
from warehouse.dictionary import render

REPO = Path(__file__).resolve().parents[2]

EXPECTED_TABLES = {
    "dim_date", "dim_lesson", "dim_classroom", "dim_teacher", "dim_student",
    "fct_attendance", "fct_teacher_inout", "fct_awards", "fct_key_event_counts",
    "fct_key_events", "fct_help_requests", "fct_course_progress",
    "mart_lesson_attendance", "mart_student_engagement", "mart_daily_overview",
    "mart_student_attendance_day", "mart_student_attendance_week", "mart_student_attendance_month",
    "mart_student_attendance_term", "mart_teacher_punctuality", "mart_teacher_punctuality_week",
    "mart_teacher_punctuality_month", "mart_class_attendance_week", "mart_class_attendance_month",
    "mart_school_week", "mart_school_month", "mart_students_at_risk", "mart_class_attendance_trend",
    "mart_student_participation", "mart_help_requests_class_week", "qa_roster_problems", "int_student_month_runs",
    "etl_build",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lake")
    write_lake(d, days=40, lessons_per_day=12, students_per_lesson=30, seed=1)
    return d


@pytest.fixture(scope="module")
def built(lake, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    build_warehouse(lake, out)
    return out


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()}


def _columns(con, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()


def _snapshot(path: Path) -> dict[str, tuple]:
    """Schema and content of every model table (insertion order as stored)."""
    con = connect_readonly(path)
    try:
        out = {}
        for t in sorted(_tables(con) - {"etl_build"}):
            out[t] = (_columns(con, t), con.execute(f'SELECT * FROM "{t}"').fetchall())
        return out
    finally:
        con.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_all_tables_exist_with_comments(built):
    con = connect_readonly(built)
    try:
        assert _tables(con) == EXPECTED_TABLES
        no_table_comment = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND coalesce(comment, '') = ''"
        ).fetchall()
        no_col_comment = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND coalesce(comment, '') = ''"
        ).fetchall()
        assert no_table_comment == [] and no_col_comment == []
        # time zone of the reader session
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "Asia/Shanghai"
        # every model table is non-empty on a full synthetic lake (it has no roster)
        for t in EXPECTED_TABLES - {"qa_roster_problems"}:
            assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] > 0, t
        # etl_build bookkeeping
        (rows,) = con.execute("SELECT rows_per_table FROM etl_build").fetchone()
        assert '"fct_attendance": 14400' in rows
        # every model's declared key is unique (the build checks it; this counts independently)
        specs = wb.model_specs()
        assert {s.table for s in specs} | {"etl_build"} == EXPECTED_TABLES
        for spec in specs:
            key = ", ".join(spec.key)
            dup = con.execute(f"SELECT count(*) - count(DISTINCT ({key})) FROM {spec.table}").fetchone()[0]
            assert dup == 0, spec.table
        # one grain per table: no table carries a column that names its grain ('period')
        mixed = con.execute("SELECT table_name FROM duckdb_columns() WHERE column_name = 'period'").fetchall()
        assert mixed == []
    finally:
        con.close()


def test_lake_files_counted(lake, built):
    con = connect_readonly(built)
    try:
        n = con.execute("SELECT lake_files FROM etl_build").fetchone()[0]
    finally:
        con.close()
    assert n == len(list(lake.glob("*/date=*/*.parquet"))) + 1


def test_empty_tables_when_lake_tables_missing(built, tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, days=3, lessons_per_day=4, students_per_lesson=5, seed=2,
               omit=("help_requests", "key_events", "awards", "course_progress"))
    out = tmp_path / "wh.duckdb"
    res = build_warehouse(lake, out)
    assert res.rows["fct_help_requests"] == 0
    assert res.rows["fct_key_events"] == 0
    assert res.rows["fct_awards"] == 0
    assert res.rows["fct_course_progress"] == 0
    assert res.rows["fct_attendance"] == 3 * 4 * 5
    full, part = connect_readonly(built), connect_readonly(out)
    try:
        assert _tables(part) == EXPECTED_TABLES
        for t in EXPECTED_TABLES:
            assert _columns(part, t) == _columns(full, t), t
        assert part.execute("SELECT sum(help_requests), sum(stars) FROM mart_daily_overview").fetchone() == (0, 0)
    finally:
        full.close()
        part.close()


def test_empty_lake_builds_every_table_empty(built, tmp_path):
    (tmp_path / "lake").mkdir()
    out = tmp_path / "wh.duckdb"
    res = build_warehouse(tmp_path / "lake", out)
    assert set(res.rows) == EXPECTED_TABLES - {"etl_build"}
    assert all(n == 0 for n in res.rows.values())
    full, empty = connect_readonly(built), connect_readonly(out)
    try:
        for t in EXPECTED_TABLES:
            assert _columns(empty, t) == _columns(full, t), t
    finally:
        full.close()
        empty.close()


def test_rebuild_is_identical(lake, built, tmp_path):
    again = tmp_path / "again.duckdb"
    build_warehouse(lake, again, threads=1)
    a, b = _snapshot(built), _snapshot(again)
    assert a.keys() == b.keys()
    for t in a:
        assert a[t] == b[t], t


def test_reader_keeps_answering_during_and_after_rebuild(tmp_path):
    lake1, lake2 = tmp_path / "l1", tmp_path / "l2"
    write_lake(lake1, days=5, lessons_per_day=6, students_per_lesson=10, seed=3)
    write_lake(lake2, days=9, lessons_per_day=6, students_per_lesson=10, seed=4)
    out = tmp_path / "pub" / "warehouse.duckdb"
    build_warehouse(lake1, out)
    reader = connect_readonly(out)
    q = "SELECT count(*), sum(listen_minutes) FROM fct_attendance"
    before = reader.execute(q).fetchone()
    assert before[0] == 5 * 6 * 10

    answers, errors = [], []
    done = threading.Event()

    def rebuild():
        try:
            build_warehouse(lake2, out)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    th = threading.Thread(target=rebuild)
    th.start()
    while not done.is_set():
        answers.append(reader.execute(q).fetchone())
    th.join()
    assert not errors
    answers.append(reader.execute(q).fetchone())
    assert set(answers) == {before}
    reader.close()
    # a fresh process sees the new build (in-process connections share a cached instance)
    code = (
        "import sys; from warehouse.build import connect_readonly; "
        "c = connect_readonly(sys.argv[1]); print(c.execute('SELECT count(*) FROM fct_attendance').fetchone()[0])"
    )
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, cwd=REPO, check=True)
    assert int(r.stdout) == 9 * 6 * 10
    assert sorted(os.listdir(out.parent)) == ["warehouse.duckdb"]


def test_failure_leaves_published_warehouse_untouched(lake, tmp_path):
    out = tmp_path / "pub" / "warehouse.duckdb"
    small = tmp_path / "small"
    write_lake(small, days=2, lessons_per_day=3, students_per_lesson=4, seed=5)
    build_warehouse(small, out)
    digest, inode = _sha(out), out.stat().st_ino

    bad = tmp_path / "bad"
    shutil.copytree(lake, bad)
    victim = sorted((bad / "attendance").glob("date=*/*.parquet"))[7]
    victim.write_bytes(b"PAR1 this is not parquet" * 10)
    with pytest.raises(duckdb.Error):
        build_warehouse(bad, out)
    assert _sha(out) == digest and out.stat().st_ino == inode
    assert sorted(os.listdir(out.parent)) == ["warehouse.duckdb"]
    con = connect_readonly(out)
    try:
        assert con.execute("SELECT count(*) FROM fct_attendance").fetchone()[0] == 2 * 3 * 4
    finally:
        con.close()


def test_model_without_comments_is_rejected(tmp_path, monkeypatch):
    small = tmp_path / "small"
    write_lake(small, days=1, lessons_per_day=2, students_per_lesson=3, seed=6)
    real = wb.model_files()
    monkeypatch.setattr(wb, "model_files", lambda: real + [("99_bad.sql", "-- key: x\nCREATE TABLE mart_bad AS SELECT 1 AS x;")])
    out = tmp_path / "pub" / "warehouse.duckdb"
    with pytest.raises(RuntimeError, match="without COMMENT"):
        build_warehouse(small, out)
    assert not out.exists()
    assert os.listdir(out.parent) == []


def test_model_without_a_key_is_rejected(tmp_path, monkeypatch):
    real = wb.model_files()
    monkeypatch.setattr(wb, "model_files", lambda: real + [("99_bad.sql", "CREATE TABLE mart_bad AS SELECT 1 AS x;")])
    with pytest.raises(RuntimeError, match="declares no key"):
        wb.model_specs()


def test_a_model_whose_key_repeats_stops_the_build(tmp_path, monkeypatch):
    small = tmp_path / "small"
    write_lake(small, days=2, lessons_per_day=2, students_per_lesson=3, seed=6)
    real = wb.model_files()
    bad = ("-- key: user_id\nCREATE TABLE mart_bad AS SELECT user_id FROM fct_attendance;\n"
           "COMMENT ON TABLE mart_bad IS 'x'; COMMENT ON COLUMN mart_bad.user_id IS 'x';")
    monkeypatch.setattr(wb, "model_files", lambda: real + [("99_bad.sql", bad)])
    out = tmp_path / "pub" / "warehouse.duckdb"
    with pytest.raises(wb.ModelKeyError, match=r"mart_bad: key \(user_id\) = \(\d+,\) occurs \d+ times"):
        build_warehouse(small, out)
    assert not out.exists()


def test_model_specs_find_keys_and_dependencies():
    specs = {s.table: s for s in wb.model_specs()}
    assert specs["fct_attendance"].key == ("lesson_id", "user_id")
    assert specs["fct_attendance"].deps == ("dim_lesson",) and specs["fct_attendance"].lake == ("attendance",)
    # a table named only inside a COMMENT text is not a dependency
    assert "fct_key_event_counts" not in specs["fct_key_events"].deps
    order = [s.table for s in wb.model_specs()]
    assert all(order.index(d) < order.index(t) for t, s in specs.items() for d in s.deps)


def test_models_are_packaged_and_ordered():
    names = [n for n, _ in wb.model_files()]
    assert names == sorted(names) and len(names) >= 15
    assert all(n.endswith(".sql") for n in names)


def test_data_dictionary_is_current(built):
    con = connect_readonly(built)
    try:
        text = render(con)
    finally:
        con.close()
    doc = REPO / "docs" / "data-dictionary.md"
    assert doc.read_text(encoding="utf-8") == text, (
        "docs/data-dictionary.md is stale: python -m warehouse.dictionary <warehouse> -o docs/data-dictionary.md"
    )
    for t in EXPECTED_TABLES:
        assert f"### {t}" in text


def test_a_lesson_in_two_days_partitions_stops_the_build_and_keeps_the_warehouse(tmp_path):
    """Keys are unique per partition (asset checks); across days the build checks them itself."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from warehouse.build import LakeKeyError, build_warehouse

    from .lakegen import write_lake

    lake = tmp_path / "lake"
    write_lake(lake, days=2, lessons_per_day=3, students_per_lesson=4, seed=5)
    out = tmp_path / "warehouse.duckdb"
    build_warehouse(lake, out)
    before = out.read_bytes()
    day_dirs = sorted((lake / "lessons").glob("date=*"))
    first, second = (pq.read_table(d / "part-0.parquet") for d in day_dirs[:2])
    moved = first.slice(0, 1).to_pylist()[0] | {"lesson_date": second["lesson_date"][0].as_py()}
    rows = second.to_pylist() + [moved]
    pq.write_table(pa.Table.from_pylist(rows, schema=second.schema), day_dirs[1] / "part-0.parquet")
    with pytest.raises(LakeKeyError) as err:
        build_warehouse(lake, out)
    assert f"lesson {first['lesson_id'][0].as_py()} on" in str(err.value) and "liveclass run --start" in str(err.value)
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
