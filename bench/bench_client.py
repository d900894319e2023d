"""Client overhead per call against a zero-latency local server.

    .venv/bin/python bench/bench_client.py [--calls 2000] [--blocks 5]

The loopback test server (tests/api/loopback.py) runs in a *separate process*
in canned mode (answers a fixed 40-row attendance page without decoding), so
server work does not share our GIL.  Per call we time:

    raw      requests.Session.post of a precomputed signMsg (same pooled session)
    client   LiveClassClient.call(path, params): sign + POST + JSON decode + checks + stats + log
    overhead client - raw, with its parts: encode_sign_msg, json.loads of the body

Blocks of raw and client calls are interleaved and the median block is
reported, which keeps CPU-frequency and scheduler noise out of the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "api"))

import requests  # noqa: E402

from pipeline.api import LiveClassClient  # noqa: E402
from pipeline.api.secret import Secret  # noqa: E402
from pipeline.api.signing import encode_sign_msg  # noqa: E402

APP_ID = "3212f5f463edb370ff55d3c3a7a15c8f"
SECRET = "32bf27979cf0dba95d80f500f553ed53"

BODY = {"status": 1, "error_code": 10000, "msg": "success",
        "data": {"page": 1, "sumpage": 1, "count": 40,
                 "data": [{"user_id": 312742 + i, "listen_time": 45, "inout_times": 1, "u_late": 0, "u_leave": 0}
                          for i in range(40)]}}

SERVER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from loopback import Loopback
    srv = Loopback()
    srv.canned = sys.argv[2].encode()
    srv.start()
    print(srv.url, flush=True)
    sys.stdin.read()
    srv.stop()
""")

PARAM_SETS = {
    "small (API 23 page)": ("/lesson/io/info", {"lessonId": 219343891, "page": 1}),
    "100-id batch (API 19)": ("/lesson/info", {"lessonId": list(range(200000000, 200000100))}),
}


def per_call(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000, help="calls per block")
    ap.add_argument("--blocks", type=int, default=5)
    args = ap.parse_args()

    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(ROOT / "tests" / "api"), json.dumps(BODY)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        client = LiveClassClient(url, APP_ID, SECRET)
        raw = requests.Session()
        raw.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=10, max_retries=0))
        body_bytes = json.dumps(BODY, ensure_ascii=False).encode()
        key = Secret(SECRET)
        results = {}
        for label, (path, params) in PARAM_SETS.items():
            sign = encode_sign_msg(params, SECRET)
            form = {"applicationID": APP_ID, "signMsg": sign}

            def do_raw(path=path, form=form):
                _ = raw.post(url + path, data=form, timeout=(3.05, 30.0)).content

            def do_client(path=path, params=params):
                client.call(path, params)

            for _ in range(200):  # warm up both pools
                do_raw()
                do_client()
            raws, clients = [], []
            for _ in range(args.blocks):
                raws.append(per_call(do_raw, args.calls))
                clients.append(per_call(do_client, args.calls))
            sign_t = per_call(lambda params=params: encode_sign_msg(params, key), 5000)  # the client holds its Secret
            json_t = per_call(lambda: json.loads(body_bytes), 5000)
            r, c = statistics.median(raws), statistics.median(clients)
            results[label] = {"raw_ms": r * 1e3, "client_ms": c * 1e3, "overhead_ms": (c - r) * 1e3,
                              "sign_ms": sign_t * 1e3, "json_ms": json_t * 1e3,
                              "rest_ms": (c - r - sign_t - json_t) * 1e3, "signMsg_chars": len(sign)}

        # throughput through map_concurrent (8 threads) for context
        n = args.calls
        t0 = time.perf_counter()
        client.map_concurrent(lambda i: client.call("/lesson/io/info", {"lessonId": i, "page": 1}), range(n))
        conc = n / (time.perf_counter() - t0)
        client.close()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)

    print(f"python {sys.version.split()[0]}, requests {requests.__version__}, {os.cpu_count()} CPUs; "
          f"{args.blocks} blocks x {args.calls} calls, median block")
    print(f"{'params':24} {'raw ms':>8} {'client ms':>10} {'overhead':>9} {'= sign':>8} {'+ json':>8} {'+ rest':>8}")
    for label, v in results.items():
        print(f"{label:24} {v['raw_ms']:8.3f} {v['client_ms']:10.3f} {v['overhead_ms']:9.3f} "
              f"{v['sign_ms']:8.3f} {v['json_ms']:8.3f} {v['rest_ms']:8.3f}   (signMsg {v['signMsg_chars']} chars)")
    print(f"map_concurrent, 8 threads, small params: {conc:,.0f} calls/s")


if __name__ == "__main__":
    main()
