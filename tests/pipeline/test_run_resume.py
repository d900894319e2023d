"""``liveclass run`` started again: after a kill it resumes without redoing a finished day; ``--full`` asks a
settled day again.  Subprocesses against a small sandbox of their own (not the session's), so these long runs
share no worker with the other sandbox tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import duckdb
import pytest

from tests.pipeline.test_run import liveclass

#: lessons a day of the sandbox these runs extract (a small school: the runs are long enough as it is)
LESSONS = 4


@pytest.fixture(scope="module")
def small_sandbox(sandbox_config):
    from pipeline.sandbox.runner import start_sandbox

    with start_sandbox(replace(sandbox_config, lessons_per_day=LESSONS)) as sb:
        yield sb


def test_a_run_killed_half_way_resumes_without_redoing_a_finished_day(small_sandbox, tmp_path):
    """``liveclass run`` over 10 days is killed (SIGKILL) after its 5th day; started again it extracts only the
    days not finished (their raw and lake files untouched, not even rewritten) and publishes all ten."""
    sandbox = small_sandbox
    import re
    import signal
    from datetime import date

    days = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(10)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
    env.update({"LIVECLASS_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dh"),
                "LIVECLASS_BASE_URL": sandbox.base_url, "LIVECLASS_APP_ID": sandbox.app_id,
                "LIVECLASS_SECRET": sandbox.secret, "LIVECLASS_RATE_LIMIT": "0"})
    args = [sys.executable, "-m", "pipeline.cli", "run", "--start", days[0], "--end", days[-1]]
    first = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in first.stdout:
            seen.append(line)
            if re.search(r"\[5/10\] \S+: \d+ lessons", line):
                first.send_signal(signal.SIGKILL)
                break
    finally:
        first.kill()
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    data = tmp_path / "data"
    finished = [d for d in days if any(f"] {d}: " in line and " ok" in line for line in seen)]
    assert len(finished) >= 5 and finished == days[:len(finished)], "".join(seen)
    files = {p: p.stat().st_mtime_ns for d in finished for p in data.rglob(f"date={d}/*")}
    assert len(files) >= 7 * 2 * len(finished)  # raw pages + meta, lake partitions of the seven groups

    again = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    out = again.stdout
    assert f"{len(finished)} of 10 day(s) were finished" in out
    extracted = re.findall(r"\] (\S+): \d+ lessons, (\d+) API calls", out)
    assert [d for d, _ in extracted] == days[len(finished):], out
    assert all(int(n) > 0 for _, n in extracted)
    assert all(f"] {d}: finished by the interrupted run" in out for d in finished)
    assert {p: p.stat().st_mtime_ns for p in files} == files, "a finished day's files were written again"
    assert not (data / ".run-window.json").exists()  # published: nothing left to resume
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        got = {d.isoformat() for (d,) in con.execute("SELECT DISTINCT lesson_date FROM mart_lesson_attendance").fetchall()}
    finally:
        con.close()
    assert got == set(days)


def test_run_full_asks_a_settled_day_again_through_the_dagster_config_field(small_sandbox, tmp_path):
    """``liveclass run --full`` (each raw asset's ``full_refresh`` in the run config) asks a settled day all
    again (without it, no call: tests/assets/test_extraction.py), and the lake is the same."""
    import re

    day = "2026-03-10"
    sb = small_sandbox
    env = {"LIVECLASS_BASE_URL": sb.base_url, "LIVECLASS_APP_ID": sb.app_id,
           "LIVECLASS_SECRET": sb.secret, "LIVECLASS_RATE_LIMIT": "0"}
    calls = []
    lake = []
    for extra in ([], ["--full"]):
        proc = liveclass(["run", "--start", day, "--end", day, *extra], tmp_path, **env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        calls.append(int(re.search(r"\] \S+: \d+ lessons, (\d+) API calls", proc.stdout).group(1)))
        lake.append({p.name + str(p.parent): p.read_bytes() for p in (tmp_path / "data" / "lake").rglob("*.parquet")})
        assert ("every answer asked again (--full)" in proc.stdout) == bool(extra)
    # --full asks again all but API 30 (a lesson's class never changes: asked twice a lesson the first time)
    assert calls[0] > 0 and calls[1] == calls[0] - 2 * LESSONS
    assert lake[0] == lake[1]
    # and it asked the platform it was given, with its credentials (a resource's run config would have replaced
    # them: the embedded sandbox's 40 lessons)
    assert f"{LESSONS} lessons" in proc.stdout
