"""The data directory on object storage (a real SeaweedFS on loopback), through ``dagster.materialize``:
hosts with working copies of their own extract different days, a third builds and publishes the
warehouse, feeds and report as generations, and a reader that only resolves ``LATEST`` gets a warehouse
whose marts equal the sandbox's ground truth."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pytest
from dagster import materialize

from assets.lake.assets import lake_course_progress
from assets.publish.assets import feeds_files, report_html
from assets.raw.assets import raw_course_progress
from assets.resources import DataDirResource
from assets.warehouse.assets import build_warehouse_assets
from pipeline.core import schemas
from pipeline.core.calendar import TZ
from pipeline.core.layout import DataDir
from pipeline.definitions import daily_assets
from pipeline.storage.objects import ObjectStore
from pipeline.storage.remote import COMMITS, Remote
from tests.conftest import api_resource

DAYS = ("2026-03-10", "2026-03-11")
NOW = datetime(2026, 3, 12, 9, 30, tzinfo=TZ)
SEED, LESSONS = 23, 6


@pytest.fixture(scope="module")
def small_sandbox():
    from pipeline.sandbox.runner import SandboxConfig, start_sandbox

    with start_sandbox(SandboxConfig(seed=SEED, lessons_per_day=LESSONS, now=NOW)) as sb:
        yield sb


@pytest.fixture(scope="module")
def small_truth(tmp_path_factory):
    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_truth

    out = tmp_path_factory.mktemp("truth-s3")
    write_truth(School(seed=SEED, lessons_per_day=LESSONS, now=NOW), date.fromisoformat(DAYS[0]),
                date.fromisoformat(DAYS[-1]), out)
    return out


def test_hosts_share_one_data_directory_on_object_storage(small_sandbox, small_truth, seaweed_server, tmp_path,
                                                           monkeypatch):
    for k, v in seaweed_server.env.items():
        monkeypatch.setenv(k, v)
    url = seaweed_server.url("school-a")
    daily = daily_assets(date(2026, 3, 1), on_object_storage=True)

    def resources(host: str) -> dict:
        return {"api": api_resource(small_sandbox), "data_dir": DataDirResource(path=str(tmp_path / host), url=url)}

    # host A extracts one day, host B the other: each commits its day
    for host, days in (("host-a", DAYS[:1]), ("host-b", DAYS[1:])):
        for day in days:
            materialize(daily, partition_key=day, resources=resources(host), raise_on_error=True)
    store = ObjectStore(url)
    assert sorted({o.key.split("/")[2] for o in store.list(COMMITS)}) == [f"date={d}" for d in DAYS]

    # host C has nothing locally: it builds from the committed lake and publishes every generation
    publish = [raw_course_progress, lake_course_progress, build_warehouse_assets(), feeds_files, report_html]
    res = materialize(publish, resources=resources("host-c"), raise_on_error=True)
    assert res.success
    c = DataDir(tmp_path / "host-c")
    for table in schemas.DAILY_TABLES:  # what host C's build read: the committed lake, every day
        assert [p.parent.name for p in Remote(ObjectStore(url), c).committed.lake_files(table)] == \
            [f"date={d}" for d in DAYS], table

    # a reader elsewhere resolves LATEST and gets the warehouse host C published, equal to the truth
    reader = Remote(store, DataDir(tmp_path / "reader"))
    got = tmp_path / "reader" / "warehouse.duckdb"
    pointer = reader.pull_generation("warehouse", {"warehouse.duckdb": got})
    assert pointer is not None and got.read_bytes() == c.warehouse.read_bytes()
    con = duckdb.connect(str(got), read_only=True)
    try:
        from tests.warehouse.test_marts_vs_truth import (
            test_daily_overview_counts_match_truth,
            test_lesson_attendance_rate_matches_truth,
            test_teacher_late_starts_match_truth,
        )

        test_daily_overview_counts_match_truth(con, small_truth)
        test_lesson_attendance_rate_matches_truth(con, small_truth)
        test_teacher_late_starts_match_truth(con, small_truth)
    finally:
        con.close()
    feeds, _ = reader.latest("feeds")
    manifest = json.loads(store.get(f"feeds/generations/{feeds['generation']}/manifest.json")[0])
    # the generation holds every file its manifest names, byte for byte
    named = {f["path"]: f["sha256"] for feed in manifest["feeds"].values() for f in feed["files"].values()}
    assert named and {p: feeds["files"][p]["sha256"] for p in named} == named
    report, _ = reader.latest("report")
    html = store.get(f"report/generations/{report['generation']}/index.html")[0]
    assert html == c.report.read_bytes() and len(html) > 10_000

    # host A re-extracts a day after host B committed: it starts from host B's commit (nothing asked again
    # for lessons settled there) and its warehouse build is incremental on host C's generation
    before = {o.key for o in store.list(COMMITS)}
    res = materialize(daily, partition_key=DAYS[1], resources=resources("host-a"), raise_on_error=True)
    assert len({o.key for o in store.list(COMMITS)} - before) == 1
    res = materialize(publish[:3], resources=resources("host-a"), raise_on_error=True)
    etl = next(m for m in res.get_asset_materialization_events()
               if m.asset_key.path[-1] == "etl_build").materialization.metadata
    assert etl["build_mode"].value == "incremental", etl["build_reason"].value
