"""Run every benchmark of BENCHMARKS.md with its documented arguments, one after another (`make bench`).

Figures go to stdout; copy them into BENCHMARKS.md with the machine's load.  The
100 M-row warehouse size and the sequential extraction replay are left out (they
take tens of minutes); run those by hand as BENCHMARKS.md shows.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RUNS = [
    ["bench_codec.py", "--markdown"],
    ["bench_client.py"],
    ["bench_sandbox.py"],
    ["bench_extract.py", "--lessons", "300", "--latency-ms", "20", "--concurrency", "8", "--no-sequential"],
    ["bench_warehouse.py", "--sizes", "1", "3.3", "10"],
    ["bench_report.py"],
    ["bench_rate_limit.py", "--mode", "extract", "--days", "14", "--lessons", "100"],
    ["bench_lookback.py", "--lessons", "100", "--late-share", "0.12"],
    ["bench_backfill.py"],
    ["bench_redis_limit.py", "--rates", "100", "1000"],
]


def main() -> int:
    failed = []
    for script, *args in RUNS:
        cmd = [sys.executable, str(HERE / script), *args]
        print(f"\n$ {' '.join(['.venv/bin/python', f'bench/{script}', *args])}", flush=True)
        t0 = time.monotonic()
        if subprocess.run(cmd).returncode != 0:
            failed.append(script)
        print(f"({time.monotonic() - t0:.0f}s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
