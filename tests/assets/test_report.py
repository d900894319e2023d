"""The HTML report: self-contained, bilingual, capped; renders every chart in headless Chromium offline."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assets.publish import report as R
from assets.publish.report import build_report
from tests.warehouse.lakegen import write_lake
from warehouse.build import build_warehouse

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHART_IDS = [cid for cid, _, _ in R.CHARTS]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_lake(root / "lake", days=35, lessons_per_day=12, students_per_lesson=20, seed=7)
    build_warehouse(root / "lake", root / "warehouse.duckdb")
    return root / "warehouse.duckdb"


@pytest.fixture(scope="module")
def report(warehouse) -> Path:
    out = warehouse.parent / "report" / "index.html"
    build_report(warehouse, out)
    return out


def _data(page: str) -> dict:
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_report_is_one_self_contained_file(report):
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # nothing to fetch: no external script/style/font/image references
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"@import|@font-face|url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "default-src 'none'" in page  # CSP: the browser itself refuses any request
    assert "sourceMappingURL" not in page
    assert "Chart.js v4" in page  # the inlined library
    assert os.stat(report).st_mode & 0o044  # readable by a web server / other users


def test_report_labels_and_data(report, warehouse):
    page = report.read_text(encoding="utf-8")
    for label in ("出勤率 Attendance rate", "迟到率 Late rate", "教师准时率排名 Teacher punctuality ranking",
                  "听课时长占比分布 Distribution of listen share", "按班型的参与度 Engagement by class size",
                  "一对一", "小班", "大班", "课中举手与开麦 Hand-ups and mic use",
                  "缺勤最多的学员 Students with the most absences", "Lessons of the last day"):
        assert label in page, label
    d = _data(page)
    assert d["window"]["days"] == R.DEFAULT_DAYS and d["window"]["end"] == "2024-04-04"
    assert len(d["daily"]) == R.DEFAULT_DAYS
    assert sum(b["n"] for b in d["listen_share"]) > 0 and len(d["listen_share"]) == 20
    assert 0 < len(d["teachers"]) <= R.TEACHER_RANKING
    rates = [t["punctuality_rate"] for t in d["teachers"]]
    assert rates == sorted(rates)
    assert 0 < len(d["absences"]) <= R.TOP_ABSENT_STUDENTS
    assert [a["absent"] for a in d["absences"]] == sorted((a["absent"] for a in d["absences"]), reverse=True)
    assert any(m["handup"] > 0 for m in d["minutes"])
    assert [b["band"] for b in d["bands"]] == ["one_to_one", "small", "large"]
    assert d["bands"][2]["lessons"] > 0  # lakegen classes have 20 students: all large
    assert d["last_day"]["date"] == "2024-04-04" and len(d["last_day"]["rows"]) == 12
    assert page.count("<tr>") == 1 + 12


def test_report_caps_rows_and_handles_an_empty_warehouse(warehouse, tmp_path, monkeypatch):
    monkeypatch.setattr(R, "MAX_LAST_DAY_ROWS", 5)
    out = tmp_path / "capped.html"
    build_report(warehouse, out, days=7)
    page = out.read_text(encoding="utf-8")
    assert _data(page)["window"]["days"] == 7
    assert page.count("<tr>") == 1 + 5 and "showing the first 5 of 12 lessons" in page

    write_lake(tmp_path / "lake", days=1, lessons_per_day=1, omit=("lessons", "attendance", "teacher_inout"),
               events=False)
    build_warehouse(tmp_path / "lake", tmp_path / "empty.duckdb")
    r = build_report(tmp_path / "empty.duckdb", tmp_path / "empty.html")
    assert r.charts == 0 and "the warehouse has no lessons yet" in (tmp_path / "empty.html").read_text("utf-8")


def test_cli_and_asset_write_the_report(warehouse, monkeypatch):
    from dagster import materialize

    from assets.publish.assets import report_html
    from assets.resources import DataDirResource
    from pipeline.cli import main

    root = warehouse.parent
    monkeypatch.setenv("LIVECLASS_DATA_DIR", str(root))
    res = CliRunner().invoke(main, ["report", "--days", "10"])
    assert res.exit_code == 0, res.output
    assert str(root / "report" / "index.html") in res.output and "2024-03-26 .. 2024-04-04" in res.output
    result = materialize([report_html], resources={"data_dir": DataDirResource(path=str(root))})
    assert result.success
    md = result.asset_materializations_for_node("report__html")[0].metadata
    assert md["charts"].value == len(CHART_IDS) and md["bytes"].value == (root / "report" / "index.html").stat().st_size


# --------------------------------------------------------------------------- browser


def _chromium() -> str | None:
    for c in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and os.access(c, os.X_OK):
            return c
    return None


@pytest.mark.browser
def test_report_renders_every_chart_offline_in_chromium(report, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("no chromium (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    url = report.as_uri()
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        # a fresh profile directory (playwright passes it as --user-data-dir), no network
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=exe, headless=True, offline=True,
            viewport={"width": 1280, "height": 900},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"])
        try:
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.goto(url, wait_until="load")
            page.wait_for_function("document.body.dataset.charts !== undefined", timeout=15_000)
            assert page.evaluate("document.body.dataset.charts") == str(len(CHART_IDS))
            drawn = page.evaluate("""ids => ids.map(id => {
                const c = document.getElementById(id);
                const ctx = c.getContext('2d');
                const px = ctx.getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
                return [id, c.dataset.rendered, c.width, c.height, n];
            })""", CHART_IDS)
            for cid, state, w, h, n in drawn:
                assert state == "chart", cid
                assert w > 100 and h > 100, cid
                assert n > 0.02 * w * h, f"{cid}: only {n} drawn pixels"
            assert page.locator("#last-day tbody tr").count() == 12
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            context.close()
    assert problems == []
    assert requests == [url], f"unexpected requests: {requests}"
