"""Backfill benchmark: peak memory of ``liveclass run`` against the window's width, and two processes at once.

    .venv/bin/python bench/bench_backfill.py                         # widths 10 and 60 days, then two processes
    .venv/bin/python bench/bench_backfill.py --widths 10 30 60 --lessons 40 --skip-pair

Each run is a real ``liveclass run --start .. --end ..`` subprocess (fresh data directory and
DAGSTER_HOME) against a sandbox subprocess (seed 7, ``--lessons`` per day, clock fixed at
``--now``, no latency, no rate limit): extraction through Dagster, lake, warehouse, feeds and
report.  Its peak RSS is the child's ``ru_maxrss`` (``os.wait4``: the process tree's largest
resident set of the liveclass process itself).

``pair``: the same window split in two halves, both ``liveclass run`` processes started at once on
one data directory (one run lock, one rate-limit bucket file); their API calls and lake rows
together against one process over the whole window.  One JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.sandbox.runner import SandboxConfig, start_sandbox_process  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
DAY_LINE = re.compile(r"\] (\d{4}-\d\d-\d\d): (\d+) lessons, (\d+) API calls \(\d+ retries\), (\d+) lake rows")


def start_run(sb, data: Path, home: Path, first: date, last: date) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
    env.update({"LIVECLASS_DATA_DIR": str(data), "DAGSTER_HOME": str(home), "LIVECLASS_BASE_URL": sb.base_url,
                "LIVECLASS_APP_ID": sb.app_id, "LIVECLASS_SECRET": sb.secret, "LIVECLASS_RATE_LIMIT": "0",
                "LIVECLASS_START_DATE": "2025-01-01"})
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--start", first.isoformat(), "--end",
                             last.isoformat()], env=env, cwd=data.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> dict:
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    days = DAY_LINE.findall(out)
    return {"exit": proc.returncode, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "days": len(days), "api_calls": sum(int(d[2]) for d in days),
            "lake_rows": sum(int(d[3]) for d in days), "tail": out.splitlines()[-3:] if proc.returncode else []}


def window(last: date, width: int) -> tuple[date, date]:
    return last - timedelta(days=width - 1), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", type=int, nargs="+", default=[10, 60])
    ap.add_argument("--lessons", type=int, default=40)
    ap.add_argument("--now", default="2026-03-12 09:00")
    ap.add_argument("--pair-days", type=int, default=10)
    ap.add_argument("--skip-pair", action="store_true")
    args = ap.parse_args()
    now = datetime.strptime(args.now, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    last = now.date() - timedelta(days=1)
    cfg = SandboxConfig(seed=7, lessons_per_day=args.lessons, now=now)
    results: dict = {"command": " ".join(["bench/bench_backfill.py", *sys.argv[1:]]), "lessons_per_day": args.lessons,
                     "widths": []}
    with start_sandbox_process(cfg) as sb, tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        for width in args.widths:
            root = Path(tmp) / f"w{width}"
            root.mkdir()
            t0 = time.monotonic()
            r = finish(start_run(sb, root / "data", root / "dh", *window(last, width)))
            r.update(width_days=width, seconds=round(time.monotonic() - t0, 1), loadavg=os.getloadavg()[0])
            results["widths"].append(r)
            print(json.dumps(r), file=sys.stderr)
        if not args.skip_pair:
            first, end = window(last, args.pair_days)
            mid = first + timedelta(days=args.pair_days // 2 - 1)
            one = Path(tmp) / "one"
            one.mkdir()
            single = finish(start_run(sb, one / "data", one / "dh", first, end))
            two = Path(tmp) / "two"
            two.mkdir()
            a = start_run(sb, two / "data", two / "dh", first, mid)
            b = start_run(sb, two / "data", two / "dh", mid + timedelta(days=1), end)
            ra, rb = finish(a), finish(b)
            results["pair"] = {"window": f"{first}..{end}", "one_process": single, "two_processes": [ra, rb],
                               "same_calls": single["api_calls"] == ra["api_calls"] + rb["api_calls"],
                               "same_lake_rows": single["lake_rows"] == ra["lake_rows"] + rb["lake_rows"]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
