"""Benchmark: report and feeds for a month of a large school.

Writes a synthetic lake (``tests.warehouse.lakegen``: 30 days x 300 lessons/day x
30 students = 270,000 attendance rows) under a temporary directory, builds the
warehouse, then times ``build_report`` and ``write_feeds`` (median of
``--repeat`` runs) and reports their sizes.  Everything is removed afterwards.

    .venv/bin/python bench/bench_report.py                   # --days 30 --lessons 300 --students 30

Prints a Markdown table (paste into BENCHMARKS.md ``## Report``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--lessons", type=int, default=300)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    from assets.publish.feeds import write_feeds
    from assets.publish.report import build_report
    from tests.warehouse.lakegen import write_lake
    from warehouse.build import build_warehouse

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        stats = write_lake(tmp / "lake", days=a.days, lessons_per_day=a.lessons, students_per_lesson=a.students,
                           seed=1)
        build_warehouse(tmp / "lake", tmp / "warehouse.duckdb")
        rep_t, feed_t = [], []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            r = build_report(tmp / "warehouse.duckdb", tmp / "report" / "index.html")
            rep_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            f = write_feeds(tmp / "warehouse.duckdb", tmp)
            feed_t.append(time.perf_counter() - t0)
        by_fmt: dict[str, int] = {}
        for feed in f.manifest["feeds"].values():
            for fmt, info in feed["files"].items():
                by_fmt[fmt] = by_fmt.get(fmt, 0) + info["bytes"]
        print(f"lake: {a.days} days x {a.lessons} lessons/day x {a.students} students "
              f"= {stats.rows.get('attendance', 0):,} attendance rows; report window {r.window[0]} .. {r.window[1]}")
        print()
        print(f"| output | size | generation time (median of {a.repeat}) |")
        print("|---|---:|---:|")
        print(f"| `report/index.html` | {r.bytes / 1024:,.0f} KiB | {statistics.median(rep_t):.2f} s |")
        print(f"| `feeds/` (5 marts x CSV+JSON+Parquet) | {f.bytes / 2**20:,.1f} MiB "
              f"(CSV {by_fmt['csv'] / 2**20:,.1f}, JSON {by_fmt['json'] / 2**20:,.1f}, "
              f"Parquet {by_fmt['parquet'] / 2**20:,.1f}) | {statistics.median(feed_t):.2f} s |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
