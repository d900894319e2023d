"""``report/html``: one self-contained, offline HTML report at ``$LIVECLASS_DATA_DIR/report/index.html``.

The work is in :mod:`assets.publish.report`.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.publish.report import build_report
from pipeline.resources import DataDirResource


@asset(
    key=["report", "html"],
    group_name="feeds",
    kinds={"html"},
    deps=[AssetKey(["warehouse", "duckdb"])],
    description="Self-contained HTML report (charts inlined, works offline, Chinese and English labels) of the "
                "last 30 days in the warehouse, published atomically as $LIVECLASS_DATA_DIR/report/index.html.",
)
def report_html(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    result = build_report(dirs.warehouse, dirs.report)
    context.log.info(f"report: {result.bytes:,} bytes in {result.seconds:.2f}s")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(result.path)),
        "bytes": MetadataValue.int(result.bytes),
        "duration_s": MetadataValue.float(round(result.seconds, 3)),
        "window_start": MetadataValue.text(str(result.window[0])),
        "window_end": MetadataValue.text(str(result.window[1])),
        "charts": MetadataValue.int(result.charts),
    })
