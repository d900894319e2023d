"""Raw layer: the exact API answers per endpoint group and day (``raw/<name>``)."""


import time
from collections.abc import Callable
from datetime import date

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipeline.partitions import daily_partitions
from pipeline.resources import DataDirResource, LiveClassApiResource
from pipeline.storage import DataDir, crash_point

from ..lake import normalize
from . import extract
from .store import Recorder, read_raw, write_raw


def window_lesson_ids(dirs: DataDir, day: str) -> list[int]:
    """Lesson ids of the day's API 17 window, from the raw lessons pages."""
    return sorted(normalize.api17_lessons(read_raw(dirs.raw_file("lessons", day))))


def api_metadata(stats: dict, seconds: float) -> dict:
    by_path = stats.get("calls_by_path", {})
    return {
        "api_calls": MetadataValue.int(int(sum(by_path.values()))),
        "api_calls_by_endpoint": MetadataValue.json(dict(sorted(by_path.items()))),
        "http_requests": MetadataValue.int(int(stats.get("attempts", 0))),
        "retries": MetadataValue.int(int(stats.get("retries", 0))),
        "duration_s": MetadataValue.float(round(seconds, 3)),
    }


#: (client, day, data dir, partition key) -> cached raw records to store beside the new pages, or None.
Extractor = Callable[[object, date, DataDir, str], "list[dict] | None"]


def raw_asset(name: str, group: str, description: str, run: Extractor, deps: tuple[str, ...] = ()):
    @asset(
        key=["raw", name],
        group_name=group,
        kinds={"python", "json"},
        partitions_def=daily_partitions,
        deps=[AssetKey(["raw", d]) for d in deps],
        description=description,
    )
    def _raw(context: AssetExecutionContext, api: LiveClassApiResource, data_dir: DataDirResource) -> MaterializeResult:
        day = context.partition_key
        dirs = data_dir.dirs
        recorder = Recorder()
        client = api.get_client(on_response=recorder, rate_limit_file=str(dirs.rate_limit_file))
        t0 = time.monotonic()
        try:
            reused = run(client, date.fromisoformat(day), dirs, day) or []
        finally:
            client.close()
        path = dirs.raw_file(name, day)
        crash_point("raw.before_write")
        pages = write_raw(path, recorder.records + reused)
        meta = api_metadata(client.stats.snapshot(), time.monotonic() - t0)
        meta["pages"] = MetadataValue.int(pages)
        meta["reused_pages"] = MetadataValue.int(len(reused))
        meta["path"] = MetadataValue.path(str(path))
        context.log.info(f"raw/{name} {day}: {pages} pages, {meta['api_calls'].value} API calls")
        return MaterializeResult(metadata=meta)

    return _raw


def _previous_classes(dirs: DataDir, day: str) -> dict[int, dict]:
    path = dirs.raw_file("lessons", day)
    return extract.known_lesson_classes(read_raw(path)) if path.exists() else {}


raw_lessons = raw_asset(
    "lessons", "lessons", "API 17 (the day's lessons) + API 19 details + API 18 status/replay + API 30 class.",
    lambda c, d, dirs, day: extract.lessons(c, d, _previous_classes(dirs, day)))
raw_attendance = raw_asset(
    "attendance", "attendance", "API 23: every page of every lesson's attendance.",
    lambda c, d, dirs, day: extract.attendance(c, window_lesson_ids(dirs, day)), deps=("lessons",))
raw_teacher_inout = raw_asset(
    "teacher_inout", "teachers", "API 34: the teacher's in/out per lesson.",
    lambda c, d, dirs, day: extract.teacher_inout(c, window_lesson_ids(dirs, day)), deps=("lessons",))
raw_awards = raw_asset(
    "awards", "engagement", "API 25: star awards, lesson ids batched by 100.",
    lambda c, d, dirs, day: extract.awards(c, window_lesson_ids(dirs, day)), deps=("lessons",))
raw_key_event_counts = raw_asset(
    "key_event_counts", "engagement", "API 27: per-student counts of the six key events per lesson.",
    lambda c, d, dirs, day: extract.key_event_counts(c, window_lesson_ids(dirs, day)), deps=("lessons",))
raw_key_event_times = raw_asset(
    "key_event_times", "engagement",
    "API 28: event times, only for (lesson, user, type) whose API 27 count is above zero.",
    lambda c, d, dirs, day: extract.key_event_times(
        c, normalize.positive_event_triples(read_raw(dirs.raw_file("key_event_counts", day)))),
    deps=("key_event_counts",))
raw_help_requests = raw_asset(
    "help_requests", "support", "API 16: help requests raised during the day.",
    lambda c, d, dirs, day: extract.help_requests(c, d))

RAW_ASSETS = [raw_lessons, raw_attendance, raw_teacher_inout, raw_awards, raw_key_event_counts,
              raw_key_event_times, raw_help_requests]
