"""The HTML report: one self-contained interactive file; checked in headless Chromium against the marts."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from assets.publish import report as R
from assets.publish.report import build_report
from tests.warehouse.lakegen import write_lake
from warehouse.build import build_warehouse

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHART_IDS = [cid for cid, _, _ in R.CHARTS]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


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


def data_of(page: str) -> dict:
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def sql(warehouse, query: str, params: list | None = None):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def test_report_is_one_self_contained_file(report):
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # nothing to fetch: no external script/style/font/image references; the one font is a data: URL
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.I)
    assert re.findall(r"url\(([a-z]+):", page) == ["data"]
    assert page.count("@font-face") == 1 and "font-family:LiveclassSC" in page
    assert "default-src 'none'" in page  # CSP: the browser itself refuses any request
    assert "sourceMappingURL" not in page
    assert "Chart.js v4" in page  # the inlined library
    assert os.stat(report).st_mode & 0o044  # readable by a web server / other users


def test_report_embeds_the_lessons_and_the_marts_lists(report, warehouse):
    page = report.read_text(encoding="utf-8")
    for label in ("出勤率 Attendance rate", "教师准时率 Teacher punctuality", "风险学员 Students at risk",
                  "出勤下降的班级 Classes with falling attendance", "经常迟到的教师 Teachers often late",
                  "还没有名单 No roster yet", "LIVECLASS_ROSTER_DIR", "周 Week", "月 Month", "学期 Term"):
        assert label in page, label
    d = data_of(page)
    assert d["window"] == {"start": "2024-03-01", "end": "2024-04-04", "days": 35}  # all 35 days < DEFAULT_DAYS
    n, en, at = sql(warehouse, "SELECT count(*), sum(enrolled) FILTER (WHERE status = 2), "
                               "sum(attended) FILTER (WHERE status = 2) FROM mart_lesson_attendance")[0]
    les = d["lessons"]
    assert len(les["id"]) == n == 35 * 12
    assert sum(e for e, s in zip(les["en"], les["s"]) if s == 2) == en
    assert sum(a for a, s in zip(les["at"], les["s"]) if s == 2) == at
    late = sql(warehouse, "SELECT teacher_id, late_starts_14d FROM mart_teacher_punctuality WHERE late_starts_14d > 0 "
                          "ORDER BY late_starts_14d DESC, punctuality_rate_14d, teacher_id")
    assert [(t["teacher_id"], t["late_starts_14d"]) for t in d["late_teachers"]] == late
    assert len(d["at_risk"]) == sql(warehouse, "SELECT count(*) FROM mart_students_at_risk WHERE at_risk")[0][0]
    assert d["roster"]["present"] is False
    # the size the benchmark states (a term of 300 lessons/day < 2 MiB) rests on ~40 bytes a lesson
    lessons_json = len(json.dumps(les, ensure_ascii=False, separators=(",", ":")).encode())
    assert lessons_json / n < 45


def test_period_and_class_reports_and_an_empty_warehouse(warehouse, tmp_path):
    out = tmp_path / "one.html"
    r = build_report(warehouse, out, period="2024-04", class_="班级1")
    d = data_of(out.read_text(encoding="utf-8"))
    assert r.window == ("2024-03-01", "2024-04-04")  # the month and the one before (for the comparison)
    assert d["initial"] == {"period": {"kind": "month", "key": "2024-04", "from": "2024-04-01", "to": "2024-04-30"},
                            "class": 5000001}
    assert {c[0] for c in d["classes"]} == {5000001}
    assert R.parse_period("2024-W13")[2:] == (R.dt.date(2024, 3, 25), R.dt.date(2024, 3, 31))
    assert R.parse_period("2026秋")[2:] == (R.dt.date(2026, 9, 1), R.dt.date(2026, 12, 31))
    with pytest.raises(ValueError):
        R.parse_period("March")
    with pytest.raises(ValueError, match="no class"):
        build_report(warehouse, out, class_="nope")
    r = build_report(warehouse, out, days=7, font=False)
    assert r.window == ("2024-03-29", "2024-04-04") and r.font_bytes == 0

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
    res = CliRunner().invoke(main, ["report", "--period", "2024-03-25..2024-03-31", "--class", "5000002",
                                    "--out", str(root / "one" / "class.html")])
    assert res.exit_code == 0, res.output
    assert "2024-03-18 .. 2024-03-31" in res.output and (root / "one" / "class.html").is_file()
    res = CliRunner().invoke(main, ["report", "--period", "2024-13"])
    assert res.exit_code != 0 and "2026-W48" in res.output
    result = materialize([report_html], resources={"data_dir": DataDirResource(path=str(root))})
    assert result.success
    md = result.asset_materializations_for_node("report__html")[0].metadata
    assert md["charts"].value == len(CHART_IDS) and md["bytes"].value == (root / "report" / "index.html").stat().st_size


# --------------------------------------------------------------------------- browser


def chromium() -> str:
    for c in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and os.access(c, os.X_OK):
            return c
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    pytest.skip("no chromium (apt-get install chromium)")


class Browser:
    """One offline Chromium (fresh profile); pages record console errors and every request."""

    def __init__(self, tmp_path: Path, env: dict | None = None):
        sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
        exe = chromium()
        self._pw = sync_playwright().start()
        self.context = self._pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=exe, headless=True, offline=True,
            viewport={"width": 1280, "height": 900}, args=BROWSER_ARGS, env=env)
        self.requests: list[str] = []
        self.problems: list[str] = []

    def open(self, url: str, width: int = 1280):
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.problems.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.goto(url, wait_until="load")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=30_000)
        return page

    def close(self):
        self.context.close()
        self._pw.stop()


def charts_drawn(page) -> list:
    return page.evaluate("""ids => ids.map(id => {
        const c = document.getElementById(id);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
        return [id, c.dataset.rendered, c.getBoundingClientRect().width, c.height, n / (c.width * c.height)];
    })""", CHART_IDS)


def assert_charts(page, max_width: float):
    for cid, state, w, h, share in charts_drawn(page):
        assert state == "chart", cid
        assert 100 < w <= max_width and h > 100, (cid, w, h)
        assert share > 0.01, f"{cid}: only {share:.1%} drawn pixels"


def kpi(page, name: str) -> float | None:
    v = page.get_attribute(f'[data-kpi="{name}"]', "data-value")
    return float(v) if v else None


def shown(page, name: str) -> str:
    return page.inner_text(f'[data-kpi="{name}"] .kpi-value')


def pick(page, kind: str, key: str | None = None, **filters):
    page.click(f'.periods button[data-kind="{kind}"]')
    if key is not None:
        page.select_option("#period-select", key)
    for sel, label in filters.items():
        page.select_option(f"#f-{sel}", label=label) if label else page.select_option(f"#f-{sel}", "")


@pytest.mark.browser
def test_report_in_chromium_matches_the_marts(report, warehouse, tmp_path):
    url = report.as_uri()
    b = Browser(tmp_path)
    try:
        page = b.open(url, 1280)
        assert page.evaluate("document.body.dataset.charts") == str(len(CHART_IDS))
        # default: the last month, everything
        assert json.loads(page.evaluate("document.body.dataset.state"))["key"] == "2024-04"
        assert_charts(page, 1280)

        # a class and a month: the rate shown is mart_class_attendance_month's
        for month, cls in (("2024-03", "班级1"), ("2024-04", "班级3"), ("2024-03", "班级0")):
            pick(page, "month", month, **{"class": cls, "teacher": None})
            (rate, held), = sql(warehouse, "SELECT attendance_rate, lessons_held FROM mart_class_attendance_month "
                                           "WHERE class_name = ? AND month_label = ?", [cls, month])
            assert kpi(page, "attendance") == pytest.approx(rate, abs=1e-12)
            assert shown(page, "attendance") == f"{100 * rate:.1f}%"
            assert kpi(page, "held") == held
            n = sql(warehouse, "SELECT count(*) FROM mart_lesson_attendance WHERE class_name = ? "
                               "AND strftime(month_start, '%Y-%m') = ?", [cls, month])[0][0]
            assert page.get_attribute("#lesson-table", "data-rows") == str(n)
            assert_charts(page, 1280)

        # a teacher and a week: punctuality is mart_teacher_punctuality_week's; the previous week too
        (tid, tname), = sql(warehouse, "SELECT teacher_id, teacher_name FROM dim_teacher ORDER BY teacher_id LIMIT 1")
        pick(page, "week", "2024-03-25", **{"class": None, "teacher": tname})
        weeks = dict(sql(warehouse, "SELECT week_start::VARCHAR, punctuality_rate FROM mart_teacher_punctuality_week "
                                    "WHERE teacher_id = ?", [tid]))
        assert kpi(page, "punctuality") == pytest.approx(weeks["2024-03-25"], abs=1e-12)
        assert f"上期 previous: {100 * weeks['2024-03-18']:.1f}%" in page.inner_text('[data-kpi="punctuality"]')

        # the term, and a custom range, for the whole school: mart_school_month / daily overview
        pick(page, "term", "2024春", teacher=None)
        (en, at), = sql(warehouse, "SELECT sum(enrolled), sum(attended) FROM mart_lesson_attendance WHERE status = 2")
        assert kpi(page, "attendance") == pytest.approx(at / en, abs=1e-12)
        assert_charts(page, 1280)
        labels = page.evaluate("Chart.getChart('chart-trend').data.labels")
        assert [x[:8] for x in labels] == ["2024-W09", "2024-W10", "2024-W11", "2024-W12", "2024-W13", "2024-W14"]
        page.click('.periods button[data-kind="custom"]')
        page.fill("#from", "2024-03-04")
        page.fill("#to", "2024-03-10")
        page.dispatch_event("#to", "change")
        (en, at), = sql(warehouse, "SELECT sum(enrolled), sum(attended) FROM mart_lesson_attendance "
                                   "WHERE status = 2 AND lesson_date BETWEEN '2024-03-04' AND '2024-03-10'")
        assert kpi(page, "attendance") == pytest.approx(at / en, abs=1e-12)

        # drill-down: a class in the lesson table -> only its lessons; sorting
        pick(page, "month", "2024-03")
        page.click("#lesson-table tbody a.drill-link >> nth=0")
        cls = page.inner_text("#lesson-table tbody tr:first-child td:nth-child(4)")
        assert page.eval_on_selector("#f-class", "s => s.options[s.selectedIndex].text") == cls
        assert {t.strip() for t in page.locator("#lesson-table tbody td:nth-child(4)").all_inner_texts()} == {cls}
        page.click('#lesson-table th[data-key="rate"]')
        rates = [t for t in page.locator("#lesson-table tbody td:nth-child(9)").all_inner_texts() if t != "–"]
        assert [float(r[:-1]) for r in rates] == sorted(float(r[:-1]) for r in rates)
        page.click("#reset")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-1280.png"), full_page=True)

        # a teacher never on time (0 %) keeps a visible bar and its label
        text = report.read_text(encoding="utf-8")
        d = data_of(text)
        d["lessons"]["tl"] = [5 if tc == 0 and s == 2 else tl
                              for tc, s, tl in zip(d["lessons"]["tc"], d["lessons"]["s"], d["lessons"]["tl"])]
        zero = tmp_path / "zero.html"
        zero.write_text(re.sub(r'(<script id="report-data" type="application/json">)(.*?)(</script>)',
                               lambda m: m.group(1) + json.dumps(d, ensure_ascii=False) + m.group(3), text, count=1,
                               flags=re.S), encoding="utf-8")
        z = b.open(zero.as_uri(), 1280)
        bar = z.evaluate("""() => { const c = Chart.getChart('chart-teachers'), b = c.getDatasetMeta(0).data[0];
                                    return [c.data.labels[0], c.data.datasets[0].data[0], Math.abs(b.x - b.base)]; }""")
        assert bar[0].endswith("· 0.0%") and bar[1] == 0 and bar[2] >= 3
        z.close()

        # a phone: nothing wider than the screen, charts resized, still right
        phone = b.open(url, 390)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert_charts(phone, 390)
        pick(phone, "month", "2024-03", **{"class": "班级1"})
        (rate,), = sql(warehouse, "SELECT attendance_rate FROM mart_class_attendance_month "
                                  "WHERE class_name = '班级1' AND month_label = '2024-03'")
        assert kpi(phone, "attendance") == pytest.approx(rate, abs=1e-12)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert_charts(phone, 390)
        phone.screenshot(path=str(ARTIFACTS / "report-390.png"), full_page=True)
        phone.emulate_media(media="print")
        assert phone.evaluate("getComputedStyle(document.getElementById('act')).breakBefore") == "page"
    finally:
        b.close()
    assert [p for p in b.problems if "willReadFrequently" not in p] == []  # that one: our getImageData
    assert set(b.requests) == {url, (tmp_path / "zero.html").as_uri()}, f"unexpected requests: {b.requests}"


FONTS_CONF = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>"""

GLYPHS = """([a, b]) => {
    const draw = ch => {
        const c = document.createElement('canvas'); c.width = 64; c.height = 64;
        const x = c.getContext('2d'); x.font = '48px ' + getComputedStyle(document.body).fontFamily;
        x.fillText(ch, 4, 52); return Array.from(x.getImageData(0, 0, 64, 64).data).join(',');
    };
    return [draw(a) === draw(b), draw(a).split(',').some(v => v !== '0')];
}"""


@pytest.mark.browser
def test_chinese_renders_without_any_cjk_font(report, tmp_path):
    if not Path("/usr/share/fonts/truetype/dejavu").is_dir():
        pytest.skip("no DejaVu fonts to build the CJK-less font configuration from")
    conf = tmp_path / "fonts.conf"
    conf.write_text(FONTS_CONF.format(cache=tmp_path / "fc-cache"), encoding="utf-8")
    b = Browser(tmp_path, env={**os.environ, "FONTCONFIG_FILE": str(conf)})
    try:
        page = b.open(report.as_uri(), 1280)
        # the configuration really hides every CJK font: two characters the page does not use are the same box
        assert page.evaluate(GLYPHS, ["龘", "齉"])[0] is True
        # the page's own characters are real, distinct glyphs from the embedded subset
        same, inked = page.evaluate(GLYPHS, ["出", "勤"])
        assert same is False and inked is True
        assert page.evaluate("document.fonts.check('16px LiveclassSC', '出勤率')")
        page.screenshot(path=str(ARTIFACTS / "report-no-cjk-font.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 500})
    finally:
        b.close()
    assert [p for p in b.problems if "willReadFrequently" not in p] == []  # that one: our getImageData
