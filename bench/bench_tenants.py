"""Benchmark: many tenants' days extracted on a PostgreSQL instance by two Celery workers, against one
multi-tenant sandbox, with the data directory on SeaweedFS and the rate limit in Redis.

Everything is a real server on loopback, started here and stopped after (as in
tests/pipeline/test_multi_host.py): PostgreSQL (initdb in a temp dir), Redis (broker and limiter),
SeaweedFS (``weed mini``), one ``dagster api grpc`` code server per tenant (``pipeline.locations``),
``dagster-daemon`` and two ``celery`` workers (solo pool).  One ``daily_extract`` run per tenant covers
the whole window (a partition range); the runs are submitted at once and the script waits for all.

Reported: wall time from the first submission to the last run's end, and where the runs' time went:
the raw steps (the API calls, including waiting for the rate limit) against everything else (the
worker taking the run, loading the code, the lake steps, the day commits, Dagster's bookkeeping).

    .venv/bin/python bench/bench_tenants.py --tenants 20 --days 3 --lessons 12 --rate 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"nothing listens on {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--lessons", type=int, default=12, help="lessons per day of each school")
    ap.add_argument("--rate", type=float, default=20.0, help="each tenant's rate limit, requests/s")
    a = ap.parse_args()

    from dagster import DagsterInstance, DagsterRunStatus

    from pipeline.core.calendar import TZ
    from pipeline.sandbox.config import SandboxTenant
    from pipeline.sandbox.runner import SandboxConfig, start_sandbox
    from tests.postgres_server import PostgresServer
    from tests.redis_server import RedisServer
    from tests.seaweed_server import SeaweedServer

    first = date(2026, 3, 9)
    days = [(first + timedelta(days=i)).isoformat() for i in range(a.days)]
    now = datetime.combine(first + timedelta(days=a.days), datetime.min.time(), TZ) + timedelta(hours=9)
    names = [f"t{i:02d}" for i in range(a.tenants)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    procs: list[subprocess.Popen] = []
    pg = PostgresServer().start()
    redis = RedisServer(tmp / "redis").start()
    sw = SeaweedServer(tmp / "seaweed").start()
    tenants = tuple(SandboxTenant(f"{n}-app", f"{n}-secret", seed=100 + i, lessons_per_day=a.lessons)
                    for i, n in enumerate(names))
    config = SandboxConfig(seed=99, lessons_per_day=a.lessons, now=now, tenants=tenants)
    try:
        with start_sandbox(config) as sandbox:
            registry = tmp / "tenants.yaml"
            registry.write_text("tenants:\n" + "".join(
                f"  - {{name: {t.app_id[:-4]}, base_url: '{sandbox.base_url}', app_id: {t.app_id}, "
                f"secret_env: {t.app_id[:-4].upper()}_SECRET, rate_limit: {a.rate}, start_date: 2026-03-01}}\n"
                for t in tenants))
            home = tmp / "dh"
            home.mkdir()
            shutil.copy(REPO / "pipeline" / "deploy" / "dagster-celery.yaml", home / "dagster.yaml")
            broker = redis.url.rsplit("/", 1)[0] + "/1"
            (tmp / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = {broker!r}\n")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_", "AWS_"))}
            env |= sw.env | {
                "DAGSTER_HOME": str(home), "LIVECLASS_TENANTS": str(registry),
                "LIVECLASS_DATA_DIR": sw.url("vendor"), "LIVECLASS_START_DATE": "2026-03-01",
                "LIVECLASS_RATE_LIMIT_URL": redis.url, "LIVECLASS_DAGSTER_PG_URL": pg.url,
                "LIVECLASS_CELERY_BROKER_URL": broker, "LIVECLASS_WORK_DIR": str(tmp / "work-servers"),
                "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp)]),
                **{f"{t.app_id[:-4].upper()}_SECRET": t.secret for t in tenants}}
            os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "LIVECLASS_DAGSTER"))})

            def start(name: str, cmd: list[str], **extra: str) -> subprocess.Popen:
                log = open(tmp / f"{name}.log", "ab")
                p = subprocess.Popen(cmd, cwd=tmp, env=env | extra, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
                log.close()
                procs.append(p)
                return p

            instance = DagsterInstance.from_config(str(home))  # the schema, once, before anyone else
            ports = {n: free_port() for n in names}
            t_load = time.monotonic()
            for n in names:
                start(f"code-{n}", [str(BIN / "dagster"), "api", "grpc", "-m", "pipeline.locations", "-a", n,
                                    "-h", "127.0.0.1", "-p", str(ports[n])])
            for n in names:
                wait_port(ports[n], 300)
            workspace = tmp / "workspace.yaml"
            workspace.write_text("load_from:\n" + "".join(
                f"  - grpc_server: {{host: 127.0.0.1, port: {ports[n]}, location_name: {n}}}\n" for n in names))
            for host in ("host-a", "host-b"):
                start(host, [str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster", "--pool",
                             "solo", "--prefetch-multiplier", "1", "-n", f"{host}@%h", "--loglevel", "WARNING"],
                      LIVECLASS_WORK_DIR=str(tmp / host))
            start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)])
            print(f"{a.tenants} code servers up in {time.monotonic() - t_load:.0f} s", flush=True)
            t_launch = time.monotonic()

            from dagster._cli.job import _create_run
            from dagster._cli.workspace.cli_target import (
                get_code_location_from_workspace,
                get_remote_job_from_remote_repo,
                get_remote_repository_from_code_location,
                get_workspace_from_cli_opts,
            )
            from dagster.version import __version__
            from dagster_shared.cli import WorkspaceOpts

            tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
            with get_workspace_from_cli_opts(instance, version=__version__,
                                             workspace_opts=WorkspaceOpts(workspace=(str(workspace),))) as ws:
                prepared = []
                for n in names:
                    loc = get_code_location_from_workspace(ws, n)
                    repo = get_remote_repository_from_code_location(loc, None)
                    job = get_remote_job_from_remote_repo(repo, "daily_extract")
                    prepared.append(_create_run(instance=instance, code_location=loc, remote_repo=repo,
                                                remote_job=job, run_config={}, tags=tags, op_selection=None,
                                                run_id=None))
                t0 = time.time()
                for run in prepared:
                    instance.submit_run(run.run_id, ws)
            print(f"{len(prepared)} runs created and submitted in {time.monotonic() - t_launch:.0f} s", flush=True)
            ids = {r.run_id for r in prepared}
            while True:
                runs = [instance.get_run_by_id(i) for i in ids]
                if all(r.is_finished for r in runs):
                    break
                time.sleep(2)
            statuses = {r.status for r in runs}
            ends, run_s, raw_s = [], 0.0, 0.0
            for r in runs:
                stats = instance.get_run_stats(r.run_id)
                if stats.start_time is None or stats.end_time is None:
                    continue  # never started (it failed in the queue): counted by its status below
                ends.append(stats.end_time)
                run_s += stats.end_time - stats.start_time
                for step in instance.get_run_step_stats(r.run_id):
                    if step.step_key.startswith("raw__") and step.end_time and step.start_time:
                        raw_s += step.end_time - step.start_time
            wall = max(ends) - t0
            print("\n| tenants × days | lessons/day | rate/tenant | runs | wall time | sum of run times | "
                  "raw steps (API) | outside the API calls |")
            print("|---|---|---|---|---|---|---|---|")
            print(f"| {a.tenants} × {a.days} | {a.lessons} | {a.rate:g}/s | {len(runs)} "
                  f"({', '.join(sorted(s.value for s in statuses))}) | {wall:.0f} s | {run_s:.0f} s | {raw_s:.0f} s | "
                  f"{1 - raw_s / run_s:.0%} of run time; {1 - raw_s / 2 / wall:.0%} of wall × 2 workers |")
            instance.dispose()
            if statuses != {DagsterRunStatus.SUCCESS}:
                sys.exit(f"runs not all successful: {statuses} (logs in {tmp})")
    finally:
        for p in procs:
            stop(p)
        sw.stop()
        redis.stop()
        pg.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
