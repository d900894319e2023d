"""Throughput of the sandbox server: verified signed requests per second and server CPU per request.

    .venv/bin/python bench/bench_sandbox.py [--seconds 10] [--procs 2] [--threads 4]

Starts the sandbox in a subprocess (zero latency, no faults, fixed clock), then
drives it from client processes over keep-alive HTTP/1.1 connections with a
mix of reporting requests (APIs 17, 19, 23, 25, 27, 34).  Every request is a
distinct signMsg (fresh IV) that the server MAC-checks, decrypts and
unserializes; answers for the same parameters come from the server's answer
cache.  Signing happens before the clock starts so the client measures the
server, not itself.  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.api.signing import encode_sign_msg  # noqa: E402
from pipeline.sandbox.runner import SandboxConfig, start_sandbox_process  # noqa: E402
from pipeline.sandbox.school import TZ, School  # noqa: E402

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)


def request_mix(app_id: str, secret: str, n: int) -> list[tuple[str, bytes]]:
    school = School(seed=7, now=NOW)
    lessons = [x for d in (date(2024, 5, 28), date(2024, 5, 29), date(2024, 5, 30)) for x in school.lessons_on(d)]
    base = []
    for x in lessons:
        base += [
            ("/lesson/io/info", {"lessonId": x.id}),
            ("/v2/data/teacher/inout", {"lessonId": x.id}),
            ("/lessonData/query", {"lid": x.id, "event_type": "handup"}),
            ("/lesson/student/award", {"lessonIds": [x.id]}),
        ]
    for i in range(0, len(lessons), 10):
        base.append(("/lesson/info", {"lessonId": [x.id for x in lessons[i : i + 10]]}))
    base.append(("/lesson/get_class_info", {"start_time": "2024-05-30 00:00", "end_time": "2024-05-31 00:00"}))
    out = []
    for i in range(n):
        path, params = base[i % len(base)]
        body = urlencode({"applicationID": app_id, "signMsg": encode_sign_msg(params, secret)}).encode()
        out.append((path, body))
    return out


def client_proc(host: str, port: int, bodies: list, threads: int, start_at: float, seconds: float, q) -> None:
    counts = [0] * threads
    errors = [0] * threads

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        i = k
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            path, body = bodies[i % len(bodies)]
            i += threads
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 200 and data.startswith(b'{"status":1'):
                    counts[k] += 1
                else:
                    errors[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put((sum(counts), sum(errors)))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--signed", type=int, default=6000, help="distinct signed requests prepared per client process")
    args = ap.parse_args()

    with start_sandbox_process(SandboxConfig(now=NOW)) as sb:
        host, port = "127.0.0.1", sb.port
        per_proc = [request_mix(sb.app_id, sb.secret, args.signed) for _ in range(args.procs)]
        # warm the school's caches and the answer cache once
        warm = http.client.HTTPConnection(host, port)
        for path, body in per_proc[0][: min(len(per_proc[0]), 1500)]:
            warm.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            warm.getresponse().read()
        warm.close()
        q: mp.Queue = mp.Queue()
        start_at = time.time() + 1.0
        procs = [mp.Process(target=client_proc, args=(host, port, per_proc[i], args.threads, start_at, args.seconds, q))
                 for i in range(args.procs)]
        for p in procs:
            p.start()
        while time.time() < start_at:
            time.sleep(0.001)
        cpu0 = cpu_seconds(sb.pid)
        results = [q.get() for _ in procs]
        cpu1 = cpu_seconds(sb.pid)
        for p in procs:
            p.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    print(json.dumps({
        "bench": "sandbox",
        "seconds": args.seconds,
        "client_procs": args.procs,
        "threads_per_proc": args.threads,
        "connections": args.procs * args.threads,
        "verified_requests": ok,
        "errors": errors,
        "requests_per_second": round(ok / args.seconds, 1),
        "server_cpu_ms_per_request": round(1000 * (cpu1 - cpu0) / max(ok, 1), 4),
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
