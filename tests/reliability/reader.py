"""A dashboard: reads the published warehouse and the feeds in a loop until told to stop.

    python -m tests.reliability.reader <data_dir> <stop_file> <result.json>

Every warehouse read opens the file read-only, checks that every table the build
recorded in ``etl_build.rows_per_table`` exists with exactly that many rows (a
complete build, never half of one), and closes it.  Every feeds read resolves the
link once, loads ``manifest.json`` and checks each file's sha256 against it.
Any exception is an error.  Reads before the first publish are counted as "absent".
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path


def read_warehouse(path: Path) -> str:
    from warehouse.build import connect_readonly

    con = connect_readonly(path)
    try:
        (recorded,) = con.execute("SELECT rows_per_table FROM etl_build").fetchone()
        recorded = json.loads(recorded)
        for table, n in recorded.items():
            got = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if got != n:
                raise AssertionError(f"{table}: {got} rows, the build recorded {n}")
        (built,) = con.execute("SELECT built_at FROM etl_build").fetchone()
        return str(built)
    finally:
        con.close()


def read_feeds(link: Path) -> str:
    from assets.publish.feeds import read_manifest

    d, manifest = read_manifest(link)
    for feed in manifest["feeds"].values():
        for f in feed["files"].values():
            data = (d / f["path"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != f["sha256"]:
                raise AssertionError(f"{f['path']}: sha256 differs from the manifest")
    return d.name


def main() -> None:
    data_dir, stop, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    stats = {"warehouse_reads": 0, "feeds_reads": 0, "absent": 0, "errors": [], "builds_seen": [],
             "generations_seen": []}
    while True:
        last = stop.exists()
        wh, feeds = data_dir / "warehouse.duckdb", data_dir / "feeds"
        if wh.exists():
            try:
                built = read_warehouse(wh)
                stats["warehouse_reads"] += 1
                if built not in stats["builds_seen"]:
                    stats["builds_seen"].append(built)
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                stats["errors"].append(f"warehouse: {type(exc).__name__}: {str(exc)[:300]}")
        else:
            stats["absent"] += 1
        if os.path.lexists(feeds):
            try:
                gen = read_feeds(feeds)
                stats["feeds_reads"] += 1
                if gen not in stats["generations_seen"]:
                    stats["generations_seen"].append(gen)
            except Exception as exc:  # noqa: BLE001
                stats["errors"].append(f"feeds: {type(exc).__name__}: {str(exc)[:300]}")
        if last:
            break
        time.sleep(0.01)
    out.write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
