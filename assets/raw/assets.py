"""Raw layer: the exact API answers per endpoint group and day (``raw/<group>``).

The only layer that calls the API.  Each asset records every successful answer
(with the parameters that were signed, never the secret or the signMsg) as one
gzip JSON-lines file; what the next step asks for is read back from those pages
(:mod:`.fanout`), so a payload problem is found by the lake with the pages on disk.

A run may cover a range of days (single-run backfill policy, :mod:`assets.partitions`):
the days are extracted one after the other, exactly as one-day runs would; the first day
that fails stops the range, the days before it are recorded as materialized and the rest
as failed, so the publish rule sees exactly which days are in.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.api.catalog import BY_PATH, EVENT_TYPES
from pipeline.core import calendar
from pipeline.core import settings as env_names
from pipeline.core.crash import crash_point
from pipeline.core.layout import DataDir
from pipeline.core.profile import PlatformProfile

from ..partitions import DAILY_BACKFILL, OWNERS, labelled, layer_tags
from ..resources import DataDirResource, LiveClassApiResource
from . import extract, fanout, settle
from .settle import Previous, RawMeta, digest
from .store import Recorder, SnapshotAges, read_raw, write_raw

LAYER = "raw"


class RawConfig(Config):
    """A raw asset's run config: ``full_refresh`` asks every answer again, keeping nothing from the previous
    extraction of the day (``liveclass run --full``); by default a day extracted before asks only for what can
    have changed (assets/raw/settle.py)."""

    full_refresh: bool = False


def full_refresh_config(assets) -> dict:
    """Run config that sets ``full_refresh`` on every raw daily asset among ``assets`` (their op names)."""
    ops = {}
    for a in assets:
        for key in a.keys:
            if key.path[0] == LAYER and a.partitions_def is not None:
                ops[a.node_def.name] = {"config": {"full_refresh": True}}
    return {"ops": ops}


def raw_key(group: str) -> AssetKey:
    return AssetKey([LAYER, group])


def _number(value) -> MetadataValue:
    return MetadataValue.null() if value is None else MetadataValue.float(float(value))


def api_metadata(stats: dict, seconds: float) -> dict:
    """What a step's client did: calls per endpoint, requests, retries, and against the rate limit the rate
    it achieved, its HTTP 429s, the time it waited for the limiter and where the adaptive limit ended."""
    by_path = stats.get("calls_by_path", {})
    return {
        "api_calls": MetadataValue.int(int(sum(by_path.values()))),
        "api_calls_by_endpoint": MetadataValue.json(dict(sorted(by_path.items()))),
        "http_requests": MetadataValue.int(int(stats.get("attempts", 0))),
        "retries": MetadataValue.int(int(stats.get("retries", 0))),
        "http_429": MetadataValue.int(int(stats.get("http_429", 0))),
        "request_rate_per_second": _number(stats.get("request_rate_per_second")),
        "rate_limit_wait_s": _number(stats.get("rate_limit_wait_seconds")),
        "rate_limit_per_second": _number(stats.get("rate_limit_per_second")),
        "rate_limit_decreases": MetadataValue.int(int(stats.get("rate_limit_decreases", 0))),
        "duration_s": MetadataValue.float(round(seconds, 3)),
    }


#: (client, day, data dir, partition key, profile, what the previous extraction left) -> the recorded raw
#: records kept, to store beside the new answers, or None.
Extractor = Callable[[object, date, DataDir, str, PlatformProfile, Previous], "list[dict] | None"]
#: (data dir, partition key, profile, previous) -> the calls a day's extraction will make at least, or None (not
#: known before the first answers).  Only for progress: what is asked is the extractor's business.
Planner = Callable[[DataDir, str, PlatformProfile, Previous], "int | None"]


@dataclass(frozen=True)
class Progress:
    """Where one raw asset's day stands: what ``liveclass run`` shows while it waits, what the log says
    every :data:`LOG_EVERY_S`, and (the last one) what the materialization records."""

    group: str
    day: str
    endpoint: str          # the API the latest answer came from, e.g. "API 23"
    done: int              # answers received
    planned: int | None    # calls known to be needed (at least), None before the first answers tell
    seconds: float

    @property
    def eta_s(self) -> float | None:
        if not self.planned or not self.done:
            return None
        return max(0.0, self.seconds / self.done * (self.planned - self.done))

    def line(self) -> str:
        calls = f"{self.done}/{self.planned}" if self.planned else f"{self.done}"
        eta = f", ETA {self.eta_s:.0f}s" if self.eta_s else ""
        return f"{self.day} raw/{self.group} {self.endpoint or 'starting'}, {calls} calls{eta}"


#: Where progress goes besides the log: ``liveclass run`` sets it while its days run in this process.
progress_sink: Callable[[Progress], None] | None = None
#: How often progress reaches the sink, and Dagster's log (seconds).
SINK_EVERY_S, LOG_EVERY_S = 0.5, 15.0


class _Tracker:
    """The client's ``on_response`` hook for one day: records the answer, counts it, reports progress."""

    def __init__(self, group: str, day: str, planned: int | None, recorder: Recorder, log) -> None:
        self.group, self.day, self.planned, self.recorder, self.log = group, day, planned, recorder, log
        self.t0 = self.sunk = self.logged = time.monotonic()
        self.done, self.endpoint = 0, ""
        self.lock = threading.Lock()

    def snapshot(self) -> Progress:
        return Progress(self.group, self.day, self.endpoint, self.done,
                        max(self.planned, self.done) if self.planned else None, time.monotonic() - self.t0)

    def __call__(self, path: str, params: dict, body: dict) -> None:
        self.recorder(path, params, body)
        with self.lock:
            self.done += 1
            endpoint = BY_PATH.get(path)
            self.endpoint = f"API {endpoint.api}" if endpoint else path
            now = time.monotonic()
            sink = progress_sink is not None and now - self.sunk >= SINK_EVERY_S
            log = now - self.logged >= LOG_EVERY_S
            if sink:
                self.sunk = now
            if log:
                self.logged = now
            progress = self.snapshot() if sink or log else None
        if sink and progress_sink is not None:
            progress_sink(progress)
        if log:
            self.log.info(progress.line())


def partition_days(context: AssetExecutionContext) -> list[str]:
    """The days a run of a daily asset covers, oldest first: one, or a backfill's range."""
    return list(context.partition_keys)


def range_failure(key: AssetKey, done: dict[str, dict], day: str, exc: BaseException):
    """After the first failed day of a range: the days before it are materialized, the rest fail."""
    for d, meta in done.items():
        yield AssetMaterialization(asset_key=key, partition=d, metadata=meta)
    raise Failure(description=f"{key.to_user_string()} {day} failed ({type(exc).__name__}: {str(exc)[:500]}); "
                              f"{len(done)} earlier day(s) of the range are in, this day and the later ones are not"
                  ) from exc


def raw_asset(group: str, domain: str, description: str, run: Extractor, partitions: DailyPartitionsDefinition,
              deps: tuple[str, ...] = (), plan: Planner = lambda dirs, day, profile, prev: None,
              table: str | None = None) -> AssetsDefinition:
    """A daily raw asset of ``group``'s pages; ``table``: the lake table built from them (default: the
    group's name), whose partition says which pages it accepted (see :mod:`.settle`)."""
    key = raw_key(group)
    table = table or group

    @asset(
        key=key,
        group_name=domain,
        kinds={"python", "json"},
        partitions_def=partitions,
        backfill_policy=DAILY_BACKFILL,
        deps=[raw_key(d) for d in deps],
        description=labelled(LAYER, description + f" Stored as raw/{group}/date=YYYY-MM-DD/pages.jsonl.gz."),
        owners=OWNERS,
        tags=layer_tags(LAYER, domain, source="openapi", cadence="daily"),
    )
    def _raw(context: AssetExecutionContext, config: RawConfig, api: LiveClassApiResource, data_dir: DataDirResource):
        days = partition_days(context)
        if not api.base_url:
            context.log.info(f"{env_names.BASE_URL} is not set: using the embedded sandbox (synthetic school)")
        done: dict[str, dict] = {}
        for day in days:
            try:
                meta = _extract_day(context, group, table, run, plan, day, api, data_dir, config.full_refresh)
            except Exception as exc:
                if len(days) == 1:
                    raise
                yield from range_failure(key, done, day, exc)
            done[day] = meta
            if len(days) > 1:
                context.add_asset_metadata(meta, partition_key=day)
        yield MaterializeResult(metadata=done[days[0]] if len(days) == 1 else None)

    return _raw


def _extract_day(context, group: str, table: str, run: Extractor, plan: Planner, day: str,
                 api: LiveClassApiResource, data_dir: DataDirResource, full: bool = False) -> dict:
    dirs = data_dir.dirs
    recorder = Recorder()
    profile = data_dir.profile
    remote = data_dir.remote()
    if remote is not None and not full:  # another host may have extracted this day: start from its commit
        fetched = remote.fill_day(day, group)
        if fetched:
            context.log.info(f"raw/{group} {day}: {fetched} committed files fetched from {remote.store.url}")
    prev = _previous(dirs, group, table, day, profile, api, full)
    try:
        planned = plan(dirs, day, profile, prev)
    except (OSError, ValueError):  # what it reads is missing: the extraction itself will say so
        planned = None
    tracker = _Tracker(group, day, planned, recorder, context.log)
    client = api.get_client(on_response=tracker, rate_limit_file=str(dirs.rate_limit_file), profile=profile)
    t0 = time.monotonic()
    try:
        kept = run(client, date.fromisoformat(day), dirs, day, profile, prev) or []
    finally:
        client.close()
    path = dirs.raw_file(group, day)
    crash_point("raw.before_write")
    pages = write_raw(path, recorder.records + kept)
    as_of = client.first_answer_at or prev.as_of or _lessons_as_of(dirs, day) or calendar.now()
    RawMeta(as_of, digest(path)).write(dirs.raw_meta(group, day))
    meta = api_metadata(client.stats.snapshot(), time.monotonic() - t0)
    meta["api_calls_planned"] = MetadataValue.int(planned) if planned is not None else MetadataValue.null()
    meta["pages"] = MetadataValue.int(pages)
    meta["reused_pages"] = MetadataValue.int(len(kept))
    meta["settled_lessons"] = MetadataValue.int(len(prev.settled))
    meta["as_of"] = MetadataValue.text(as_of.astimezone(calendar.TZ).isoformat(timespec="seconds"))
    meta["path"] = MetadataValue.path(str(path))
    if progress_sink is not None:
        progress_sink(tracker.snapshot())
    kept_note = f", {len(kept)} kept from the previous extraction" if kept else ""
    context.log.info(f"raw/{group} {day}: {pages} pages{kept_note}, {meta['api_calls'].value} API calls")
    return meta


def _previous(dirs: DataDir, group: str, table: str, day: str, profile: PlatformProfile,
              api: LiveClassApiResource, full: bool) -> Previous:
    """What the previous extraction of ``group``'s day may leave to this one (nothing on a full one)."""
    lessons_file = dirs.raw_file("lessons", day)
    if full or not lessons_file.exists():
        return settle.NOTHING
    try:
        lesson_pages = read_raw(lessons_file)
        window = _window(dirs, day, profile)
    except (OSError, ValueError, EOFError):
        return settle.NOTHING
    return settle.previous(dirs, group, table, day, settle=timedelta(hours=api.settle_hours), full=False,
                           window=window, lesson_records=lesson_pages)


def _lessons_as_of(dirs: DataDir, day: str):
    meta = RawMeta.read(dirs.raw_meta("lessons", day))
    return meta.as_of if meta is not None else None


def _pages(dirs: DataDir, group: str, day: str) -> list[dict]:
    return read_raw(dirs.raw_file(group, day))


def _previous_classes(dirs: DataDir, day: str) -> dict[int, dict]:
    """API 30 answers of an earlier extraction of the day that the lake accepted."""
    raw, lake = dirs.raw_file("lessons", day), dirs.lake_file("lessons", day)
    if not raw.exists() or not lake.exists():
        return {}
    accepted = {r["lesson_id"]: (r["class_id"], r["class_name"])
                for r in pq.read_table(lake, columns=["lesson_id", "class_id", "class_name"]).to_pylist()}
    return fanout.known_lesson_classes(read_raw(raw), accepted)


def _window(dirs: DataDir, day: str, profile: PlatformProfile) -> list[int]:
    """The day's lessons: API 17's window, or (when the window selects on actual starts) the lessons
    in it that API 19 says were scheduled on the day."""
    by_schedule = profile.get("class_window") == "actual_start"
    return fanout.window_lesson_ids(_pages(dirs, "lessons", day), date.fromisoformat(day) if by_schedule else None)


def _unheld(dirs: DataDir, day: str) -> list[int]:
    return fanout.unheld_lessons(_pages(dirs, "lessons", day))


def _per_lesson_plan(dirs: DataDir, day: str, profile: PlatformProfile, prev: Previous) -> int:
    """One call per unsettled lesson of the window, two for a lesson never held (asked twice, see
    extract.consensus)."""
    window = [lid for lid in _window(dirs, day, profile) if lid not in prev.settled]
    return len(window) + len(set(_unheld(dirs, day)) & set(window))


def _awards_plan(dirs: DataDir, day: str, profile: PlatformProfile, prev: Previous) -> int:
    window = _window(dirs, day, profile)
    return 0 if prev.settled >= set(window) else math.ceil(len(window) / extract.BATCH)


def _counts_plan(dirs: DataDir, day: str, profile: PlatformProfile, prev: Previous) -> int:
    return len([lid for lid in _window(dirs, day, profile) if lid not in prev.settled]) * len(EVENT_TYPES)


def _event_counts(dirs: DataDir, day: str) -> dict[tuple[int, int, str], int]:
    return fanout.positive_event_counts(_pages(dirs, "key_event_counts", day))


def build_raw_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """The daily raw assets, in the order a day is extracted."""
    p = partitions
    return [
        raw_asset("lessons", "lessons",
                  "API 17 (the day's lessons) + API 19 details + API 18 status/replay + API 30 class.",
                  lambda c, d, dirs, day, pr, prev: extract.lessons(
                      c, d, _previous_classes(dirs, day), by_actual_start=pr.get("class_window") == "actual_start",
                      prev=prev),
                  p, plan=lambda dirs, day, pr, prev: 0 if prev.day_settled else None),
        raw_asset("attendance", "attendance", "API 23: every page of every lesson's attendance.",
                  lambda c, d, dirs, day, pr, prev: extract.attendance(c, _window(dirs, day, pr), _unheld(dirs, day),
                                                                       prev),
                  p, deps=("lessons",), plan=_per_lesson_plan),
        raw_asset("teacher_inout", "teachers", "API 34: the teacher's in/out per lesson.",
                  lambda c, d, dirs, day, pr, prev: extract.teacher_inout(c, _window(dirs, day, pr),
                                                                          _unheld(dirs, day), prev),
                  p, deps=("lessons",), plan=_per_lesson_plan),
        raw_asset("awards", "engagement", "API 25: star awards, lesson ids batched by 100.",
                  lambda c, d, dirs, day, pr, prev: extract.awards(c, _window(dirs, day, pr), prev), p,
                  deps=("lessons",), plan=_awards_plan),
        raw_asset("key_event_counts", "engagement", "API 27: per-student counts of the six key events per lesson.",
                  lambda c, d, dirs, day, pr, prev: extract.key_event_counts(c, _window(dirs, day, pr), prev), p,
                  deps=("lessons",), plan=_counts_plan),
        raw_asset("key_event_times", "engagement",
                  "API 28: event times, only for (lesson, user, type) whose API 27 count is above zero (and, on "
                  "a re-extraction, differs from the times recorded).",
                  lambda c, d, dirs, day, pr, prev: extract.key_event_times(c, _event_counts(dirs, day), prev),
                  p, deps=("key_event_counts",), table="key_events",
                  plan=lambda dirs, day, pr, prev: len(extract.event_times_to_ask(_event_counts(dirs, day),
                                                                                  prev)[0])),
        raw_asset("help_requests", "support", "API 16: help requests raised during the day.",
                  lambda c, d, dirs, day, pr, prev: extract.help_requests(c, d, prev), p,
                  plan=lambda dirs, day, pr, prev: 0 if prev.day_settled else 1),
    ]


COURSE_PROGRESS = "course_progress"
PROGRESS_FRESH_CHECK = "course_progress_fresh"


@asset(
    key=raw_key(COURSE_PROGRESS),
    group_name="courses",
    kinds={"python", "json"},
    deps=[raw_key("lessons")],
    description=labelled(LAYER, "API 26: current progress of every class seen in the raw lessons pages (a snapshot, "
                                "not daily, raw/course_progress/snapshot.jsonl.gz). A class whose call fails keeps "
                                "its previous answer, and the check course_progress_fresh warns."),
    owners=OWNERS,
    tags=layer_tags(LAYER, "courses", source="openapi", cadence="snapshot"),
    check_specs=[AssetCheckSpec(PROGRESS_FRESH_CHECK, asset=raw_key(COURSE_PROGRESS), blocking=False,
                                description="Every class seen has a course-progress answer from this refresh.")],
)
def raw_course_progress(context: AssetExecutionContext, api: LiveClassApiResource,
                        data_dir: DataDirResource):
    dirs = data_dir.dirs
    seen: set[int] = set()
    for path in dirs.raw_files("lessons"):
        seen |= fanout.class_ids(read_raw(path))
    class_ids = sorted(seen)
    now = calendar.now().isoformat(timespec="seconds")
    if data_dir.profile.get("class_is_course") == "no":
        yield from _course_progress_unavailable(dirs, class_ids, now)
        return
    recorder = Recorder()
    client = api.get_client(on_response=recorder, rate_limit_file=str(dirs.rate_limit_file),
                            profile=data_dir.profile)
    t0 = time.monotonic()
    try:
        failed = extract.course_progress(client, class_ids)
    finally:
        client.close()
    if failed and len(failed) == len(class_ids):  # not one class answered: the API is down, say so
        raise Failure(description=f"API 26 failed for all {len(class_ids)} classes; the previous snapshot and "
                                  "warehouse stay in place")
    path = dirs.raw_snapshot(COURSE_PROGRESS)
    before = SnapshotAges.read(dirs.raw_snapshot_ages(COURSE_PROGRESS))
    kept: list[dict] = []
    if failed:  # keep the previous answer of a class whose call failed this time
        previous = {r["params"].get("classroomId"): r for r in (read_raw(path) if path.exists() else [])}
        kept = [previous[c] for c in failed if c in previous]
        context.log.warning(f"API 26 failed for {len(failed)} class(es) {failed[:10]}; "
                            f"kept the previous snapshot of {len(kept)} of them")
    pages = write_raw(path, recorder.records + kept)
    kept_ids = {r["params"].get("classroomId") for r in kept}
    ages = SnapshotAges(now, {c: now for c in class_ids if c not in failed}
                        | {c: before.fetched_at.get(c, "") for c in kept_ids},
                        sorted(set(failed) - kept_ids))
    ages.write(dirs.raw_snapshot_ages(COURSE_PROGRESS))
    meta = api_metadata(client.stats.snapshot(), time.monotonic() - t0)
    meta["pages"] = MetadataValue.int(pages)
    meta["path"] = MetadataValue.path(str(path))
    meta["classes_failed"] = MetadataValue.json(failed)
    meta["classes_kept"] = MetadataValue.json({str(c): t for c, t in ages.kept.items()})
    notes = ages.notes()
    yield MaterializeResult(metadata=meta, check_results=[AssetCheckResult(
        check_name=PROGRESS_FRESH_CHECK, passed=not notes, severity=AssetCheckSeverity.WARN,
        metadata={"classes": MetadataValue.int(len(class_ids)), "kept": MetadataValue.json(meta["classes_kept"].value),
                  "missing": MetadataValue.json(ages.missing), "notes": MetadataValue.json(notes)})])


UNAVAILABLE = ("course progress is not available from this platform: API 26 does not take the class ids API 30 "
               "answers (reading class_is_course=no, see docs/platform-readings.md)")


def _course_progress_unavailable(dirs: DataDir, class_ids: list[int], now: str):
    """No API 26 call can succeed: an empty snapshot, and the WARN check and notes say why."""
    path = dirs.raw_snapshot(COURSE_PROGRESS)
    pages = write_raw(path, [])
    ages = SnapshotAges(now, {}, [], unavailable=UNAVAILABLE)
    ages.write(dirs.raw_snapshot_ages(COURSE_PROGRESS))
    yield MaterializeResult(metadata={"pages": MetadataValue.int(pages), "path": MetadataValue.path(str(path)),
                                      "api_calls": MetadataValue.int(0), "classes_skipped": MetadataValue.int(
                                          len(class_ids))},
                            check_results=[AssetCheckResult(
                                check_name=PROGRESS_FRESH_CHECK, passed=False, severity=AssetCheckSeverity.WARN,
                                metadata={"notes": MetadataValue.json(ages.notes())})])
