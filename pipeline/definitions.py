"""Everything Dagster loads: assets by layer, checks, jobs, schedule, automation, resources.

``build_defs(settings)`` assembles them from a :class:`~pipeline.core.settings.Settings`
value; the module-level ``defs`` (what ``dagster dev -m pipeline.definitions`` and
``workspace.yaml`` load) is ``build_defs(Settings.from_env())``.  The secret reaches the API
resource as an ``EnvVar`` when it came from the environment, so the UI never shows it; with no
``LIVECLASS_BASE_URL`` the API resource uses the embedded sandbox (docs/dagster.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from dagster import (
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    Definitions,
    EnvVar,
    define_asset_job,
    in_process_executor,
)

from assets.lake.assets import build_lake_assets, lake_course_progress
from assets.lake.commit import COMMIT_KEY, build_day_commit
from assets.lake.roster import roster_assets
from assets.partitions import OWNERS, daily_partitions
from assets.publish.assets import feeds_files, report_html
from assets.raw.assets import build_raw_assets, raw_course_progress
from assets.resources import DataDirResource, LiveClassApiResource
from assets.warehouse.assets import build_warehouse_assets, warehouse_assets
from pipeline.core import schemas
from pipeline.core.settings import DEFAULT_START_DATE, Settings
from pipeline.core.tenants import RUN_TAG as TENANT_TAG
from pipeline.schedules import PUBLISH_INTERVAL_S, build_schedules, publish_condition

DAILY_JOB = "daily_extract"
PUBLISH_JOB = "publish"

#: The publish job, in order: course progress (raw, lake), warehouse tables, feeds, report.
PUBLISH_ASSETS = [raw_course_progress, lake_course_progress, warehouse_assets, feeds_files, report_html]


def daily_assets(first_day: date = DEFAULT_START_DATE, *, on_object_storage: bool = False) -> list[AssetsDefinition]:
    """The daily raw and lake assets, on partitions starting at ``first_day`` (with the data directory on
    object storage, also the day commit that makes a day's lake tables visible to other hosts)."""
    partitions = daily_partitions(first_day)
    commit = [build_day_commit(partitions)] if on_object_storage else []
    return [*build_raw_assets(partitions), *build_lake_assets(partitions), *commit]


def first_lake_day(settings: Settings) -> date | None:
    """The first day any daily lake table holds (directory names only), or None."""
    firsts = [files[0] for files in (settings.dirs.lake_files(t) for t in schemas.DAILY_TABLES) if files]
    days = []
    for path in firsts:
        try:
            days.append(date.fromisoformat(path.parent.name.removeprefix("date=")))
        except ValueError:
            continue
    return min(days) if days else None


def first_partition(settings: Settings, *also: date) -> date:
    """Where the daily partitions start: ``LIVECLASS_START_DATE`` when it is set to another day than the
    default; else the first day the lake holds, so the UI's "filled" counts the days extracted (after
    ``make run``: 7 of 7); else the default.  ``also``: days that must be partitions (a run's window)."""
    if settings.start_date != DEFAULT_START_DATE:
        first = settings.start_date
    else:
        first = first_lake_day(settings) or settings.start_date
    return min([first, *also])


def build_resources(settings: Settings) -> dict:
    secret = EnvVar(settings.secret_env) if settings.secret_env else (settings.secret or "")
    return {
        "api": LiveClassApiResource(
            base_url=settings.base_url or "",
            app_id=settings.app_id or "",
            secret=secret,
            rate_limit_per_second=settings.requests_per_second,
            rate_limit_url=settings.rate_limit_url,
            concurrency=settings.concurrency,
            settle_hours=settings.settle_hours,
        ),
        "data_dir": DataDirResource(path=str(settings.data_dir), url=settings.data_url or ""),
    }


def presented(assets: Sequence[AssetsDefinition]) -> list[AssetsDefinition]:
    """The same assets, each with an owner and a ``layer`` tag (an asset that sets its own keeps them)."""
    def fill(spec):
        tags = {"layer": spec.key.path[0], **spec.tags}
        return spec.replace_attributes(owners=spec.owners or OWNERS, tags={k: v for k, v in tags.items()
                                                                             if not k.startswith("dagster/kind/")})
    return [a.map_asset_specs(fill) for a in assets]


def with_automation(assets: Sequence[AssetsDefinition], condition: AutomationCondition) -> list[AssetsDefinition]:
    """The same assets, each of their specs under ``condition``."""
    return [a.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition)) for a in assets]


def build_defs(settings: Settings, *, first_day: date | None = None,
               publish_interval_s: int = PUBLISH_INTERVAL_S) -> Definitions:
    first = first_day or first_partition(settings)
    daily = daily_assets(first, on_object_storage=bool(settings.data_url))
    # the roster (optional files) is refreshed by every publish job run (`liveclass run`); under automation it
    # is refreshed when materialized from the UI or CLI (docs/roster.md), and the warehouse reads what is there
    roster = roster_assets(settings.roster_folder)
    # on object storage the warehouse reads the lake through the day commits: it waits for them
    warehouse = build_warehouse_assets(memory_limit=settings.warehouse_memory_limit, tenant=settings.tenant,
                                       after=[COMMIT_KEY] if settings.data_url else ())
    automated = with_automation([raw_course_progress, lake_course_progress, warehouse, feeds_files, report_html],
                                publish_condition())
    publish = [*roster, *automated]
    # a tenant's runs carry its name: the instance limits runs per tenant on this tag (pipeline/deploy)
    tags = {TENANT_TAG: settings.tenant} if settings.tenant else None
    daily_job = define_asset_job(
        DAILY_JOB, selection=AssetSelection.assets(*daily), tags=tags,
        description="Extract one day (or a range): raw API pages, then typed lake tables with their checks.")
    publish_job = define_asset_job(
        PUBLISH_JOB, selection=AssetSelection.assets(*publish), tags=tags,
        description="Course progress snapshot, then rebuild and publish the DuckDB warehouse (every table an "
                    "asset), then the feeds and report.")
    schedules, sensors = build_schedules(daily_job, automated, lookback_days=settings.lookback_days, first_day=first,
                                         publish_interval_s=publish_interval_s)
    return Definitions(
        assets=presented([*daily, *publish]),
        jobs=[daily_job, publish_job],
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(settings),
        # every run's steps in its one process, as `liveclass run` runs them: no process start per step
        # (seconds each), and the parallelism that matters is the client's concurrent requests
        executor=in_process_executor,
    )


defs = build_defs(Settings.from_env())
