"""The day commit: with the data directory on object storage, a day's lake tables become visible to
other hosts all at once (pipeline/storage/remote.py).  Only in a deployment whose LIVECLASS_DATA_DIR is
an s3:// URL; a local data directory has no such asset."""

from dagster import AssetExecutionContext, AssetKey, DailyPartitionsDefinition, MaterializeResult, MetadataValue, asset

from pipeline.core import schemas

from ..partitions import DAILY_BACKFILL, OWNERS, labelled, layer_tags
from ..raw.assets import partition_days
from ..resources import DataDirResource
from .assets import LAYER, lake_key

COMMIT_KEY = AssetKey([LAYER, "day_commit"])


def build_day_commit(partitions: DailyPartitionsDefinition) -> object:
    """The asset that commits each day of its partitions once every daily lake table of it is written."""

    @asset(
        key=COMMIT_KEY,
        group_name="lake_commit",
        kinds={"s3"},
        partitions_def=partitions,
        backfill_policy=DAILY_BACKFILL,
        deps=[lake_key(t) for t in schemas.DAILY_TABLES],
        description=labelled(LAYER, "A day's lake tables (and the raw pages they were built from) uploaded to "
                                    "object storage and committed together: lake/_commits/date=YYYY-MM-DD/<n>.json, "
                                    "written with If-None-Match. Other hosts and the warehouse read only committed "
                                    "days, so a run that dies before this step changes nothing they see."),
        owners=OWNERS,
        tags=layer_tags(LAYER, "lake_commit", cadence="daily"),
    )
    def day_commit(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
        remote = data_dir.remote()
        if remote is None:
            raise ValueError("the day commit needs an s3:// data directory (LIVECLASS_DATA_DIR)")
        seqs = {}
        for day in partition_days(context):
            commit = remote.commit_day(day, schemas.DAILY_TABLES, data_dir.dirs.raw_groups_of(day),
                                       run_id=context.run.run_id)
            seqs[day] = commit.seq
            context.log.info(f"committed {day} ({len(commit.tables)} tables) as commit {commit.seq} "
                             f"in {remote.store.url}")
        return MaterializeResult(metadata={"commits": MetadataValue.json(seqs), "store": remote.store.url})

    return day_commit
