"""Look-back benchmark: the API calls of one nightly tick against the calls of one new day.

    .venv/bin/python bench/bench_lookback.py                       # 100 lessons/day, unchanged and 5 % changed
    .venv/bin/python bench/bench_lookback.py --lessons 300 --ticks 4

The nightly schedule runs at 03:00 and extracts the newest complete day plus the two before it
(LIVECLASS_LOOKBACK_DAYS=2).  Here each tick is simulated in full: a sandbox whose clock is that
tick's 03:00 (in process, loopback, no latency), the raw and lake assets of the three days
materialized through Dagster into one data directory, newest day first as the schedule's runs
are.  After ``--ticks - 1`` warm-up ticks (so the look-back days were extracted by earlier ticks
exactly as in production) the last tick is measured: its calls for the new day ("one new day")
and for the whole tick.

Two platforms: one whose data does not change once a lesson has ended (``unchanged``), and one
where ``--late-share`` of lessons get one student's attendance and one star award up to
``--late-hours`` after they end (``changed``; the share of look-back lessons whose lake rows
really changed during the measured tick is counted and reported).  One JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TZ = ZoneInfo("Asia/Shanghai")


def tick(data_dir: Path, run_day: date, *, lessons: int, seed: int, late_hours: float, late_share: float,
         lookback: int) -> dict[str, int]:
    """One 03:00 tick of ``run_day``: the newest day and ``lookback`` before it; day -> API calls."""
    from dagster import materialize

    from assets.resources import DataDirResource, LiveClassApiResource
    from pipeline.definitions import daily_assets
    from pipeline.sandbox.runner import SandboxConfig, start_sandbox

    now = datetime(run_day.year, run_day.month, run_day.day, 3, 0, tzinfo=TZ)
    cfg = SandboxConfig(seed=seed, lessons_per_day=lessons, now=now, late_hours=late_hours, late_share=late_share)
    calls: dict[str, int] = {}
    with start_sandbox(cfg) as sb:
        api = LiveClassApiResource(base_url=sb.base_url, app_id=sb.app_id, secret=sb.secret,
                                   rate_limit_per_second=0.0, concurrency=8)
        for back in range(lookback + 1):
            day = (run_day - timedelta(days=1 + back)).isoformat()
            res = materialize(daily_assets(), partition_key=day, raise_on_error=True,
                              resources={"api": api, "data_dir": DataDirResource(path=str(data_dir))})
            calls[day] = sum(int(ev.materialization.metadata["api_calls"].value)
                             for ev in res.get_asset_materialization_events()
                             if "api_calls" in ev.materialization.metadata)
    return calls


def lake_rows(data_dir: Path, day: str) -> dict[str, set]:
    """Per lesson, the set of its rows over every daily lake table (to tell which lessons changed)."""
    import pyarrow.parquet as pq

    from pipeline.core.schemas import DAILY_TABLES

    out: dict[str, set] = {}
    for table in DAILY_TABLES:
        path = data_dir / "lake" / table / f"date={day}" / "part-0.parquet"
        if not path.exists():
            continue
        for row in pq.read_table(path).to_pylist():
            out.setdefault(row["lesson_id"], set()).add((table, tuple(sorted((k, str(v)) for k, v in row.items()))))
    return out


def measure(name: str, args, late_hours: float) -> dict:
    first = date.fromisoformat(args.first_tick)
    with tempfile.TemporaryDirectory(prefix="bench-lookback-") as tmp:
        data_dir = Path(tmp) / "data"
        for i in range(args.ticks - 1):
            tick(data_dir, first + timedelta(days=i), lessons=args.lessons, seed=args.seed, late_hours=late_hours,
                 late_share=args.late_share, lookback=args.lookback)
        run_day = first + timedelta(days=args.ticks - 1)
        back_days = [(run_day - timedelta(days=1 + b)).isoformat() for b in range(1, args.lookback + 1)]
        before = {d: lake_rows(data_dir, d) for d in back_days}
        t0 = time.monotonic()
        calls = tick(data_dir, run_day, lessons=args.lessons, seed=args.seed, late_hours=late_hours,
                     late_share=args.late_share, lookback=args.lookback)
        seconds = time.monotonic() - t0
        after = {d: lake_rows(data_dir, d) for d in back_days}
    newest = (run_day - timedelta(days=1)).isoformat()
    lessons_back = sum(len(before[d]) for d in back_days)
    changed = sum(1 for d in back_days for lid in set(before[d]) | set(after[d])
                  if before[d].get(lid) != after[d].get(lid))
    return {
        "platform": name,
        "tick": f"{run_day} 03:00",
        "calls_new_day": calls[newest],
        "calls_lookback_days": {d: calls[d] for d in back_days},
        "calls_tick": sum(calls.values()),
        "ratio_tick_to_new_day": round(sum(calls.values()) / calls[newest], 3),
        "lookback_lessons": lessons_back,
        "lookback_lessons_changed": changed,
        "lookback_changed_share": round(changed / lessons_back, 4) if lessons_back else None,
        "tick_seconds": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lessons", type=int, default=100, help="lessons per day of the school")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ticks", type=int, default=4, help="ticks run; the last one is measured")
    ap.add_argument("--first-tick", default="2026-03-16", help="the day of the first tick (03:00)")
    ap.add_argument("--lookback", type=int, default=2)
    ap.add_argument("--late-hours", type=float, default=24.0, help="the changed platform: late data within (hours)")
    ap.add_argument("--late-share", type=float, default=0.3, help="the changed platform: share of lessons")
    args = ap.parse_args()
    out = {"command": " ".join(["bench/bench_lookback.py", *sys.argv[1:]]), "lessons_per_day": args.lessons,
           "settle_hours": 24.0,
           "results": [measure("unchanged", args, 0.0), measure("changed", args, args.late_hours)]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
