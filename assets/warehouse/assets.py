"""Warehouse layer: one asset per warehouse table (``warehouse/<table>``), all built by one step.

The tables come from the SQL models (:func:`warehouse.build.model_specs`): each model's table is an
asset whose description is the table's COMMENT, whose dependencies are the models and lake tables
its SQL reads, and whose checks include its declared key.  ``warehouse/etl_build`` (the build's
bookkeeping row) carries the checks of the build as a whole.

One step builds them all, because the warehouse is published as one file:

1. the lake is checked first (:func:`.checks.lake_completeness`): a day missing one daily table
   fails the blocking check ``lake_days_complete`` and nothing is built;
2. :func:`warehouse.build.build_warehouse` builds a candidate file beside the published one: a copy
   of the published warehouse brought up to date for the days whose lake files changed, or a full
   rebuild (config ``full_rebuild``, ``liveclass run --full-warehouse``; and whenever a model's SQL
   changed); COMMENTs and declared keys checked: a duplicate key fails ``key_unique``.  DuckDB's memory
   is bounded by the setting ``LIVECLASS_WAREHOUSE_MEMORY`` and spills to ``<data dir>/.warehouse-tmp``;
3. the candidate is checked (the school-day mart adds up to the lesson mart) and its columns read;
4. only then is it renamed over ``warehouse.duckdb`` (atomic: readers see the old file or the new).

Any failure leaves the published warehouse as it was.  The step holds ``.warehouse.lock`` and is in
the Dagster pool ``liveclass_warehouse`` (limit 1 in the shipped instance config).
"""


import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    multi_asset,
)
from pydantic import Field

from pipeline.core import schemas
from pipeline.core.crash import crash_point
from pipeline.core.files import file_lock, pid_alive
from pipeline.core.settings import default_warehouse_memory
from pipeline.storage.objects import Conflict
from pipeline.storage.remote import WAREHOUSE_KIND
from warehouse.build import ETL_TABLE, ModelKeyError, ModelSpec, build_warehouse, connect_readonly, model_specs
from warehouse.build import remove_stale_builds as _remove_stale_builds

from ..lake.assets import lake_table_key
from ..partitions import OWNERS, labelled, layer_tags
from ..resources import DataDirResource
from . import checks

LAYER = "warehouse"
GROUP = "warehouse"
POOL = "liveclass_warehouse"

COMPLETE_CHECK = "lake_days_complete"
BAND_CHECK = "lake_day_rows_in_band"
KEY_CHECK = "key_unique"
RECONCILE_CHECK = "attended_adds_up"
#: The marts that must add up (school x day against lesson), and the measure compared.
DAILY_OVERVIEW, LESSON_ATTENDANCE, RECONCILED = "mart_daily_overview", "mart_lesson_attendance", "attended"
#: The school-day mart counts attendance over finished lessons only (docs/definitions.md).
OVERVIEW_ATTENDED, FINISHED = "students_attended", "status = 2"

#: The nightly schedule rebuilds the warehouse once a day: a day late warns, two days late fails.
FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=50), warn_window=timedelta(hours=26))

PREVIEW_ROWS = 10


def warehouse_key(table: str) -> AssetKey:
    return AssetKey([LAYER, table])


ETL_KEY = warehouse_key(ETL_TABLE)


def _kind(table: str) -> str:
    return table.split("_", 1)[0] if "_" in table else "table"


def mart_keys(specs: Sequence[ModelSpec] | None = None) -> list[AssetKey]:
    """The marts (what feeds and the report read), in build order."""
    return [warehouse_key(s.table) for s in (specs if specs is not None else model_specs())
            if s.table.startswith("mart_")]


def _table_spec(spec: ModelSpec, lake_key: Callable[[str], AssetKey]) -> AssetSpec:
    return AssetSpec(
        key=warehouse_key(spec.table),
        deps=[warehouse_key(d) for d in spec.deps] + [lake_key(t) for t in spec.lake],
        description=labelled(LAYER, spec.description or f"`{spec.table}` ({spec.file})"),
        group_name=GROUP,
        kinds={"duckdb", "sql"},
        owners=OWNERS,
        tags=layer_tags(LAYER, _kind(spec.table)),
        freshness_policy=FRESHNESS,
        metadata={"dagster/table_name": f"warehouse.main.{spec.table}", "model": spec.file,
                  "key": ", ".join(spec.key)},
    )


def _etl_spec(specs: Sequence[ModelSpec], lake_key: Callable[[str], AssetKey],
              after: Sequence[AssetKey] = ()) -> AssetSpec:
    lake = sorted({lake_key(t) for s in specs for t in s.lake} | set(after), key=lambda k: k.to_user_string())
    return AssetSpec(
        key=ETL_KEY,
        deps=lake,
        description=labelled(LAYER, f"`{ETL_TABLE}`: one row describing the build that produced the published "
                                    "warehouse.duckdb (when, from which lake, rows per table). Its checks guard "
                                    "the build as a whole: the lake holds every daily table for every day "
                                    "(blocking: an incomplete day is never built), and each day's rows are "
                                    "in line with its neighbouring days'."),
        group_name=GROUP,
        kinds={"duckdb"},
        owners=OWNERS,
        tags=layer_tags(LAYER, "build"),
        freshness_policy=FRESHNESS,
        metadata={"dagster/table_name": f"warehouse.main.{ETL_TABLE}"},
    )


def _check_specs(specs: Sequence[ModelSpec]) -> list[AssetCheckSpec]:
    out = [
        AssetCheckSpec(COMPLETE_CHECK, asset=ETL_KEY, blocking=True,
                       description="Every daily lake table has a partition for every day the lake holds; checked "
                                   "before the build, so an incomplete day leaves the published warehouse as it was."),
        AssetCheckSpec(BAND_CHECK, asset=ETL_KEY, blocking=False,
                       description=f"Each day's rows of each daily lake table are within x{checks.ROW_BAND:g} of the "
                                   f"median of the {checks.NEIGHBOURS} days on either side (a warning)."),
    ]
    out += [AssetCheckSpec(KEY_CHECK, asset=warehouse_key(s.table), blocking=True,
                           description=f"No two rows share the declared key ({', '.join(s.key)}) and no key column "
                                       "is NULL; checked in the candidate file before it is published.")
            for s in specs]
    tables = {s.table for s in specs}
    if {DAILY_OVERVIEW, LESSON_ATTENDANCE} <= tables:
        out.append(AssetCheckSpec(
            RECONCILE_CHECK, asset=warehouse_key(DAILY_OVERVIEW), blocking=True,
            description=f"sum({DAILY_OVERVIEW}.{OVERVIEW_ATTENDED}) equals sum({LESSON_ATTENDANCE}.{RECONCILED}) "
                        "over finished lessons: the school-day grain adds up to the lesson grain; checked before "
                        "publishing."))
    return out


def _column_schema(columns: list[checks.Column]) -> TableSchema:
    return TableSchema(columns=[
        TableColumn(name=c.name, type=c.type, description=c.comment,
                    constraints=TableColumnConstraints(nullable=c.nullable)) for c in columns])


def _candidate_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex}.candidate")


def remove_stale_candidates(out: Path) -> list[Path]:
    """Candidates (and their temporary builds) of a builder that died; a living builder's are kept."""
    removed = []
    for prefix in (f".{out.name}.", f"..{out.name}."):
        for p in out.parent.glob(f"{prefix}*.candidate*"):
            pid = p.name[len(prefix):].split(".", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        p.unlink()
                removed.append(p)
    return removed + _remove_stale_builds(out)


def _publish(candidate: Path, out: Path) -> None:
    """Rename the checked candidate over the published file, durably."""
    os.replace(candidate, out)
    with contextlib.suppress(OSError):
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _previews(con, tables: Sequence[str]) -> dict[str, str]:
    # pandas renders Markdown through tabulate, which dagster itself depends on
    return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL LIMIT {PREVIEW_ROWS}').df().to_markdown(index=False)
            for t in tables}


class WarehouseBuildConfig(Config):
    """Run configuration of the warehouse build (``ops: {warehouse: {config: {full_rebuild: true}}}``)."""

    full_rebuild: bool = Field(default=False, description="Rebuild every table from the whole lake instead of "
                               "bringing the published warehouse up to date for the changed days "
                               "(liveclass run --full-warehouse). A changed model SQL does this by itself.")


#: The run config that makes the warehouse build a full rebuild.
FULL_REBUILD_CONFIG = {"ops": {"warehouse": {"config": {"full_rebuild": True}}}}


def build_warehouse_assets(lake_key: Callable[[str], AssetKey] = lake_table_key, *,
                           memory_limit: str | None = None, threads: int | None = None,
                           tenant: str | None = None, after: Sequence[AssetKey] = ()) -> AssetsDefinition:
    """Every warehouse table as an asset, all materialized by one build (``lake_key``: the asset that
    writes a lake table the models read; ``memory_limit``: DuckDB's, from the settings, default a quarter
    of the machine's memory; ``tenant``: whose warehouse, so that its pool, one build at a time, is its
    own: ``liveclass_warehouse_<tenant>``; ``after``: further assets the build reads through, the day
    commit of a data directory on object storage, so that the automation waits for it)."""
    specs = model_specs()
    limit = memory_limit or default_warehouse_memory()
    tables = [s.table for s in specs]
    reconcile = {DAILY_OVERVIEW, LESSON_ATTENDANCE} <= set(tables)

    @multi_asset(
        name="warehouse",
        specs=[_table_spec(s, lake_key) for s in specs] + [_etl_spec(specs, lake_key, after)],
        check_specs=_check_specs(specs),
        pool=f"{POOL}_{tenant}" if tenant else POOL,
        can_subset=False,
    )
    def warehouse(context: AssetExecutionContext, config: WarehouseBuildConfig, data_dir: DataDirResource):
        dirs = data_dir.dirs
        remote = data_dir.remote()
        base = None
        if remote is not None:  # the master copy is on object storage: bring the working copy up to date
            pointer, base = remote.latest(WAREHOUSE_KIND)
            remote.pull_generation(WAREHOUSE_KIND, {dirs.warehouse.name: dirs.warehouse}, pointer)
            fetched, versions = remote.pull_lake(schemas.DAILY_TABLES)
            context.log.info(f"{remote.store.url}: {len(versions)} committed lake files, {fetched} fetched; "
                             f"building on generation {pointer['generation'] if pointer else '(none yet)'}")
        # on object storage the build reads the committed lake only (the working copy may hold a day a run
        # on this host is writing); locally, the lake folder
        lake_dirs = remote.committed if remote is not None else dirs
        lake = checks.lake_completeness(lake_dirs)
        lake_results = [
            AssetCheckResult(asset_key=ETL_KEY, check_name=COMPLETE_CHECK, passed=lake.complete,
                             metadata={**lake.metadata(), "why": lake.why()}),
            AssetCheckResult(asset_key=ETL_KEY, check_name=BAND_CHECK, passed=not lake.outliers,
                             severity=AssetCheckSeverity.WARN, metadata=lake.band_metadata()),
        ]
        if not lake.complete:
            yield from lake_results
            raise Failure(description=f"not building: {lake.why()}. The published warehouse stays as it was.",
                          metadata=lake.metadata())
        if lake.outliers:
            context.log.info(f"lake row counts out of line with their neighbours: {lake.outliers}")

        out = dirs.warehouse
        with file_lock(dirs.warehouse_lock,
                       on_wait=lambda: context.log.info("another process is publishing the warehouse; waiting")):
            remove_stale_candidates(out)
            candidate = _candidate_path(out)
            try:
                try:
                    result = build_warehouse(lake_dirs.lake_dir(), candidate, previous=out, full=config.full_rebuild,
                                             memory_limit=limit, threads=threads, temp_dir=dirs.warehouse_tmp,
                                             **({"lake_id": remote.store.url, "versions": versions} if remote else {}))
                except ModelKeyError as exc:
                    table = str(exc).split(":", 1)[0]
                    yield from lake_results
                    if table in tables:
                        yield AssetCheckResult(asset_key=warehouse_key(table), check_name=KEY_CHECK, passed=False,
                                               metadata={"error": str(exc)})
                    raise Failure(description=f"not publishing: {exc}. The published warehouse stays as it was."
                                  ) from exc
                except Exception:  # a model or the lake's keys across days: build_warehouse says what
                    yield from lake_results
                    raise
                con = connect_readonly(candidate)
                try:
                    columns = checks.table_schemas(con)
                    verdict, figures = (checks.reconcile_attended(con, DAILY_OVERVIEW, LESSON_ATTENDANCE, RECONCILED,
                                                                         overview_column=OVERVIEW_ATTENDED,
                                                                         lessons_where=FINISHED)
                                        if reconcile else (None, {}))
                    previews = _previews(con, [t for t in tables if t.startswith("mart_")])
                finally:
                    con.close()
                reconciled = None
                if reconcile:
                    reconciled = AssetCheckResult(
                        asset_key=warehouse_key(DAILY_OVERVIEW), check_name=RECONCILE_CHECK, passed=bool(verdict),
                        severity=AssetCheckSeverity.ERROR if verdict is False else AssetCheckSeverity.WARN,
                        metadata=figures)
                    if verdict is False:
                        yield from lake_results
                        yield reconciled
                        raise Failure(description=f"not publishing: {DAILY_OVERVIEW}.{OVERVIEW_ATTENDED} does not add up to "
                                                  f"{LESSON_ATTENDANCE}.{RECONCILED} ({figures}). The published "
                                                  "warehouse stays as it was.")
                _publish(candidate, out)
                if remote is not None:
                    try:
                        generation = remote.publish(WAREHOUSE_KIND, {out.name: out}, base_etag=base)
                    except Conflict as exc:
                        raise Failure(description=str(exc)) from None
                    context.log.info(f"published generation {generation} to {remote.store.url}")
            finally:
                with contextlib.suppress(OSError):
                    candidate.unlink()
        crash_point("warehouse.after_publish")

        context.log.info(f"warehouse published ({result.mode}: {result.reason}): {len(tables)} tables in "
                         f"{result.seconds:.1f}s from {result.lake_files} lake files")
        for table in tables:
            key = warehouse_key(table)
            meta = {"dagster/row_count": MetadataValue.int(int(result.rows.get(table, 0))),
                    "dagster/column_schema": _column_schema(columns.get(table, []))}
            if table in previews:
                meta["preview"] = MetadataValue.md(previews[table])
            results = [AssetCheckResult(asset_key=key, check_name=KEY_CHECK, passed=True,
                                        metadata={"key": next(", ".join(s.key) for s in specs if s.table == table)})]
            if table == DAILY_OVERVIEW and reconciled is not None:
                results.append(reconciled)
            yield MaterializeResult(asset_key=key, metadata=meta, check_results=results)
        yield MaterializeResult(asset_key=ETL_KEY, check_results=lake_results, metadata={
            "dagster/row_count": MetadataValue.int(1),
            "dagster/column_schema": _column_schema(columns.get(ETL_TABLE, [])),
            "path": MetadataValue.path(str(out)),
            "duration_s": MetadataValue.float(round(result.seconds, 3)),
            "lake_files": MetadataValue.int(result.lake_files),
            "build_mode": MetadataValue.text(result.mode),
            "build_reason": MetadataValue.text(result.reason),
            "changed_days": MetadataValue.json(result.changed_days),
            "rebuilt_days": MetadataValue.int(len(result.rebuilt_days)),
            "memory_limit": MetadataValue.text(result.duckdb_settings.get("memory_limit", "")),
            "lake_days": MetadataValue.int(len(lake.days)),
            "first_day": MetadataValue.text(lake.days[0] if lake.days else ""),
            "last_day": MetadataValue.text(lake.days[-1] if lake.days else ""),
        })

    return warehouse


#: The warehouse assets with the default wiring (``pipeline.definitions`` builds its own).
warehouse_assets = build_warehouse_assets()
#: The name this layer's one asset had before every table became an asset.
warehouse_duckdb = warehouse_assets
