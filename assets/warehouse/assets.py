"""Warehouse layer: the one writer of ``warehouse.duckdb``, rebuilt from the lake and published atomically."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipeline.core import schemas
from pipeline.core.crash import crash_point
from pipeline.core.files import file_lock
from warehouse.build import MART_KEYS, build_warehouse, connect_readonly

from ..lake.assets import lake_key
from ..raw.assets import COURSE_PROGRESS
from ..resources import DataDirResource

WAREHOUSE_KEY = AssetKey(["warehouse", "duckdb"])

MARTS = tuple(MART_KEYS)


def _previews(path, tables, limit: int = 10) -> dict[str, str]:
    """A Markdown preview of the first rows of each table, over one read-only connection."""
    con = connect_readonly(path)
    try:
        # pandas renders Markdown through tabulate, which dagster itself depends on
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL LIMIT {limit}').df().to_markdown(index=False)
                for t in tables}
    finally:
        con.close()


@asset(
    key=WAREHOUSE_KEY,
    group_name="warehouse",
    kinds={"duckdb", "sql"},
    deps=[lake_key(t) for t in schemas.DAILY_TABLES] + [lake_key(COURSE_PROGRESS)],
    pool="liveclass_warehouse",
    description="Star schema and marts built from the whole lake by the SQL models in warehouse/models, "
                "published atomically as warehouse.duckdb in the data directory (readers never blocked).",
)
def warehouse_duckdb(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    with file_lock(dirs.warehouse_lock,
                   on_wait=lambda: context.log.info("another process is publishing the warehouse; waiting")):
        result = build_warehouse(dirs.lake_dir(), dirs.warehouse)
    crash_point("warehouse.after_publish")
    meta: dict = {"path": MetadataValue.path(str(result.out_path)),
                  "duration_s": MetadataValue.float(round(result.seconds, 3)),
                  "rows": MetadataValue.json(result.rows)}
    previews = _previews(result.out_path, [m for m in MARTS if m in result.rows])
    for mart, preview in previews.items():
        meta[f"{mart}_rows"] = MetadataValue.int(int(result.rows[mart]))
        meta[f"{mart}_preview"] = MetadataValue.md(preview)
    return MaterializeResult(metadata=meta)
