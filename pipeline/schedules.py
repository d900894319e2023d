"""03:00 Asia/Shanghai: extract the newest complete day and re-extract the previous N days
(attendance, awards and statuses can still change after a lesson), then publish."""

from __future__ import annotations

import os
from datetime import date, timedelta

from dagster import (
    DagsterRunStatus,
    RunRequest,
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


def build_schedules(daily_job, publish_job):
    """The 03:00 extraction schedule and the sensor that publishes after each successful extraction."""
    @schedule(cron_schedule="0 3 * * *", execution_timezone=TZ_NAME, job=daily_job, name="daily_extract_0300")
    def daily_extract_schedule(context: ScheduleEvaluationContext):
        run_day = context.scheduled_execution_time.astimezone(TZ).date()
        for day in days_to_refresh(run_day, lookback_days(), date.fromisoformat(start_date())):
            yield RunRequest(run_key=f"{run_day}:{day}", partition_key=day.isoformat())

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[daily_job], request_job=publish_job,
                       name="publish_after_extract")
    def publish_after_extract(context):
        return RunRequest(run_key=f"publish:{context.dagster_run.run_id}")

    return [daily_extract_schedule], [publish_after_extract]
