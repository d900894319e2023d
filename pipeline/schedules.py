"""03:00 Asia/Shanghai: extract the newest complete day and re-extract the previous N days
(attendance, awards and statuses can still change after a lesson), then publish."""

from __future__ import annotations

import os
from datetime import date, timedelta

from dagster import (
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SkipReason,
    ScheduleEvaluationContext,
    run_status_sensor,
    schedule,
)

from pipeline.partitions import TZ, TZ_NAME, start_date

DEFAULT_LOOKBACK_DAYS = 2


def lookback_days() -> int:
    return int(os.environ.get("LIVECLASS_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS))


def days_to_refresh(run_day: date, lookback: int, first_day: date) -> list[date]:
    """The newest complete day before ``run_day`` and the ``lookback`` days before it, newest first."""
    newest = run_day - timedelta(days=1)
    return [d for d in (newest - timedelta(days=i) for i in range(lookback + 1)) if d >= first_day]


TICK_TAG = "liveclass/tick"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def build_schedules(daily_job, publish_job):
    """The 03:00 extraction schedule and the sensor that publishes once its runs are done.

    The schedule starts one run per day to refresh, all tagged with the tick; the
    sensor publishes once per tick, when the last of them has finished and all of
    them succeeded (a failed day keeps the previous warehouse, as ``liveclass run``
    does).  A run started by hand (no tick tag) is published after it succeeds.
    Both are stopped by default: turn them on in the UI or with ``dagster schedule start``.
    """

    @schedule(cron_schedule="0 3 * * *", execution_timezone=TZ_NAME, job=daily_job, name="daily_extract_0300")
    def daily_extract_schedule(context: ScheduleEvaluationContext):
        run_day = context.scheduled_execution_time.astimezone(TZ).date()
        for day in days_to_refresh(run_day, lookback_days(), date.fromisoformat(start_date())):
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
    """Publish once per tick: when every extraction run of the tick has finished and succeeded."""
    waiting = [r for r in runs if r.status not in _FINISHED]
    if waiting:
        return SkipReason(f"tick {tick}: waiting for {len(waiting)} more extraction run(s)")
    failed = [r.tags.get("dagster/partition", r.run_id) for r in runs if r.status != DagsterRunStatus.SUCCESS]
    if failed:
        return SkipReason(f"tick {tick}: not publishing, extraction failed for {', '.join(sorted(failed))}")
    return RunRequest(run_key=f"publish:{tick}")
