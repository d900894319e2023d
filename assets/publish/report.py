"""One self-contained, interactive HTML report (``report/index.html``) built from the warehouse.

The page works offline and needs no server: the charting library, the page's script, its styles and a
font subset are inlined, and the data is an inline JSON block the page's script recomputes every card,
chart and table from when a filter (class, teacher, subject, grade, class term) or the period (week,
month, term, custom range) changes.

What is embedded, and why it stays small:

* one row per **lesson** of the window (``mart_lesson_attendance``), column-wise with classes and
  teachers dictionary-encoded (~40 bytes a lesson: a term of a 300-lesson/day school is 1.7 MiB with
  everything, under the stated 2 MiB; BENCHMARKS.md "Report").  Every period and filter total is a sum over these rows, so a class's month
  equals ``mart_class_attendance_month`` and a teacher's week ``mart_teacher_punctuality_week``;
* the "act on this" lists straight from the marts (``mart_students_at_risk WHERE at_risk``,
  ``mart_class_attendance_trend WHERE falling``, ``mart_teacher_punctuality`` by late starts in the
  last 14 days), capped, with the at-risk students' lessons of the window for the drill-down.

Charting library: Chart.js 4 (MIT), its minified UMD build vendored in ``assets/publish/vendor/chartjs/``.
Font: a per-report subset (only the characters the page uses) of the Noto Sans SC base subset vendored
in ``assets/publish/vendor/fonts/`` (OFL), so Chinese renders on machines without a CJK font; without
fontTools the page falls back to system fonts.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import os
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.core.calendar import TZ, term_of
from pipeline.core.files import atomic_path
from warehouse.build import connect_readonly

#: Days of lessons embedded, ending at the newest lesson_date: a term (4 months) and a bit, so the
#: page can compare a term's months and weeks with the ones before.
DEFAULT_DAYS = 140
#: Caps that keep the page small (the full lists are the marts, in feeds/).
MAX_AT_RISK = 300
MAX_STUDENT_LESSONS = 80
MAX_FALLING_CLASSES = 200
MAX_LATE_TEACHERS = 30
ROSTER_LINES = 30
STATUS_ZH = {0: "未开始", 1: "上课中", 2: "已结束", 3: "已过期"}
STATUS_EN = {0: "not started", 1: "in class", 2: "finished", 3: "expired"}
CHARTS = [
    ("chart-trend", "出勤率走势 Attendance rate over time",
     "已结束课节的实到 / 应到；超过 5 周的时段按周显示。Attended / enrolled in finished lessons, per day; "
     "per ISO week for periods longer than 5 weeks."),
    ("chart-lessons", "课节数 Lessons held and expired",
     "已结束（已上）与已过期（未上）课节数。Finished (held) and expired (not held) lessons."),
    ("chart-classes", "出勤率最低的班级 Classes with the lowest attendance",
     "所选时段内；标签中有出勤率与已上课节数。In the chosen period; each label shows the rate and lessons held."),
    ("chart-teachers", "教师准时率最低 Least punctual teachers",
     "准时 = 教师迟到 0 分钟；所选时段内至少 2 节有教师考勤的已结束课节。0 % 也有最短的条和标签。Punctual = "
     "teacher 0 minutes late; teachers with at least 2 finished lessons with teacher attendance in the "
     "period. A 0 % teacher still gets a minimal bar and its label."),
]
PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$|^(\d{4})-W(\d{2})$|^(\d{4})(寒|春|暑|秋)$|"
                       r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    window: tuple[str | None, str | None]
    charts: int
    font_bytes: int = 0


def _asset_text(*parts: str) -> str:
    return (resources.files("assets.publish").joinpath(*parts)).read_text(encoding="utf-8")


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _iso(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, float):
        return None if v != v else round(v, 6)
    return v


def _clean(rows: list[dict]) -> list[dict]:
    return [{k: _iso(v) for k, v in r.items()} for r in rows]


# --------------------------------------------------------------------------- periods


def parse_period(text: str) -> tuple[str, str, dt.date, dt.date]:
    """``2026-11`` (month), ``2026-W48`` (ISO week), ``2026秋`` (term) or ``2026-11-01..2026-11-30``
    -> (kind, key, first day, last day); ValueError otherwise."""
    hint = f"period {text!r}: use 2026-11, 2026-W48, 2026秋 or 2026-11-01..2026-11-30"
    m = PERIOD_RE.match(text.strip())
    if not m:
        raise ValueError(hint)
    try:
        return _period(m, text)
    except ValueError as exc:
        raise ValueError(f"{hint} ({exc})") from None


def _period(m: re.Match, text: str) -> tuple[str, str, dt.date, dt.date]:
    if m.group(1):
        first = dt.date(int(m.group(1)), int(m.group(2)), 1)
        nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return "month", first.isoformat()[:7], first, nxt - dt.timedelta(days=1)
    if m.group(3):
        first = dt.date.fromisocalendar(int(m.group(3)), int(m.group(4)), 1)
        return "week", first.isoformat(), first, first + dt.timedelta(days=6)
    if m.group(5):
        season_month = {"寒": 1, "春": 3, "暑": 7, "秋": 9}[m.group(6)]
        t = term_of(dt.date(int(m.group(5)), season_month, 1))
        return "term", t.name, t.start, t.end
    first, last = dt.date.fromisoformat(m.group(7)), dt.date.fromisoformat(m.group(8))
    if last < first:
        raise ValueError(f"period {text!r}: the range ends before it starts")
    return "custom", f"{first}..{last}", first, last


def _previous_start(kind: str, first: dt.date, last: dt.date) -> dt.date:
    if kind == "week":
        return first - dt.timedelta(days=7)
    if kind == "month":
        return (first - dt.timedelta(days=1)).replace(day=1)
    if kind == "term":
        return term_of(first - dt.timedelta(days=1)).start
    return first - (last - first) - dt.timedelta(days=1)


# --------------------------------------------------------------------------- data


def _resolve_class(con, value: str) -> int:
    rows = con.execute("SELECT class_id FROM dim_classroom WHERE CAST(class_id AS VARCHAR) = ? OR class_name = ? "
                       "ORDER BY class_id", [value, value]).fetchall()
    if not rows:
        raise ValueError(f"no class {value!r} in the warehouse (give its id or its exact name)")
    if len(rows) > 1:
        raise ValueError(f"class name {value!r} is ambiguous: ids {', '.join(str(r[0]) for r in rows)}")
    return int(rows[0][0])


def collect(con, *, days: int = DEFAULT_DAYS, period: str | None = None, class_: str | None = None) -> dict:
    """Everything the page needs: the window's lessons, column-wise, and the marts' lists."""
    first, end = con.execute("SELECT min(lesson_date), max(lesson_date) FROM mart_lesson_attendance").fetchall()[0]
    roster = _roster(con)
    if end is None:
        return {"window": {"start": None, "end": None, "days": 0}, "empty": True, "roster": roster}
    initial: dict = {}
    if period:
        kind, key, p_first, p_last = parse_period(period)
        start, end = max(first, _previous_start(kind, p_first, p_last)), min(end, p_last)
        if end < p_first or start > end:
            raise ValueError(f"the warehouse has no lessons in {period} (it has {first} .. {end})")
        initial["period"] = {"kind": kind, "key": key, "from": p_first.isoformat(), "to": p_last.isoformat()}
    else:
        start = max(first, end - dt.timedelta(days=days - 1))
    class_id = None
    if class_:
        class_id = _resolve_class(con, class_)
        initial["class"] = class_id
    w = [start, end]
    cls_sql = "" if class_id is None else f" AND class_id = {class_id}"
    n_days = (end - start).days + 1
    data: dict = {"window": {"start": start.isoformat(), "end": end.isoformat(), "days": n_days},
                  "empty": False, "roster": roster, "initial": initial}
    data["terms"] = [term_of(start + dt.timedelta(days=i)).name for i in range(n_days)]

    lessons = con.execute(f"""
        SELECT lesson_id, lesson_date, strftime(scheduled_start, '%H:%M') AS t, class_id, teacher_id,
               status, enrolled, attended, late, teacher_late_minutes
        FROM mart_lesson_attendance WHERE lesson_date BETWEEN ? AND ?{cls_sql}
        ORDER BY lesson_date, scheduled_start, lesson_id""", w).fetchall()
    class_ids = sorted({r[3] for r in lessons if r[3] is not None})
    teacher_ids = sorted({r[4] for r in lessons if r[4] is not None})
    classes = {r["class_id"]: r for r in _rows(con, """
        SELECT class_id, coalesce(class_name, '班级 ' || class_id) AS name, subject, grade, term
        FROM dim_classroom""")}
    teachers = {r["teacher_id"]: r for r in _rows(con, """
        SELECT teacher_id, coalesce(teacher_name, '教师 ' || teacher_id) AS name FROM dim_teacher""")}
    ci = {c: i for i, c in enumerate(class_ids)}
    ti = {t: i for i, t in enumerate(teacher_ids)}
    data["classes"] = [[c, classes.get(c, {}).get("name") or f"班级 {c}", classes.get(c, {}).get("subject"),
                        classes.get(c, {}).get("grade"), classes.get(c, {}).get("term")] for c in class_ids]
    data["teachers"] = [[t, teachers.get(t, {}).get("name") or f"教师 {t}"] for t in teacher_ids]
    cols = list(zip(*lessons)) if lessons else [()] * 10
    data["lessons"] = {
        "id": list(cols[0]),
        "d": [(d - start).days for d in cols[1]],
        "t": list(cols[2]),
        "c": [ci.get(c, -1) for c in cols[3]],
        "tc": [ti.get(t, -1) for t in cols[4]],
        "s": [int(s) for s in cols[5]],
        "en": [int(x or 0) for x in cols[6]],
        "at": [int(x or 0) for x in cols[7]],
        "la": [int(x or 0) for x in cols[8]],
        "tl": [None if x is None else int(x) for x in cols[9]],
    }
    lesson_index = {lid: i for i, lid in enumerate(data["lessons"]["id"])}

    # --- act on this: straight from the marts (as of the warehouse's last finished day)
    cls_where = "" if class_id is None else (
        f" AND user_id IN (SELECT user_id FROM fct_attendance AS a JOIN dim_lesson AS l USING (lesson_id) "
        f"WHERE l.class_id = {class_id})")
    risk = _clean(_rows(con, f"""
        SELECT user_id, student_name, as_of, current_absence_streak, longest_absence_streak, last_attended_date,
               attendance_rate, rate_last_4w, rate_prev_4w, rate_change, risk_reason
        FROM mart_students_at_risk WHERE at_risk{cls_where}
        ORDER BY current_absence_streak DESC, rate_change NULLS LAST, user_id LIMIT {MAX_AT_RISK}"""))
    data["as_of"] = risk[0]["as_of"] if risk else _iso(con.execute(
        "SELECT max(as_of) FROM mart_students_at_risk").fetchall()[0][0])
    ids = [r["user_id"] for r in risk]
    per_student: dict[int, list] = {u: [] for u in ids}
    if ids:
        for u, lid, att, late, cid, tid in con.execute("""
                SELECT a.user_id, a.lesson_id, a.attended, a.is_late, l.class_id, l.teacher_id
                FROM fct_attendance AS a JOIN dim_lesson AS l USING (lesson_id)
                WHERE a.lesson_status = 2 AND a.user_id IN (SELECT unnest(?::BIGINT[]))
                ORDER BY a.user_id, l.scheduled_start DESC, a.lesson_id DESC""", [ids]).fetchall():
            lst = per_student[u]
            if not lst:
                lst.append([cid, tid])  # the latest lesson's class and teacher, shown in the list
            if lid in lesson_index and len(lst) <= MAX_STUDENT_LESSONS:
                lst.append([lesson_index[lid], 1 if att else 0, 1 if late else 0])
    for r in risk:
        lst = per_student[r["user_id"]]
        (cid, tid), les = (lst[0] if lst else (None, None)), lst[1:]
        r["class"] = classes.get(cid, {}).get("name") if cid is not None else None
        r["teacher"] = teachers.get(tid, {}).get("name") if tid is not None else None
        r["lessons"] = les[::-1]
        del r["as_of"]
    data["at_risk"] = risk
    data["at_risk_total"] = con.execute(f"SELECT count(*) FROM mart_students_at_risk WHERE at_risk{cls_where}"
                                        ).fetchall()[0][0]
    data["falling"] = _clean(_rows(con, f"""
        SELECT class_id, class_name, subject, grade, term, lessons_last_4w, rate_last_4w, lessons_prev_4w,
               rate_prev_4w, rate_change, weekly_slope
        FROM mart_class_attendance_trend WHERE falling{cls_sql}
        ORDER BY rate_change, class_id LIMIT {MAX_FALLING_CLASSES}"""))
    t_where = "" if class_id is None else (
        f" AND teacher_id IN (SELECT teacher_id FROM dim_lesson WHERE class_id = {class_id})")
    data["late_teachers"] = _clean(_rows(con, f"""
        SELECT teacher_id, teacher_name, recent_start, period_end, lessons_held_14d, late_starts_14d,
               punctuality_rate_14d, lessons_held, late_starts, late_starts_5min, avg_late_minutes_when_late,
               punctuality_rate
        FROM mart_teacher_punctuality WHERE late_starts_14d > 0{t_where}
        ORDER BY late_starts_14d DESC, punctuality_rate_14d, teacher_id LIMIT {MAX_LATE_TEACHERS}"""))
    built = con.execute("SELECT max(built_at) FROM etl_build").fetchall()[0][0]
    data["warehouse_built_at"] = built.isoformat(timespec="seconds") if built else None
    return data


def _roster(con) -> dict:
    """How well the school's roster covers the students, and its problems (masked)."""
    named, unnamed, in_roster = con.execute(
        "SELECT count(*) FILTER (WHERE lessons_enrolled > 0 AND in_roster), "
        "count(*) FILTER (WHERE lessons_enrolled > 0 AND NOT in_roster), count(*) FILTER (WHERE in_roster) "
        "FROM dim_student").fetchall()[0]
    problems = [r[0] for r in con.execute("SELECT message FROM qa_roster_problems").fetchall()]
    return {"present": bool(in_roster), "in_roster": in_roster, "named": named, "unnamed": unnamed,
            "problem_count": len(problems), "problems": problems[:ROSTER_LINES]}


# --------------------------------------------------------------------------- HTML


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def _roster_card(r: dict) -> str:
    if not r.get("present"):
        return ('<section class="card roster" id="no-roster"><h2>还没有名单 No roster yet</h2>'
                "<p>学员显示为「学员 &lt;id&gt;」。要显示姓名：把学校的 <code>students.csv</code> 或 "
                "<code>students.xlsx</code>（可选 <code>teachers</code>、<code>courses</code>）放进数据目录的 "
                "<code>roster/</code> 文件夹（或 <code>LIVECLASS_ROSTER_DIR</code> 指向的文件夹），再运行 "
                "<code>liveclass run</code>。</p><p>Students show as 学员 &lt;id&gt;. To show names, put the "
                "school's <code>students.csv</code> or <code>students.xlsx</code> (and optionally teachers and "
                "courses) in <code>&lt;data dir&gt;/roster/</code> (or the folder <code>LIVECLASS_ROSTER_DIR</code> "
                "names) and run <code>liveclass run</code> again; columns and checks: docs/roster.md.</p>"
                + _problems(r) + "</section>\n")
    return (f'<section class="card roster"><h2>名单 Roster</h2>'
            f'<p>{r["named"]:,} 名有课学员有姓名 students with lessons have a name from the roster; '
            f'{r["unnamed"]:,} do not (shown as 学员 &lt;id&gt;). {r["problem_count"]:,} roster problems.</p>'
            f"{_problems(r)}</section>\n")


def _problems(r: dict) -> str:
    if not r.get("problems"):
        return ""
    lines = "".join(f"<li>{_e(m)}</li>" for m in r["problems"])
    more = r["problem_count"] - len(r["problems"])
    more_text = f'<p class="note">… and {more:,} more in qa_roster_problems.</p>' if more > 0 else ""
    return f"<details><summary>名单问题 Roster problems ({r['problem_count']:,})</summary><ul>{lines}</ul>" \
           f"{more_text}</details>"


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return f'<section class="card notes" role="note"><h2>注意 Data notes</h2><ul>{items}</ul></section>\n'


BODY = """
<section class="card controls" id="controls" aria-label="筛选 Filters">
<div class="periods" role="group" aria-label="时段 Period">
<span class="ctl-label">时段 Period</span>
<button type="button" data-kind="week">周 Week</button><button type="button" data-kind="month">月 Month</button>
<button type="button" data-kind="term">学期 Term</button><button type="button" data-kind="custom">自定义 Custom</button>
<select id="period-select" aria-label="选择时段 Choose the period"></select>
<span id="custom-range"><input type="date" id="from" aria-label="开始 From"> – <input type="date" id="to" aria-label="结束 To"></span>
</div>
<div class="filters">
<label>班级 Class<select id="f-class"></select></label>
<label>教师 Teacher<select id="f-teacher"></select></label>
<label>科目 Subject<select id="f-subject"></select></label>
<label>年级 Grade<select id="f-grade"></select></label>
<label>班级学期 Class term<select id="f-term"></select></label>
<button type="button" id="reset">清除筛选 Clear filters</button>
</div>
<p class="note" id="selection"></p>
</section>
<section class="kpis" id="kpis"></section>
<section class="card act" id="act"><h2>需要处理 Act on this</h2>
<p class="note">截至 as of <span id="as-of"></span>：最近 4 周与之前 4 周相比 (last 4 weeks against the 4 before), from the
marts; filters apply, the period does not.</p>
<h3>风险学员 Students at risk <span class="count" id="risk-count"></span></h3>
<p class="note">连续缺勤 ≥ 3 节，或出勤率下降 ≥ 25 个百分点。A current absence streak of 3 or more, or attendance down by
25 points or more (mart_students_at_risk). 点击姓名查看课节 Click a name for the student's lessons.</p>
<div class="table-wrap short"><table id="risk-table" class="sortable"></table></div>
<div id="student-panel" class="drill" hidden></div>
<h3>出勤下降的班级 Classes with falling attendance <span class="count" id="falling-count"></span></h3>
<p class="note">下降 ≥ 10 个百分点 (mart_class_attendance_trend). 点击班级查看课节 Click a class for its lessons.</p>
<div class="table-wrap short"><table id="falling-table" class="sortable"></table></div>
<h3>经常迟到的教师 Teachers often late <span class="count" id="late-count"></span></h3>
<p class="note">最近 14 天迟到开课次数 Late starts in the last 14 days (mart_teacher_punctuality).</p>
<div class="table-wrap short"><table id="late-table" class="sortable"></table></div>
</section>
<div class="grid">{charts}</div>
<section class="card lessons-card" id="lessons-section"><h2>课节 Lessons <span class="count" id="lesson-count"></span></h2>
<p class="note">所选时段与筛选的课节；点击表头排序，点击班级只看该班。Lessons of the chosen period and filters; click a
header to sort, a class to see only its lessons.</p>
<div class="table-wrap"><table id="lesson-table" class="sortable"></table></div>
</section>
"""


def render(data: dict, notes: list[str] | None = None, *, font: bool = True) -> tuple[str, int]:
    """The page and the bytes its embedded font subset adds."""
    css = _asset_text("templates", "report.css")
    js = _asset_text("templates", "report.js")
    chartjs = "\n".join(line for line in _asset_text("vendor", "chartjs", "chart.umd.min.js").splitlines()
                        if not line.startswith("//# sourceMappingURL="))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    win = data["window"]
    generated = dt.datetime.now(TZ).isoformat(timespec="minutes")
    if data.get("empty"):
        main = '<p class="empty">仓库中还没有课节数据 — the warehouse has no lessons yet. Run <code>liveclass run</code>.</p>'
    else:
        sections = "\n".join(
            f'<section class="card chart-card"><h2>{_e(title)}</h2><p class="note">{_e(note)}</p>'
            f'<div class="chart-box"><canvas id="{cid}" role="img" aria-label="{_e(title)}"></canvas></div></section>'
            for cid, title, note in CHARTS)
        main = BODY.replace("{charts}", sections)
    subtitle = ("" if data.get("empty") else
                f'数据 data {_e(win["start"])} – {_e(win["end"])}（{win["days"]} 天 days）')
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:">
<title>直播课堂出勤报告 Attendance report</title>
<style>/*FONT*/{css}</style>
</head>
<body>
<header>
<h1>直播课堂出勤报告 <span>Attendance report</span></h1>
<p class="meta">{subtitle} · 生成于 generated {_e(generated)} · 数据仓库构建于 warehouse built {_e(data.get("warehouse_built_at") or "–")}</p>
</header>
<main>
{_notes(notes or [])}{_roster_card(data.get("roster") or {})}{main}
</main>
<footer>liveclass · 定义见 definitions in docs/definitions.md · 完整数据见 full data in feeds/ · 图表 charts: Chart.js (MIT) · 字体 font: Noto Sans SC (OFL)</footer>
<script id="report-data" type="application/json">{payload}</script>
<script>{chartjs}</script>
<script>{js}</script>
</body>
</html>
"""
    face = _font_face(page) if font else ""
    return page.replace("/*FONT*/", face, 1), len(face.encode("utf-8"))


# --------------------------------------------------------------------------- font

FONT_FAMILY = "LiveclassSC"
BASE_FONT = ("vendor", "fonts", "NotoSansSC-base.woff2")


def _font_face(page: str) -> str:
    """An @font-face rule with the base font cut down to the characters of ``page`` (a data: URL),
    or "" when fontTools is not installed or the base font is missing."""
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fonttools is a dependency
        return ""
    try:
        base = resources.files("assets.publish").joinpath(*BASE_FONT).read_bytes()
    except (FileNotFoundError, OSError):  # pragma: no cover
        return ""
    text = "".join(sorted({ch for ch in page if ord(ch) >= 0x20}))  # Latin too: the page looks the same everywhere
    if not text:
        return ""
    font = TTFont(io.BytesIO(base))
    opts = subset.Options()
    opts.flavor = "woff2"
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out)
    b64 = base64.b64encode(out.getvalue()).decode("ascii")
    return (f"@font-face{{font-family:{FONT_FAMILY};src:url(data:font/woff2;base64,{b64}) format('woff2');"
            f"font-display:block}}\n")


def build_report(warehouse: str | os.PathLike, out_path: str | os.PathLike, *,
                 days: int = DEFAULT_DAYS, notes: list[str] | None = None,
                 period: str | None = None, class_: str | None = None, font: bool = True) -> ReportResult:
    """Render the report for the last ``days`` days of ``warehouse`` and publish it atomically at ``out_path``.

    ``period`` (``2026-11``, ``2026-W48``, ``2026秋`` or ``from..to``) embeds that period and the one before
    and opens on it; ``class_`` (id or exact name) keeps one class.  ``notes`` are shown above everything."""
    t0 = time.perf_counter()
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; build it first (liveclass run)")
    con = connect_readonly(warehouse)
    try:
        data = collect(con, days=days, period=period, class_=class_)
    finally:
        con.close()
    text, font_bytes = render(data, notes, font=font)
    page = text.encode("utf-8")
    out = Path(out_path)
    with atomic_path(out) as tmp:
        tmp.write_bytes(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # readable like any other file we write (mkstemp makes 0600)
    return ReportResult(path=out, bytes=len(page), seconds=time.perf_counter() - t0,
                        window=(data["window"]["start"], data["window"]["end"]),
                        charts=0 if data.get("empty") else len(CHARTS), font_bytes=font_bytes)
