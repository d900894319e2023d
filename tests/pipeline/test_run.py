"""``liveclass run`` end to end as a user runs it (a subprocess), and its refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.core.calendar import TZ

pytestmark = pytest.mark.xdist_group("sandbox")


def liveclass(args, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
    full_env.update({"LIVECLASS_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dh"), **env})
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=full_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


def test_run_on_embedded_sandbox_publishes_marts_covering_every_lesson(tmp_path):
    today = datetime.now(TZ).date()
    start, end = today - timedelta(days=2), today - timedelta(days=1)
    proc = liveclass(["run", "--start", start.isoformat(), "--end", end.isoformat()], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "embedded sandbox at http://127.0.0.1:" in out
    assert "[2/2]" in out and "Warehouse:" in out and "mart_lesson_attendance" in out
    wh = tmp_path / "data" / "warehouse.duckdb"
    con = duckdb.connect(str(wh), read_only=True)
    try:
        per_day = dict(con.execute("SELECT lesson_date, count(*) FROM mart_lesson_attendance GROUP BY 1").fetchall())
        lake_lessons = con.execute(
            f"SELECT count(*) FROM read_parquet('{tmp_path}/data/lake/lessons/*/*.parquet')").fetchone()[0]
    finally:
        con.close()
    assert per_day == {start: 40, end: 40}  # the sandbox's default 40 lessons a day, every one in the mart
    assert lake_lessons == 80
    runs = list((tmp_path / "dh").rglob("*.db")) + list((tmp_path / "dh").rglob("runs*"))
    assert runs, "runs were not recorded in DAGSTER_HOME"
    q = liveclass(["query", "SELECT count(*) AS n FROM mart_daily_overview", "--format", "csv"], tmp_path)
    assert q.returncode == 0 and q.stdout.splitlines() == ["n", "2"]


def test_run_with_the_shipped_env_example_as_is(tmp_path):
    """Relative LIVECLASS_DATA_DIR and DAGSTER_HOME (as .env.example ships them) resolve against the cwd."""
    lines = (Path(__file__).parents[2] / ".env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert env["DAGSTER_HOME"].startswith("./") and env["LIVECLASS_DATA_DIR"].startswith("./")
    day = (datetime.now(TZ).date() - timedelta(days=1)).isoformat()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_"))} | env
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--start", day, "--end", day],
                          env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()


def test_bad_setting_is_one_line_and_exit_2(tmp_path):
    proc = liveclass(["run"], tmp_path, LIVECLASS_CONCURRENCY="many")
    assert proc.returncode == 2 and proc.stderr.strip() == "liveclass: LIVECLASS_CONCURRENCY='many' is not an integer."
    assert not (tmp_path / "data").exists()


def test_incomplete_day_is_refused_before_anything_is_written(tmp_path):
    today = datetime.now(TZ).date()
    proc = liveclass(["run", "--start", today.isoformat(), "--end", today.isoformat()], tmp_path)
    assert proc.returncode == 2
    assert "not a complete day" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists() and not (tmp_path / "dh").exists()


def test_wrong_secret_stops_at_once_with_one_line_and_writes_nothing(sandbox, tmp_path):
    proc = liveclass(["run"], tmp_path, LIVECLASS_BASE_URL=sandbox.base_url, LIVECLASS_APP_ID=sandbox.app_id,
                     LIVECLASS_SECRET="not-the-secret")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "20005" in lines[0] and "LIVECLASS_SECRET" in lines[0]
    assert "not-the-secret" not in proc.stderr + proc.stdout
    assert not (tmp_path / "data").exists() and not (tmp_path / "dh").exists()


def test_data_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = liveclass(["run"], tmp_path, LIVECLASS_DATA_DIR=str(tmp_path / "afile" / "data"))
    assert proc.returncode == 2 and "not writable" in proc.stderr and "LIVECLASS_DATA_DIR" in proc.stderr
    assert not (tmp_path / "dh").exists()


def test_read_only_data_dir_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("root can write into a read-only folder; covered by the file case above")
        proc = liveclass(["run"], tmp_path, LIVECLASS_DATA_DIR=str(locked / "data"))
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 2 and "not writable" in proc.stderr


def test_failed_report_still_reports_the_published_warehouse(tmp_path):
    day = (datetime.now(TZ).date() - timedelta(days=1)).isoformat()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "report").write_text("a file where the report folder should be")
    proc = liveclass(["run", "--start", day, "--end", day], tmp_path)
    assert proc.returncode == 1
    assert "publish FAILED: report__html" in proc.stdout
    assert f"Warehouse: {tmp_path / 'data' / 'warehouse.duckdb'}" in proc.stdout
    assert (tmp_path / "data" / "warehouse.duckdb").exists() and (tmp_path / "data" / "feeds" / "manifest.json").exists()


def test_resolve_window_with_one_or_no_bound():
    from datetime import date

    from pipeline.run import ConfigError, resolve_window

    FIRST = date(2026, 1, 1)
    now = datetime(2026, 11, 20, 8, 0, tzinfo=TZ)
    d = date.fromisoformat
    assert resolve_window(None, None, FIRST, now) == [d("2026-11-13") + timedelta(days=i) for i in range(7)]
    assert resolve_window(None, d("2026-11-01"), FIRST, now) == [d("2026-11-01")]
    assert resolve_window(d("2026-11-17"), None, FIRST, now) == [d("2026-11-17"), d("2026-11-18"), d("2026-11-19")]
    for start, end, words in [(d("2026-11-20"), None, "--start 2026-11-20 is not a complete day"),
                              (None, d("2026-11-20"), "--end 2026-11-20 is not a complete day"),
                              (d("2026-11-10"), d("2026-11-09"), "--end 2026-11-09 is before --start"),
                              (d("2025-12-30"), d("2025-12-31"), "LIVECLASS_START_DATE=2025-12-30")]:
        with pytest.raises(ConfigError) as err:
            resolve_window(start, end, FIRST, now)
        assert words in str(err.value)


def test_run_records_who_started_it_and_ships_the_instance_config(tmp_path):
    """Every Dagster run of `liveclass run` says so (and its window); DAGSTER_HOME gets the shipped
    dagster.yaml (pool limit, run queue, monitoring, retention); the partitions start at the window."""
    from dagster import DagsterInstance

    day = (datetime.now(TZ).date() - timedelta(days=1)).isoformat()
    proc = liveclass(["run", "--start", day, "--end", day], tmp_path)
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert (tmp_path / "dh" / "dagster.yaml").read_text() == (
        Path(__file__).parents[2] / "pipeline" / "dagster.yaml").read_text()
    instance = DagsterInstance.from_config(str(tmp_path / "dh"))
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    runs = instance.get_runs()
    assert {r.job_name for r in runs} == {"daily_extract", "publish"}
    assert {r.tags["liveclass/started_by"] for r in runs} == {"liveclass run"}
    assert {r.tags["liveclass/window"] for r in runs} == {f"{day}..{day}"}


def test_runs_of_a_killed_liveclass_run_are_marked_failed(tmp_path):
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    from pipeline.run import PID_TAG, dagster_instance, reap_dead_runs
    from pipeline.schedules import BY_LIVECLASS_RUN, STARTED_BY_TAG

    instance = dagster_instance(tmp_path / "dh")
    dead = 2 ** 22 + 4321  # above pid_max on every default Linux
    tags = {STARTED_BY_TAG: BY_LIVECLASS_RUN}
    killed = create_run_for_test(instance, job_name="daily_extract", status=DagsterRunStatus.STARTED,
                                 tags={**tags, PID_TAG: str(dead)})
    alive = create_run_for_test(instance, job_name="daily_extract", status=DagsterRunStatus.STARTED,
                                tags={**tags, PID_TAG: str(os.getppid())})
    other = create_run_for_test(instance, job_name="daily_extract", status=DagsterRunStatus.STARTED,
                                tags={PID_TAG: str(dead)})  # not ours: Dagster's run monitoring handles it
    assert reap_dead_runs(instance) == [killed.run_id]
    status = {r.run_id: r.status for r in instance.get_runs()}
    assert status[killed.run_id] == DagsterRunStatus.FAILURE
    assert status[alive.run_id] == status[other.run_id] == DagsterRunStatus.STARTED


def test_liveclass_dev_prepares_dagster_home_and_runs_dagster_dev(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import main

    calls = []
    monkeypatch.setattr(os, "execve", lambda path, args, env: calls.append((path, args, env)))
    for name in [k for k in os.environ if k.startswith(("LIVECLASS_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["dev", "--", "-p", "3999"])
    assert res.exit_code == 0, res.output
    assert "embedded sandbox" in res.output
    [(path, args, env)] = calls
    assert Path(path).name == "dagster" and args[1:] == ["dev", "-m", "pipeline.definitions", "-p", "3999"]
    assert env["DAGSTER_HOME"] == str(tmp_path / "dagster_home")
    assert env["LIVECLASS_DATA_DIR"] == str(tmp_path / "data")
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()

