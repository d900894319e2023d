"""Benchmark: full warehouse rebuild time and peak memory vs. lake size.

For each size (millions of attendance rows) a synthetic lake of one year
(365 days, 30 students per lesson, lessons/day = rows / (365 * 30)) is written
with ``tests.warehouse.lakegen`` under a temporary directory, then the warehouse
is built in a fresh child process so that its peak RSS (``ru_maxrss``) measures
the build alone.  Everything is removed afterwards.

    .venv/bin/python bench/bench_warehouse.py                  # 1, 3.3, 10 M
    .venv/bin/python bench/bench_warehouse.py --sizes 1 10 100 --threads 2
    .venv/bin/python bench/bench_warehouse.py --sizes 22 --incremental 1 3 --memory-limit 3GB

``--incremental N ...``: after the full build, the last N days of the lake are re-extracted (late
attendance: a third of the absent students of each day's finished lessons turn up late; every daily
table of the day rewritten) and the warehouse is published incrementally on top of the previous
one, each in a fresh child process (time, peak RSS, copy method and seconds, the slowest models).

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


def child(lake: str, out: str, threads: int | None, memory_limit: str | None, full: bool = True) -> None:
    from warehouse.build import build_warehouse

    r = build_warehouse(lake, out, full=full, threads=threads, memory_limit=memory_limit,
                        temp_dir=str(Path(out).parent / "spill"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    print(json.dumps({"seconds": r.seconds, "peak_rss_mib": peak_kib / 1024, "rows": r.rows,
                      "cpu_seconds": usage.ru_utime + usage.ru_stime, "files": r.lake_files, "mode": r.mode, "reason": r.reason, "copy": r.copy,
                      "copy_seconds": r.copy_seconds, "timings": r.timings,
                      "changed_days": r.changed_days, "rebuilt_days": r.rebuilt_days}))


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def rewrite_days(lake: Path, n: int, seed: int) -> list[str]:
    """Re-extract the last ``n`` days: late attendance for a third of each finished lesson's absent
    students, every daily table of the day written again (new files renamed into place)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.core.schemas import DAILY_TABLES

    rng = np.random.default_rng(seed)
    days = sorted(p.name for p in (lake / "lessons").glob("date=*"))[-n:]
    for day in days:
        for name in DAILY_TABLES:
            f = lake / name / day / "part-0.parquet"
            if not f.exists():
                continue
            t = pq.read_table(f)
            if name == "attendance":
                listen = t["listen_minutes"].to_numpy().copy()
                late = t["late_minutes"].to_numpy().copy()
                turn_up = (listen == 0) & (rng.random(len(listen)) < 1 / 3)
                listen[turn_up] = rng.integers(5, 30, turn_up.sum())
                late[turn_up] = rng.integers(1, 15, turn_up.sum())
                t = t.set_column(t.schema.get_field_index("listen_minutes"), "listen_minutes",
                                 pa.array(listen, pa.int32()))
                t = t.set_column(t.schema.get_field_index("late_minutes"), "late_minutes", pa.array(late, pa.int32()))
            tmp = f.with_name(f.name + ".tmp")
            pq.write_table(t, tmp, compression="zstd")
            os.replace(tmp, f)
    return [d.removeprefix("date=") for d in days]


def _run_child(lake: Path, out: Path, threads: int | None, memory_limit: str | None, full: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(lake), str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    if not full:
        cmd += ["--child-incremental"]
    load = _load()
    t1 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t1
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(child_wall_seconds=wall, load_before=load, load_after=_load())
    return res


def copy_options(warehouse: Path, base: Path, repeat: int = 2) -> list[dict]:
    """Seconds to make the candidate of an incremental build from a published warehouse, three ways."""
    import duckdb

    from warehouse.build import clone_file

    out = []

    def timed(label, f):
        t0 = time.perf_counter()
        extra = f()
        out.append({"method": label, "seconds": time.perf_counter() - t0, "load": _load(), "detail": extra or ""})
        print(f"# {label}: {out[-1]['seconds']:.2f} s {extra or ''} (load {out[-1]['load']})", flush=True)

    def clone_synced():
        how = clone_file(warehouse, base / "c1.duckdb")
        with open(base / "c1.duckdb", "rb") as fh:
            os.fsync(fh.fileno())
        return how

    def attach():
        target = base / "c3.duckdb"
        target.unlink(missing_ok=True)
        con = duckdb.connect(str(target))
        con.execute(f"ATTACH '{warehouse}' AS prev (READ_ONLY)")
        con.execute("COPY FROM DATABASE prev TO c3")
        con.execute("CHECKPOINT")
        con.close()

    for _ in range(repeat):
        timed("clone_file (reflink, else copy)", lambda: clone_file(warehouse, base / "c1.duckdb"))
        timed("clone_file + fsync", clone_synced)
        timed("cp --reflink=auto", lambda: subprocess.run(["cp", "--reflink=auto", str(warehouse),
                                                            str(base / "c2.duckdb")], check=True) and None)
        timed("ATTACH + COPY FROM DATABASE", attach)
    return out


def _slowest(timings: dict, k: int = 5) -> str:
    return ", ".join(f"{n} {s:.1f}" for n, s in sorted(timings.items(), key=lambda x: -x[1])[:k])


def run_incremental(millions: float, base: Path, threads: int | None, memory_limit: str | None, seed: int,
                    steps: list[int]) -> list[dict]:
    from tests.warehouse.lakegen import write_lake

    lessons = max(1, round(millions * 1e6 / (DAYS * STUDENTS)))
    work = base / f"inc{millions:g}"
    lake, out = work / "lake", work / "wh" / "warehouse.duckdb"
    out.parent.mkdir(parents=True)
    stats = write_lake(lake, days=DAYS, lessons_per_day=lessons, students_per_lesson=STUDENTS, seed=seed)
    results = []
    r = _run_child(lake, out, threads, memory_limit, full=True)
    r.update(step="full build", attendance_rows=stats.rows["attendance"], warehouse_mib=out.stat().st_size / 2**20)
    results.append(r)
    print(f"# full build: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, load {r['load_before']}"
          f" -> {r['load_after']}; slowest: {_slowest(r['timings'])}", flush=True)
    for n in steps:
        days = rewrite_days(lake, n, seed + n)
        r = _run_child(lake, out, threads, memory_limit, full=False)
        r.update(step=f"incremental, {n} changed day(s)", days=days, warehouse_mib=out.stat().st_size / 2**20)
        results.append(r)
        print(f"# {n} changed day(s) {days}: {r['mode']} ({r['reason']}) {r['seconds']:.1f} s, peak RSS "
              f"{r['peak_rss_mib']:.0f} MiB, {r['copy']} {r['copy_seconds']:.1f} s, load {r['load_before']} -> "
              f"{r['load_after']}; slowest: {_slowest(r['timings'])}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return results


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
    p.add_argument("--incremental", type=int, nargs="+", metavar="N",
                   help="after the full build, re-extract the last N days and publish incrementally (each N)")
    p.add_argument("--copy-options", metavar="WAREHOUSE", help="time the ways of copying this warehouse file "
                   "(the candidate of an incremental build) and exit")
    p.add_argument("--child", nargs=2, metavar=("LAKE", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--child-incremental", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], a.threads, a.memory_limit, full=not a.child_incremental)
        return
    if a.copy_options:
        base = Path(tempfile.mkdtemp(prefix="lc-bench-copy-", dir=a.tmp or str(Path(a.copy_options).parent)))
        try:
            res = copy_options(Path(a.copy_options), base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=2))
        return
    free = shutil.disk_usage(a.tmp or tempfile.gettempdir()).free / 2**30
    print(f"# cpus={os.cpu_count()} threads={a.threads or 'default'} memory_limit={a.memory_limit or 'default'} "
          f"free disk={free:.0f} GiB", flush=True)
    results = []
    base = Path(tempfile.mkdtemp(prefix="lc-bench-wh-", dir=a.tmp))
    if a.incremental:
        try:
            for m in a.sizes:
                results += run_incremental(m, base, a.threads, a.memory_limit, a.seed, a.incremental)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        print()
        print("| step | attendance rows | time (s) | CPU (s) | peak RSS | copy | load (1 min, before -> after) |")
        print("|---|---:|---:|---:|---:|---|---|")
        for r in results:
            copy = f"{r['copy']} {r['copy_seconds']:.1f} s" if r["copy"] else "-"
            print(f"| {r['step']} | {results[0]['attendance_rows']:,} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                  f"{r['peak_rss_mib'] / 1024:.2f} GiB | {copy} | {r['load_before']} -> {r['load_after']} |")
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=2))
        return
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
