"""Publish layer: what readers outside DuckDB use, written from the published warehouse.

``feeds/files``: every mart as CSV (UTF-8 with BOM), JSON and Parquet plus
``manifest.json`` (the work, and the atomic publishing scheme, in :mod:`.feeds`);
``report/html``: one self-contained offline HTML page (:mod:`.report`).
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from ..raw.assets import COURSE_PROGRESS
from ..raw.store import SnapshotAges
from ..resources import DataDirResource
from ..warehouse.assets import WAREHOUSE_KEY
from .feeds import write_feeds
from .report import build_report


def data_notes(dirs) -> list[str]:
    """What the published data lacks or keeps from earlier (shown in the report and the run summary)."""
    return SnapshotAges.read(dirs.raw_snapshot_ages(COURSE_PROGRESS)).notes()


@asset(
    key=["feeds", "files"],
    group_name="feeds",
    kinds={"csv", "json", "parquet"},
    deps=[WAREHOUSE_KEY],
    description="Dashboard feeds under feeds/ in the data directory: each mart as CSV (UTF-8 BOM), JSON and "
                "Parquet with a manifest.json (schema, row counts, data window, sha256); a new generation is "
                "swapped in atomically.",
)
def feeds_files(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    result = write_feeds(dirs.warehouse, dirs.root)
    window = result.manifest["data_window"]
    context.log.info(f"feeds generation {result.generation}: {result.bytes:,} bytes in {result.seconds:.1f}s")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(result.path)),
        "generation": MetadataValue.text(result.generation),
        "rows": MetadataValue.json(result.rows),
        "bytes": MetadataValue.int(result.bytes),
        "duration_s": MetadataValue.float(round(result.seconds, 3)),
        "min_lesson_date": MetadataValue.text(str(window["min_lesson_date"])),
        "max_lesson_date": MetadataValue.text(str(window["max_lesson_date"])),
    })


@asset(
    key=["report", "html"],
    group_name="feeds",
    kinds={"html"},
    deps=[WAREHOUSE_KEY],
    description="Self-contained HTML report (charts inlined, works offline, Chinese and English labels) of the "
                "last 30 days in the warehouse, published atomically as report/index.html in the data directory.",
)
def report_html(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    result = build_report(dirs.warehouse, dirs.report, notes=data_notes(dirs))
    context.log.info(f"report: {result.bytes:,} bytes in {result.seconds:.2f}s")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(result.path)),
        "bytes": MetadataValue.int(result.bytes),
        "duration_s": MetadataValue.float(round(result.seconds, 3)),
        "window_start": MetadataValue.text(str(result.window[0])),
        "window_end": MetadataValue.text(str(result.window[1])),
        "charts": MetadataValue.int(result.charts),
    })
