"""One self-contained HTML report (``report/index.html``) built from the warehouse.

The page works offline: the charting library, the page's script and its styles
are inlined, no font is downloaded (system font stacks only), and the data is an
inline JSON block.  Everything is aggregated in SQL first, so the page stays
small for a month of a large school: the data it carries is O(days + minutes +
capped rankings + capped last-day rows), never O(students x lessons).

Charting library: Chart.js 4 (MIT), its minified UMD build vendored in
``assets/publish/vendor/chartjs/`` with its licence (obtained with ``npm pack
chart.js``; CI never needs npm).  Chosen because one ~200 KB file with no
dependencies covers every chart here (lines, grouped, stacked and horizontal
bars) with tooltips, axes and legends; uPlot is smaller but has no real bar
charts, ECharts does everything but is ~1 MB minified.  Canvas rendering keeps
the DOM light, and ``animation: false`` draws synchronously (printable,
testable).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.core.calendar import TZ
from pipeline.core.files import atomic_path
from warehouse.build import connect_readonly

#: Days in the report window, ending at the newest lesson_date in the warehouse.
DEFAULT_DAYS = 30
#: Caps that keep the page small.
MAX_LAST_DAY_ROWS = 300
TOP_ABSENT_STUDENTS = 20
TEACHER_RANKING = 20
MIN_TEACHER_LESSONS = 3
MAX_MINUTE = 180
#: Class size bands (the lake has no class category; the roster size stands in for it).
SIZE_BANDS = (("one_to_one", "一对一 1:1", "1 student"),
              ("small", "小班 Small class", "2–16 students"),
              ("large", "大班 Large class", "more than 16 students"))
STATUS_ZH = {0: "未开始", 1: "上课中", 2: "已结束", 3: "已过期"}
STATUS_EN = {0: "not started", 1: "in class", 2: "finished", 3: "expired"}


@dataclass
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    window: tuple[str | None, str | None]
    charts: int


def _asset_text(*parts: str) -> str:
    return (resources.files("assets.publish").joinpath(*parts)).read_text(encoding="utf-8")


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _iso(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v


def _clean(rows: list[dict]) -> list[dict]:
    return [{k: _iso(v) for k, v in r.items()} for r in rows]


# --------------------------------------------------------------------------- data


def collect(con, *, days: int = DEFAULT_DAYS) -> dict:
    """Everything the page shows, aggregated in SQL for the last ``days`` days of data."""
    first, end = con.execute("SELECT min(lesson_date), max(lesson_date) FROM mart_daily_overview").fetchall()[0]
    if end is None:
        return {"window": {"start": None, "end": None, "days": 0}, "empty": True}
    start = max(first, end - dt.timedelta(days=days - 1))
    w = [start, end]
    data: dict = {"window": {"start": start.isoformat(), "end": end.isoformat(), "days": (end - start).days + 1},
                  "empty": False, "roster": _roster(con)}

    data["kpi"] = _clean(_rows(con, """
        SELECT count(*) AS lessons,
               count(*) FILTER (WHERE status = 2) AS finished,
               count(*) FILTER (WHERE status = 3) AS expired,
               sum(enrolled) FILTER (WHERE status = 2) AS enrolled,
               sum(attended) FILTER (WHERE status = 2) AS attended,
               sum(late) FILTER (WHERE status = 2) AS late,
               count(teacher_punctual) AS teacher_lessons,
               count(*) FILTER (WHERE teacher_punctual) AS teacher_punctual,
               count(DISTINCT teacher_id) AS teachers,
               count(DISTINCT class_id) AS classes
        FROM mart_lesson_attendance WHERE lesson_date BETWEEN ? AND ?""", w))[0]
    data["kpi"]["students"] = con.execute(
        "SELECT count(DISTINCT user_id) FROM fct_attendance WHERE lesson_date BETWEEN ? AND ?", w).fetchall()[0][0]
    data["kpi"]["avg_engagement"] = con.execute(
        "SELECT round(avg(engagement_score), 1) FROM mart_student_engagement "
        "WHERE attended AND lesson_date BETWEEN ? AND ?", w).fetchall()[0][0]

    data["daily"] = _clean(_rows(con, """
        SELECT lesson_date, lessons, finished, expired, attendance_rate, late_rate, early_leave_rate,
               teacher_punctuality_rate, avg_listen_share
        FROM mart_daily_overview WHERE lesson_date BETWEEN ? AND ? ORDER BY lesson_date""", w))

    hist = dict(con.execute("""
        SELECT least(CAST(floor(listen_share * 20) AS INTEGER), 19) AS bin, count(*) AS n
        FROM fct_attendance
        WHERE lesson_status = 2 AND attended AND listen_share IS NOT NULL AND lesson_date BETWEEN ? AND ?
        GROUP BY 1 ORDER BY 1""", w).fetchall())
    data["listen_share"] = [{"from": b * 5, "to": b * 5 + 5, "n": int(hist.get(b, 0))} for b in range(20)]

    data["teachers"] = _clean(_rows(con, f"""
        WITH t AS (
            SELECT teacher_id,
                   count(teacher_punctual) AS held,
                   count(*) FILTER (WHERE teacher_punctual) AS punctual,
                   count(*) FILTER (WHERE status = 2 AND teacher_late_minutes >= 5) AS late_5min,
                   avg(teacher_late_minutes) FILTER (WHERE status = 2 AND teacher_late_minutes > 0) AS avg_late
            FROM mart_lesson_attendance
            WHERE lesson_date BETWEEN ? AND ? AND teacher_id IS NOT NULL
            GROUP BY teacher_id
            HAVING count(teacher_punctual) >= {MIN_TEACHER_LESSONS}
        )
        SELECT t.teacher_id, d.teacher_name, t.held, t.punctual, t.late_5min,
               t.punctual::DOUBLE / t.held AS punctuality_rate, round(t.avg_late, 1) AS avg_late_when_late
        FROM t LEFT JOIN dim_teacher AS d USING (teacher_id)
        ORDER BY punctuality_rate, held DESC, teacher_id
        LIMIT {TEACHER_RANKING}""", w))
    data["teachers_ranked"] = con.execute(f"""
        SELECT count(*) FROM (SELECT teacher_id FROM mart_lesson_attendance
        WHERE lesson_date BETWEEN ? AND ? AND teacher_id IS NOT NULL GROUP BY teacher_id
        HAVING count(teacher_punctual) >= {MIN_TEACHER_LESSONS})""", w).fetchall()[0][0]

    bands = _clean(_rows(con, """
        WITH les AS (
            SELECT lesson_id, class_id, enrolled, attended, status FROM mart_lesson_attendance
            WHERE lesson_date BETWEEN ? AND ?
        ),
        size AS (SELECT class_id, max(enrolled) AS size FROM les WHERE class_id IS NOT NULL GROUP BY class_id),
        banded AS (
            SELECT les.*, CASE WHEN coalesce(size.size, les.enrolled) <= 1 THEN 'one_to_one'
                               WHEN coalesce(size.size, les.enrolled) <= 16 THEN 'small'
                               ELSE 'large' END AS band
            FROM les LEFT JOIN size USING (class_id)
        ),
        eng AS (
            SELECT b.band,
                   avg(e.engagement_score) AS avg_score,
                   avg(CASE WHEN e.handups > 0 THEN 1.0 ELSE 0.0 END) AS handup_share,
                   avg(CASE WHEN e.mic_on > 0 THEN 1.0 ELSE 0.0 END) AS mic_share,
                   avg(e.stars) AS avg_stars,
                   count(*) AS student_lessons
            FROM mart_student_engagement AS e JOIN banded AS b USING (lesson_id)
            WHERE e.attended
            GROUP BY b.band
        ),
        att AS (
            SELECT band, count(DISTINCT class_id) AS classes, count(*) FILTER (WHERE status = 2) AS lessons,
                   sum(attended) FILTER (WHERE status = 2)::DOUBLE
                       / nullif(sum(enrolled) FILTER (WHERE status = 2), 0) AS attendance_rate
            FROM banded GROUP BY band
        )
        SELECT band, classes, lessons, attendance_rate, avg_score, handup_share, mic_share, avg_stars,
               coalesce(student_lessons, 0) AS student_lessons
        FROM att LEFT JOIN eng USING (band)""", w))
    by_band = {b["band"]: b for b in bands}
    data["bands"] = [{"band": key, "label": zh, "note": note, **{k: v for k, v in by_band.get(key, {}).items()
                                                                  if k != "band"}}
                     for key, zh, note in SIZE_BANDS]

    max_minute = con.execute("SELECT max(scheduled_minutes) FROM mart_lesson_attendance "
                             "WHERE status = 2 AND lesson_date BETWEEN ? AND ?", w).fetchall()[0][0] or 60
    max_minute = min(int(max_minute) + 5, MAX_MINUTE)
    finished = data["kpi"]["finished"] or 0
    minute_rows = con.execute(f"""
        SELECT minute_of_lesson, event_type, count(*) AS n
        FROM fct_key_events
        WHERE event_type IN ('handup', 'toggle_mic_on') AND lesson_date BETWEEN ? AND ?
          AND minute_of_lesson BETWEEN -5 AND {max_minute}
        GROUP BY ALL ORDER BY ALL""", w).fetchall()
    per = {(m, t): n for m, t, n in minute_rows}
    scale = 100.0 / finished if finished else 0.0
    data["minutes"] = [{"minute": m, "handup": round(per.get((m, "handup"), 0) * scale, 3),
                        "mic_on": round(per.get((m, "toggle_mic_on"), 0) * scale, 3)}
                       for m in range(-5, max_minute + 1)]

    data["absences"] = _clean(_rows(con, f"""
        WITH s AS (
            SELECT user_id, count(*) AS lessons, count(*) FILTER (WHERE NOT attended) AS absent,
                   count(*) FILTER (WHERE is_late) AS late,
                   max(lesson_date) FILTER (WHERE NOT attended) AS last_absence
            FROM fct_attendance
            WHERE lesson_status = 2 AND lesson_date BETWEEN ? AND ?
            GROUP BY user_id
            HAVING count(*) FILTER (WHERE NOT attended) > 0
            ORDER BY absent DESC, absent::DOUBLE / lessons DESC, user_id
            LIMIT {TOP_ABSENT_STUDENTS}
        ),
        c AS (
            SELECT a.user_id, string_agg(DISTINCT l.class_name, ' / ' ORDER BY l.class_name) AS classes
            FROM fct_attendance AS a JOIN s USING (user_id) JOIN dim_lesson AS l USING (lesson_id)
            WHERE a.lesson_date BETWEEN ? AND ?
            GROUP BY a.user_id
        )
        SELECT s.*, c.classes FROM s LEFT JOIN c USING (user_id)
        ORDER BY absent DESC, absent::DOUBLE / lessons DESC, user_id""", w + w))

    data["last_day"] = {
        "date": end.isoformat(),
        "total": con.execute("SELECT count(*) FROM mart_lesson_attendance WHERE lesson_date = ?",
                             [end]).fetchall()[0][0],
        "by_status": {int(s): n for s, n in con.execute(
            "SELECT status, count(*) FROM mart_lesson_attendance WHERE lesson_date = ? GROUP BY 1 ORDER BY 1",
            [end]).fetchall()},
        "rows": _clean(_rows(con, f"""
            SELECT strftime(l.scheduled_start, '%H:%M') AS start, m.lesson_id, m.class_name, m.teacher_name,
                   m.status, m.enrolled, m.attended, m.attendance_rate, m.late, m.teacher_late_minutes
            FROM mart_lesson_attendance AS m JOIN dim_lesson AS l USING (lesson_id)
            WHERE m.lesson_date = ?
            ORDER BY l.scheduled_start, m.lesson_id
            LIMIT {MAX_LAST_DAY_ROWS}""", [end])),
    }
    built = con.execute("SELECT max(built_at) FROM etl_build").fetchall()[0][0]
    data["warehouse_built_at"] = built.isoformat(timespec="seconds") if built else None
    return data


# --------------------------------------------------------------------------- HTML


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def _pct(num, den) -> str:
    return "–" if not den or num is None else f"{100.0 * num / den:.1f}%"


def _rate(v) -> str:
    return "–" if v is None else f"{100.0 * v:.1f}%"


def _kpis(data: dict) -> str:
    k = data["kpi"]
    cards = [
        ("课节 Lessons", f"{k['lessons']:,}", f"已结束 {k['finished']:,} finished · 已过期 {k['expired']:,} expired"),
        ("出勤率 Attendance rate", _pct(k["attended"], k["enrolled"]), "实到 / 应到, finished lessons"),
        ("迟到率 Late rate", _pct(k["late"], k["attended"]), "迟到 / 实到 late / attended"),
        ("教师准时率 Teacher punctuality", _pct(k["teacher_punctual"], k["teacher_lessons"]),
         f"{k['teachers']:,} 位教师 teachers"),
        ("学员 Students", f"{k['students']:,}", f"{k['classes']:,} 个班级 classes"),
        ("平均参与度 Avg engagement", "–" if k["avg_engagement"] is None else f"{k['avg_engagement']:.1f}",
         "0–100, attended students"),
    ]
    return "\n".join(
        f'<div class="kpi"><div class="kpi-label">{_e(a)}</div><div class="kpi-value">{_e(b)}</div>'
        f'<div class="kpi-note">{_e(c)}</div></div>' for a, b, c in cards)


def _last_day_table(data: dict) -> str:
    ld = data["last_day"]
    counts = " · ".join(f'<span class="status s{s}">{STATUS_ZH.get(s, s)} {STATUS_EN.get(s, "")}</span> {n:,}'
                        for s, n in sorted(ld["by_status"].items()))
    head = ("<tr><th>开始 Start</th><th>课节 Lesson</th><th>班级 Class</th><th>教师 Teacher</th>"
            "<th>状态 Status</th><th class=n>应到 Enrolled</th><th class=n>实到 Attended</th>"
            "<th class=n>出勤率 Attendance</th><th class=n>迟到 Late</th><th class=n>教师迟到(分) Teacher late (min)</th></tr>")
    body = []
    for r in ld["rows"]:
        s = r["status"]
        body.append(
            f"<tr><td>{_e(r['start'])}</td><td>{_e(r['lesson_id'])}</td><td>{_e(r['class_name'])}</td>"
            f"<td>{_e(r['teacher_name'])}</td>"
            f'<td><span class="status s{s}">{_e(STATUS_ZH.get(s, s))} {_e(STATUS_EN.get(s, ""))}</span></td>'
            f"<td class=n>{_e(r['enrolled'])}</td><td class=n>{_e(r['attended'])}</td>"
            f"<td class=n>{_rate(r['attendance_rate'])}</td><td class=n>{_e(r['late'])}</td>"
            f"<td class=n>{_e(r['teacher_late_minutes'] if r['teacher_late_minutes'] is not None else '–')}</td></tr>")
    capped = ""
    if ld["total"] > len(ld["rows"]):
        capped = (f'<p class="note">显示前 {len(ld["rows"]):,} / {ld["total"]:,} 节 — showing the first '
                  f'{len(ld["rows"]):,} of {ld["total"]:,} lessons; the full list is in feeds/mart_lesson_attendance.</p>')
    return (f'<p class="note">{counts}</p>{capped}<div class="table-wrap"><table id="last-day">'
            f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table></div>")


CHARTS = [
    ("chart-daily", "每日出勤率与迟到率 Daily attendance and lateness",
     "出勤率 = 实到 / 应到（已结束课节）；迟到率 = 迟到 / 实到。Attendance = attended / enrolled (finished lessons); "
     "late rate = late / attended."),
    ("chart-listen", "听课时长占比分布 Distribution of listen share",
     "每位出勤学员的听课分钟 / 计划时长（5% 分组）。Listen minutes / scheduled minutes per attending student, "
     "in 5 % bins; absent students are left out (they are in the attendance rate)."),
    ("chart-teachers", "教师准时率排名 Teacher punctuality ranking",
     "准时率最低的教师（窗口内至少 3 节有数据的已结束课节）。The least punctual teachers "
     "(at least 3 finished lessons with teacher attendance in the window)."),
    ("chart-bands", "按班型的参与度 Engagement by class size",
     "平台数据没有课程类别，这里按班级人数分组：一对一 = 1 人，小班 = 2–16 人，大班 = 16 人以上（班级在窗口内最大应到人数）。"
     "The platform has no class category, so classes are banded by roster size: one-to-one = 1, "
     "small = 2–16, large = more than 16 (largest enrolment of the class in the window)."),
    ("chart-minutes", "课中举手与开麦 Hand-ups and mic use over the lesson",
     "每 100 节已结束课节、按开课后分钟统计的事件数（负数 = 开课前）。Events per 100 finished lessons by minute "
     "since the scheduled start (negative = before the start)."),
    ("chart-absences", "缺勤最多的学员 Students with the most absences",
     "窗口内已结束课节的缺勤次数；仓库中没有学员姓名，显示学员 ID 与班级。Absences in finished lessons of the window; "
     "the warehouse has no student names, so students show as their user id and class."),
]


ROSTER_LINES = 30  # problem lines shown; the rest are counted and are in qa_roster_problems


def _roster(con) -> dict:
    """How well the school's roster covers the students, and its problems (masked), for the roster card."""
    named, unnamed, in_roster = con.execute(
        "SELECT count(*) FILTER (WHERE lessons_enrolled > 0 AND in_roster), "
        "count(*) FILTER (WHERE lessons_enrolled > 0 AND NOT in_roster), count(*) FILTER (WHERE in_roster) "
        "FROM dim_student").fetchall()[0]
    problems = [r[0] for r in con.execute("SELECT message FROM qa_roster_problems").fetchall()]
    return {"present": bool(in_roster or problems), "in_roster": in_roster, "named": named, "unnamed": unnamed,
            "problem_count": len(problems), "problems": problems[:ROSTER_LINES]}


def _roster_card(r: dict) -> str:
    if not r.get("present"):
        return ""
    lines = "".join(f"<li>{_e(m)}</li>" for m in r["problems"])
    more = r["problem_count"] - len(r["problems"])
    more_text = f"<p class=\"note\">… and {more:,} more in qa_roster_problems.</p>" if more > 0 else ""
    return (f'<section class="card roster"><h2>名单 Roster</h2>'
            f'<p>{r["named"]:,} students with lessons have a name from the roster; {r["unnamed"]:,} do not '
            f'(shown as 学员 &lt;id&gt;). {r["problem_count"]:,} roster problems:</p>'
            f'<ul>{lines}</ul>{more_text}</section>\n')


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return f'<section class="card notes" role="note"><h2>注意 Data notes</h2><ul>{items}</ul></section>\n'


def render(data: dict, notes: list[str] | None = None) -> str:
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
        main = (f'<section class="kpis">{_kpis(data)}</section>\n<div class="grid">{sections}</div>\n'
                f'<section class="card"><h2>{_e(data["last_day"]["date"])} 课节状态 Lessons of the last day</h2>'
                f"{_last_day_table(data)}</section>")
    subtitle = ("" if data.get("empty") else
                f'{_e(win["start"])} – {_e(win["end"])}（{win["days"]} 天 days）')
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>直播课堂出勤与参与度报告 Attendance and engagement report</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>直播课堂出勤与参与度报告 <span>Attendance and engagement report</span></h1>
<p class="meta">{subtitle} · 生成于 generated {_e(generated)} · 数据仓库构建于 warehouse built {_e(data.get("warehouse_built_at") or "–")}</p>
</header>
<main>
{_notes(notes or [])}{_roster_card(data.get("roster") or {})}{main}
</main>
<footer>liveclass · 定义见 definitions in docs/definitions.md · 完整数据见 full data in feeds/ · 图表 charts: Chart.js (MIT)</footer>
<script id="report-data" type="application/json">{payload}</script>
<script>{chartjs}</script>
<script>{js}</script>
</body>
</html>
"""


def build_report(warehouse: str | os.PathLike, out_path: str | os.PathLike, *,
                 days: int = DEFAULT_DAYS, notes: list[str] | None = None) -> ReportResult:
    """Render the report for the last ``days`` days of ``warehouse`` and publish it atomically at ``out_path``.

    ``notes`` are shown above everything (e.g. data kept from an earlier snapshot)."""
    t0 = time.perf_counter()
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; build it first (liveclass run)")
    con = connect_readonly(warehouse)
    try:
        data = collect(con, days=days)
    finally:
        con.close()
    page = render(data, notes).encode("utf-8")
    out = Path(out_path)
    with atomic_path(out) as tmp:
        tmp.write_bytes(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # readable like any other file we write (mkstemp makes 0600)
    return ReportResult(path=out, bytes=len(page), seconds=time.perf_counter() - t0,
                        window=(data["window"]["start"], data["window"]["end"]),
                        charts=0 if data.get("empty") else len(CHARTS))
