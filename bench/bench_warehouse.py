"""Benchmark: full warehouse rebuild time and peak memory vs. lake size.

For each size (millions of attendance rows) a synthetic lake of one year
(365 days, 30 students per lesson, lessons/day = rows / (365 * 30)) is written
with ``tests.warehouse.lakegen`` under a temporary directory, then the warehouse
is built in a fresh child process so that its peak RSS (``ru_maxrss``) measures
the build alone.  Everything is removed afterwards.

    .venv/bin/python bench/bench_warehouse.py                  # 1, 3.3, 10 M
    .venv/bin/python bench/bench_warehouse.py --sizes 1 10 100 --threads 2

Results are printed as a Markdown table (paste into BENCHMARKS.md ``## Warehouse``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DAYS = 365
STUDENTS = 30


def _dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def child(lake: str, out: str, threads: int | None, memory_limit: str | None) -> None:
    from warehouse.build import build_warehouse

    r = build_warehouse(lake, out, threads=threads, memory_limit=memory_limit)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": r.seconds, "peak_rss_mib": peak_kib / 1024, "rows": r.rows,
                      "files": r.lake_files}))


def run_size(millions: float, base: Path, threads: int | None, memory_limit: str | None, seed: int) -> dict:
    from tests.warehouse.lakegen import write_lake

    lessons = max(1, round(millions * 1e6 / (DAYS * STUDENTS)))
    work = base / f"m{millions:g}"
    lake, out = work / "lake", work / "warehouse.duckdb"
    t0 = time.perf_counter()
    stats = write_lake(lake, days=DAYS, lessons_per_day=lessons, students_per_lesson=STUDENTS, seed=seed)
    gen_s = time.perf_counter() - t0
    lake_bytes = _dir_size(lake)
    cmd = [sys.executable, __file__, "--child", str(lake), str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    t1 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t1
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(
        millions=millions, lessons_per_day=lessons, attendance_rows=stats.rows["attendance"],
        lake_rows=sum(stats.rows.values()), key_events=stats.rows["key_events"],
        gen_seconds=gen_s, lake_mib=lake_bytes / 2**20, warehouse_mib=out.stat().st_size / 2**20,
        child_wall_seconds=wall,
    )
    shutil.rmtree(work, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1, 3.3, 10],
                   help="millions of attendance rows")
    p.add_argument("--threads", type=int)
    p.add_argument("--memory-limit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tmp", default=None, help="parent of the temporary work directory (default: $TMPDIR or /tmp)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", nargs=2, metavar=("LAKE", "OUT"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], a.threads, a.memory_limit)
        return
    free = shutil.disk_usage(a.tmp or tempfile.gettempdir()).free / 2**30
    print(f"# cpus={os.cpu_count()} threads={a.threads or 'default'} memory_limit={a.memory_limit or 'default'} "
          f"free disk={free:.0f} GiB", flush=True)
    results = []
    base = Path(tempfile.mkdtemp(prefix="lc-bench-wh-", dir=a.tmp))
    try:
        for m in a.sizes:
            r = run_size(m, base, a.threads, a.memory_limit, a.seed)
            results.append(r)
            print(f"# {m:g} M: build {r['seconds']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB "
                  f"(generation {r['gen_seconds']:.0f} s)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print("| attendance rows | lessons/day | lake rows (all tables) | lake size | build (s) | "
          "µs / attendance row | peak RSS | warehouse size |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['attendance_rows']:,} | {r['lessons_per_day']:,} | {r['lake_rows']:,} | "
              f"{r['lake_mib']:,.0f} MiB | {r['seconds']:.1f} | {r['seconds'] / r['attendance_rows'] * 1e6:.2f} | "
              f"{r['peak_rss_mib']:,.0f} MiB | {r['warehouse_mib']:,.0f} MiB |")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
