"""Benchmark: report and feeds for a term of a large school.

Writes a synthetic lake (``tests.warehouse.lakegen``: 122 days (a term: Mar-Jun) x 300 lessons/day x
30 students = 1,098,000 attendance rows) under a temporary directory, builds the
warehouse, then times ``build_report`` (its default window, 140 days, embeds the whole term) and
``write_feeds`` (median of ``--repeat`` runs) and reports their sizes, with the bytes the embedded
font subset adds and the gzip size of the page.  Everything is removed afterwards.

    .venv/bin/python bench/bench_report.py                   # --days 122 --lessons 300 --students 30

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
    ap.add_argument("--days", type=int, default=122)
    ap.add_argument("--lessons", type=int, default=300)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--browser", action="store_true", help="also time the page in headless Chromium (playwright)")
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
        import gzip

        gz = len(gzip.compress(r.path.read_bytes()))
        print(f"| `report/index.html` ({len(r.window) and r.window[0]} .. {r.window[1]}) | {r.bytes / 1024:,.0f} KiB "
              f"(font subset {r.font_bytes / 1024:,.0f} KiB; gzip {gz / 1024:,.0f} KiB) | {statistics.median(rep_t):.2f} s |")
        print(f"| `feeds/` (5 marts x CSV+JSON+Parquet) | {f.bytes / 2**20:,.1f} MiB "
              f"(CSV {by_fmt['csv'] / 2**20:,.1f}, JSON {by_fmt['json'] / 2**20:,.1f}, "
              f"Parquet {by_fmt['parquet'] / 2**20:,.1f}) | {statistics.median(feed_t):.2f} s |")
        if a.browser:
            print()
            print(_browser_times(r.path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _browser_times(page_path: Path) -> str:
    """Open the page offline in /usr/bin/chromium: load -> ready, and a full recompute (term, all filters)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        br = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        page = br.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
        ready = time.perf_counter() - t0
        t0 = time.perf_counter()
        page.click('.periods button[data-kind="term"]')
        page.evaluate("document.body.dataset.state")
        term = time.perf_counter() - t0
        t0 = time.perf_counter()
        page.select_option("#f-class", index=1)
        page.evaluate("document.body.dataset.state")
        one = time.perf_counter() - t0
        br.close()
    return (f"Chromium: open to ready {ready:.2f} s; switch to the whole term {term:.2f} s; "
            f"then one class {one:.2f} s")


if __name__ == "__main__":
    main()
