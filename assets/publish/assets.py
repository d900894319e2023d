"""Publish layer: what readers outside DuckDB use, written from the published warehouse.

``feeds/files``: every mart as CSV (UTF-8 with BOM), JSON and Parquet plus
``manifest.json`` (the work, and the atomic publishing scheme, in :mod:`.feeds`);
``report/html``: one self-contained offline HTML page (:mod:`.report`).  Both depend on
every mart and check what they published: each feed CSV has as many rows as the table it
comes from (``feeds_match_marts``), the report exists, is not empty and shows the
warehouse's data window (``report_rendered``).
"""


import os
from pathlib import Path

import pyarrow.csv as pacsv
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.storage.objects import Conflict
from pipeline.storage.remote import FEEDS_KIND, REPORT_KIND, WAREHOUSE_KIND
from warehouse.build import connect_readonly

from ..partitions import OWNERS, labelled, layer_tags
from ..raw.assets import COURSE_PROGRESS
from ..raw.store import SnapshotAges
from ..resources import DataDirResource
from ..warehouse.assets import DAILY_OVERVIEW, FRESHNESS, mart_keys
from .feeds import write_feeds
from .report import build_report

FEEDS_KEY = AssetKey(["feeds", "files"])
REPORT_KEY = AssetKey(["report", "html"])
FEEDS_CHECK = "feeds_match_marts"
REPORT_CHECK = "report_rendered"


def data_notes(dirs) -> list[str]:
    """What the published data lacks or keeps from earlier (shown in the report and the run summary)."""
    return SnapshotAges.read(dirs.raw_snapshot_ages(COURSE_PROGRESS)).notes()


def csv_rows(path: Path) -> int:
    """Data rows of a feed CSV (header excluded; quoted newlines are one row)."""
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False)).num_rows


def feeds_match_marts(feeds_dir: str | os.PathLike, warehouse: str | os.PathLike) -> tuple[bool, dict]:
    """Every CSV in the published feeds folder (``<table>.csv``, ``<table>.<lang>.csv``) has as many rows as
    the warehouse table it is named after."""
    folder = Path(os.path.realpath(feeds_dir))  # resolve the link once: one generation
    files = sorted(folder.glob("*.csv"))
    con = connect_readonly(warehouse)
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        compared, wrong = {}, {}
        for f in files:
            rows = csv_rows(f)
            source = f.name.split(".", 1)[0]  # mart.csv, mart.zh.csv: the table the file was written from
            if source not in tables:
                wrong[f.name] = {"csv_rows": rows, "table_rows": None, "why": f"no table {source} in the warehouse"}
                continue
            n = con.execute(f'SELECT count(*) FROM "{source}"').fetchone()[0]
            compared[f.name] = rows
            if rows != n:
                wrong[f.name] = {"csv_rows": rows, "table_rows": int(n)}
    finally:
        con.close()
    meta = {"generation": folder.name, "files": len(files), "rows": compared, "mismatched": wrong}
    return bool(files) and not wrong, meta


def report_rendered(path: str | os.PathLike, window: tuple[str | None, str | None],
                    warehouse: str | os.PathLike) -> tuple[bool, dict]:
    """The report file exists, is not empty, ends its window at the warehouse's newest day and shows it."""
    path = Path(path)
    if not path.is_file():
        return False, {"why": f"no report at {path}"}
    text = path.read_text(encoding="utf-8", errors="replace")
    con = connect_readonly(warehouse)
    try:
        newest = con.execute(f'SELECT max(lesson_date) FROM "{DAILY_OVERVIEW}"').fetchone()[0]
    finally:
        con.close()
    newest = newest.isoformat() if newest is not None else None
    meta = {"bytes": len(text.encode("utf-8")), "window_start": window[0], "window_end": window[1],
            "warehouse_newest_day": newest}
    if not text.strip():
        return False, {**meta, "why": "the report is empty"}
    if window[1] != newest:
        return False, {**meta, "why": f"the report's window ends {window[1]}, the warehouse's newest day is {newest}"}
    shown = [d for d in window if d is not None and d not in text]
    if shown:
        return False, {**meta, "why": f"the page does not show {', '.join(shown)}"}
    return True, meta


def _on_object_storage(context: AssetExecutionContext, data_dir: DataDirResource, kind: str):
    """With the data directory on object storage: the remote, the ETag of ``kind``'s LATEST (what this
    publish replaces) and the warehouse generation fetched into the working copy; else (None, None)."""
    remote = data_dir.remote()
    if remote is None:
        return None, None
    _pointer, base = remote.latest(kind)
    remote.pull_generation(WAREHOUSE_KIND, {data_dir.dirs.warehouse.name: data_dir.dirs.warehouse})
    return remote, base


def _publish_generation(context: AssetExecutionContext, remote, kind: str, files: dict[str, Path], base) -> None:
    try:
        generation = remote.publish(kind, files, base_etag=base)
    except Conflict as exc:
        raise Failure(description=str(exc)) from None
    context.log.info(f"{kind}: published generation {generation} ({len(files)} files) to {remote.store.url}")


@asset(
    key=FEEDS_KEY,
    group_name="feeds",
    kinds={"csv", "json", "parquet"},
    deps=mart_keys(),
    description=labelled("feeds", "dashboard files under feeds/ in the data directory: each mart as CSV (UTF-8 "
                                  "BOM), JSON and Parquet with a manifest.json (schema, row counts, data window, "
                                  "sha256); a new generation is swapped in atomically."),
    owners=OWNERS,
    tags=layer_tags("feeds", "publish"),
    freshness_policy=FRESHNESS,
    check_specs=[AssetCheckSpec(FEEDS_CHECK, asset=FEEDS_KEY,
                                description="Each CSV in the published feeds folder has as many rows as the "
                                            "warehouse table it is named after.")],
)
def feeds_files(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    remote, base = _on_object_storage(context, data_dir, FEEDS_KIND)
    result = write_feeds(dirs.warehouse, dirs.root)
    if remote is not None:
        folder = Path(os.path.realpath(result.path))
        _publish_generation(context, remote, FEEDS_KIND,
                            {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()},
                            base)
    window = result.manifest.get("data_window", {})
    context.log.info(f"feeds generation {result.generation}: {result.bytes:,} bytes in {result.seconds:.1f}s")
    passed, meta = feeds_match_marts(dirs.feeds, dirs.warehouse)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(result.path)),
            "generation": MetadataValue.text(result.generation),
            "rows": MetadataValue.json(result.rows),
            "dagster/row_count": MetadataValue.int(int(sum(result.rows.values()))),
            "bytes": MetadataValue.int(result.bytes),
            "duration_s": MetadataValue.float(round(result.seconds, 3)),
            "min_lesson_date": MetadataValue.text(str(window.get("min_lesson_date"))),
            "max_lesson_date": MetadataValue.text(str(window.get("max_lesson_date"))),
        },
        check_results=[AssetCheckResult(check_name=FEEDS_CHECK, passed=passed, metadata={
            k: MetadataValue.json(v) if isinstance(v, dict) else v for k, v in meta.items()})])


@asset(
    key=REPORT_KEY,
    group_name="feeds",
    kinds={"html"},
    deps=mart_keys(),
    description=labelled("report", "self-contained HTML page (charts inlined, works offline, Chinese and English "
                                   "labels) of the last 30 days in the warehouse, published atomically as "
                                   "report/index.html in the data directory."),
    owners=OWNERS,
    tags=layer_tags("report", "publish"),
    freshness_policy=FRESHNESS,
    check_specs=[AssetCheckSpec(REPORT_CHECK, asset=REPORT_KEY,
                                description="The report exists, is not empty, and its window ends at the "
                                            "warehouse's newest day and is shown on the page.")],
)
def report_html(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    remote, base = _on_object_storage(context, data_dir, REPORT_KIND)
    result = build_report(dirs.warehouse, dirs.report, notes=data_notes(dirs))
    if remote is not None:
        _publish_generation(context, remote, REPORT_KIND, {dirs.report.name: dirs.report}, base)
    context.log.info(f"report: {result.bytes:,} bytes in {result.seconds:.2f}s")
    passed, meta = report_rendered(result.path, result.window, dirs.warehouse)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(result.path)),
            "bytes": MetadataValue.int(result.bytes),
            "duration_s": MetadataValue.float(round(result.seconds, 3)),
            "window_start": MetadataValue.text(str(result.window[0])),
            "window_end": MetadataValue.text(str(result.window[1])),
            "charts": MetadataValue.int(result.charts),
        },
        check_results=[AssetCheckResult(check_name=REPORT_CHECK, passed=passed, metadata=meta)])
