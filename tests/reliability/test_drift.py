"""Schema drift from the platform (the sandbox's ``drift`` mode, pipeline/sandbox/drift.py).

Harmless drift (unknown fields, numbers as strings and strings as numbers, optional
fields omitted) is absorbed: the lake equals the documented run's, except that an
omitted optional field is null.  Harmful drift (a fractional listen_time, a
non-numeric count, a missing required field) stops the affected asset with a message
naming endpoint, field and value, through Dagster and through ``liveclass run``;
nothing is silently dropped.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.core import schemas
from pipeline.sandbox.runner import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_drift")

OPTIONAL = {"lessons": ("teacher_name", "replay_url")}


def _lake_rows(data_dir, table):
    rows = []
    for f in sorted((data_dir / "lake" / table).glob("date=*/part-0.parquet")):
        rows += pq.read_table(f).to_pylist()
    keys = schemas.PRIMARY_KEYS[table]
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


def test_harmless_drift_is_absorbed(reference, tmp_path):
    with start_sandbox(harness.small_config(drift="harmless")) as sb:
        results = harness.materialize_days(sb, tmp_path, publish=False)
        applied = dict(sb.app.drift.applied)
    assert all(r.success for r in results)
    for kind in ("extra_envelope_fields", "extra_item_fields", "listen_time:str", "count:str", "lesson_id:int",
                 "zby_lid:str", "award_num:str", "event_count:str", "teacher_name:omitted", "video:omitted"):
        assert applied.get(kind, 0) > 0, (kind, applied)
    nulls = 0
    compared = 0
    for table in schemas.DAILY_TABLES:
        got, want = _lake_rows(tmp_path, table), _lake_rows(reference["data_dir"], table)
        assert len(got) == len(want), table
        for g, w in zip(got, want):
            for col in OPTIONAL.get(table, ()):
                if g[col] is None and w[col] is not None:
                    nulls += 1
                    g[col] = w[col]  # an omitted optional field: null, nothing guessed
            assert g == w, (table, g, w)
            compared += 1
    assert nulls > 0
    # the numbers are the documented run's, value for value, in every table without optional fields (the
    # footers differ: each names the sha256 of the raw pages it was built from, and the answers' form drifted)
    ref = harness.lake_tables(reference["data_dir"])
    for name, table in harness.lake_tables(tmp_path).items():
        if not name.startswith("lake/lessons/"):
            assert table.equals(ref[name], check_metadata=True), name
    harness.record("schema drift", "harmless: unknown fields, numbers as strings and back, optional fields "
                   "omitted", runs=1,
                   outcome=f"{len(applied)} kinds ({', '.join(sorted(applied))}) absorbed: {compared} lake rows equal to the documented run's, {nulls} omitted optional "
                           "values stored as null", lost=0, duplicated=0, leaked=False, passed=True,
                   details={"applied": applied})


EXPECTED = {
    "lake/attendance": "/lesson/io/info field 'listen_time': expected an integer, got '",
    "lake/key_event_counts": "expected an integer, got 'n/a'",  # a payload problem: found by the lake
    "lake/teacher_inout": "/v2/data/teacher/inout field 'teacher_id': expected a value, got '<missing>'",
}


def test_harmful_drift_stops_the_asset_naming_endpoint_field_value(reference, tmp_path):
    with start_sandbox(harness.small_config(drift="harmful")) as sb:
        results = harness.materialize_days(sb, tmp_path, publish=False, raise_on_error=False)
        applied = dict(sb.app.drift.applied)
    for kind in ("listen_time:fraction", "event_count:non_numeric", "teacher_id:missing"):
        assert applied.get(kind, 0) > 0, (kind, applied)
    failed: dict[str, str] = {}
    for res in results:
        assert not res.success
        for ev in res.all_events:
            if ev.event_type_value == "STEP_FAILURE":
                step = ev.step_key.replace("__", "/")
                failed[step] = ev.event_specific_data.error.to_string()
    assert not [s for s in failed if s.startswith("raw/")], sorted(failed)  # raw pages all on disk
    for step, text in EXPECTED.items():
        assert step in failed, (step, sorted(failed))
        assert text in failed[step], failed[step][-1500:]
    # nothing silently dropped: a failed table has no partition at all (no partial or filtered rows)
    for step in failed:
        kind, table = step.split("/")
        if kind == "lake":
            got, ref = harness.lake_tables(tmp_path), harness.lake_tables(reference["data_dir"])
            assert all(got[n].equals(ref[n], check_metadata=True) for n in got if n.startswith(f"lake/{table}/"))
    harness.record("schema drift", "harmful: listen_time '12.5', count 'n/a', teacher_id missing", runs=1,
                   outcome="stopped: " + "; ".join(f"{s} failed" for s in sorted(failed))
                   + "; each message names endpoint, field and value", lost=0, duplicated=0, leaked=False,
                   passed=True, details={"applied": applied, "failed_steps": sorted(failed)})


def test_harmful_drift_through_liveclass_run(tmp_path):
    args = ["run", "--start", harness.DAYS[0], "--end", harness.DAYS[0]]
    with start_sandbox(harness.small_config()) as sb:  # first a clean run publishes a warehouse
        clean = harness.liveclass(args, tmp_path / "data", tmp_path / "dh", cwd=tmp_path, **harness.sandbox_env(sb))
    assert clean.returncode == 0, clean.stderr[-2000:]
    published = {p: (tmp_path / "data" / p).read_bytes() for p in ("warehouse.duckdb", "report/index.html")}
    with start_sandbox(harness.small_config(drift="harmful")) as sb:  # asked again in full: the day is settled
        proc = harness.liveclass([*args, "--full"], tmp_path / "data", tmp_path / "dh", cwd=tmp_path,
                                 **harness.sandbox_env(sb))
    assert proc.returncode == 1, proc.stderr[-2000:]
    day_line = next(l for l in proc.stdout.splitlines() if harness.DAYS[0] + ":" in l)
    assert "FAILED" in day_line and "field '" in day_line and "got " in day_line, day_line
    assert f"1 day(s) failed: {harness.DAYS[0]}" in proc.stderr
    assert "Not publishing" in proc.stdout and "Warehouse:" not in proc.stdout
    # the published warehouse and report keep the previous data, byte for byte
    assert {p: (tmp_path / "data" / p).read_bytes() for p in published} == published
    harness.record("schema drift", "harmful, through `liveclass run`", runs=1,
                   outcome=f"exit 1; the day's line: {day_line.strip()[:320]!r}", lost=0, duplicated=0,
                   leaked=False, passed=True)
