"""``feeds/files``: every mart as CSV (UTF-8 with BOM), JSON and Parquet plus ``manifest.json``.

The work is in :mod:`assets.publish.feeds`; see there for the atomic publishing scheme.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.publish.feeds import write_feeds
from pipeline.resources import DataDirResource


@asset(
    key=["feeds", "files"],
    group_name="feeds",
    kinds={"csv", "json", "parquet"},
    deps=[AssetKey(["warehouse", "duckdb"])],
    description="Dashboard feeds under $LIVECLASS_DATA_DIR/feeds/: each mart as CSV (UTF-8 BOM), JSON and "
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
