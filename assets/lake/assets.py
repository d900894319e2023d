"""Lake layer: typed, hive-partitioned Parquet per table and day (``lake/<table>``).

Reads only raw pages (never the API).  Every table's checks run on the new table
*before* it is written: a partition that fails them is not written at all (the
previous one stays) and the step fails, naming the failed checks.  A run covering a
range of days (single-run backfill) does this day by day: the days that pass are
written and recorded as materialized, a day that fails is neither, and the run fails
naming it; each check's one result says which days failed it.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    asset,
)

from pipeline.core import schemas
from pipeline.core.crash import crash_point
from pipeline.core.profile import PlatformProfile

from ..partitions import DAILY_BACKFILL, OWNERS, labelled, layer_tags
from ..raw import fanout, settle
from ..raw.assets import COURSE_PROGRESS, partition_days, range_failure, raw_key
from ..raw.store import read_raw
from ..resources import DataDirResource
from . import checks, normalize
from .store import read_table, write_table

LAYER = "lake"
#: The one lake asset that writes every roster table (``assets/lake/roster.py``).
ROSTER = "roster"


def lake_key(table: str) -> AssetKey:
    return AssetKey([LAYER, table])


def lake_table_key(table: str) -> AssetKey:
    """The lake asset that writes lake table ``table`` (the roster tables share ``lake/roster``)."""
    return lake_key(ROSTER) if table in schemas.ROSTER_TABLES else lake_key(table)


def arrow_table_schema(schema: pa.Schema) -> TableSchema:
    """A lake schema as Dagster's standard column schema (``dagster/column_schema``)."""
    return TableSchema(columns=[
        TableColumn(name=f.name, type=str(f.type), constraints=TableColumnConstraints(nullable=f.nullable))
        for f in schema])


def table_metadata(table: str, schema: pa.Schema) -> dict:
    """Definition metadata of a lake table: its columns and where it lives."""
    return {"dagster/column_schema": arrow_table_schema(schema), "dagster/table_name": f"lake.{table}"}


@dataclass
class Context:
    """What a table's checks may compare with: the day, the day's lake tables it depends on, and the
    raw pages of other endpoints it cross-checks."""

    day: date
    tables: dict[str, pa.Table | None]
    pages: dict[str, list[dict]]
    profile: PlatformProfile

    @property
    def lessons(self) -> checks.Lessons:
        return checks.lessons_by_id(self.tables.get("lessons"))

    def students_elsewhere(self) -> dict[str, set[tuple[int, int]]]:
        """(lesson, user) pairs that APIs 25 and 27 say were in a lesson."""
        return {fanout.API25: fanout.award_students(self.pages["awards"]),
                fanout.API27: {(lid, uid) for lid, uid, _ in
                                      fanout.positive_event_triples(self.pages["key_event_counts"])}}


Check = tuple[str, str, Callable[[normalize.Normalized, Context], checks.CheckOutcome]]


def _common_checks(table: str) -> list[Check]:
    keys = schemas.PRIMARY_KEYS[table]
    return [
        (f"{table}_unique_keys", f"No two rows share the key ({', '.join(keys)}).",
         lambda n, c: checks.unique_keys(n.table, keys)),
        (f"{table}_timestamps_plausible", "Every timestamp lies within a day of the partition's day.",
         lambda n, c: checks.timestamps_plausible(n.table, c.day)),
    ]


def _metadata(meta: dict) -> dict:
    safe = checks.json_safe(meta)
    return {k: MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in safe.items()}


def _check_result(name: str, passed: bool, meta: dict) -> AssetCheckResult:
    return AssetCheckResult(check_name=name, passed=passed, severity=AssetCheckSeverity.ERROR,
                            metadata=_metadata(meta))


def lake_asset(table: str, group: str, raw: tuple[str, ...], build: Callable[..., normalize.Normalized],
               partitions: DailyPartitionsDefinition, extra_checks: tuple[Check, ...] = (),
               needs: tuple[str, ...] = (), cross: tuple[str, ...] = (), description: str = "",
               inputs: Callable[[Context], dict] = lambda c: {}) -> AssetsDefinition:
    """A daily lake table from the raw pages ``raw`` (``build(day, *pages, **inputs(context))``); its
    checks run before it is written and may compare with the same day's lake tables ``needs`` and raw
    pages ``cross`` (it depends on both)."""
    all_checks = _common_checks(table) + list(extra_checks)
    key = lake_key(table)

    @asset(
        key=key,
        group_name=group,
        kinds={"python", "parquet"},
        partitions_def=partitions,
        backfill_policy=DAILY_BACKFILL,
        deps=[raw_key(r) for r in (*raw, *cross)] + [lake_key(t) for t in needs],
        description=labelled(LAYER, (description or f"`{table}`, normalised from {', '.join(f'raw/{r}' for r in raw)}")
                             + f"; lake/{table}/date=YYYY-MM-DD/part-0.parquet, schema in pipeline/core/schemas.py, "
                               "checked before it is written."),
        owners=OWNERS,
        tags=layer_tags(LAYER, group, cadence="daily"),
        check_specs=[AssetCheckSpec(name, asset=key, description=desc, blocking=True) for name, desc, _ in all_checks],
        metadata=table_metadata(table, schemas.DAILY_TABLES[table]),
    )
    def _lake(context: AssetExecutionContext, data_dir: DataDirResource):
        dirs = data_dir.dirs

        def evaluate(day_s: str):
            """The day's normalised table, its check results and the failed checks (nothing written)."""
            ctx = Context(date.fromisoformat(day_s), {t: read_table(dirs.lake_file(t, day_s)) for t in needs},
                          {g: read_raw(dirs.raw_file(g, day_s)) for g in cross}, data_dir.profile)
            norm = build(ctx.day, *(read_raw(dirs.raw_file(r, day_s)) for r in raw), **inputs(ctx))
            outcomes = [(name, *fn(norm, ctx)) for name, _desc, fn in all_checks]
            failed = [f"{name} {json.dumps(checks.json_safe(meta), ensure_ascii=False)}"
                      for name, passed, meta in outcomes if not passed]
            return norm, outcomes, failed

        def write(day_s: str, norm: normalize.Normalized, t0: float) -> dict:
            path = dirs.lake_file(table, day_s)
            # which raw pages this partition accepted: a re-extraction keeps only accepted answers (raw/settle.py)
            write_table(norm.table, path, settle.lake_sources({r: dirs.raw_file(r, day_s) for r in raw}))
            crash_point("lake.after_write")
            return {"dagster/partition_row_count": MetadataValue.int(norm.table.num_rows),
                    "path": MetadataValue.path(str(path)),
                    "duration_s": MetadataValue.float(round(time.monotonic() - t0, 3))}

        days = partition_days(context)
        if len(days) == 1:
            t0 = time.monotonic()
            norm, outcomes, failed = evaluate(days[0])
            results = [_check_result(name, passed, meta) for name, passed, meta in outcomes]
            if failed:
                yield from results
                raise Failure(description=f"lake/{table} {days[0]} not written (the previous partition stays): "
                                          + "; ".join(failed)[:2000])
            yield MaterializeResult(metadata=write(days[0], norm, t0), check_results=results)
            return

        done: dict[str, dict] = {}
        failed_days: dict[str, dict[str, dict]] = {}  # day -> failed check -> its metadata
        for day_s in days:
            t0 = time.monotonic()
            try:
                norm, outcomes, failed = evaluate(day_s)
            except Exception as exc:  # e.g. the day's raw pages are missing: stop the range here
                yield from range_failure(key, done, day_s, exc)
            if failed:
                failed_days[day_s] = {name: meta for name, passed, meta in outcomes if not passed}
                context.log.error(f"lake/{table} {day_s} not written (the previous partition stays): "
                                  + "; ".join(failed)[:2000])
                continue
            done[day_s] = write(day_s, norm, t0)
            context.add_asset_metadata(done[day_s], partition_key=day_s)
        results = [_check_result(name, not any(name in f for f in failed_days.values()),
                                 {"days": len(days), "failed_days": {d: f[name] for d, f in failed_days.items()
                                                                     if name in f}})
                   for name, _desc, _fn in all_checks]
        if failed_days:
            for day_s, meta in done.items():
                yield AssetMaterialization(asset_key=key, partition=day_s, metadata=meta)
            yield from results
            raise Failure(description=f"lake/{table}: {len(failed_days)} of {len(days)} day(s) not written (the "
                                      f"previous partitions stay): {', '.join(failed_days)}; the other days are in")
        yield MaterializeResult(check_results=results)

    return _lake


MATCH = "Every id an answer echoes is one its request asked for (else it answers another request)."


def build_lake_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """The daily lake tables, one asset each, with their blocking checks."""
    p = partitions
    return [
        lake_asset("lessons", "lessons", ("lessons",), normalize.lessons, p, (
            ("lessons_have_details", "Every lesson in API 17's window has API 19 details.",
             lambda n, c: checks.lessons_have_details(n)),
            ("lessons_scheduled_on_day", "Every lesson's scheduled start falls on the partition's day.",
             lambda n, c: checks.scheduled_on_day(n, c.day)),
            ("lessons_answers_match_requests", MATCH, lambda n, c: checks.answers_match_requests(n)),
            ("lessons_class_names_consistent", "API 30: one class id, one class name over the day.",
             lambda n, c: checks.class_names_consistent(n))), inputs=lambda c: {"profile": c.profile}),
        lake_asset("attendance", "attendance", ("attendance",), normalize.attendance, p, (
            ("attendance_teacher_not_a_student", "No lesson's teacher (API 34) among its API 23 students (else "
                                                 "the reading attendance_rows is contradicted).",
             lambda n, c: checks.teacher_not_a_student(n, normalize.teachers_of(c.pages["teacher_inout"]),
                                                       f"attendance_rows={c.profile.get('attendance_rows')}")),
            ("attendance_has_every_active_student", "Every student with stars (API 25) or key events (API 27) "
                                                    "in a lesson is in its API 23 attendance.",
             lambda n, c: checks.students_attended(n, c.students_elsewhere())),
            ("attendance_rows_match_api_count", "Rows per lesson equal API 23's reported count.",
             lambda n, c: checks.attendance_matches_count(n)),
            ("attendance_plausible", f"Minutes non-negative; listen time within the lesson's span + "
                                     f"{checks.LISTEN_SLACK_MINUTES} min; lateness and leaving within its length.",
             lambda n, c: checks.attendance_plausible(n, c.lessons))), needs=("lessons",),
            cross=("awards", "key_event_counts", "teacher_inout"),
            inputs=lambda c: {"profile": c.profile, "teachers": normalize.teachers_of(c.pages["teacher_inout"])}),
        lake_asset("teacher_inout", "teachers", ("teacher_inout",), normalize.teacher_inout, p, (
            ("teacher_inout_plausible", "Minutes plausible; API 34's actual times equal API 19's; one id, one name.",
             lambda n, c: checks.teacher_inout_plausible(n, c.lessons)),), needs=("lessons",),
            inputs=lambda c: {"profile": c.profile}),
        lake_asset("awards", "engagement", ("awards",), normalize.awards, p, (
            ("awards_answers_match_requests", MATCH, lambda n, c: checks.answers_match_requests(n)),
            ("awards_plausible", f"1..{checks.MAX_STARS_PER_LESSON} stars per student and lesson.",
             lambda n, c: checks.awards_plausible(n)))),
        lake_asset("key_event_counts", "engagement", ("key_event_counts",), normalize.key_event_counts, p, (
            ("key_event_counts_plausible", "No negative API 27 count.",
             lambda n, c: checks.event_counts_plausible(n)),)),
        lake_asset("key_events", "engagement", ("key_event_times", "key_event_counts"), normalize.key_events, p, (
            ("key_event_times_match_counts", "Event times per (lesson, user, type) equal API 27's count.",
             lambda n, c: checks.event_times_match_counts(n)),
            ("key_event_times_within_lesson", f"API 28's times lie within {checks.EVENT_SLACK_MINUTES} min of "
                                              "their lesson's scheduled time.",
             lambda n, c: checks.event_times_within_lesson(n, c.lessons))), needs=("lessons",)),
        lake_asset("help_requests", "support", ("help_requests",), normalize.help_requests, p, (
            ("help_requests_within_window", "API 16's help times lie inside the window it was asked for.",
             lambda n, c: checks.help_within_window(n)),)),
    ]


@asset(
    key=lake_key(COURSE_PROGRESS),
    group_name="courses",
    kinds={"python", "parquet"},
    deps=[raw_key(COURSE_PROGRESS)],
    description=labelled(LAYER, "API 26 progress per class (a snapshot, not daily, "
                                "lake/course_progress/snapshot.parquet), from raw/course_progress."),
    owners=OWNERS,
    tags=layer_tags(LAYER, "courses", cadence="snapshot"),
    metadata=table_metadata(COURSE_PROGRESS, schemas.COURSE_PROGRESS),
    check_specs=[AssetCheckSpec("course_progress_unique_keys", asset=lake_key(COURSE_PROGRESS),
                                blocking=True, description="One row per class."),
                 AssetCheckSpec("course_progress_adds_up", asset=lake_key(COURSE_PROGRESS), blocking=True,
                                description="API 26's parts add up to its total.")],
)
def lake_course_progress(context: AssetExecutionContext, data_dir: DataDirResource):
    dirs = data_dir.dirs
    t0 = time.monotonic()
    norm = normalize.course_progress(read_raw(dirs.raw_snapshot(COURSE_PROGRESS)))
    outcomes = {"course_progress_unique_keys": checks.unique_keys(norm.table, schemas.PRIMARY_KEYS[COURSE_PROGRESS]),
                "course_progress_adds_up": checks.progress_adds_up(norm.table)}
    results = [_check_result(name, passed, meta) for name, (passed, meta) in outcomes.items()]
    failed = {name: meta for name, (passed, meta) in outcomes.items() if not passed}
    if failed:
        yield from results
        raise Failure(description="lake/course_progress not written (the previous snapshot stays): "
                                  + json.dumps(checks.json_safe(failed), ensure_ascii=False)[:2000])
    path = dirs.lake_snapshot(COURSE_PROGRESS)
    write_table(norm.table, path)
    yield MaterializeResult(metadata={"dagster/row_count": MetadataValue.int(norm.table.num_rows),
                                      "path": MetadataValue.path(str(path)),
                                      "duration_s": MetadataValue.float(round(time.monotonic() - t0, 3))},
                            check_results=results)
