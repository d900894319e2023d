"""Incremental warehouse builds equal full rebuilds, table by table, after random sequences of day changes.

Each sequence starts from a small synthetic lake that crosses a week, a month and a term boundary
(Feb -> Mar: 寒 -> 春), builds it in full, then applies seeded random changes to the lake: a new day,
a day re-extracted with late attendance (absent students turn up late, a lesson finishes), a day
deleted, a teacher renamed on one day (a watched dimension column), a new course-progress snapshot.
After every change the warehouse is built incrementally on top of the previous one and, separately,
in full; every table but ``etl_build`` must hold exactly the same rows.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.core.schemas import DAILY_TABLES
from tests.warehouse.lakegen import write_lake
from warehouse import build as wb
from warehouse.build import build_warehouse

START = dt.date(2024, 2, 20)   # Tuesday: the lake crosses weeks, Feb -> Mar (month and term)
DAYS = 14
LESSONS = 6
STUDENTS = 6


def _rewrite(path: Path, table: pa.Table) -> None:
    """Replace a lake file as the lake does (new file renamed into place), with a new mtime."""
    before = path.stat().st_mtime_ns if path.exists() else None
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    if before is not None and path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1000, before + 1000))


def _days(lake: Path) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(p.name[5:]) for p in (lake / "lessons").glob("date=*"))


def add_day(lake: Path, day: dt.date, seed: int, scratch: Path) -> None:
    """A new day's partitions (lesson ids of their own, as the platform gives them)."""
    tmp = scratch / f"day-{day}-{seed}"
    write_lake(tmp, days=1, lessons_per_day=LESSONS, students_per_lesson=STUDENTS, seed=seed, start=day,
               n_classes=3)
    offset = 1_000 * ((day - START).days + 100)
    for name in DAILY_TABLES:
        src = tmp / name / f"date={day}" / "part-0.parquet"
        if not src.exists():
            continue
        t = pq.read_table(src)
        i = t.schema.get_field_index("lesson_id")
        t = t.set_column(i, t.schema.field(i), pc.add(t["lesson_id"], offset).cast(pa.int64()))
        _rewrite(lake / name / f"date={day}" / "part-0.parquet", t)
    shutil.rmtree(tmp)


def late_attendance(lake: Path, day: dt.date, rng: random.Random) -> None:
    """The day re-extracted: some absent students of finished lessons turn up late; one in-class or
    not-started lesson has finished since."""
    f = lake / "attendance" / f"date={day}" / "part-0.parquet"
    rows = pq.read_table(f).to_pylist()
    for r in rows:
        if r["listen_minutes"] == 0 and rng.random() < 0.5:
            r.update(listen_minutes=rng.randint(5, 30), late_minutes=rng.randint(1, 15), inout_times=1)
    _rewrite(f, pa.Table.from_pylist(rows, schema=pq.read_schema(f)))
    lf = lake / "lessons" / f"date={day}" / "part-0.parquet"
    lessons = pq.read_table(lf).to_pylist()
    for r in lessons:
        if r["status"] in (0, 1):
            r["status"] = 2
            break
    _rewrite(lf, pa.Table.from_pylist(lessons, schema=pq.read_schema(lf)))


def delete_day(lake: Path, day: dt.date) -> None:
    for name in DAILY_TABLES:
        shutil.rmtree(lake / name / f"date={day}", ignore_errors=True)


def rename_teacher(lake: Path, day: dt.date) -> None:
    """The platform renames a teacher on one day's lessons: the teacher's name (dim_teacher) changes on
    every day of their lessons, not just this one."""
    lf = lake / "lessons" / f"date={day}" / "part-0.parquet"
    lessons = pq.read_table(lf).to_pylist()
    for r in lessons:
        if r["teacher_name"] is not None:
            r["teacher_name"] = r["teacher_name"] + "（新）"
    _rewrite(lf, pa.Table.from_pylist(lessons, schema=pq.read_schema(lf)))


def new_progress(lake: Path, rng: random.Random) -> None:
    f = lake / "course_progress" / "snapshot.parquet"
    rows = pq.read_table(f).to_pylist()
    for r in rows:
        r["finished"] += rng.randint(0, 2)
        r["total"] = r["finished"] + r["not_started"] + r["on_class"] + r["expired"]
    _rewrite(f, pa.Table.from_pylist(rows, schema=pq.read_schema(f)))


def snapshot(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name <> 'etl_build' ORDER BY 1").fetchall()]
        out = {}
        for t in tables:
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                               "ORDER BY column_index", [t]).fetchall()
            out[t] = (cols, con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall())
        return out
    finally:
        con.close()


def assert_same(incremental: Path, full: Path, step: str) -> None:
    a, b = snapshot(incremental), snapshot(full)
    assert sorted(a) == sorted(b), step
    for t in b:
        assert a[t][0] == b[t][0], f"{step}: {t} columns differ"
        assert a[t][1] == b[t][1], f"{step}: {t} differs ({len(a[t][1])} rows incremental, {len(b[t][1])} full)"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_full_after_random_day_changes(tmp_path, seed):
    rng = random.Random(seed)
    lake = tmp_path / "lake"
    write_lake(lake, days=DAYS, lessons_per_day=LESSONS, students_per_lesson=STUDENTS, seed=seed, start=START,
               n_classes=3)
    inc, full = tmp_path / "inc" / "warehouse.duckdb", tmp_path / "full" / "warehouse.duckdb"
    first = build_warehouse(lake, inc)
    assert first.mode == "full" and first.reason == "no previous build"
    ops = ["new_day", "late", "delete", "rename", "progress", "new_day", "none"]
    rng.shuffle(ops)
    rebuilt_some = False
    for i, op in enumerate(ops):
        days = _days(lake)
        step = f"seed {seed} step {i}: {op}"
        if op == "new_day":
            day = days[-1] + dt.timedelta(days=rng.choice([1, 1, 2]))
            add_day(lake, day, seed * 100 + i, tmp_path)
            expect = {day}
        elif op == "late":
            day = rng.choice(days[-3:])
            late_attendance(lake, day, rng)
            expect = {day}
        elif op == "delete":
            day = rng.choice([days[0], days[-1], rng.choice(days)])
            delete_day(lake, day)
            expect = {day}
        elif op == "rename":
            day = days[-1]  # the teachers' most recent lessons: dim_teacher.teacher_name changes
            rename_teacher(lake, day)
            expect = {day}
        elif op == "progress":
            new_progress(lake, rng)
            expect = set()
        else:
            expect = set()
        r = build_warehouse(lake, inc)
        assert r.mode == "incremental", f"{step}: {r.reason}"
        assert set(r.changed_days) == {d.isoformat() for d in expect}, step
        assert set(r.changed_days) <= set(r.rebuilt_days), step
        rebuilt_some |= op == "rename" and len(r.rebuilt_days) > 1
        f = build_warehouse(lake, full, full=True)
        assert f.mode == "full"
        assert_same(inc, full, step)
    # renaming a teacher rebuilt the days of all their lessons, not just the day renamed
    assert rebuilt_some


def test_a_changed_model_makes_a_full_rebuild(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    write_lake(lake, days=4, lessons_per_day=3, students_per_lesson=3, seed=7, start=START)
    out = tmp_path / "warehouse.duckdb"
    assert build_warehouse(lake, out).mode == "full"
    assert build_warehouse(lake, out).mode == "incremental"
    real = wb.model_files()
    changed = [(n, t + "\n-- a comment changes the model's digest\n" if n.endswith("_mart_school_week.sql") else t)
               for n, t in real]
    monkeypatch.setattr(wb, "model_files", lambda: changed)
    r = build_warehouse(lake, out)
    assert r.mode == "full" and "models" in r.reason
    assert build_warehouse(lake, out).mode == "incremental"  # the new digest is recorded
    con = duckdb.connect(str(out), read_only=True)
    try:
        mode, sha = con.execute("SELECT build_mode, models_sha256 FROM etl_build").fetchall()[0]
    finally:
        con.close()
    assert mode == "incremental" and sha == wb.models_digest(wb.model_specs())


def test_full_rebuild_on_request_and_for_another_lake(tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, days=3, lessons_per_day=2, students_per_lesson=3, seed=8, start=START)
    out = tmp_path / "warehouse.duckdb"
    build_warehouse(lake, out)
    r = build_warehouse(lake, out, full=True)
    assert r.mode == "full" and "asked" in r.reason
    other = tmp_path / "other"
    shutil.copytree(lake, other)
    r = build_warehouse(other, out)
    assert r.mode == "full" and "another lake" in r.reason


def test_memory_limit_and_temp_directory_reach_duckdb(tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, days=2, lessons_per_day=2, students_per_lesson=3, seed=9, start=START)
    spill = tmp_path / "not" / "yet" / "spill"  # created by the build (DuckDB creates only the last folder)
    r = build_warehouse(lake, tmp_path / "warehouse.duckdb", memory_limit="300MB", temp_dir=spill, threads=1)
    expected = duckdb.connect().execute("SET memory_limit = '300MB'; SELECT current_setting('memory_limit')"
                                        ).fetchall()[0][0]
    assert r.duckdb_settings["memory_limit"] == expected != duckdb.connect().execute(
        "SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert Path(r.duckdb_settings["temp_directory"]).parent == spill
    assert r.duckdb_settings["threads"] == "1"
    assert r.duckdb_settings["preserve_insertion_order"].lower() == "false"
    assert not list(spill.iterdir())  # the build's spill folder is removed


def test_stale_spill_folders_of_dead_builders_are_removed(tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, days=2, lessons_per_day=2, students_per_lesson=3, seed=9, start=START)
    spill = tmp_path / "spill"
    (spill / "999999999.deadbeef").mkdir(parents=True)
    (spill / "999999999.deadbeef" / "x.tmp").write_bytes(b"x")
    build_warehouse(lake, tmp_path / "warehouse.duckdb", temp_dir=spill)
    assert not (spill / "999999999.deadbeef").exists()


def test_a_changed_day_with_rows_of_another_days_lesson_falls_back_to_full(tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, days=4, lessons_per_day=2, students_per_lesson=3, seed=10, start=START)
    out = tmp_path / "warehouse.duckdb"
    build_warehouse(lake, out)
    days = _days(lake)
    f = lake / "awards" / f"date={days[-1]}" / "part-0.parquet"
    other = pq.read_table(lake / "lessons" / f"date={days[0]}" / "part-0.parquet")["lesson_id"][0].as_py()
    rows = pq.read_table(f).to_pylist()
    rows.append(dict(rows[0], lesson_id=other, user_id=123))
    _rewrite(f, pa.Table.from_pylist(rows, schema=pq.read_schema(f)))
    r = build_warehouse(lake, out)
    assert r.mode == "full" and "other days" in r.reason
    con = duckdb.connect(str(out), read_only=True)
    try:
        assert con.execute("SELECT lake_aligned FROM etl_build").fetchall()[0][0] is False
    finally:
        con.close()
    assert build_warehouse(lake, out).mode == "full"  # and stays full while the lake is so


def test_the_dagster_step_builds_incrementally_unless_told_full_rebuild(tmp_path):
    from dagster import materialize

    from assets.resources import DataDirResource
    from assets.warehouse.assets import FULL_REBUILD_CONFIG, build_warehouse_assets

    root = tmp_path / "data"
    write_lake(root / "lake", days=3, lessons_per_day=3, students_per_lesson=4, seed=11, start=START)
    for name, schema in DAILY_TABLES.items():  # the lake asset writes a (maybe empty) file every day
        for day in _days(root / "lake"):
            path = root / "lake" / name / f"date={day}" / "part-0.parquet"
            if not path.exists():
                _rewrite(path, schema.empty_table())
    assets = build_warehouse_assets(memory_limit="500MB")
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    def run(config):
        res = materialize([assets], resources={"data_dir": DataDirResource(path=str(root))}, run_config=config)
        assert res.success
        meta = next(e.materialization.metadata for e in res.get_asset_materialization_events()
                    if e.materialization.asset_key.path[-1] == "etl_build")
        return meta["build_mode"].value, meta["build_reason"].value, meta["memory_limit"].value

    mode, reason, limit = run(quiet)
    assert (mode, reason) == ("full", "no previous build")
    assert limit == duckdb.connect().execute("SET memory_limit = '500MB'; SELECT current_setting('memory_limit')"
                                             ).fetchall()[0][0]
    late_attendance(root / "lake", _days(root / "lake")[-1], random.Random(1))
    assert run(quiet)[:2] == ("incremental", "1 changed day(s)")
    assert run({**quiet, **FULL_REBUILD_CONFIG})[:2] == ("full", "a full rebuild was asked for")
    assert (root / ".warehouse-tmp").is_dir() and not list((root / ".warehouse-tmp").iterdir())


def test_warehouse_memory_setting():
    from pipeline.core.settings import Settings, SettingsError, default_warehouse_memory

    assert Settings.from_env({"LIVECLASS_WAREHOUSE_MEMORY": "3gb"}, cwd="/").warehouse_memory_limit == "3GB"
    assert Settings.from_env({}, cwd="/").warehouse_memory_limit == default_warehouse_memory()
    assert default_warehouse_memory(24 * 2**30) == "6.4GB"
    assert default_warehouse_memory(2 * 2**30) == "1.0GB" and default_warehouse_memory(256 * 2**30) == "16.0GB"
    with pytest.raises(SettingsError, match="LIVECLASS_WAREHOUSE_MEMORY"):
        Settings.from_env({"LIVECLASS_WAREHOUSE_MEMORY": "lots"}, cwd="/")
