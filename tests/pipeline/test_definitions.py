"""The code location loads: asset graph by layer (every warehouse table an asset), standard metadata,
checks on every layer, jobs, schedule, publish automation, resources."""

from datetime import date, datetime

import pytest
from dagster import AssetKey, DefaultSensorStatus, Definitions, build_schedule_context

from pipeline.core.calendar import TZ
from pipeline.core.settings import Settings


@pytest.fixture(scope="module")
def defs():
    from pipeline.definitions import defs

    return defs


def test_definitions_load_with_layers_groups_kinds_and_checks(defs):
    from warehouse.build import ETL_TABLE, model_specs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/lessons", "raw/attendance", "raw/key_event_times", "raw/course_progress", "lake/lessons",
            "lake/attendance", "lake/key_events", "lake/course_progress", "feeds/files", "report/html"} <= keys
    # every warehouse table is an asset, found from the SQL models (not a list kept here)
    assert {f"warehouse/{s.table}" for s in model_specs()} | {f"warehouse/{ETL_TABLE}"} == {
        k for k in keys if k.startswith("warehouse/")}
    assert "warehouse/duckdb" not in keys
    for spec in defs.resolve_all_asset_specs():
        if spec.key.path[:2] == ["lake", "roster"] and not defs.resolve_assets_def(spec.key).is_executable:
            continue  # the roster assets' home is assets/lake/roster.py
        assert spec.key.path[0] in {"raw", "lake", "warehouse", "feeds", "report"}
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.kinds, spec.key
        assert spec.owners == ["team:liveclass-data"], spec.key
        assert spec.tags.get("layer") == spec.key.path[0], spec.key
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"attendance_rows_match_api_count", "key_event_times_match_counts", "lessons_have_details",
            "lessons_unique_keys", "lake_days_complete", "lake_day_rows_in_band", "key_unique", "attended_adds_up",
            "feeds_match_marts", "report_rendered"} <= check_names
    # checks on every layer
    layers = {k.asset_key.path[0] for k in graph.asset_check_keys}
    assert layers == {"raw", "lake", "warehouse", "feeds", "report"}
    # every check blocks what would flow on, except warnings and the checks of what nothing reads
    assert {k.name for k in graph.asset_check_keys if not graph.get_check_spec(k).blocking} == {
        "course_progress_fresh", "lake_day_rows_in_band", "feeds_match_marts", "report_rendered"}
    assert defs.resolve_job_def("daily_extract").partitions_def is not None
    assert defs.resolve_schedule_def("daily_extract_0300").execution_timezone == "Asia/Shanghai"


def test_raw_and_lake_say_which_layer_they_are(defs):
    from assets.partitions import LAYER_LABELS

    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for name in ("lessons", "attendance", "teacher_inout", "awards", "key_event_counts", "help_requests",
                 "course_progress"):
        raw, lake = specs[f"raw/{name}"], specs[f"lake/{name}"]
        assert raw.description.startswith(LAYER_LABELS["raw"]) and lake.description.startswith(LAYER_LABELS["lake"])
        assert "json" in raw.kinds and "parquet" in lake.kinds
        schema = lake.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns][:1] in (["lesson_date"], ["class_id"])
        assert "columns" not in lake.metadata  # no Markdown column list any more


def test_every_warehouse_table_depends_on_what_its_sql_reads(defs):
    from assets.lake.assets import lake_table_key
    from assets.warehouse.assets import warehouse_key
    from warehouse.build import model_specs

    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    marts = set()
    for model in model_specs():
        spec = specs[warehouse_key(model.table)]
        assert {d.asset_key for d in spec.deps} == ({warehouse_key(t) for t in model.deps}
                                                    | {lake_table_key(t) for t in model.lake}), model.table
        assert spec.description.endswith(model.description), model.table
        assert spec.freshness_policy is not None and "sql" in spec.kinds
        if model.table.startswith("mart_"):
            marts.add(spec.key)
    for published in (AssetKey(["feeds", "files"]), AssetKey(["report", "html"])):
        assert {d.asset_key for d in specs[published].deps} == marts
    # one step builds them all, in the warehouse pool
    wh = defs.resolve_assets_def(warehouse_key("mart_daily_overview"))
    assert wh.keys == {k for k in specs if k.path[0] == "warehouse"}
    assert not wh.can_subset and {n.pool for n in wh.node_def.iterate_op_defs()} == {"liveclass_warehouse"}


def test_only_the_raw_layer_calls_the_api(defs):
    for spec in defs.resolve_all_asset_specs():
        assets_def = defs.resolve_assets_def(spec.key)
        if not assets_def.is_executable:
            continue
        needs_api = "api" in assets_def.required_resource_keys
        assert needs_api == (spec.key.path[0] == "raw"), spec.key


def test_daily_assets_backfill_a_range_in_one_run(defs):
    from dagster import BackfillPolicy

    daily = [defs.resolve_assets_def(s.key) for s in defs.resolve_all_asset_specs() if s.partitions_def is not None]
    assert {a.key.path[0] for a in daily} == {"raw", "lake"}
    assert all(a.backfill_policy == BackfillPolicy.single_run() for a in daily)


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


def test_partitions_start_where_the_lake_starts(tmp_path):
    """With LIVECLASS_START_DATE left at its default, the first partition is the first day extracted, so
    the UI's "filled" counts what was extracted; set, it wins; a run's window is always covered."""
    from pipeline.core.settings import DEFAULT_START_DATE
    from pipeline.definitions import first_partition

    settings = Settings(data_dir=tmp_path)
    assert first_partition(settings) == DEFAULT_START_DATE  # nothing extracted yet
    for day in ("2026-11-13", "2026-11-19"):
        (tmp_path / "lake" / "lessons" / f"date={day}").mkdir(parents=True)
        (tmp_path / "lake" / "lessons" / f"date={day}" / "part-0.parquet").write_bytes(b"")
    assert first_partition(settings) == date(2026, 11, 13)
    assert first_partition(settings, date(2026, 11, 1)) == date(2026, 11, 1)
    assert first_partition(settings.replace(start_date=date(2026, 6, 1))) == date(2026, 6, 1)


def test_schedule_requests_newest_day_and_lookback_tagged_with_tick_and_origin():
    from pipeline.definitions import build_defs
    from pipeline.schedules import STARTED_BY_TAG, TICK_TAG

    defs = build_defs(Settings(lookback_days=2))
    sched = defs.resolve_schedule_def("daily_extract_0300")
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 3, 0, tzinfo=TZ),
                                 repository_def=defs.get_repository_def())
    reqs = list(sched.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in reqs] == ["2026-11-19", "2026-11-18", "2026-11-17"]
    assert {(r.tags[TICK_TAG], r.tags[STARTED_BY_TAG]) for r in reqs} == {("2026-11-20", "schedule")}
    assert sched.default_status.value == "STOPPED"  # extraction calls the API: turned on by the user


def test_daily_partitions_end_at_yesterday_in_shanghai():
    from assets.partitions import daily_partitions

    parts = daily_partitions()
    keys = parts.get_partition_keys(current_time=datetime(2026, 11, 20, 0, 30, tzinfo=TZ))
    assert keys[-1] == "2026-11-19"
    keys = parts.get_partition_keys(current_time=datetime(2026, 11, 19, 23, 59, tzinfo=TZ))
    assert keys[-1] == "2026-11-18"
    assert date.fromisoformat(keys[0]) <= date(2026, 1, 1)


def test_publish_automation_replaces_the_job_bound_sensor(defs):
    """Declarative Automation on the publish assets only, evaluated by one user-code sensor that runs
    from the start (it only rebuilds from what is extracted) and tags its runs."""
    from pipeline.schedules import PUBLISH_SENSOR, STARTED_BY_TAG

    graph = defs.resolve_asset_graph()
    automated = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    assert automated == {k for k in graph.get_all_asset_keys()
                         if k.path[0] in {"warehouse", "feeds", "report"} or k.path[-1] == "course_progress"}
    labels = {graph.get(k).automation_condition.get_label() for k in automated}
    assert labels == {"publish_once_extraction_complete"}
    assert [s.name for s in defs.sensors] == [PUBLISH_SENSOR]
    sensor = defs.resolve_sensor_def(PUBLISH_SENSOR)
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.run_tags == {STARTED_BY_TAG: "automation"}
    assert sensor.asset_selection.resolve(graph) == automated


def test_the_publish_rule():
    from pipeline.schedules import publish_verdict

    assert publish_verdict({"2026-11-19": True, "2026-11-18": True}) == (True, "")
    ok, why = publish_verdict({"2026-11-19": True, "2026-11-18": None})
    assert not ok and "waiting for 1 day(s)" in why and "2026-11-18" in why
    ok, why = publish_verdict({"2026-11-19": True, "2026-11-18": False})
    assert not ok and "2026-11-18" in why and "2026-11-19" not in why
    ok, _ = publish_verdict({"2026-11-19": None, "2026-11-18": False})
    assert not ok  # still waiting: say so first


def test_day_outcomes_from_partition_statuses():
    """A day is in when every daily input materialized it and its latest attempt did not fail; a day
    one input never materialized (an extraction stopped part-way) is not; a running day is pending."""
    from pipeline.schedules import DayStatus, day_outcomes

    ok = DayStatus({"d1", "d2", "d3"}, set(), set())
    assert day_outcomes({"lake/lessons": ok, "lake/key_events": ok}) == {"d1": True, "d2": True, "d3": True}
    partial = DayStatus({"d1", "d3"}, set(), set())  # key_events never written for d2
    assert day_outcomes({"lake/lessons": ok, "lake/key_events": partial})["d2"] is False
    failed = DayStatus({"d1", "d2", "d3"}, {"d3"}, set())  # d3 materialized once, then its re-run failed
    assert day_outcomes({"lake/lessons": ok, "lake/key_events": failed})["d3"] is False
    running = DayStatus({"d1", "d2"}, {"d3"}, {"d3"})  # d3 re-running after a failure
    assert day_outcomes({"lake/lessons": ok, "lake/key_events": running})["d3"] is None
    assert day_outcomes({}) == {}
