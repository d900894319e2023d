"""Everything Dagster loads: assets by layer, checks, jobs, schedule, sensor, resources.

``build_defs(settings)`` assembles them from a :class:`~pipeline.core.settings.Settings`
value; the module-level ``defs`` (what ``dagster dev -w workspace.yaml`` loads) is
``build_defs(Settings.from_env())``.  The secret reaches the API resource as an
``EnvVar`` when it came from the environment, so the UI never shows it.
"""

from __future__ import annotations

from datetime import date

from dagster import AssetsDefinition, AssetSelection, Definitions, EnvVar, define_asset_job

from assets.lake.assets import build_lake_assets, lake_course_progress
from assets.partitions import daily_partitions
from assets.publish.assets import feeds_files, report_html
from assets.raw.assets import build_raw_assets, raw_course_progress
from assets.resources import DataDirResource, LiveClassApiResource
from assets.warehouse.assets import warehouse_duckdb
from pipeline.core.settings import DEFAULT_START_DATE, Settings
from pipeline.schedules import build_schedules

DAILY_JOB = "daily_extract"
PUBLISH_JOB = "publish"

#: The publish job, in order: course progress (raw, lake), warehouse, feeds, report.
PUBLISH_ASSETS = [raw_course_progress, lake_course_progress, warehouse_duckdb, feeds_files, report_html]


def daily_assets(first_day: date = DEFAULT_START_DATE) -> list[AssetsDefinition]:
    """The daily raw and lake assets, on partitions starting at ``first_day``."""
    partitions = daily_partitions(first_day)
    return [*build_raw_assets(partitions), *build_lake_assets(partitions)]


def build_resources(settings: Settings) -> dict:
    secret = EnvVar(settings.secret_env) if settings.secret_env else (settings.secret or "")
    return {
        "api": LiveClassApiResource(
            base_url=settings.base_url or "",
            app_id=settings.app_id or "",
            secret=secret,
            rate_limit_per_second=settings.requests_per_second,
            concurrency=settings.concurrency,
        ),
        "data_dir": DataDirResource(path=str(settings.data_dir)),
    }


def build_defs(settings: Settings) -> Definitions:
    daily = daily_assets(settings.start_date)
    daily_job = define_asset_job(
        DAILY_JOB, selection=AssetSelection.assets(*daily),
        description="Extract one day: raw API pages, then typed lake tables with their checks.")
    publish_job = define_asset_job(
        PUBLISH_JOB, selection=AssetSelection.assets(*PUBLISH_ASSETS),
        description="Course progress snapshot, then rebuild and publish the DuckDB warehouse, then the feeds and "
                    "report.")
    schedules, sensors = build_schedules(daily_job, publish_job, lookback_days=settings.lookback_days,
                                         first_day=settings.start_date)
    return Definitions(
        assets=[*daily, *PUBLISH_ASSETS],
        jobs=[daily_job, publish_job],
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(settings),
    )


defs = build_defs(Settings.from_env())
