"""Extraction benchmark: wall time of one day's raw + lake materialization against the sandbox
with per-request latency, next to the floor (calls x latency / concurrency) and to a plain
sequential loop over the same calls.

    .venv/bin/python bench/bench_extract.py --lessons 300 --latency-ms 20 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterInstance, materialize  # noqa: E402

from assets.raw.store import read_raw  # noqa: E402
from assets.resources import DataDirResource, LiveClassApiResource  # noqa: E402
from pipeline.api import LiveClassClient  # noqa: E402
from pipeline.definitions import daily_assets  # noqa: E402
from pipeline.sandbox.runner import SandboxConfig, start_sandbox_process  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-03-10"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lessons", type=int, default=300)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--sequential", action=argparse.BooleanOptionalAction, default=True,
                    help="also replay every call one after another")
    args = ap.parse_args()
    cfg = SandboxConfig(seed=7, lessons_per_day=args.lessons, latency_ms=args.latency_ms,
                        now=datetime(2026, 3, 12, 9, 0, tzinfo=TZ))
    with start_sandbox_process(cfg) as sb, tempfile.TemporaryDirectory() as tmp:
        api = LiveClassApiResource(base_url=sb.base_url, app_id=sb.app_id, secret=sb.secret,
                                   rate_limit_per_second=0.0, concurrency=args.concurrency)
        t0 = time.perf_counter()
        res = materialize(daily_assets(), partition_key=DAY, instance=DagsterInstance.ephemeral(),
                          resources={"api": api, "data_dir": DataDirResource(path=tmp)})
        wall = time.perf_counter() - t0
        assert res.success
        calls: dict[str, int] = {}
        api_seconds = 0.0
        for ev in res.get_asset_materialization_events():
            md = ev.materialization.metadata
            for path, n in md.get("api_calls_by_endpoint").value.items() if "api_calls_by_endpoint" in md else []:
                calls[path] = calls.get(path, 0) + n
            if "duration_s" in md and ev.materialization.asset_key.path[0] == "raw":
                api_seconds += md["duration_s"].value
        total = sum(calls.values())
        floor = total * args.latency_ms / 1000 / args.concurrency
        out = {"lessons": args.lessons, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
               "api_calls": total, "calls_per_lesson": round(total / args.lessons, 2), "calls_by_endpoint": calls,
               "wall_s": round(wall, 2), "raw_assets_s": round(api_seconds, 2), "floor_s": round(floor, 2),
               "wall_over_floor": round(wall / floor, 2), "raw_over_floor": round(api_seconds / floor, 2)}
        if args.sequential:
            records = []
            for p in sorted(Path(tmp, "raw").rglob("*.jsonl.gz")):
                records.extend(read_raw(p))
            client = LiveClassClient(sb.base_url, sb.app_id, sb.secret)
            t0 = time.perf_counter()
            for rec in records:
                client.call(rec["path"], rec["params"])
            out["sequential_s"] = round(time.perf_counter() - t0, 2)
            out["sequential_calls"] = len(records)
            client.close()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
