"""Every warehouse table an asset, with Dagster's standard metadata, and every check of the warehouse,
feeds and report layers broken on purpose: a broken check fails and the published file stays."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from assets.resources import DataDirResource
from tests.warehouse.lakegen import write_lake

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DAYS = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05"]


@pytest.fixture(scope="module")
def lake_template(tmp_path_factory) -> Path:
    from pipeline.core.schemas import DAILY_TABLES

    root = tmp_path_factory.mktemp("lake")
    write_lake(root / "lake", days=len(DAYS), lessons_per_day=8, students_per_lesson=20, seed=3)
    for table, schema in DAILY_TABLES.items():  # the lake asset writes a (maybe empty) file every day
        for day in DAYS:
            path = root / "lake" / table / f"date={day}" / "part-0.parquet"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(schema.empty_table(), path)
    return root / "lake"


@pytest.fixture
def root(lake_template, tmp_path) -> Path:
    shutil.copytree(lake_template, tmp_path / "data" / "lake")
    return tmp_path / "data"


@pytest.fixture(scope="module")
def built_template(lake_template, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("built") / "data"
    shutil.copytree(lake_template, root / "lake")
    assert build(root).success
    return root


@pytest.fixture
def published(built_template, tmp_path) -> Path:
    """A data directory with a lake and the warehouse built from it."""
    shutil.copytree(built_template, tmp_path / "data", symlinks=True)
    return tmp_path / "data"


def build(root: Path, *assets, **kwargs):
    from assets.warehouse.assets import warehouse_assets

    return materialize(list(assets) or [warehouse_assets], resources={"data_dir": DataDirResource(path=str(root))},
                       raise_on_error=False, run_config=QUIET, **kwargs)


def checks_of(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def fingerprint(path: Path) -> tuple:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, path.read_bytes()


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".warehouse.duckdb", "..warehouse.duckdb")))


# --------------------------------------------------------------------------- the assets


def test_every_table_is_materialized_with_row_count_and_column_schema(root):
    from warehouse.build import ETL_TABLE, model_specs

    res = build(root)
    assert res.success
    mats = {e.materialization.asset_key.path[-1]: e.materialization for e in res.get_asset_materialization_events()}
    assert set(mats) == {s.table for s in model_specs()} | {ETL_TABLE}
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        for table, mat in mats.items():
            n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            assert mat.metadata["dagster/row_count"].value == n, table
            cols = con.execute("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? "
                               "ORDER BY column_index", [table]).fetchall()
            schema = mat.metadata["dagster/column_schema"].schema
            assert [(c.name, c.type, c.description) for c in schema.columns] == cols, table
            assert all(c.description for c in schema.columns), table  # every column's COMMENT
            assert "rows" not in mat.metadata
    finally:
        con.close()
    results = checks_of(res)
    assert all(e.passed for (key, name), e in results.items()), [
        k for k, e in results.items() if not e.passed]
    assert {k for k in results if k[1] == "key_unique"} == {(f"warehouse/{s.table}", "key_unique")
                                                            for s in model_specs()}
    assert results[("warehouse/etl_build", "lake_days_complete")].metadata["days"].value == len(DAYS)
    assert leftovers(root) == []


def test_a_day_missing_one_lake_table_fails_completeness_and_the_published_warehouse_stays(published):
    root = published
    before = fingerprint(root / "warehouse.duckdb")
    (root / "lake" / "key_events" / f"date={DAYS[2]}" / "part-0.parquet").unlink()  # extraction stopped part-way
    res = build(root)
    assert not res.success
    check = checks_of(res)[("warehouse/etl_build", "lake_days_complete")]
    assert not check.passed and check.metadata["missing"].value == {DAYS[2]: ["key_events"]}
    assert res.get_asset_materialization_events() == []
    assert fingerprint(root / "warehouse.duckdb") == before
    assert leftovers(root) == []


def test_a_day_far_below_its_neighbours_warns_and_still_publishes(root):
    path = root / "lake" / "attendance" / f"date={DAYS[2]}" / "part-0.parquet"
    pq.write_table(pq.read_table(path).slice(0, 3), path)  # 3 rows where the neighbours have ~160
    res = build(root)
    assert res.success
    band = checks_of(res)[("warehouse/etl_build", "lake_day_rows_in_band")]
    assert not band.passed and band.severity.value == "WARN"
    assert band.metadata["outliers"].value["attendance"][DAYS[2]]["rows"] == 3


def test_a_duplicate_key_fails_key_unique_and_the_published_warehouse_stays(published, monkeypatch):
    import warehouse.build as wb

    root = published
    before = fingerprint(root / "warehouse.duckdb")
    real = wb.model_specs
    # a model that declares a key its SQL does not keep: one row per lesson, "keyed" by day
    monkeypatch.setattr(wb, "model_specs", lambda: [
        dataclasses.replace(s, key=("lesson_date",)) if s.table == "mart_lesson_attendance" else s for s in real()])
    res = build(root)
    assert not res.success
    check = checks_of(res)[("warehouse/mart_lesson_attendance", "key_unique")]
    assert not check.passed and "lesson_date" in check.metadata["error"].value
    assert fingerprint(root / "warehouse.duckdb") == before
    assert leftovers(root) == []


def test_marts_that_do_not_add_up_are_not_published(published, monkeypatch):
    import assets.warehouse.assets as wa

    root = published
    before = fingerprint(root / "warehouse.duckdb")
    real = wa.build_warehouse

    def off_by_one(lake_dir, out_path, **kw):
        result = real(lake_dir, out_path, **kw)
        con = duckdb.connect(str(out_path))
        con.execute("UPDATE mart_lesson_attendance SET attended = attended + 1 "
                    "WHERE lesson_id = (SELECT min(lesson_id) FROM mart_lesson_attendance WHERE status = 2)")
        con.close()
        return result

    monkeypatch.setattr(wa, "build_warehouse", off_by_one)
    res = build(root)
    assert not res.success
    check = checks_of(res)[("warehouse/mart_daily_overview", "attended_adds_up")]
    assert not check.passed and check.severity.value == "ERROR" and check.metadata["difference"].value == -1
    assert fingerprint(root / "warehouse.duckdb") == before
    assert leftovers(root) == []


def test_reconcile_attended_on_its_own(tmp_path):
    from assets.warehouse.checks import reconcile_attended

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE day AS SELECT * FROM (VALUES (DATE '2024-03-01', 5), (DATE '2024-03-02', 7)) t(d, attended)")
    con.execute("CREATE TABLE lesson AS SELECT * FROM (VALUES (1, 2), (2, 3), (3, 7)) t(lesson_id, attended)")
    assert reconcile_attended(con, "day", "lesson") == (True, {"day.attended": 12, "lesson.attended": 12,
                                                              "difference": 0})
    con.execute("UPDATE lesson SET attended = 4 WHERE lesson_id = 1")
    ok, figures = reconcile_attended(con, "day", "lesson")
    assert ok is False and figures["difference"] == -2
    assert reconcile_attended(con, "day", "lesson", column="late")[0] is None  # nothing to compare
    con.close()


def test_a_killed_builders_candidates_are_removed_by_the_next_build(root):
    dead = 2 ** 22 + 12345  # above pid_max on every default Linux
    for name in (f".warehouse.duckdb.{dead}.ab.candidate", f"..warehouse.duckdb.{dead}.ab.candidate.{dead}.cd.building",
                 f"..warehouse.duckdb.{dead}.ab.candidate.{dead}.cd.building.wal"):
        (root / name).write_bytes(b"x")
    assert build(root).success
    assert leftovers(root) == []


def test_the_published_warehouse_has_a_freshness_policy_that_fails_when_it_is_late(root):  # builds itself
    from dagster._core.definitions.freshness import FreshnessState
    from dagster._core.definitions.freshness_evaluator import TimeWindowFreshnessPolicyEvaluator
    from dagster._core.loader import LoadingContextForTest
    from dagster._core.test_utils import freeze_time

    from pipeline.core.settings import Settings
    from pipeline.definitions import build_defs

    defs = build_defs(Settings(data_dir=root))
    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey(["warehouse", "mart_daily_overview"]))
    assert node.freshness_policy is not None
    instance = DagsterInstance.ephemeral()
    evaluate = lambda: asyncio.run(TimeWindowFreshnessPolicyEvaluator().evaluate_freshness(  # noqa: E731
        LoadingContextForTest(instance), node))
    assert evaluate() == FreshnessState.UNKNOWN  # never built
    assert build(root, instance=instance).success
    assert evaluate() == FreshnessState.PASS
    now = datetime.now().astimezone()
    with freeze_time(now + timedelta(hours=30)):
        assert evaluate() == FreshnessState.WARN  # the nightly rebuild is a day late
    with freeze_time(now + timedelta(hours=60)):
        assert evaluate() == FreshnessState.FAIL  # two nights missed


# --------------------------------------------------------------------------- feeds and report


def test_feeds_match_the_marts_they_come_from(published, monkeypatch):
    import assets.publish.assets as pa

    res = build(published, pa.feeds_files)
    assert res.success
    check = checks_of(res)[("feeds/files", "feeds_match_marts")]
    assert check.passed and check.metadata["files"].value >= 2
    real = pa.write_feeds

    def one_row_short(warehouse, data_root, **kw):
        result = real(warehouse, data_root, **kw)
        csv = Path(os.path.realpath(Path(data_root) / "feeds")) / "mart_lesson_attendance.csv"
        lines = csv.read_bytes().splitlines(keepends=True)
        csv.write_bytes(b"".join(lines[:-1]))
        return result

    monkeypatch.setattr(pa, "write_feeds", one_row_short)
    res = build(published, pa.feeds_files)
    check = checks_of(res)[("feeds/files", "feeds_match_marts")]
    assert not check.passed
    wrong = check.metadata["mismatched"].value["mart_lesson_attendance.csv"]
    assert wrong["csv_rows"] == wrong["table_rows"] - 1


def test_a_feed_without_a_source_table_fails(published):
    from assets.publish.assets import feeds_match_marts
    from assets.publish.feeds import write_feeds

    write_feeds(published / "warehouse.duckdb", published)
    assert feeds_match_marts(published / "feeds", published / "warehouse.duckdb")[0]
    stray = Path(os.path.realpath(published / "feeds")) / "mart_gone.csv"
    stray.write_text("a\n1\n")
    ok, meta = feeds_match_marts(published / "feeds", published / "warehouse.duckdb")
    assert not ok and "no table mart_gone" in meta["mismatched"]["mart_gone.csv"]["why"]


def test_the_report_is_rendered_with_the_data_window(published, monkeypatch):
    import assets.publish.assets as pa

    res = build(published, pa.report_html)
    check = checks_of(res)[("report/html", "report_rendered")]
    assert check.passed and check.metadata["window_end"].value == DAYS[-1]
    real = pa.build_report

    def blank(warehouse, out_path, **kw):
        result = real(warehouse, out_path, **kw)
        Path(out_path).write_text("")
        return result

    monkeypatch.setattr(pa, "build_report", blank)
    check = checks_of(build(published, pa.report_html))[("report/html", "report_rendered")]
    assert not check.passed and "empty" in check.metadata["why"].value


def test_report_rendered_on_its_own(published):
    from assets.publish.assets import report_rendered
    from assets.publish.report import build_report

    r = build_report(published / "warehouse.duckdb", published / "report" / "index.html")
    wh = published / "warehouse.duckdb"
    assert report_rendered(r.path, r.window, wh)[0]
    ok, meta = report_rendered(r.path, (r.window[0], DAYS[-2]), wh)  # a window that stops short
    assert not ok and "newest day is" in meta["why"]
    page = r.path.read_text(encoding="utf-8")
    r.path.write_text(page.replace(DAYS[-1], "????-??-??"), encoding="utf-8")
    ok, meta = report_rendered(r.path, r.window, wh)
    assert not ok and "does not show" in meta["why"]
    assert not report_rendered(published / "nope.html", r.window, wh)[0]


def test_a_day_without_lessons_is_a_day_off_not_an_outlier(root):
    from assets.warehouse.checks import lake_completeness
    from pipeline.core.layout import DataDir
    from pipeline.core.schemas import DAILY_TABLES

    for table, schema in DAILY_TABLES.items():  # a holiday: every table written, all empty
        pq.write_table(schema.empty_table(), root / "lake" / table / f"date={DAYS[2]}" / "part-0.parquet")
    lake = lake_completeness(DataDir(root))
    assert lake.complete and lake.days_off == [DAYS[2]] and not lake.outliers
