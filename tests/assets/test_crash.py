"""Killing a materialization midway (SIGKILL) and re-running gives the same lake as an
uninterrupted run: never a half-written partition, never duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from tests.assets.test_extraction import lake_bytes, run_days
from tests.conftest import SANDBOX_DAYS

pytestmark = pytest.mark.xdist_group("sandbox")

CHILD = r"""
import json, sys
from dagster import materialize
from pipeline.definitions import daily_assets
from assets.resources import DataDirResource, LiveClassApiResource
cfg = json.loads(sys.argv[1])
api = LiveClassApiResource(base_url=cfg["url"], app_id=cfg["app_id"], secret=cfg["secret"],
                           rate_limit_per_second=0.0, concurrency=4)
materialize(daily_assets(), partition_key=cfg["day"],
            resources={"api": api, "data_dir": DataDirResource(path=cfg["data_dir"])})
print("DONE", flush=True)
"""


@pytest.mark.parametrize("kill_after", [1.5, 3.0, 4.5])
def test_sigkill_midway_then_rerun_equals_uninterrupted(sandbox_config, tmp_path, kill_after):
    from pipeline.sandbox.runner import start_sandbox

    day = SANDBOX_DAYS[2]
    with start_sandbox(replace(sandbox_config, latency_ms=15)) as sb:
        reference = tmp_path / "reference"
        run_days(sb, reference, days=[day])
        crashed = tmp_path / "crashed"
        cfg = {"url": sb.base_url, "app_id": sb.app_id, "secret": sb.secret, "day": day, "data_dir": str(crashed)}
        env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "dh"))
        (tmp_path / "dh").mkdir()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(kill_after)
        finished = proc.poll() is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not finished, "the child finished before it could be killed; slow the sandbox down"
        partial = lake_bytes(crashed) if crashed.exists() else {}
        ref = lake_bytes(reference)
        for name, data in partial.items():  # whatever the crash left is complete, never half a file
            assert data == ref[name], name
        run_days(sb, crashed, days=[day])
    assert lake_bytes(crashed) == ref
