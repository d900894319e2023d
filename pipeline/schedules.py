"""When things run: the 03:00 extraction schedule, and the rule that publishes after extractions.

The publish rule, written once (:func:`publish_verdict`): a set of day extractions may be
published only when every one of them has finished and succeeded; a failed or incomplete day
keeps the previous warehouse.  Two callers feed it:

* ``liveclass run`` (:mod:`pipeline.run`): the outcome of each day's run of its window;
* Declarative Automation, for every other way of materializing (schedule tick, catalog
  click, ``dagster asset materialize``, a backfill): :class:`ExtractionComplete` computes each
  day's outcome from Dagster's partition statuses of every daily asset upstream, and
  :func:`publish_condition` requests the publish assets once something new came in and the
  rule says yes, never while an upstream run or backfill is still going, and never twice for
  the same updates.  The user-code sensor :data:`PUBLISH_SENSOR` evaluates it.

Every run says who started it (:data:`STARTED_BY_TAG`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    AutomationContext,
    AutomationResult,
    BetaWarning,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    TimeWindowPartitionsDefinition,
    schedule,
)

from pipeline.core.calendar import TZ, TZ_NAME

#: Who started a run: ``liveclass run``, the 03:00 schedule, or the publish automation.  (A backfill
#: carries Dagster's own ``dagster/backfill``; a launch from the UI ``dagster/from_ui``.)
STARTED_BY_TAG = "liveclass/started_by"
BY_LIVECLASS_RUN, BY_SCHEDULE, BY_AUTOMATION = "liveclass run", "schedule", "automation"
#: The schedule tick (``YYYY-MM-DD``) a run belongs to.
TICK_TAG = "liveclass/tick"

SCHEDULE = "daily_extract_0300"
PUBLISH_SENSOR = "publish_when_extracted"
#: How often the publish automation looks, in seconds (Dagster's default for automation; it only reads records).
PUBLISH_INTERVAL_S = 30

# A user-code automation sensor is beta in Dagster 1.13; it is how a custom condition is evaluated.
warnings.filterwarnings("ignore", message=r"Parameter `use_user_code_server`", category=BetaWarning)


def days_to_refresh(run_day: date, lookback: int, first_day: date) -> list[date]:
    """The newest complete day before ``run_day`` and the ``lookback`` days before it, newest first."""
    newest = run_day - timedelta(days=1)
    return [d for d in (newest - timedelta(days=i) for i in range(lookback + 1)) if d >= first_day]


# --------------------------------------------------------------------------- the rule


def publish_verdict(outcomes: Mapping[str, bool | None]) -> tuple[bool, str]:
    """Whether a set of day extractions may be published: ``outcomes`` maps each day to True
    (succeeded), False (failed or incomplete) or None (not finished).  Returns (publish?, why not)."""
    waiting = sorted(d for d, ok in outcomes.items() if ok is None)
    if waiting:
        return False, f"waiting for {len(waiting)} day(s) still being extracted ({', '.join(waiting[:5])})"
    failed = sorted(d for d, ok in outcomes.items() if not ok)
    if failed:
        return False, f"not publishing: extraction failed or is incomplete for {', '.join(failed)}"
    return True, ""


@dataclass(frozen=True)
class DayStatus:
    """What Dagster knows of one daily asset: the days materialized, failed (latest attempt) and in progress."""

    materialized: Set[str]
    failed: Set[str]
    in_progress: Set[str]


def day_outcomes(statuses: Mapping[str, DayStatus]) -> dict[str, bool | None]:
    """Each day that any daily asset touched: None while an asset's run for it is going, False if an
    asset's latest attempt failed or an asset never materialized it, else True."""
    days = set().union(*(s.materialized | s.failed | s.in_progress for s in statuses.values())) if statuses else set()
    out: dict[str, bool | None] = {}
    for day in sorted(days):
        if any(day in s.in_progress for s in statuses.values()):
            out[day] = None
        else:
            out[day] = all(day in s.materialized and day not in s.failed for s in statuses.values())
    return out


def daily_inputs(graph, key) -> list:
    """The daily assets that ``key``, or an asset that must run with it (a multi-asset's other
    tables), reads directly: the days the rule judges (the warehouse: the lake tables, not the raw
    pages under them, which the lake may have been rebuilt from without a new extraction)."""
    members = graph.get(key).execution_set_asset_keys or {key}
    parents = {p for m in members for p in graph.get(m).parent_keys} - set(members)
    return sorted((p for p in parents if isinstance(graph.get(p).partitions_def, TimeWindowPartitionsDefinition)),
                  key=lambda k: k.to_user_string())


class ExtractionComplete(AutomationCondition):
    """True when :func:`publish_verdict` says yes for the days of the daily assets the target reads
    (:func:`daily_inputs`; :func:`day_outcomes` from Dagster's partition statuses)."""

    @property
    def name(self) -> str:
        return "extraction_complete"

    @property
    def description(self) -> str:
        return "Every day the daily inputs hold succeeded in each of them (publish_verdict)"

    @property
    def requires_cursor(self) -> bool:
        return False

    async def evaluate(self, context: AutomationContext) -> AutomationResult:
        if context.candidate_subset.is_empty:
            return AutomationResult(context, context.get_empty_subset())
        graph, view = context.asset_graph, context.asset_graph_view
        statuses: dict[str, DayStatus] = {}
        for key in daily_inputs(graph, context.key):
            full = view.get_full_subset(key=key)
            running = (await view.compute_run_in_progress_subset(key=key, from_subset=full)).compute_union(
                await view.compute_backfill_in_progress_subset(key=key, from_subset=full))
            statuses[key.to_user_string()] = DayStatus(
                materialized=set((await view.compute_materialized_asset_subset(key)).expensively_compute_partition_keys()),
                failed=set((await view.compute_execution_failed_subset(key=key, from_subset=full)
                            ).expensively_compute_partition_keys()),
                in_progress=set(running.expensively_compute_partition_keys()))
        outcomes = day_outcomes(statuses)
        ok, why = publish_verdict(outcomes)
        metadata = {"days": MetadataValue.int(len(outcomes)),
                    "verdict": MetadataValue.text(why or f"all {len(outcomes)} day(s) extracted")}
        return AutomationResult(context, context.candidate_subset if ok else context.get_empty_subset(),
                                metadata=metadata)


def publish_condition() -> AutomationCondition:
    """Publish once after new upstream data, when the extraction is complete (the rule above).

    New data: an upstream materialization since this asset was last requested or updated (not one
    of ``liveclass run``'s, which publishes its window itself, and not one of this asset's own run),
    or an upstream asset requested on the same tick (so the whole publish chain is one run)."""
    updated = AutomationCondition.any_deps_match(
        (AutomationCondition.newly_updated()
         & ~AutomationCondition.executed_with_root_target()
         & ~AutomationCondition.all_new_updates_have_run_tags(tag_values={STARTED_BY_TAG: BY_LIVECLASS_RUN})
         ).with_label("newly_updated_not_by_liveclass_run")
        | AutomationCondition.will_be_requested()
    ).with_label("any_deps_updated")
    return (
        updated.since_last_handled()
        & ExtractionComplete()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("publish_once_extraction_complete")


# --------------------------------------------------------------------------- schedule and sensor


def build_schedules(daily_job, publish_assets, *, lookback_days: int, first_day: date,
                    publish_interval_s: int = PUBLISH_INTERVAL_S):
    """The 03:00 extraction schedule (stopped until turned on) and the publish automation sensor
    (running: it only rebuilds from what is already extracted)."""

    @schedule(cron_schedule="0 3 * * *", execution_timezone=TZ_NAME, job=daily_job, name=SCHEDULE,
              description="Extract the newest complete day and re-extract the days before it "
                          "(attendance, awards and statuses can still change after a lesson).")
    def daily_extract_schedule(context: ScheduleEvaluationContext):
        run_day = context.scheduled_execution_time.astimezone(TZ).date()
        for day in days_to_refresh(run_day, lookback_days, first_day):
            yield RunRequest(run_key=f"{run_day}:{day}", partition_key=day.isoformat(),
                             tags={TICK_TAG: run_day.isoformat(), STARTED_BY_TAG: BY_SCHEDULE})

    publish_sensor = AutomationConditionSensorDefinition(
        PUBLISH_SENSOR,
        target=AssetSelection.assets(*publish_assets),
        use_user_code_server=True,  # ExtractionComplete is our own condition
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=publish_interval_s,
        run_tags={STARTED_BY_TAG: BY_AUTOMATION},
        description="Rebuilds the warehouse, feeds and report once after any set of lake materializations, "
                    "when every day extracted succeeded (pipeline/schedules.py, docs/dagster.md).",
    )
    return [daily_extract_schedule], [publish_sensor]
