"""The report with the sandbox school's roster: the at-risk list shows the roster's names (in Chromium)."""

from __future__ import annotations

import shutil

import pytest

from assets.publish.report import build_report
from tests.assets.test_extraction import extracted  # noqa: F401  (fixture)
from tests.assets.test_report import Browser, data_of, sql
from tests.conftest import SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED, api_resource

pytestmark = pytest.mark.xdist_group("sandbox")


@pytest.fixture(scope="module")
def named_warehouse(extracted, sandbox, tmp_path_factory):  # noqa: F811
    from assets.lake.roster import refresh_roster
    from pipeline.core.layout import DataDir
    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_roster
    from warehouse.build import build_warehouse

    data_dir, _ = extracted
    root = tmp_path_factory.mktemp("report-named")
    shutil.copytree(data_dir / "lake", root / "lake")
    dirs = DataDir(root)
    school = School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)
    export = write_roster(school, dirs.roster_dir, "csv")
    refresh_roster(api_resource(sandbox).get_client(), dirs, dirs.roster_dir, echo=lambda _: None)
    build_warehouse(dirs.lake_dir(), dirs.warehouse)
    return dirs.warehouse, export


@pytest.mark.browser
def test_at_risk_students_show_their_roster_names(named_warehouse, tmp_path):
    wh, export = named_warehouse
    out = tmp_path / "index.html"
    build_report(wh, out)
    page = out.read_text(encoding="utf-8")
    d = data_of(page)
    assert d["roster"]["present"] and "No roster yet" not in page
    mart = sql(wh, "SELECT user_id, student_name FROM mart_students_at_risk WHERE at_risk "
                   "ORDER BY current_absence_streak DESC, rate_change NULLS LAST, user_id")
    assert mart, "the sandbox school has students at risk"
    assert [(r["user_id"], r["student_name"]) for r in d["at_risk"]] == mart[:len(d["at_risk"])]
    names = export.names_by_user()
    named = [n for u, n in mart if u in names]
    assert named and all(not n.startswith("学员 ") for n in named)

    b = Browser(tmp_path)
    try:
        p = b.open(out.as_uri(), 1280)
        shown = p.locator("#risk-table tbody td:first-child").all_inner_texts()
        assert [s.strip() for s in shown] == [n for _, n in mart[:len(shown)]]
        # drill-down: a student's lessons
        p.click("#risk-table tbody a.drill-link >> nth=0")
        assert p.is_visible("#student-panel") and p.locator("#student-table tbody tr").count() >= 1
        assert mart[0][1] in p.inner_text("#student-panel h4")
    finally:
        b.close()
    assert [x for x in b.problems if "willReadFrequently" not in x] == []
