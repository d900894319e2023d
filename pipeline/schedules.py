"""03:00 Asia/Shanghai: extract the newest complete day and re-extract the previous N days
(attendance, awards and statuses can still change after a lesson), then publish.

The publish rule, written once (:func:`publish_verdict`) and used by the sensor here
and by ``liveclass run``: publish a batch of extractions only when every one of them
has finished and succeeded; a failed day keeps the previous warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from dagster import (
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    run_status_sensor,
    schedule,
)

from pipeline.core.calendar import TZ, TZ_NAME

TICK_TAG = "liveclass/tick"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def days_to_refresh(run_day: date, lookback: int, first_day: date) -> list[date]:
    """The newest complete day before ``run_day`` and the ``lookback`` days before it, newest first."""
    newest = run_day - timedelta(days=1)
    return [d for d in (newest - timedelta(days=i) for i in range(lookback + 1)) if d >= first_day]


def publish_verdict(outcomes: Mapping[str, bool | None]) -> tuple[bool, str]:
    """Whether a batch of day extractions may be published: ``outcomes`` maps each day to True
    (succeeded), False (failed) or None (not finished).  Returns (publish?, why not)."""
    waiting = [d for d, ok in outcomes.items() if ok is None]
    if waiting:
        return False, f"waiting for {len(waiting)} more extraction run(s)"
    failed = sorted(d for d, ok in outcomes.items() if not ok)
    if failed:
        return False, f"not publishing, extraction failed for {', '.join(failed)}"
    return True, ""


def build_schedules(daily_job, publish_job, *, lookback_days: int, first_day: date):
    """The 03:00 extraction schedule and the sensor that publishes once its runs are done.

    The schedule starts one run per day to refresh, all tagged with the tick; the
    sensor publishes once per tick (:func:`publish_verdict`).  A run started by hand
    (no tick tag) is published after it succeeds.  Both are stopped by default: turn
    them on in the UI or with ``dagster schedule start``.
    """

    @schedule(cron_schedule="0 3 * * *", execution_timezone=TZ_NAME, job=daily_job, name="daily_extract_0300")
    def daily_extract_schedule(context: ScheduleEvaluationContext):
        run_day = context.scheduled_execution_time.astimezone(TZ).date()
        for day in days_to_refresh(run_day, lookback_days, first_day):
            yield RunRequest(run_key=f"{run_day}:{day}", partition_key=day.isoformat(),
                             tags={TICK_TAG: run_day.isoformat()})

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[daily_job], request_job=publish_job,
                       name="publish_after_extract")
    def publish_after_extract(context):
        tick = context.dagster_run.tags.get(TICK_TAG)
        if tick is None:
            return RunRequest(run_key=f"publish:{context.dagster_run.run_id}")
        runs = context.instance.get_runs(filters=RunsFilter(job_name=daily_job.name, tags={TICK_TAG: tick}))
        return publish_decision(tick, runs)

    return [daily_extract_schedule], [publish_after_extract]


def publish_decision(tick: str, runs) -> RunRequest | SkipReason:
    """The sensor's answer for one tick's extraction runs."""
    outcomes = {r.tags.get("dagster/partition", r.run_id):
                None if r.status not in _FINISHED else r.status == DagsterRunStatus.SUCCESS for r in runs}
    ok, why = publish_verdict(outcomes)
    if not ok:
        return SkipReason(f"tick {tick}: {why}")
    return RunRequest(run_key=f"publish:{tick}")
