"""Peak memory of `liveclass run` against an honest sandbox and against one that sends oversized
bodies (over 20 MB, at a fault rate), for issue 11's "peak memory within 2x an honest run".

    .venv/bin/python bench/bench_hostile_memory.py [--rate 0.2] [--days 1]

Each run is a fresh `liveclass run` subprocess against a sandbox subprocess (40 lessons a day);
its peak RSS is the child's ru_maxrss.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.sandbox.runner import SandboxConfig, start_sandbox_process  # noqa: E402


def run(config: SandboxConfig, days: int) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) of one `liveclass run` of the last ``days`` complete days."""
    end = date.today() - timedelta(days=1)
    with tempfile.TemporaryDirectory() as tmp, start_sandbox_process(config) as sb:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
        env.update(LIVECLASS_BASE_URL=sb.base_url, LIVECLASS_APP_ID=sb.app_id, LIVECLASS_SECRET=sb.secret,
                   LIVECLASS_DATA_DIR=f"{tmp}/data", DAGSTER_HOME=f"{tmp}/dh", LIVECLASS_RATE_LIMIT="0")
        code = """
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
        cmd = [sys.executable, "-c", code, sys.executable, "-m", "pipeline.cli", "run",
               "--start", (end - timedelta(days=days - 1)).isoformat(), "--end", end.isoformat()]
        out = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, check=True).stdout.split()
        return int(out[0]), int(out[1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--days", type=int, default=1)
    a = ap.parse_args()
    honest = run(SandboxConfig(), a.days)
    hostile = run(SandboxConfig(fault_rate=a.rate, fault_kinds=("oversized",)), a.days)
    print(f"honest:    exit {honest[0]}, peak RSS {honest[1] / 1024:.0f} MiB")
    print(f"oversized: exit {hostile[0]}, peak RSS {hostile[1] / 1024:.0f} MiB "
          f"({hostile[1] / honest[1]:.2f}x the honest run), fault rate {a.rate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
