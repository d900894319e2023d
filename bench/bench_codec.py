"""signMsg codec throughput on one core: encodes/s and decodes/s per payload size.

    .venv/bin/python bench/bench_codec.py              # --seconds 0.4 --repeat 5
    .venv/bin/python bench/bench_codec.py --markdown   # a table for BENCHMARKS.md

The process is pinned to one CPU.  Each figure is the median of ``--repeat``
timed runs of about ``--seconds`` each.  The secret is held in a
:class:`~pipeline.api.secret.Secret`, as the client holds it (its keys are
derived once, not per message).  If ``php`` is on PATH, PHP's own rate
for the same payloads is measured too: the document's ``getSignMsg`` (random
IV) and a Laravel-style decode (hash_equals, openssl_decrypt, unserialize).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography  # noqa: E402

from pipeline.api.secret import Secret  # noqa: E402
from pipeline.api.signing import decode_sign_msg, encode_sign_msg  # noqa: E402

SECRET = "32bf27979cf0dba95d80f500f553ed53"
KEY = Secret(SECRET)

PAYLOADS: dict[str, dict] = {
    "small map (doc example: 2 ints)": {"lessonId": 10384374, "diskId": 356},
    "100-int list (API 19 style)": {"lessonId": list(range(116914652, 116914752)), "page": 1},
    "API 1 batch (JSON string, 10 Chinese names)": {
        "userInfo": json.dumps(
            [{"name": f"张{i}老师", "mobile": str(13521600960 + i), "role": i % 2} for i in range(10)],
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "classroomId": "10001",
    },
    "1000-int list": {"lessonIds": list(range(10001, 11001))},
}

PHP_BENCH = r"""<?php
function getSignMsg($data,$key) {
$iv = random_bytes(16);
$cipher = 'AES-256-CBC';
$value = openssl_encrypt(serialize($data), $cipher, $key,0,$iv);
$mac = hash_hmac('sha256',($iv = base64_encode($iv)).$value, $key);
$json = json_encode(compact('iv', 'value', 'mac'));
return base64_encode($json);
}
function decodeSignMsg($signMsg, $key) {
    $p = json_decode(base64_decode($signMsg, true), true);
    if (!hash_equals(hash_hmac('sha256', $p['iv'] . $p['value'], $key), $p['mac'])) throw new Exception('mac');
    $plain = openssl_decrypt($p['value'], 'AES-256-CBC', $key, 0, base64_decode($p['iv'], true));
    return unserialize($plain, ['allowed_classes' => false]);
}
function rate($f, $seconds, $repeat) {
    $rates = [];
    for ($r = 0; $r < $repeat; $r++) {
        $n = 0; $t0 = hrtime(true); $deadline = $t0 + $seconds * 1e9;
        do { for ($i = 0; $i < 200; $i++) $f(); $n += 200; $t = hrtime(true); } while ($t < $deadline);
        $rates[] = $n / (($t - $t0) / 1e9);
    }
    sort($rates);
    return $rates[intdiv(count($rates), 2)];
}
$in = json_decode(file_get_contents($argv[1]), true);
$out = [];
foreach ($in['payloads'] as $name => $data) {
    $key = $in['secret'];
    $msg = getSignMsg($data, $key);
    $out[$name] = [
        'encode' => rate(function () use ($data, $key) { getSignMsg($data, $key); }, $in['seconds'], $in['repeat']),
        'decode' => rate(function () use ($msg, $key) { decodeSignMsg($msg, $key); }, $in['seconds'], $in['repeat']),
    ];
}
echo json_encode(['version' => PHP_VERSION, 'rates' => $out]);
"""


def rate(fn, seconds: float, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(200):
                fn()
            n += 200
            t = time.perf_counter()
            if t >= deadline:
                break
        rates.append(n / (t - t0))
    return statistics.median(rates)


def php_rates(seconds: float, repeat: int) -> dict | None:
    php = shutil.which("php")
    if php is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script, data = Path(tmp, "bench.php"), Path(tmp, "in.json")
        script.write_text(PHP_BENCH)
        data.write_text(json.dumps({"payloads": PAYLOADS, "secret": SECRET, "seconds": seconds, "repeat": repeat}))
        out = subprocess.run(
            ["taskset", "-c", str(_cpu()), php, str(script), str(data)] if shutil.which("taskset") else [php, str(script), str(data)],
            capture_output=True, text=True, check=True,
        )
    return json.loads(out.stdout)


def _cpu() -> int:
    return max(os.sched_getaffinity(0))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=0.4, help="length of one timed run")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median reported)")
    ap.add_argument("--no-php", action="store_true", help="skip the PHP comparison")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()

    os.sched_setaffinity(0, {_cpu()})
    rows = []
    for name, params in PAYLOADS.items():
        msg = encode_sign_msg(params, KEY)
        assert decode_sign_msg(msg, SECRET) == params
        enc = rate(lambda params=params: encode_sign_msg(params, KEY), args.seconds, args.repeat)
        dec = rate(lambda msg=msg: decode_sign_msg(msg, KEY), args.seconds, args.repeat)
        rows.append((name, len(msg), enc, dec))
    php = None if args.no_php else php_rates(args.seconds, args.repeat)

    print(
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{cpu_model()}, {os.cpu_count()} CPUs (pinned to CPU {_cpu()})"
        + (f", PHP {php['version']}" if php else ", no php")
    )
    if args.markdown:
        head = "| payload | signMsg chars | encodes/s | decodes/s |"
        sep = "|---|---:|---:|---:|"
        if php:
            head += " PHP getSignMsg/s | PHP decodes/s |"
            sep += "---:|---:|"
        print(head)
        print(sep)
        for name, chars, enc, dec in rows:
            line = f"| {name} | {chars} | {enc:,.0f} | {dec:,.0f} |"
            if php:
                p = php["rates"][name]
                line += f" {p['encode']:,.0f} | {p['decode']:,.0f} |"
            print(line)
    else:
        print(f"{'payload':46} {'chars':>6} {'enc/s':>10} {'dec/s':>10}" + (f" {'php enc/s':>10} {'php dec/s':>10}" if php else ""))
        for name, chars, enc, dec in rows:
            line = f"{name:46} {chars:6d} {enc:10,.0f} {dec:10,.0f}"
            if php:
                p = php["rates"][name]
                line += f" {p['encode']:10,.0f} {p['decode']:10,.0f}"
            print(line)


if __name__ == "__main__":
    main()
