"""The publish automation, in process: real definitions, a real instance, ticks evaluated with
``evaluate_automation_conditions``.  After any set of lake materializations the publish assets are
requested once, when every day is in; never while a day is still running, never over a failed day,
never for ``liveclass run``'s own extractions (it publishes itself), never twice for one update."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from dagster import AssetKey, AssetObservation, DagsterInstance, evaluate_automation_conditions
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipeline.core.settings import Settings
from tests.conftest import SANDBOX_DAYS

pytestmark = pytest.mark.xdist_group("sandbox")

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
ETL = AssetKey(["warehouse", "etl_build"])


@pytest.fixture
def world(raw_pages, sandbox, tmp_path):
    """Definitions over a data directory holding the raw pages, and an empty instance."""
    from pipeline.definitions import build_defs

    data_dir = tmp_path / "data"
    shutil.copytree(raw_pages, data_dir / "raw")
    settings = Settings(data_dir=data_dir, start_date=date(2026, 3, 1), base_url=sandbox.base_url,
                        app_id=sandbox.app_id, secret=sandbox.secret)
    instance = DagsterInstance.ephemeral()
    # an instance that has recorded something, as every real one has before its first tick (the
    # automation tells updates apart by the events after the previous tick's last one)
    instance.report_runless_asset_event(AssetObservation(asset_key="test/bootstrap"))
    return build_defs(settings), instance, data_dir


def lake_run(defs, instance, first: str, last: str | None = None, tags: dict | None = None):
    """The lake assets over ``first``..``last`` in one run (a range run, as a backfill or
    ``dagster asset materialize --partition-range`` makes), or over one day."""
    job = defs.resolve_job_def("daily_extract")
    lake = {k for k in job.asset_layer.executable_asset_keys if k.path[0] == "lake"}
    run_tags = dict(tags or {})
    if last is None:
        return job.get_subset(asset_selection=lake).execute_in_process(
            partition_key=first, instance=instance, raise_on_error=False, run_config=QUIET, tags=run_tags)
    run_tags |= {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    return job.get_subset(asset_selection=lake).execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, tags=run_tags)


class Ticks:
    """Successive ticks of the publish automation, each from the previous tick's cursor."""

    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def __call__(self) -> set[str]:
        result = evaluate_automation_conditions(self.defs, self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        self.last = result
        graph = self.defs.resolve_asset_graph()
        return {k.to_user_string() for k in graph.get_all_asset_keys() if result.get_num_requested(k)}

    def verdict(self) -> str:
        """What ExtractionComplete said about the warehouse on the last tick."""
        [etl] = [r for r in self.last.results if r.key == ETL]

        def find(res):
            if res.condition.name == "extraction_complete":
                return res.serializable_evaluation.metadata["verdict"].value
            for child in res.child_results:
                found = find(child)
                if found:
                    return found
            return None

        return find(etl)


def publish_keys(defs) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None
            and k.path[-1] != "course_progress"}


def test_a_range_of_lake_days_is_published_once(world):
    defs, instance, _ = world
    tick = Ticks(defs, instance)
    assert tick() == set()  # the first tick only looks
    res = lake_run(defs, instance, SANDBOX_DAYS[0], SANDBOX_DAYS[-1])
    assert res.success
    # one run materialized the three days of every lake table, each partition with its own rows
    mats = [e.materialization for e in res.get_asset_materialization_events()
            if e.materialization.asset_key == AssetKey(["lake", "lessons"])]
    assert sorted(m.partition for m in mats) == list(SANDBOX_DAYS)
    assert {m.metadata["dagster/partition_row_count"].value for m in mats} == {12}
    requested = tick()
    assert requested == publish_keys(defs)  # the whole warehouse (one step), feeds and report: one run
    assert "all 3 day(s) extracted" in tick.verdict()
    assert tick() == set()  # handled: not again for the same updates
    assert tick() == set()


def test_day_by_day_runs_wait_for_the_last_day_then_publish_once(world):
    defs, instance, _ = world
    tick = Ticks(defs, instance)
    tick()
    job = defs.resolve_job_def("daily_extract")
    lake = {k for k in job.asset_layer.executable_asset_keys if k.path[0] == "lake"}
    # day 3 is queued (a backfill's or a schedule tick's later run) while days 1 and 2 complete
    queued = instance.create_run_for_job(job.get_subset(asset_selection=lake), asset_selection=lake,
                                         tags={"dagster/partition": SANDBOX_DAYS[2]})
    for day in SANDBOX_DAYS[:2]:
        assert lake_run(defs, instance, day).success
        assert tick() == set()
        assert "waiting for 1 day(s)" in tick.verdict() and SANDBOX_DAYS[2] in tick.verdict()
    assert lake_run(defs, instance, SANDBOX_DAYS[2], tags={"dagster/partition": SANDBOX_DAYS[2]}).success
    instance.report_run_canceled(queued)  # (its day was done by another run)
    assert tick() == publish_keys(defs)
    assert tick() == set()


def test_a_canceled_day_that_never_started_does_not_hold_the_others_back(world):
    defs, instance, _ = world
    tick = Ticks(defs, instance)
    tick()
    job = defs.resolve_job_def("daily_extract")
    lake = {k for k in job.asset_layer.executable_asset_keys if k.path[0] == "lake"}
    queued = instance.create_run_for_job(job.get_subset(asset_selection=lake), asset_selection=lake,
                                         tags={"dagster/partition": SANDBOX_DAYS[2]})
    assert lake_run(defs, instance, SANDBOX_DAYS[0], SANDBOX_DAYS[1]).success
    assert tick() == set()
    instance.report_run_canceled(queued)  # canceled before it wrote anything: days 1-2 are what there is
    assert tick() == publish_keys(defs)


def test_a_day_that_failed_part_way_is_never_published_over(world):
    """Day 2 loses its API 28 pages: lake/key_events fails for day 2 (and stops the range there, day 3
    not done) while every other table has all three days.  No publish until day 2 and 3 are in."""
    defs, instance, data_dir = world
    tick = Ticks(defs, instance)
    tick()
    pages = data_dir / "raw" / "key_event_times" / f"date={SANDBOX_DAYS[1]}" / "pages.jsonl.gz"
    kept = pages.read_bytes()
    pages.unlink()
    res = lake_run(defs, instance, SANDBOX_DAYS[0], SANDBOX_DAYS[-1])
    assert not res.success
    key_events = AssetKey(["lake", "key_events"])
    assert sorted(instance.get_materialized_partitions(key_events)) == [SANDBOX_DAYS[0]]  # the day before is in
    assert sorted(instance.get_materialized_partitions(AssetKey(["lake", "lessons"]))) == list(SANDBOX_DAYS)
    assert tick() == set()
    assert "failed or is incomplete" in tick.verdict() and SANDBOX_DAYS[1] in tick.verdict()
    assert tick() == set()
    pages.write_bytes(kept)
    assert lake_run(defs, instance, SANDBOX_DAYS[1], SANDBOX_DAYS[2]).success
    assert tick() == publish_keys(defs)


def test_liveclass_runs_own_extractions_do_not_trigger_it(world):
    from pipeline.schedules import BY_LIVECLASS_RUN, STARTED_BY_TAG

    defs, instance, _ = world
    tick = Ticks(defs, instance)
    tick()
    assert lake_run(defs, instance, SANDBOX_DAYS[0], SANDBOX_DAYS[-1], tags={STARTED_BY_TAG: BY_LIVECLASS_RUN}).success
    assert tick() == set()  # liveclass run publishes its window itself
    assert lake_run(defs, instance, SANDBOX_DAYS[0]).success  # then a click in the catalog
    assert tick() == publish_keys(defs)


def test_a_rebuilt_warehouse_is_followed_by_feeds_and_report(world):
    """A warehouse materialized by hand (catalog, `dagster asset materialize`) refreshes what reads it."""
    defs, instance, _ = world
    tick = Ticks(defs, instance)
    tick()
    assert lake_run(defs, instance, SANDBOX_DAYS[0], SANDBOX_DAYS[-1]).success
    assert tick()
    assert tick() == set()
    graph = defs.resolve_asset_graph()
    wh = {k for k in graph.get_all_asset_keys() if k.path[0] == "warehouse"}
    job = defs.resolve_job_def("publish")
    assert job.get_subset(asset_selection=wh).execute_in_process(instance=instance, run_config=QUIET).success
    assert tick() == {"feeds/files", "report/html"}
    assert tick() == set()


def test_a_raw_range_stops_at_its_first_failed_day(world, monkeypatch):
    """Days before the failure are in (with their own counters), the failed day and the rest are not."""
    from assets.raw import extract
    from pipeline.api import TransientError

    defs, instance, _ = world
    real = extract.help_requests

    def flaky(client, day, *rest):
        if day.isoformat() == SANDBOX_DAYS[1]:
            raise TransientError("the platform is down")
        return real(client, day, *rest)

    monkeypatch.setattr(extract, "help_requests", flaky)
    job = defs.resolve_job_def("daily_extract")
    key = AssetKey(["raw", "help_requests"])
    res = job.get_subset(asset_selection={key}).execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET,
        tags={ASSET_PARTITION_RANGE_START_TAG: SANDBOX_DAYS[0], ASSET_PARTITION_RANGE_END_TAG: SANDBOX_DAYS[2]})
    assert not res.success
    assert sorted(instance.get_materialized_partitions(key)) == [SANDBOX_DAYS[0]]
    [mat] = [e.materialization for e in res.get_asset_materialization_events()]
    assert mat.partition == SANDBOX_DAYS[0] and mat.metadata["api_calls"].value >= 1
    assert mat.metadata["api_calls_planned"].value == 1
    monkeypatch.setattr(extract, "help_requests", real)
    res = job.get_subset(asset_selection={key}).execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET,
        tags={ASSET_PARTITION_RANGE_START_TAG: SANDBOX_DAYS[0], ASSET_PARTITION_RANGE_END_TAG: SANDBOX_DAYS[2]})
    assert res.success and sorted(instance.get_materialized_partitions(key)) == list(SANDBOX_DAYS)
    assert {e.materialization.partition for e in res.get_asset_materialization_events()} == set(SANDBOX_DAYS)
