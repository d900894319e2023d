"""Rate-limit benchmark: how close the client gets to a platform limit it may not know.

    .venv/bin/python bench/bench_rate_limit.py                      # load: --calls 2400, client limits 40 and 80
    .venv/bin/python bench/bench_rate_limit.py --mode extract --days 14 --lessons 100

The sandbox runs in a subprocess with ``--rate-limit 40`` (HTTP 429 + Retry-After
above 40 requests/s for the applicationID, burst 10) and ``--latency-ms 20``
(+-50 % jitter).  For each client limit (``--client-rates``, default 40 = the
platform's limit and 80 = twice it, to be discovered) a fresh sandbox and a
fresh file-backed bucket (as the pipeline uses, in a temporary data directory):

``--mode load`` (default)
    ``--calls`` reporting calls (APIs 23, 34, 27, 25, 19 over the lessons of a
    few days: the backfill's mix) through one real ``LiveClassClient``,
    ``--concurrency`` threads (``map_concurrent``);
``--mode extract``
    a real extraction: the raw and lake assets of ``--days`` daily partitions
    of a ``--lessons``-lesson school materialized one day after another
    (Dagster, in-process executor), every client made by the API resource kept
    for its stats.

Reported per client limit: accepted requests (HTTP requests minus 429s) per
second over the time spent asking (``load``: the whole load; ``extract``: the
raw assets' time), that rate divided by the platform's limit, the 429s (count
and share of requests), the adapted rate at the end and the limiter's wait.
One JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.api import LiveClassClient  # noqa: E402
from pipeline.sandbox.runner import SandboxConfig, start_sandbox_process  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=TZ)
LAST_DAY = date(2026, 3, 11)


def load_calls(lessons_per_day: int, n: int) -> list[tuple[str, dict]]:
    """``n`` reporting calls over the lessons of the last days before NOW: the backfill's mix."""
    from pipeline.sandbox.school import School

    school = School(seed=7, lessons_per_day=lessons_per_day, now=NOW)
    base: list[tuple[str, dict]] = []
    day = LAST_DAY
    while len(base) < n:
        lessons = school.lessons_on(day)
        for x in lessons:
            base += [("/lesson/io/info", {"lessonId": x.id}), ("/v2/data/teacher/inout", {"lessonId": x.id})]
            base += [("/lessonData/query", {"lid": x.id, "event_type": t}) for t in ("onstage", "handup", "reward")]
        for i in range(0, len(lessons), 20):
            ids = [x.id for x in lessons[i:i + 20]]
            base += [("/lesson/student/award", {"lessonIds": ids}), ("/lesson/info", {"lessonId": ids})]
        day -= timedelta(days=1)
    return base[:n]


def sampler(get_rate, out: list, stop: threading.Event, t0: float) -> None:
    while not stop.wait(1.0):
        out.append((round(time.monotonic() - t0, 1), round(get_rate(), 2)))


def run_load(cfg: SandboxConfig, client_rate: float, calls: list, concurrency: int) -> dict:
    with start_sandbox_process(cfg) as sb, tempfile.TemporaryDirectory() as tmp:
        client = LiveClassClient(sb.base_url, sb.app_id, sb.secret, rate_limit_per_second=client_rate,
                                 rate_limit_file=os.path.join(tmp, ".ratelimit"), concurrency=concurrency)
        series: list = []
        stop = threading.Event()
        t0 = time.monotonic()
        th = threading.Thread(target=sampler, args=(lambda: client.limiter.rate_now, series, stop, t0), daemon=True)
        th.start()
        client.map_concurrent(lambda c: client.call(*c), calls)
        seconds = time.monotonic() - t0
        stop.set()
        th.join()
        snap = client.stats.snapshot()
        client.close()
    return summary(cfg.rate_limit, client_rate, [snap], seconds) | {"rate_series": series}


def run_extract(cfg: SandboxConfig, client_rate: float, days: int, concurrency: int) -> dict:
    from dagster import DagsterInstance, materialize

    from assets.resources import DataDirResource, LiveClassApiResource
    from pipeline.definitions import daily_assets

    clients: list[LiveClassClient] = []

    class RecordingApi(LiveClassApiResource):
        def get_client(self, **kw):  # every client the assets make, kept for its stats
            client = super().get_client(**kw)
            clients.append(client)
            return client

    partitions = [(LAST_DAY - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    with start_sandbox_process(cfg) as sb, tempfile.TemporaryDirectory() as tmp:
        api = RecordingApi(base_url=sb.base_url, app_id=sb.app_id, secret=sb.secret,
                           rate_limit_per_second=client_rate, concurrency=concurrency)
        instance = DagsterInstance.ephemeral()
        raw_seconds = 0.0
        t0 = time.monotonic()
        for key in partitions:
            res = materialize(daily_assets(date.fromisoformat(partitions[0])), partition_key=key, instance=instance,
                              resources={"api": api, "data_dir": DataDirResource(path=tmp)})
            assert res.success, key
            for ev in res.get_asset_materialization_events():
                md = ev.materialization.metadata
                if ev.materialization.asset_key.path[0] == "raw" and "duration_s" in md:
                    raw_seconds += md["duration_s"].value
            print(f"  {key}: {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
        wall = time.monotonic() - t0
    out = summary(cfg.rate_limit, client_rate, [c.stats.snapshot() for c in clients], raw_seconds)
    out["days"] = days
    out["wall_s"] = round(wall, 1)
    out["final_rate_per_second"] = round(clients[-1].limiter.rate_now, 2) if clients else None
    return out


def summary(limit: float, client_rate: float, snaps: list[dict], seconds: float) -> dict:
    requests = sum(s["attempts"] for s in snaps)
    throttled = sum(s["http_429"] for s in snaps)
    accepted = requests - throttled
    rate = accepted / seconds if seconds > 0 else 0.0
    last = snaps[-1] if snaps else {}
    return {
        "client_limit": client_rate,
        "calls": sum(s["calls"] for s in snaps),
        "failed_calls": sum(s["failed_calls"] for s in snaps),
        "requests": requests,
        "seconds": round(seconds, 2),
        "accepted_per_second": round(rate, 2),
        "achieved_over_limit": round(rate / limit, 3),
        "http_429": throttled,
        "http_429_share": round(throttled / requests, 4) if requests else 0.0,
        "rate_decreases": sum(s["rate_limit_decreases"] for s in snaps),
        "rate_limit_wait_s": round(sum(s["rate_limit_wait_seconds"] for s in snaps), 1),
        "adapted_rate_at_end": last.get("rate_limit_per_second"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["load", "extract"], default="load")
    ap.add_argument("--server-rate", type=float, default=40.0, help="the sandbox's --rate-limit")
    ap.add_argument("--client-rates", type=float, nargs="+", default=[40.0, 80.0])
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--calls", type=int, default=2400, help="load: calls per client limit")
    ap.add_argument("--days", type=int, default=14, help="extract: days extracted")
    ap.add_argument("--lessons", type=int, default=100, help="lessons per day of the school")
    args = ap.parse_args()
    cfg = SandboxConfig(seed=7, lessons_per_day=args.lessons, latency_ms=args.latency_ms, now=NOW,
                        rate_limit=args.server_rate)
    out: dict = {"mode": args.mode, "server_rate_limit": args.server_rate, "latency_ms": args.latency_ms,
                 "concurrency": args.concurrency, "load_average_before": os.getloadavg()[0], "runs": []}
    calls = load_calls(args.lessons, args.calls) if args.mode == "load" else []
    for rate in args.client_rates:
        if args.mode == "load":
            out["runs"].append(run_load(cfg, rate, calls, args.concurrency))
        else:
            out["runs"].append(run_extract(cfg, rate, args.days, args.concurrency))
        print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
    out["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
