"""The code location loads: asset graph by layer, checks, jobs, schedule, sensor, resources."""

from datetime import date, datetime

from dagster import Definitions, build_schedule_context

from pipeline.partitions import TZ


def test_definitions_load_with_layers_groups_kinds_and_checks():
    from pipeline.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/lessons", "raw/attendance", "raw/key_event_times", "lake/lessons", "lake/attendance",
            "lake/key_events", "lake/course_progress", "warehouse/duckdb"} <= keys
    for spec in defs.resolve_all_asset_specs():
        assert spec.key.path[0] in {"raw", "lake", "warehouse", "feeds", "report"}
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.kinds, spec.key
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"attendance_rows_match_api_count", "key_event_times_match_counts", "lessons_have_details",
            "lessons_unique_keys"} <= check_names
    assert all(graph.get_check_spec(k).blocking for k in graph.asset_check_keys)
    assert defs.resolve_job_def("daily_extract").partitions_def is not None
    assert defs.resolve_schedule_def("daily_extract_0300").execution_timezone == "Asia/Shanghai"


def test_api_secret_comes_from_env_and_is_marked_secret():
    from pipeline.resources import LiveClassApiResource

    field = LiveClassApiResource.model_fields["secret"]
    assert field.json_schema_extra == {"dagster__is_secret": True}
    from pipeline.definitions import build_resources

    api = build_resources()["api"]
    assert type(api.secret).__name__ == "EnvVar" and api.secret.env_var_name == "LIVECLASS_SECRET"


def test_schedule_requests_newest_day_and_lookback(monkeypatch):
    from pipeline.definitions import defs

    monkeypatch.setenv("LIVECLASS_LOOKBACK_DAYS", "2")
    sched = defs.resolve_schedule_def("daily_extract_0300")
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 3, 0, tzinfo=TZ),
                                 repository_def=defs.get_repository_def())
    reqs = list(sched.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in reqs] == ["2026-11-19", "2026-11-18", "2026-11-17"]


def test_daily_partitions_end_at_yesterday_in_shanghai():
    from pipeline.partitions import daily_partitions

    keys = daily_partitions.get_partition_keys(current_time=datetime(2026, 11, 20, 0, 30, tzinfo=TZ))
    assert keys[-1] == "2026-11-19"
    keys = daily_partitions.get_partition_keys(current_time=datetime(2026, 11, 19, 23, 59, tzinfo=TZ))
    assert keys[-1] == "2026-11-18"
    assert date.fromisoformat(keys[0]) <= date(2026, 1, 1)


def test_publish_once_per_tick_after_every_run_succeeded():
    from collections import namedtuple

    from dagster import DagsterRunStatus, RunRequest, SkipReason

    from pipeline.schedules import TICK_TAG, publish_decision

    Run = namedtuple("Run", "run_id status tags")
    run = lambda day, status: Run(day, status, {TICK_TAG: "2026-11-20", "dagster/partition": day})
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
