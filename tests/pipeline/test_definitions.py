"""The code location loads: asset graph by layer, checks, jobs, schedule, sensor, resources."""

from datetime import date, datetime

from dagster import Definitions, build_schedule_context

from pipeline.core.calendar import TZ
from pipeline.core.settings import Settings


def test_definitions_load_with_layers_groups_kinds_and_checks():
    from pipeline.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/lessons", "raw/attendance", "raw/key_event_times", "raw/course_progress", "lake/lessons",
            "lake/attendance", "lake/key_events", "lake/course_progress", "warehouse/duckdb"} <= keys
    for spec in defs.resolve_all_asset_specs():
        assert spec.key.path[0] in {"raw", "lake", "warehouse", "feeds", "report"}
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.kinds, spec.key
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"attendance_rows_match_api_count", "key_event_times_match_counts", "lessons_have_details",
            "lessons_unique_keys"} <= check_names
    # every check blocks what would flow on, except the warning that course progress was kept from before
    assert {k.name for k in graph.asset_check_keys if not graph.get_check_spec(k).blocking} == {
        "course_progress_fresh"}
    assert defs.resolve_job_def("daily_extract").partitions_def is not None
    assert defs.resolve_schedule_def("daily_extract_0300").execution_timezone == "Asia/Shanghai"


def test_only_the_raw_layer_calls_the_api():
    from pipeline.definitions import defs

    for spec in defs.resolve_all_asset_specs():
        needs_api = "api" in defs.resolve_assets_def(spec.key).required_resource_keys
        assert needs_api == (spec.key.path[0] == "raw"), spec.key


def test_api_secret_comes_from_env_and_is_marked_secret():
    from assets.resources import LiveClassApiResource
    from pipeline.definitions import build_resources

    field = LiveClassApiResource.model_fields["secret"]
    assert field.json_schema_extra == {"dagster__is_secret": True}
    env = {"LIVECLASS_BASE_URL": "https://example.invalid", "LIVECLASS_APP_ID": "a", "LIVECLASS_SECRET": "s3cr3t"}
    api = build_resources(Settings.from_env(env))["api"]
    assert type(api.secret).__name__ == "EnvVar" and api.secret.env_var_name == "LIVECLASS_SECRET"


def test_settings_reach_resources_and_partitions_as_values(tmp_path):
    from pipeline.definitions import build_defs

    settings = Settings(data_dir=tmp_path / "d", start_date=date(2026, 3, 1), concurrency=3, rate_limit=7.0,
                        base_url="http://127.0.0.1:9", app_id="a", secret="s")
    defs = build_defs(settings)
    api = defs.resources["api"]
    assert (api.base_url, api.concurrency, api.rate_limit_per_second) == ("http://127.0.0.1:9", 3, 7.0)
    assert defs.resources["data_dir"].path == str(tmp_path / "d")
    keys = defs.resolve_job_def("daily_extract").partitions_def.get_partition_keys(
        current_time=datetime(2026, 3, 5, 12, tzinfo=TZ))
    assert keys == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]


def test_schedule_requests_newest_day_and_lookback():
    from pipeline.definitions import build_defs

    defs = build_defs(Settings(lookback_days=2))
    sched = defs.resolve_schedule_def("daily_extract_0300")
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 3, 0, tzinfo=TZ),
                                 repository_def=defs.get_repository_def())
    reqs = list(sched.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in reqs] == ["2026-11-19", "2026-11-18", "2026-11-17"]


def test_daily_partitions_end_at_yesterday_in_shanghai():
    from assets.partitions import daily_partitions

    parts = daily_partitions()
    keys = parts.get_partition_keys(current_time=datetime(2026, 11, 20, 0, 30, tzinfo=TZ))
    assert keys[-1] == "2026-11-19"
    keys = parts.get_partition_keys(current_time=datetime(2026, 11, 19, 23, 59, tzinfo=TZ))
    assert keys[-1] == "2026-11-18"
    assert date.fromisoformat(keys[0]) <= date(2026, 1, 1)


def test_publish_once_per_tick_after_every_run_succeeded():
    from collections import namedtuple

    from dagster import DagsterRunStatus, RunRequest, SkipReason

    from pipeline.schedules import TICK_TAG, publish_decision

    Run = namedtuple("Run", "run_id status tags")
    run = lambda day, status: Run(day, status, {TICK_TAG: "2026-11-20", "dagster/partition": day})  # noqa: E731
    ok, busy, bad = DagsterRunStatus.SUCCESS, DagsterRunStatus.STARTED, DagsterRunStatus.FAILURE
    waiting = publish_decision("2026-11-20", [run("2026-11-19", ok), run("2026-11-18", busy)])
    assert isinstance(waiting, SkipReason) and "waiting for 1" in waiting.skip_message
    failed = publish_decision("2026-11-20", [run("2026-11-19", ok), run("2026-11-18", bad)])
    assert isinstance(failed, SkipReason) and "2026-11-18" in failed.skip_message
    done = publish_decision("2026-11-20", [run("2026-11-19", ok), run("2026-11-18", ok), run("2026-11-17", ok)])
    assert isinstance(done, RunRequest) and done.run_key == "publish:2026-11-20"


def test_schedule_runs_carry_their_tick():
    from pipeline.definitions import defs
    from pipeline.schedules import TICK_TAG

    sched = defs.resolve_schedule_def("daily_extract_0300")
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 3, 0, tzinfo=TZ),
                                 repository_def=defs.get_repository_def())
    assert {r.tags[TICK_TAG] for r in sched.evaluate_tick(ctx).run_requests} == {"2026-11-20"}
