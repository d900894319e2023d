"""Lake layer: typed, hive-partitioned Parquet per table and day (``lake/<table>``)."""


import time
from collections.abc import Callable
from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.partitions import daily_partitions
from pipeline.resources import DataDirResource, LiveClassApiResource
from pipeline.storage import crash_point

from ..raw.assets import api_metadata
from ..raw.store import Recorder, read_raw, write_raw
from ..raw import extract
from pipeline import schemas

from . import checks, normalize
from .store import read_column, write_table

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
               extra_checks: tuple[Check, ...] = (), description: str = ""):
    all_checks = _common_checks(table) + list(extra_checks)
    key = AssetKey(["lake", table])

    @asset(
        key=key,
        group_name=group,
        kinds={"python", "parquet"},
        partitions_def=daily_partitions,
        deps=[AssetKey(["raw", r]) for r in raw],
        description=description or f"Typed lake table `{table}` (schema in pipeline/schemas.py).",
        check_specs=[AssetCheckSpec(name, asset=key, description=desc, blocking=True) for name, desc, _ in all_checks],
        metadata={"columns": MetadataValue.md("\n".join(f"- `{f.name}`: {f.type}" for f in schemas.DAILY_TABLES[table]))},
    )
    def _lake(context: AssetExecutionContext, data_dir: DataDirResource):
        """Checks run on the new table before it is written: a partition that fails them is not
        written at all (the previous one stays) and the step fails, naming the failed checks."""
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


lake_lessons = lake_asset(
    "lessons", "lessons", ("lessons",), normalize.lessons,
    (("lessons_have_details", "Every lesson in API 17's window has API 19 details.",
      lambda n, d: checks.lessons_have_details(n)),
     ("lessons_scheduled_on_day", "Every lesson's scheduled start falls on the partition's day.",
      lambda n, d: checks.scheduled_on_day(n, d))))
lake_attendance = lake_asset(
    "attendance", "attendance", ("attendance",), normalize.attendance,
    (("attendance_rows_match_api_count", "Rows per lesson equal API 23's reported count.",
      lambda n, d: checks.attendance_matches_count(n)),))
lake_teacher_inout = lake_asset("teacher_inout", "teachers", ("teacher_inout",), normalize.teacher_inout)
lake_awards = lake_asset("awards", "engagement", ("awards",), normalize.awards)
lake_key_event_counts = lake_asset("key_event_counts", "engagement", ("key_event_counts",), normalize.key_event_counts)
lake_key_events = lake_asset(
    "key_events", "engagement", ("key_event_times", "key_event_counts"), normalize.key_events,
    (("key_event_times_match_counts", "Event times per (lesson, user, type) equal API 27's count.",
      lambda n, d: checks.event_times_match_counts(n)),))
lake_help_requests = lake_asset("help_requests", "support", ("help_requests",), normalize.help_requests)

DAILY_LAKE_ASSETS = [lake_lessons, lake_attendance, lake_teacher_inout, lake_awards, lake_key_event_counts,
                     lake_key_events, lake_help_requests]


@asset(
    key=["lake", "course_progress"],
    group_name="courses",
    kinds={"python", "parquet"},
    deps=[AssetKey(["lake", "lessons"])],
    description="API 26: current progress of every class seen in the lake (a snapshot, not daily).",
    check_specs=[AssetCheckSpec("course_progress_unique_keys", asset=AssetKey(["lake", "course_progress"]),
                                blocking=True, description="One row per class.")],
)
def lake_course_progress(context: AssetExecutionContext, api: LiveClassApiResource,
                         data_dir: DataDirResource) -> MaterializeResult:
    dirs = data_dir.dirs
    class_ids = sorted({c for c in read_column(dirs.lake_dir(), "lessons", "class_id") if c is not None})
    recorder = Recorder()
    client = api.get_client(on_response=recorder, rate_limit_file=str(dirs.rate_limit_file))
    t0 = time.monotonic()
    try:
        failed = extract.course_progress(client, class_ids)
    finally:
        client.close()
    if failed and len(failed) == len(class_ids):  # not one class answered: the API is down, say so
        raise Failure(description=f"API 26 failed for all {len(class_ids)} classes; the previous snapshot and "
                                  "warehouse stay in place")
    raw_path = dirs.root / "raw" / "course_progress" / "snapshot.jsonl.gz"
    kept = []
    if failed:  # keep the previous answer of a class whose call failed this time
        previous = {r["params"].get("classroomId"): r for r in (read_raw(raw_path) if raw_path.exists() else [])}
        kept = [previous[c] for c in failed if c in previous]
        context.log.warning(f"API 26 failed for {len(failed)} class(es) {failed[:10]}; "
                            f"kept the previous snapshot of {len(kept)} of them")
    write_raw(raw_path, recorder.records + kept)
    norm = normalize.course_progress(recorder.records + kept)
    write_table(norm.table, dirs.lake_snapshot("course_progress"))
    passed, meta = checks.unique_keys(norm.table, schemas.PRIMARY_KEYS["course_progress"])
    md = api_metadata(client.stats.snapshot(), time.monotonic() - t0)
    md["rows"] = MetadataValue.int(norm.table.num_rows)
    md["classes_failed"] = MetadataValue.json(failed)
    return MaterializeResult(metadata=md, check_results=[AssetCheckResult(
        check_name="course_progress_unique_keys", passed=passed, metadata={"duplicates": meta["duplicates"]})])
