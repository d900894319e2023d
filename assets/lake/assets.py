"""Lake layer: typed, hive-partitioned Parquet per table and day (``lake/<table>``).

Reads only raw pages (never the API).  Every table's checks run on the new table
*before* it is written: a partition that fails them is not written at all (the
previous one stays) and the step fails, naming the failed checks.
"""

import time
from collections.abc import Callable
from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.core import schemas
from pipeline.core.crash import crash_point

from ..raw.assets import COURSE_PROGRESS, raw_key
from ..raw.store import read_raw
from ..resources import DataDirResource
from . import checks, normalize
from .store import write_table

LAYER = "lake"


def lake_key(table: str) -> AssetKey:
    return AssetKey([LAYER, table])


Check = tuple[str, str, Callable[[normalize.Normalized, date], checks.CheckOutcome]]


def _common_checks(table: str) -> list[Check]:
    keys = schemas.PRIMARY_KEYS[table]
    return [
        (f"{table}_unique_keys", f"No two rows share the key ({', '.join(keys)}).",
         lambda n, d: checks.unique_keys(n.table, keys)),
        (f"{table}_timestamps_plausible", "Every timestamp lies within a day of the partition's day.",
         lambda n, d: checks.timestamps_plausible(n.table, d)),
    ]


def lake_asset(table: str, group: str, raw: tuple[str, ...], build: Callable[..., normalize.Normalized],
               partitions: DailyPartitionsDefinition, extra_checks: tuple[Check, ...] = (),
               description: str = "") -> AssetsDefinition:
    all_checks = _common_checks(table) + list(extra_checks)
    key = lake_key(table)

    @asset(
        key=key,
        group_name=group,
        kinds={"python", "parquet"},
        partitions_def=partitions,
        deps=[raw_key(r) for r in raw],
        description=description or f"Typed lake table `{table}` (schema in pipeline/core/schemas.py).",
        check_specs=[AssetCheckSpec(name, asset=key, description=desc, blocking=True) for name, desc, _ in all_checks],
        metadata={"columns": MetadataValue.md("\n".join(f"- `{f.name}`: {f.type}" for f in schemas.DAILY_TABLES[table]))},
    )
    def _lake(context: AssetExecutionContext, data_dir: DataDirResource):
        day_s = context.partition_key
        day = date.fromisoformat(day_s)
        dirs = data_dir.dirs
        t0 = time.monotonic()
        norm = build(day, *(read_raw(dirs.raw_file(r, day_s)) for r in raw))
        results, failed = [], []
        for name, _desc, fn in all_checks:
            passed, meta = fn(norm, day)
            results.append(AssetCheckResult(
                check_name=name, passed=passed, severity=AssetCheckSeverity.ERROR,
                metadata={k: MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in meta.items()}))
            if not passed:
                failed.append(f"{name} {meta}")
        if failed:
            yield from results
            raise Failure(description=f"lake/{table} {day_s} not written (the previous partition stays): "
                                      + "; ".join(failed)[:2000])
        path = dirs.lake_file(table, day_s)
        write_table(norm.table, path)
        crash_point("lake.after_write")
        yield MaterializeResult(
            metadata={"rows": MetadataValue.int(norm.table.num_rows), "path": MetadataValue.path(str(path)),
                      "duration_s": MetadataValue.float(round(time.monotonic() - t0, 3))},
            check_results=results,
        )

    return _lake


def build_lake_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """The daily lake tables, one asset each, with their blocking checks."""
    p = partitions
    return [
        lake_asset("lessons", "lessons", ("lessons",), normalize.lessons, p, (
            ("lessons_have_details", "Every lesson in API 17's window has API 19 details.",
             lambda n, d: checks.lessons_have_details(n)),
            ("lessons_scheduled_on_day", "Every lesson's scheduled start falls on the partition's day.",
             lambda n, d: checks.scheduled_on_day(n, d)))),
        lake_asset("attendance", "attendance", ("attendance",), normalize.attendance, p, (
            ("attendance_rows_match_api_count", "Rows per lesson equal API 23's reported count.",
             lambda n, d: checks.attendance_matches_count(n)),)),
        lake_asset("teacher_inout", "teachers", ("teacher_inout",), normalize.teacher_inout, p),
        lake_asset("awards", "engagement", ("awards",), normalize.awards, p),
        lake_asset("key_event_counts", "engagement", ("key_event_counts",), normalize.key_event_counts, p),
        lake_asset("key_events", "engagement", ("key_event_times", "key_event_counts"), normalize.key_events, p, (
            ("key_event_times_match_counts", "Event times per (lesson, user, type) equal API 27's count.",
             lambda n, d: checks.event_times_match_counts(n)),)),
        lake_asset("help_requests", "support", ("help_requests",), normalize.help_requests, p),
    ]


@asset(
    key=lake_key(COURSE_PROGRESS),
    group_name="courses",
    kinds={"python", "parquet"},
    deps=[raw_key(COURSE_PROGRESS)],
    description="API 26 progress per class (a snapshot, not daily), from raw/course_progress.",
    check_specs=[AssetCheckSpec("course_progress_unique_keys", asset=lake_key(COURSE_PROGRESS),
                                blocking=True, description="One row per class.")],
)
def lake_course_progress(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    t0 = time.monotonic()
    norm = normalize.course_progress(read_raw(dirs.raw_snapshot(COURSE_PROGRESS)))
    passed, meta = checks.unique_keys(norm.table, schemas.PRIMARY_KEYS[COURSE_PROGRESS])
    check = AssetCheckResult(check_name="course_progress_unique_keys", passed=passed,
                             metadata={"duplicates": meta["duplicates"]})
    if not passed:
        yield check
        raise Failure(description=f"lake/course_progress not written (the previous snapshot stays): {meta}")
    path = dirs.lake_snapshot(COURSE_PROGRESS)
    write_table(norm.table, path)
    yield MaterializeResult(metadata={"rows": MetadataValue.int(norm.table.num_rows),
                                      "path": MetadataValue.path(str(path)),
                                      "duration_s": MetadataValue.float(round(time.monotonic() - t0, 3))},
                            check_results=[check])
