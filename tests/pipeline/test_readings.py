"""Every plausible reading of the document, played by the sandbox: `liveclass probe`'s logic finds it
from the answers alone, and the lake extracted with that profile equals the ground truth (which no
reading changes).  The default reading stays the fast path of the rest of the suite."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
from dagster import materialize

from assets.publish.assets import data_notes
from assets.raw.assets import raw_course_progress
from assets.resources import DataDirResource
from pipeline.api.probe import Probe
from pipeline.core import schemas
from pipeline.core.layout import DataDir
from pipeline.core.profile import DEFAULTS, READINGS
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from tests.assets.test_extraction import read_lake, run_days
from tests.conftest import SANDBOX_DAYS, SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED, api_resource

pytestmark = pytest.mark.xdist_group("readings")

ALTERNATIVES = {k: v[1] for k, v in READINGS.items()}
CASES = [{k: v} for k, v in ALTERNATIVES.items()] + [dict(ALTERNATIVES)]
#: What the readings must not change: what happened in the classroom.
TABLES = ("attendance", "teacher_inout", "awards", "key_event_counts", "key_events", "help_requests")
NOT_PROBED = {"json_arrays"}  # only management endpoints take those; reporting never sends them


@pytest.mark.parametrize("readings", CASES, ids=lambda r: ",".join(f"{k}={v}" for k, v in r.items()))
def test_probe_finds_the_reading_and_the_lake_equals_the_truth(tmp_path, truth, readings):
    config = SandboxConfig(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW,
                           readings=readings)
    data_dir = tmp_path / "data"
    lines: list[str] = []
    with start_sandbox(config) as sb:
        client = api_resource(sb).get_client()
        try:
            profile = Probe(client, [date.fromisoformat(d) for d in SANDBOX_DAYS]).run(lines.append)
            calls = client.stats.snapshot()["calls"]
        finally:
            client.close()
        for key in READINGS:
            want = DEFAULTS[key] if key in NOT_PROBED else readings.get(key, DEFAULTS[key])
            assert profile.get(key) == want, (key, lines)
        assert calls <= 40, calls  # under 2 % of a 40-lesson day's ~1,950 calls
        DataDir(data_dir).platform_profile.parent.mkdir(parents=True)
        DataDir(data_dir).platform_profile.write_text(profile.to_json())
        run_days(sb, data_dir)
        progress = materialize([raw_course_progress], raise_on_error=False,
                               resources={"api": api_resource(sb), "data_dir": DataDirResource(path=str(data_dir))})
    for table in TABLES:
        keys = schemas.PRIMARY_KEYS[table]
        lake = sorted(read_lake(data_dir, table).to_pylist(), key=lambda r: tuple(r[k] for k in keys))
        expected = pq.read_table(truth / f"{table}.parquet").select(schemas.DAILY_TABLES[table].names)
        assert lake == sorted(expected.to_pylist(), key=lambda r: tuple(r[k] for k in keys)), table
    lessons = read_lake(data_dir, "lessons")
    assert sorted(lessons["lesson_id"].to_pylist()) == sorted(
        pq.read_table(truth / "lessons.parquet")["lesson_id"].to_pylist())
    notes = data_notes(DataDir(data_dir))
    assert progress.success
    if readings.get("class_is_course") == "no":  # the one number the platform gives no way to get right
        assert len(notes) == 1 and "course progress is not available" in notes[0], notes
    else:
        assert notes == []


def test_liveclass_run_against_a_platform_reading_everything_the_other_way(tmp_path, truth):
    """As a user runs it: `liveclass run` with no profile probes first, then publishes a warehouse
    whose attendance, teacher in/out, awards and key events equal the ground truth, and says in one
    line that course progress is missing (exit 3, published with warnings)."""
    import duckdb

    from pipeline.sandbox.runner import start_sandbox_process
    from tests.reliability import harness

    config = SandboxConfig(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW,
                           readings=dict(ALTERNATIVES))
    with start_sandbox_process(config) as sb:
        proc = harness.liveclass(["run", "--start", SANDBOX_DAYS[0], "--end", SANDBOX_DAYS[-1]], tmp_path / "data",
                                 tmp_path / "dh", cwd=tmp_path, **harness.sandbox_env(sb))
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    for key, value in ALTERNATIVES.items():
        if key not in NOT_PROBED:
            assert f"  {key}={value}: " in proc.stdout, (key, proc.stdout)
    assert "liveclass: warning: course progress is not available" in proc.stderr
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    try:
        for fact, table, columns, truth_columns in [
                ("fct_attendance", "attendance", "lesson_id, user_id, listen_minutes, late_minutes, leave_minutes", None),
                ("fct_teacher_inout", "teacher_inout", "lesson_id, teacher_id, listen_minutes, late_minutes", None),
                ("fct_awards", "awards", "lesson_id, user_id, stars", "lesson_id, user_id, award_num"),
                ("fct_key_events", "key_events", "lesson_id, user_id, event_type", None)]:
            got = con.execute(f"SELECT {columns} FROM {fact} ORDER BY ALL").fetchall()
            want = con.execute(f"SELECT {truth_columns or columns} FROM read_parquet('{truth / table}.parquet') "
                               "ORDER BY ALL").fetchall()
            assert got == want and got, fact
    finally:
        con.close()
