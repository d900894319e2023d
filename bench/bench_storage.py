"""Benchmark: the warehouse build with the data directory on object storage (SeaweedFS, ``weed mini`` on
loopback) against the same build from a local lake.

A synthetic lake (``tests.warehouse.lakegen``: one year, 30 students per lesson, lessons/day from the
size) is committed to SeaweedFS day by day (``Remote.commit_day``).  Then, each timed on its own:

* **local**: ``build_warehouse`` (full) from the lake folder;
* **from SeaweedFS, cold**: an empty working copy pulls the committed lake (``Remote.pull_lake``: list
  the commits, download every partition, check its sha256), then the same full build, then the new
  warehouse is published as a generation (``Remote.publish``: PUT, then ``LATEST`` with If-None-Match);
* **from SeaweedFS, warm**: the same working copy again, nothing changed (list and compare only);
* **in place through fsspec**: DuckDB ``register_filesystem(s3fs)`` and one ``count(*)`` per daily table
  over ``read_parquet`` of the committed URLs (no download), against the same on local files.

    .venv/bin/python bench/bench_storage.py --rows 1
    .venv/bin/python bench/bench_storage.py --rows 3.3
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DAYS = 365
STUDENTS = 30


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=float, default=1.0, help="millions of attendance rows")
    ap.add_argument("--memory-limit", default="3GB")
    a = ap.parse_args()

    import os

    import duckdb

    from pipeline.core.layout import DataDir, lake_files
    from pipeline.core.schemas import DAILY_TABLES
    from pipeline.storage.objects import ObjectStore
    from pipeline.storage.remote import Remote
    from tests.seaweed_server import SeaweedServer
    from tests.warehouse.lakegen import write_lake
    from warehouse.build import build_warehouse

    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    sw = SeaweedServer(tmp / "seaweed").start()
    os.environ.update(sw.env)
    rows: list[tuple[str, float, str]] = []
    try:
        src = DataDir(tmp / "src")
        lessons = max(1, round(a.rows * 1e6 / (DAYS * STUDENTS)))
        stats = write_lake(src.lake_dir(), days=DAYS, lessons_per_day=lessons, students_per_lesson=STUDENTS)
        size = sum(f.stat().st_size for f in src.lake_dir().rglob("*.parquet"))
        store = ObjectStore(sw.url("bench"))
        t = time.perf_counter()
        days = sorted(p.parent.name.removeprefix("date=") for p in lake_files(src.lake_dir(), "lessons"))
        for day in days:
            Remote(store, src).commit_day(day, DAILY_TABLES, [])
        rows.append(("commit the lake (upload + one commit per day)", time.perf_counter() - t, f"{len(days)} days"))

        def build(lake: Path, out: Path, **kw) -> float:
            r = build_warehouse(lake, out, full=True, memory_limit=a.memory_limit, temp_dir=out.parent / "spill", **kw)
            return r.seconds

        local_out = tmp / "local" / "warehouse.duckdb"
        rows.append(("local: full build", build(src.lake_dir(), local_out), f"load {_load()}"))

        for label in ("from SeaweedFS, cold", "from SeaweedFS, warm"):
            work = DataDir(tmp / "work")
            remote = Remote(store, work)
            # course progress (a snapshot, outside the day commits) is the working copy's own
            for snap in src.lake_dir().glob("*/snapshot.parquet"):
                dest = work.lake_snapshot(snap.parent.name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(snap, dest)
            t = time.perf_counter()
            fetched, versions = remote.pull_lake(DAILY_TABLES)
            pulled = time.perf_counter() - t
            t_build = build(remote.committed.lake_dir(), work.warehouse, lake_id=store.url, versions=versions)
            pointer, etag = remote.latest("warehouse")
            t = time.perf_counter()
            remote.publish("warehouse", {"warehouse.duckdb": work.warehouse}, base_etag=etag)
            published = time.perf_counter() - t
            rows.append((f"{label}: pull the committed lake", pulled, f"{fetched} files fetched"))
            rows.append((f"{label}: full build", t_build, f"load {_load()}"))
            rows.append((f"{label}: publish the generation", published,
                         f"{work.warehouse.stat().st_size / 2**20:.0f} MiB"))

        con = duckdb.connect()
        con.register_filesystem(store.filesystem())
        remote = Remote(store, DataDir(tmp / "reader"))
        commits = remote.commits()
        for where in ("local files", "in place through fsspec"):
            t = time.perf_counter()
            total = 0
            for table in DAILY_TABLES:
                paths = ([str(p) for p in lake_files(src.lake_dir(), table)] if where == "local files"
                         else remote.committed_urls(table, commits))
                listed = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
                total += con.execute(f"SELECT count(*) FROM read_parquet({listed})").fetchall()[0][0]
            rows.append((f"count(*) of every daily table, {where}", time.perf_counter() - t, f"{total:,} rows"))
    finally:
        sw.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nlake: {a.rows:g} M attendance rows ({stats.rows.get('attendance', 0):,}), {size / 2**20:.0f} MiB of "
          f"Parquet; DuckDB memory limit {a.memory_limit}\n")
    print("| step | seconds | note |")
    print("|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.1f} | {note} |")


if __name__ == "__main__":
    main()
