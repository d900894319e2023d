"""Extraction end to end: Dagster materializes raw + lake for real days against the sandbox,
and the lake reconciles exactly with the sandbox's ground truth."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import materialize

from assets.resources import DataDirResource
from pipeline.core import schemas
from pipeline.definitions import daily_assets
from tests.conftest import SANDBOX_DAYS, SANDBOX_LESSONS_PER_DAY, api_resource

pytestmark = pytest.mark.xdist_group("sandbox")


def run_days(sb, data_dir: Path, days=SANDBOX_DAYS, full_refresh: bool = False, **api):
    from assets.raw.assets import full_refresh_config

    results = []
    for day in days:
        res = materialize(daily_assets(), partition_key=day, raise_on_error=True,
                          run_config=full_refresh_config(daily_assets()) if full_refresh else None,
                          resources={"api": api_resource(sb, **api), "data_dir": DataDirResource(path=str(data_dir))})
        assert res.success
        results.append(res)
    return results


def lake_bytes(data_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted((data_dir / "lake").rglob("*.parquet"))}


def read_lake(data_dir: Path, table: str):
    import pyarrow as pa

    files = sorted((data_dir / "lake" / table).glob("date=*/part-0.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else schemas.DAILY_TABLES[table].empty_table()


@pytest.fixture(scope="module")
def extracted(sandbox, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("lake")
    results = run_days(sandbox, data_dir)
    return data_dir, results


def _sorted_rows(table, keys):
    return sorted(table.to_pylist(), key=lambda r: tuple(r[k] for k in keys))


@pytest.mark.parametrize("table", ["lessons", "attendance", "teacher_inout", "awards", "key_event_counts",
                                   "key_events", "help_requests"])
def test_lake_reconciles_exactly_with_ground_truth(extracted, truth, table):
    data_dir, _ = extracted
    lake = read_lake(data_dir, table)
    expected = pq.read_table(truth / f"{table}.parquet")
    assert lake.schema == schemas.DAILY_TABLES[table]
    keys = schemas.PRIMARY_KEYS[table]
    assert lake.num_rows == expected.num_rows
    assert _sorted_rows(lake, keys) == _sorted_rows(expected.select(lake.schema.names), keys)


def test_every_day_has_lessons_and_checks_pass(extracted):
    data_dir, results = extracted
    lessons = read_lake(data_dir, "lessons")
    per_day = {}
    for d in lessons["lesson_date"].to_pylist():
        per_day[d.isoformat()] = per_day.get(d.isoformat(), 0) + 1
    assert per_day == {d: SANDBOX_LESSONS_PER_DAY for d in SANDBOX_DAYS}
    for res in results:
        evaluations = res.get_asset_check_evaluations()
        assert evaluations, "no asset checks ran"
        assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]


def test_api_calls_are_the_minimum_the_endpoints_allow(extracted):
    """The fewest calls the endpoints allow, plus the second asks that check what nothing else can:
    API 30 once more per new lesson, APIs 23 and 34 once more for a lesson that was never held."""
    data_dir, results = extracted
    res = results[0]
    calls: dict[str, int] = {}
    for ev in res.get_asset_materialization_events():
        md = ev.materialization.metadata
        if "api_calls_by_endpoint" in md:
            for path, n in md["api_calls_by_endpoint"].value.items():
                calls[path] = calls.get(path, 0) + n
    day = SANDBOX_DAYS[0]
    lessons = [r for r in read_lake(data_dir, "lessons").to_pylist() if r["lesson_date"].isoformat() == day]
    n = len(lessons)
    counts = [r for r in read_lake(data_dir, "key_event_counts").to_pylist() if r["lesson_date"].isoformat() == day]
    attendance = [r for r in read_lake(data_dir, "attendance").to_pylist() if r["lesson_date"].isoformat() == day]
    per_lesson = {}
    for r in attendance:
        per_lesson[r["lesson_id"]] = per_lesson.get(r["lesson_id"], 0) + 1
    unheld = {r["lesson_id"] for r in lessons if r["actual_start"] is None}
    asks = {r["lesson_id"]: 2 if r["lesson_id"] in unheld else 1 for r in lessons}
    pages = sum(asks[l["lesson_id"]] * max(1, -(-per_lesson.get(l["lesson_id"], 0) // 40)) for l in lessons)
    assert calls == {
        "/lesson/get_class_info": 1,
        "/lesson/info": -(-n // 100),
        "/lesson/get_lesson_status": -(-n // 100),
        "/lesson/getClassInfo": 2 * n,
        "/lesson/io/info": pages,
        "/v2/data/teacher/inout": n + len(unheld),
        "/lesson/student/award": -(-n // 100),
        "/lessonData/query": 6 * n,
        "/lessonData/user/query": len(counts),
        "/lesson/get_help_info": 1,
    }


def _calls(res) -> dict[str, int]:
    out: dict[str, int] = {}
    for ev in res.get_asset_materialization_events():
        md = ev.materialization.metadata
        if "api_calls" in md:
            out[ev.materialization.asset_key.to_user_string()] = md["api_calls"].value
    return out


def test_rerun_of_a_settled_day_asks_nothing_and_leaves_byte_identical_files(sandbox, extracted):
    """The sandbox's clock is days past these lessons: every one was final for longer than the settle time
    when it was fetched, so a re-extraction keeps every answer (no call) and changes no byte."""
    data_dir, _ = extracted
    before = lake_bytes(data_dir)
    raw_before = (data_dir / "raw" / "lessons" / f"date={SANDBOX_DAYS[1]}" / "pages.jsonl.gz").read_bytes()
    [res] = run_days(sandbox, data_dir, days=SANDBOX_DAYS[1:2])
    assert lake_bytes(data_dir) == before
    assert (data_dir / "raw" / "lessons" / f"date={SANDBOX_DAYS[1]}" / "pages.jsonl.gz").read_bytes() == raw_before
    assert not list(data_dir.rglob(".tmp-*"))
    calls = _calls(res)
    assert len(calls) == 7 and set(calls.values()) == {0}, calls
    [lessons_md] = [ev.materialization.metadata for ev in res.get_asset_materialization_events()
                    if ev.materialization.asset_key.to_user_string() == "raw/lessons"]
    assert lessons_md["settled_lessons"].value == SANDBOX_LESSONS_PER_DAY


def test_full_refresh_asks_again_and_leaves_byte_identical_files(sandbox, extracted):
    data_dir, _ = extracted
    before = lake_bytes(data_dir)
    [res] = run_days(sandbox, data_dir, days=SANDBOX_DAYS[1:2], full_refresh=True)
    assert lake_bytes(data_dir) == before
    calls = _calls(res)
    assert all(calls[f"raw/{g}"] > 0 for g in ("lessons", "attendance", "teacher_inout", "awards",
                                               "key_event_counts", "key_event_times", "help_requests")), calls
    [lessons_md] = [ev.materialization.metadata for ev in res.get_asset_materialization_events()
                    if ev.materialization.asset_key.to_user_string() == "raw/lessons"]
    # a lesson's class never changes: even a full re-extraction reuses the recorded API 30 answers
    assert "/lesson/getClassInfo" not in lessons_md["api_calls_by_endpoint"].value
    assert lessons_md["reused_pages"].value == SANDBOX_LESSONS_PER_DAY
    # the run metadata records the rate achieved, the 429s and the limiter's waits
    assert lessons_md["http_429"].value == 0 and lessons_md["rate_limit_decreases"].value == 0
    assert lessons_md["request_rate_per_second"].value > 0
    assert lessons_md["rate_limit_wait_s"].value is None or lessons_md["rate_limit_wait_s"].value >= 0


def test_faults_do_not_change_the_lake(extracted, sandbox_config, tmp_path):
    from dataclasses import replace

    from pipeline.sandbox.runner import start_sandbox

    data_dir, _ = extracted
    cfg = replace(sandbox_config, fault_rate=0.2, slow_seconds=1.0)
    with start_sandbox(cfg) as faulty:
        res = run_days(faulty, tmp_path, days=SANDBOX_DAYS[:1], read_timeout=0.5, max_attempts=30,
                       max_retry_seconds=120.0)
    retries = sum(int(ev.materialization.metadata["retries"].value)
                  for ev in res[0].get_asset_materialization_events()
                  if "retries" in ev.materialization.metadata)
    assert retries > 0, "the faulty sandbox injected no faults"
    clean = {k: v for k, v in lake_bytes(data_dir).items() if f"date={SANDBOX_DAYS[0]}" in k}
    assert lake_bytes(tmp_path) == clean


def test_failing_check_keeps_the_previous_partition(sandbox, extracted, tmp_path):
    """A blocking check runs before the write: bad rows never replace a good partition."""
    import gzip
    import json
    import shutil

    from dagster import AssetKey

    data_dir = tmp_path / "data"
    shutil.copytree(extracted[0], data_dir)
    day = SANDBOX_DAYS[0]
    raw = data_dir / "raw" / "attendance" / f"date={day}" / "pages.jsonl.gz"
    lines = gzip.decompress(raw.read_bytes()).decode().splitlines()
    page = json.loads(lines[0])
    page["body"]["data"]["data"].append(dict(page["body"]["data"]["data"][0]))  # a student listed twice
    raw.write_bytes(gzip.compress(("\n".join([json.dumps(page)] + lines[1:]) + "\n").encode()))
    lake = data_dir / "lake" / "attendance" / f"date={day}" / "part-0.parquet"
    before = lake.read_bytes()
    res = materialize(daily_assets(), partition_key=day, raise_on_error=False,
                      selection=[AssetKey(["lake", "attendance"])],
                      resources={"api": api_resource(sandbox), "data_dir": DataDirResource(path=str(data_dir))})
    assert not res.success
    failed = {e.check_name for e in res.get_asset_check_evaluations() if not e.passed}
    assert failed == {"attendance_unique_keys", "attendance_rows_match_api_count"}
    assert lake.read_bytes() == before


def test_course_progress_failure_for_one_class_does_not_block_the_warehouse(sandbox, extracted, tmp_path):
    import shutil

    from assets.lake.assets import lake_course_progress
    from assets.raw.assets import raw_course_progress
    from assets.raw.store import read_raw, write_raw
    from assets.warehouse.assets import warehouse_duckdb
    from pipeline.api.catalog import path_of
    from pipeline.core.layout import DataDir

    data_dir = tmp_path / "data"
    shutil.copytree(extracted[0], data_dir)
    path = DataDir(data_dir).raw_file("lessons", SANDBOX_DAYS[0])
    unknown = {"path": path_of("30"), "params": {"lessonId": 1},  # a class the platform does not know
               "body": {"status": 1, "error_code": 10000, "msg": "ok", "data": {"id": 1, "name": "x"}}}
    write_raw(path, read_raw(path) + [unknown])
    res = materialize([raw_course_progress, lake_course_progress, warehouse_duckdb], raise_on_error=False,
                      resources={"api": api_resource(sandbox), "data_dir": DataDirResource(path=str(data_dir))})
    assert res.success
    [md] = [ev.materialization.metadata for ev in res.get_asset_materialization_events()
            if ev.materialization.asset_key.to_user_string() == "raw/course_progress"]
    assert md["classes_failed"].value == [1]
    assert (data_dir / "warehouse.duckdb").exists()
    # visible, not silent: a WARN check, and a note that the report and the run summary show
    [fresh] = [e for e in res.get_asset_check_evaluations() if e.check_name == "course_progress_fresh"]
    assert not fresh.passed and fresh.severity.value == "WARN"
    from assets.publish.assets import data_notes

    [note] = data_notes(DataDir(data_dir))
    assert "course progress missing for 1 class(es)" in note and note.endswith(": 1")
    # a later refresh in which the class answered nothing again keeps the earlier answers of the others
    res = materialize([raw_course_progress], raise_on_error=False,
                      resources={"api": api_resource(sandbox), "data_dir": DataDirResource(path=str(data_dir))})
    assert res.success and data_notes(DataDir(data_dir)) == [note]
