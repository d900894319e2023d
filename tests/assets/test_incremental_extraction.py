"""The nightly look-back re-extracts incrementally: the lake it leaves equals a full re-extraction's, and
the sandbox's ground truth, when the platform's data changed in between (late attendance, a late award,
lessons moving from 1 in class to 2 finished), with far fewer calls.

The sandbox plays a platform whose data settles: with ``late_hours`` 12, 30 % of lessons get one
student's attendance and one star award up to 12 h after they end.  The first extraction runs at
2026-03-11 19:30 (that day in class, 03-10 partly settled, 03-09 settled), the second at 03-12 12:00.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import materialize

from assets.resources import DataDirResource
from pipeline.core import schemas
from pipeline.definitions import daily_assets
from tests.conftest import SANDBOX_DAYS, SANDBOX_LESSONS_PER_DAY, SANDBOX_SEED, TZ, api_resource

FIRST = datetime(2026, 3, 11, 19, 30, tzinfo=TZ)
SECOND = datetime(2026, 3, 12, 12, 0, tzinfo=TZ)
LATE_HOURS = 12.0
TABLES = tuple(schemas.DAILY_TABLES)


def extract(config, data_dir: Path, full_refresh: bool = False) -> dict[str, dict[str, dict[str, int]]]:
    """Materialize the raw and lake assets of every day against a sandbox of ``config``; day -> raw asset ->
    API calls by endpoint."""
    from assets.raw.assets import full_refresh_config
    from pipeline.sandbox.runner import start_sandbox

    calls: dict[str, dict[str, dict[str, int]]] = {}
    run_config = full_refresh_config(daily_assets()) if full_refresh else None
    with start_sandbox(config) as sb:
        for day in SANDBOX_DAYS:
            res = materialize(daily_assets(), partition_key=day, raise_on_error=True, run_config=run_config,
                              resources={"api": api_resource(sb), "data_dir": DataDirResource(path=str(data_dir))})
            calls[day] = {ev.materialization.asset_key.path[-1]: ev.materialization.metadata["api_calls_by_endpoint"].value
                          for ev in res.get_asset_materialization_events()
                          if "api_calls_by_endpoint" in ev.materialization.metadata}
    return calls


def lake(data_dir: Path, table: str, day: str) -> pa.Table:
    return pq.read_table(data_dir / "lake" / table / f"date={day}" / "part-0.parquet")


def total(calls: dict, day: str | None = None, group: str | None = None, path: str | None = None) -> int:
    return sum(n for d, groups in calls.items() if day in (None, d)
               for g, by_path in groups.items() if group in (None, g)
               for p, n in by_path.items() if path in (None, p))


@pytest.fixture(scope="module")
def runs(sandbox_config, tmp_path_factory):
    first_cfg = replace(sandbox_config, now=FIRST, late_hours=LATE_HOURS)
    second_cfg = replace(sandbox_config, now=SECOND, late_hours=LATE_HOURS)
    before, incremental, full = (tmp_path_factory.mktemp(n) for n in ("before", "incremental", "full"))
    shutil.rmtree(incremental), shutil.rmtree(full)
    extract(first_cfg, before)
    shutil.copytree(before, incremental)
    shutil.copytree(before, full)
    inc_calls = extract(second_cfg, incremental)
    full_calls = extract(second_cfg, full, full_refresh=True)
    return before, incremental, full, inc_calls, full_calls


@pytest.fixture(scope="module")
def truth_after(tmp_path_factory):
    """The sandbox's ground truth at the second extraction, computed from the school model alone."""
    from datetime import date

    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_truth

    out = tmp_path_factory.mktemp("truth_after")
    school = School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SECOND, late_hours=LATE_HOURS)
    write_truth(school, date.fromisoformat(SANDBOX_DAYS[0]), date.fromisoformat(SANDBOX_DAYS[-1]), out)
    return out


def test_the_platform_changed_between_the_runs(runs):
    """Not a vacuous equality: the second run saw lessons finish, late attendance and late awards."""
    before, incremental, *_ = runs
    day = SANDBOX_DAYS[-1]
    old = {r["lesson_id"]: r["status"] for r in lake(before, "lessons", day).to_pylist()}
    new = {r["lesson_id"]: r["status"] for r in lake(incremental, "lessons", day).to_pylist()}
    assert any(old[lid] == 1 and new[lid] == 2 for lid in old), "no lesson went from in class to finished"
    finished = {d: {r["lesson_id"] for r in lake(before, "lessons", d).to_pylist() if r["status"] == 2}
                for d in SANDBOX_DAYS}

    def present(data_dir, d):
        return {(r["lesson_id"], r["user_id"]) for r in lake(data_dir, "attendance", d).to_pylist()
                if r["listen_minutes"] > 0}

    def stars(data_dir, d):
        return {(r["lesson_id"], r["user_id"]): r["award_num"] for r in lake(data_dir, "awards", d).to_pylist()}

    late_attendance = [k for d in SANDBOX_DAYS for k in present(incremental, d) - present(before, d)
                       if k[0] in finished[d]]
    late_awards = [k for d in SANDBOX_DAYS for k, n in stars(incremental, d).items()
                   if k[0] in finished[d] and n > stars(before, d).get(k, 0)]
    assert late_attendance, "no finished lesson's attendance changed"
    assert late_awards, "no finished lesson's awards changed"


@pytest.mark.parametrize("table", TABLES)
def test_incremental_lake_is_identical_to_a_full_re_extraction(runs, table):
    _, incremental, full, *_ = runs
    for day in SANDBOX_DAYS:
        a, b = lake(incremental, table, day), lake(full, table, day)
        assert a.equals(b), f"lake/{table} {day} differs"
        path = Path("lake") / table / f"date={day}" / "part-0.parquet"
        assert (incremental / path).read_bytes() == (full / path).read_bytes(), f"{path}: not the same bytes"


@pytest.mark.parametrize("table", TABLES)
def test_incremental_lake_equals_the_ground_truth(runs, truth_after, table):
    _, incremental, *_ = runs
    got = pa.concat_tables([lake(incremental, table, d) for d in SANDBOX_DAYS])
    expected = pq.read_table(truth_after / f"{table}.parquet").select(got.schema.names)
    keys = schemas.PRIMARY_KEYS[table]

    def rows(t):
        return sorted(t.to_pylist(), key=lambda r: tuple(r[k] for k in keys))

    assert got.num_rows == expected.num_rows
    assert rows(got) == rows(expected)


def test_incremental_asks_far_less(runs):
    *_, inc, full = runs
    settled_day = SANDBOX_DAYS[0]
    assert total(inc, settled_day) == 0, inc[settled_day]  # final for over a day when first fetched: no call
    assert total(full, settled_day) > 0
    assert total(inc) < total(full) * 0.6, (total(inc), total(full))
    # API 28 only where API 27's count changed
    api28 = "/lessonData/user/query"
    assert total(inc, path=api28) < total(full, path=api28) / 2, (total(inc, path=api28), total(full, path=api28))
