"""The publish automation for real: ``dagster-daemon run`` on a temporary DAGSTER_HOME (the shipped
instance config), and ``dagster asset materialize`` of three days of lake partitions (no job, no tick
tag, no LIVECLASS_BASE_URL).  Exactly one warehouse rebuild follows, launched by the automation.

The definitions are the shipped ones, with the publish sensor looking every 5 s instead of 30."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from tests.conftest import SANDBOX_DAYS

pytestmark = pytest.mark.xdist_group("sandbox")

BIN = Path(sys.executable).parent
ETL = AssetKey(["warehouse", "etl_build"])
#: pipeline.definitions with the automation looking every 5 s, not 30 (nothing else differs)
DEFS = "tests.pipeline.quick_publish_defs"


def _descendants(pid: int) -> list[int]:
    """The processes started under ``pid`` (the daemon's code server and run workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop(proc: subprocess.Popen) -> None:
    family = _descendants(proc.pid)
    for pid in [proc.pid, *family]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _sensor_ticks(instance, after: float = 0.0) -> int:
    """Ticks of the publish sensor that started after ``after`` (a timestamp)."""
    from pipeline.schedules import PUBLISH_SENSOR

    states = [s for s in instance.all_instigator_state() if s.instigator_name == PUBLISH_SENSOR]
    return sum(1 for s in states for t in instance.get_ticks(s.instigator_origin_id, s.selector_id)
               if t.timestamp > after)


def _wait(what: str, until, timeout: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = until()
        if value:
            return value
        assert proc.poll() is None, f"the daemon exited: {log.read_text()[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; daemon log: {log.read_text()[-3000:]}")


@pytest.mark.timeout(600)
def test_a_range_materialized_from_the_cli_is_published_once_by_the_daemon(raw_pages, tmp_path):
    from pipeline.run import ensure_instance_home

    home = ensure_instance_home(tmp_path / "dh")  # the shipped dagster.yaml
    data = tmp_path / "data"
    shutil.copytree(raw_pages, data / "raw")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "LIVECLASS_DATA_DIR": str(data), "LIVECLASS_START_DATE": "2026-03-01",
            "PYTHONPATH": str(Path(__file__).parents[2])}  # for DEFS; the working folder (no .env) is tmp_path
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", DEFS], cwd=tmp_path,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        instance = DagsterInstance.from_config(str(home))
        # the automation's first tick only looks; what comes after it is new
        _wait("the first tick of the publish sensor", lambda: _sensor_ticks(instance) >= 1, 90, daemon, log)
        cli = subprocess.run(
            [str(BIN / "dagster"), "asset", "materialize", "-m", DEFS,
             "--select", "tag:cadence=daily and tag:layer=lake",
             "--partition-range", f"{SANDBOX_DAYS[0]}...{SANDBOX_DAYS[-1]}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert cli.returncode == 0, cli.stderr[-3000:]
        assert not (data / "warehouse.duckdb").exists()  # nothing published by the materialization itself

        def rebuilt():
            runs = [r for r in instance.get_runs() if ETL in (r.asset_selection or ())]
            return runs if runs and all(r.status in {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}
                                        for r in runs) else None

        [run] = _wait("the warehouse rebuild", rebuilt, 240, daemon, log)
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags["liveclass/started_by"] == "automation"
        # a tick that started after the rebuild finished: nothing new to publish
        done = instance.get_run_record_by_id(run.run_id).end_time
        _wait("a tick after the rebuild", lambda: _sensor_ticks(instance, after=done), 90, daemon, log)
    finally:
        _stop(daemon)
    assert len([r for r in instance.get_runs() if ETL in (r.asset_selection or ())]) == 1
    assert len(instance.fetch_materializations(ETL, limit=10).records) == 1
    assert (data / "warehouse.duckdb").exists() and (data / "report" / "index.html").exists()


def test_a_dagster_run_without_any_liveclass_variable_uses_the_sandbox(tmp_path):
    """A fresh checkout: no LIVECLASS_*, no DAGSTER_HOME, no .env.  The run extracts from the embedded
    sandbox and says so in one line; no configuration error."""
    from datetime import datetime, timedelta

    from pipeline.core.calendar import TZ

    day = (datetime.now(TZ).date() - timedelta(days=1)).isoformat()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_"))}
    proc = subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m", "pipeline.definitions",
                           "--select", "raw/help_requests,lake/help_requests", "--partition", day],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "LIVECLASS_BASE_URL is not set: using the embedded sandbox" in out
    assert "ConfigError" not in out and "Traceback" not in out
    assert (tmp_path / "data" / "lake" / "help_requests" / f"date={day}" / "part-0.parquet").exists()
