"""One Redis rate limit shared by 4 worker processes x 16 threads: achieved rate / limit, worst 1-second window.

    .venv/bin/python bench/bench_redis_limit.py                          # limiter only, 100 and 1000 req/s
    .venv/bin/python bench/bench_redis_limit.py --mode http --rates 100 1000

A redis-server (Debian's package) is started on a free loopback port (no
persistence, temporary folder) and stopped afterwards.  ``--processes``
worker processes (default 4, standing for hosts: they share nothing but Redis)
of ``--threads`` threads each (default 16) start together and take
``rate x --seconds`` requests in total, for each rate of ``--rates``:

``--mode limiter`` (default)
    a request is one slot from :class:`pipeline.api.ratelimit_redis.RedisLimiter`
    (``acquire_slot``: the reservation round trip, the local sleep, the check
    after it), timestamped when the thread would send;
``--mode http``
    a request is one real ``LiveClassClient.call`` (signed, one POST) with the
    Redis limit (``rate_limit_url``) to a loopback HTTP server in its own
    process answering a canned success without decoding; timestamped by the
    server on arrival.

Reported per rate: requests, achieved requests/s (over first to last
timestamp) / the limit, the largest count in any 1-second window of the send
(or server arrival) times and of the admissions on Redis's clock (the
limiter's guarantee: at most limit + burst), how much longer
than its planned sleeps a thread took to get its slot (p50, p99, max: round
trips, oversleeping, waiting for the GIL and a CPU), Redis round trips per
request, and the load average (``/proc/loadavg``) before and after.  One JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0:3].__str__().replace("'", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: str) -> tuple[subprocess.Popen, str]:
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", folder], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("redis-server did not start")


def max_in_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


# -- the worker process ------------------------------------------------------------------------------------

def worker(args) -> None:
    from pipeline.api.limiters import make_limiter

    slots: list[tuple[float, float, float]] = []  # (admitted on Redis's clock, sent on ours, lateness)
    lock = threading.Lock()
    left = [args.n]
    if args.mode == "http":
        from pipeline.api import LiveClassClient

        client = LiveClassClient(args.server, "bench-app", "bench-secret-0123456789abcdef", rate_limit_per_second=args.rate,
                                 rate_limit_url=args.url, concurrency=args.threads, timeout=(3.05, 10.0))
        limiter = client.limiter
        original = limiter.acquire_slot

        def recorded(max_wait=None):  # the client's own limiter, its slots recorded as they are granted
            s = original(max_wait)
            with lock:
                slots.append((limiter.admitted_at, time.time(), 0.0))
            return s

        limiter.acquire_slot = recorded
    else:
        limiter = make_limiter(args.rate, args.url, key="bench-app")
    assert limiter.burst == args.burst

    def take() -> bool:
        with lock:
            if left[0] <= 0:
                return False
            left[0] -= 1
            return True

    def run():
        while take():
            if args.mode == "http":
                client.call("/lesson/get_class_info", {"i": 1})
            else:
                t0 = time.monotonic()
                s = limiter.acquire_slot()
                late = (time.monotonic() - t0) - s.wait  # beyond the planned sleeps: round trips, oversleep, GIL
                with lock:
                    slots.append((limiter.admitted_at, time.time(), late))

    while time.time() < args.start:
        time.sleep(0.001)
    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limiter.close()
    print(json.dumps(slots))


# -- the loopback server of --mode http ---------------------------------------------------------------------

def server(args) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "api"))
    from loopback import Loopback, _Handler

    stamps: list[float] = []

    class Timed(_Handler):
        def do_POST(self):
            stamps.append(time.time())
            super().do_POST()

    srv = Loopback()
    srv.canned = json.dumps({"status": 1, "error_code": 10000, "msg": "成功", "data": {"ok": 1}}).encode()
    srv.httpd.RequestHandlerClass = type("Handler", (Timed,), {"owner": srv})
    srv.httpd.request_queue_size = 256
    srv.start()
    print(srv.url, flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    srv.stop()
    print(json.dumps(stamps), flush=True)


# -- the bench ---------------------------------------------------------------------------------------------

def redis_calls(url: str) -> int:
    import redis

    r = redis.Redis.from_url(url)
    calls = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    r.close()
    return calls


def run_rate(args, url: str, rate: float) -> dict:
    import redis

    redis.Redis.from_url(url).flushall()
    total = int(rate * args.seconds)
    srv = None
    server_url = ""
    if args.mode == "http":
        srv = subprocess.Popen([sys.executable, __file__, "--role", "server"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
        server_url = srv.stdout.readline().strip()
    before_calls = redis_calls(url)
    load_before = loadavg()
    start = time.time() + 3.0
    share = [total // args.processes + (1 if i < total % args.processes else 0) for i in range(args.processes)]
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "worker", "--mode", args.mode,
                               "--url", f"{url}?burst={args.burst}",
                               "--burst", str(args.burst),
                               "--server", server_url, "--rate", str(rate), "--threads", str(args.threads),
                               "--n", str(n), "--start", str(start)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
             for n in share]
    slots = []
    for p in procs:
        out, _ = p.communicate(timeout=args.seconds * 10 + 120)
        assert p.returncode == 0, "a worker failed"
        slots += json.loads(out)
    load_after = loadavg()
    calls = redis_calls(url) - before_calls
    granted = sorted(s[0] for s in slots)
    sent = sorted(s[1] for s in slots)
    if srv is not None:
        out, _ = srv.communicate("", timeout=60)
        sent = sorted(json.loads(out.strip().splitlines()[-1]))
    achieved = (len(sent) - 1) / (sent[-1] - sent[0])
    lateness = sorted(s[2] for s in slots)
    return {
        "rate_limit": rate,
        "burst": args.burst,
        "requests": len(sent),
        "seconds": round(sent[-1] - sent[0], 2),
        "achieved_per_second": round(achieved, 1),
        "achieved_over_limit": round(achieved / rate, 4),
        "max_in_1s_window_sent": max_in_window(sent),
        "max_in_1s_window_admitted": max_in_window(granted),
        "limit_plus_burst": int(rate) + args.burst,
        "wake_late_ms_p50_p99_max": [round(lateness[int(q * (len(lateness) - 1))] * 1000, 2) for q in (0.5, 0.99, 1)]
        if args.mode == "limiter" else None,
        "redis_round_trips_per_request": round(calls / len(sent), 2),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=["bench", "worker", "server"], default="bench", help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=["limiter", "http"], default="limiter")
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 1000.0])
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--burst", type=int, default=1, help="the limiter's burst (the URL's ?burst=N)")
    ap.add_argument("--seconds", type=float, default=20.0, help="each rate's run lasts about this long")
    # worker only
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--server", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "worker":
        return worker(args)
    if args.role == "server":
        return server(args)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_redis(tmp)
        try:
            out = {"mode": args.mode, "processes": args.processes, "threads": args.threads, "runs": []}
            for rate in args.rates:
                out["runs"].append(run_rate(args, url, rate))
                print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
        finally:
            proc.terminate()
            proc.wait()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
