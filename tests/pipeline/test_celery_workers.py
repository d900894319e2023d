"""Runs on Celery workers standing for two hosts: the shipped ``pipeline/deploy/dagster-celery.yaml``
(PostgreSQL storage, CeleryRunLauncher with a Redis broker), ``dagster-daemon`` dequeuing, two ``celery``
workers (solo pool: each run executes in the worker's own process, its steps in process) sharing the
data directory.  Every day is extracted on one worker or the other and the lake equals the ground truth."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from pipeline.core import schemas
from tests.conftest import SANDBOX_DAYS
from tests.pipeline.test_postgres_instance import postgres  # noqa: F401  (the fixture)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pipeline" / "deploy" / "dagster-celery.yaml"
DAYS = SANDBOX_DAYS[1:]  # two runs: one for each worker, at least


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait(what: str, until, timeout: float, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = until()
        if value:
            return value
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


@pytest.mark.timeout(600)
def test_runs_launched_through_dagster_execute_on_two_celery_workers(sandbox_config, truth, postgres,  # noqa: F811
                                                                      redis_server, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus

    from pipeline.sandbox.runner import start_sandbox

    with start_sandbox(sandbox_config) as sandbox:
        _run_on_workers(sandbox, truth, postgres, redis_server, tmp_path, DagsterInstance, DagsterRunStatus)


def _run_on_workers(sandbox, truth, postgres, redis_server, tmp_path, DagsterInstance, DagsterRunStatus):  # noqa: F811

    home = tmp_path / "dh"
    home.mkdir()
    shutil.copy(SHIPPED, home / "dagster.yaml")
    broker = redis_server.url.rsplit("/", 1)[0] + "/1"
    config_dir = tmp_path / "celery-config"  # the module dagster_celery's app reads its broker from
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = {broker!r}\n")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "LIVECLASS_DATA_DIR": str(data), "LIVECLASS_START_DATE": "2026-03-01",
            "LIVECLASS_BASE_URL": sandbox.base_url, "LIVECLASS_APP_ID": sandbox.app_id,
            "LIVECLASS_SECRET": sandbox.secret, "LIVECLASS_RATE_LIMIT": "0",
            "LIVECLASS_DAGSTER_PG_URL": postgres.url, "LIVECLASS_CELERY_BROKER_URL": broker,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(config_dir)])}
    procs: list[subprocess.Popen] = []
    logs = []

    def start(name: str, cmd: list[str]) -> None:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True))

    try:
        for host in ("host-a", "host-b"):
            start(host, [str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster", "--pool", "solo",
                         "--prefetch-multiplier", "1", "-n", f"{host}@%h", "--loglevel", "INFO"])
        _wait("both workers", lambda: all("ready." in p.read_text(errors="replace") for p in logs[:2]), 90, logs)
        start("daemon", [str(BIN / "dagster-daemon"), "run", "-m", "pipeline.definitions"])
        for day in DAYS:
            launched = subprocess.run([str(BIN / "dagster"), "job", "launch", "-m", "pipeline.definitions", "-j",
                                       "daily_extract", "--tags", json.dumps({"dagster/partition": day})],
                                      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
            assert launched.returncode == 0, launched.stderr[-3000:]
        os.environ["LIVECLASS_DAGSTER_PG_URL"] = postgres.url  # the instance reads its env itself
        try:
            instance = DagsterInstance.from_config(str(home))

            def finished():
                runs = [r for r in instance.get_runs() if r.job_name == "daily_extract"]
                done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
                return runs if len(runs) == len(DAYS) and all(r.status in done for r in runs) else None

            runs = _wait("the daily runs", finished, 420, logs)
            statuses = {r.tags["dagster/partition"]: r.status for r in runs}
            instance.dispose()
        finally:
            del os.environ["LIVECLASS_DAGSTER_PG_URL"]
    finally:
        for p in procs:
            _stop(p)
    assert set(statuses.values()) == {DagsterRunStatus.SUCCESS}, (statuses, logs[0].read_text()[-3000:])
    executed = {host: len(re.findall(r"execute_job\[[0-9a-f-]+\] succeeded", (tmp_path / f"{host}.log").read_text()))
                for host in ("host-a", "host-b")}
    # every daily run (and any publish run the automation launched after them) executed on a worker; which one
    # takes a run is the broker's business (a worker that finishes first may take the next one too)
    assert sum(executed.values()) >= len(DAYS), executed
    for table in schemas.DAILY_TABLES:
        files = sorted((data / "lake" / table).glob("date=*/part-0.parquet"))
        got = pa.concat_tables([pq.read_table(f) for f in files])
        expected = pq.read_table(truth / f"{table}.parquet").select(got.schema.names)
        expected = expected.filter(pa.compute.is_in(expected["lesson_date"].cast(pa.string()), pa.array(DAYS)))
        keys = schemas.PRIMARY_KEYS[table]
        assert sorted(got.to_pylist(), key=lambda r: tuple(r[k] for k in keys)) == \
            sorted(expected.to_pylist(), key=lambda r: tuple(r[k] for k in keys)), table
