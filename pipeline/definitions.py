"""Everything Dagster loads: assets by layer, checks, jobs, schedule, sensor, resources.

Connection settings come from the environment (see README and .env.example):
``LIVECLASS_BASE_URL``, ``LIVECLASS_APP_ID``, ``LIVECLASS_SECRET`` (through
``EnvVar``, so the UI never shows them), ``LIVECLASS_DATA_DIR`` (default
``./data``), ``LIVECLASS_RATE_LIMIT`` (requests/s across processes, default
20), ``LIVECLASS_CONCURRENCY`` (default 8), ``LIVECLASS_START_DATE`` (first
partition, default 2026-01-01), ``LIVECLASS_LOOKBACK_DAYS`` (default 2).
"""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job

from assets.feeds import feeds_files
from assets.lake.assets import DAILY_LAKE_ASSETS, lake_course_progress
from assets.raw.assets import RAW_ASSETS
from assets.report import report_html
from assets.warehouse import warehouse_duckdb
from pipeline.resources import DataDirResource, LiveClassApiResource
from pipeline.schedules import build_schedules

DAILY_JOB = "daily_extract"
PUBLISH_JOB = "publish"

DAILY_ASSETS = [*RAW_ASSETS, *DAILY_LAKE_ASSETS]
PUBLISH_ASSETS = [lake_course_progress, warehouse_duckdb, feeds_files, report_html]

daily_job = define_asset_job(
    DAILY_JOB,
    selection=AssetSelection.assets(*DAILY_ASSETS),
    description="Extract one day: raw API pages, then typed lake tables with their checks.",
)
publish_job = define_asset_job(
    PUBLISH_JOB,
    selection=AssetSelection.assets(*PUBLISH_ASSETS),
    description="Course progress snapshot, then rebuild and publish the DuckDB warehouse, then the feeds and report.",
)


def build_resources() -> dict:
    return {
        "api": LiveClassApiResource(
            base_url=EnvVar("LIVECLASS_BASE_URL"),
            app_id=EnvVar("LIVECLASS_APP_ID"),
            secret=EnvVar("LIVECLASS_SECRET"),
            rate_limit_per_second=float(os.environ.get("LIVECLASS_RATE_LIMIT", "20")),
            concurrency=int(os.environ.get("LIVECLASS_CONCURRENCY", "8")),
        ),
        "data_dir": DataDirResource(path=os.environ.get("LIVECLASS_DATA_DIR", "data")),
    }


schedules, sensors = build_schedules(daily_job, publish_job)

defs = Definitions(
    assets=[*DAILY_ASSETS, *PUBLISH_ASSETS],
    jobs=[daily_job, publish_job],
    schedules=schedules,
    sensors=sensors,
    resources=build_resources(),
)
