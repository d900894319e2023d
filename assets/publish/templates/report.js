// The interactive report: every card, chart and table is recomputed here from the inline JSON
// (#report-data) when a filter or the period changes. No server, no request.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var body = document.body;
  if (data.empty) { body.dataset.charts = "0"; body.dataset.ready = "1"; return; }

  // Okabe-Ito: distinguishable with every common colour-vision deficiency
  var C = { blue: "#0072B2", orange: "#E69F00", sky: "#56B4E9", green: "#009E73", verm: "#D55E00",
            purple: "#CC79A7", grey: "#8c8c8c" };
  var L = data.lessons, N = L.id.length;
  var CLASSES = data.classes, TEACHERS = data.teachers;  // [id, name, subject, grade, term] / [id, name]
  var STATUS = { 0: "未开始 not started", 1: "上课中 in class", 2: "已结束 finished", 3: "已过期 expired" };
  var DAY = 86400000;
  var start = Date.parse(data.window.start + "T00:00:00Z");
  var ndays = data.window.days;

  function iso(i) { return new Date(start + i * DAY).toISOString().slice(0, 10); }
  function idx(isoDate) { return Math.round((Date.parse(isoDate + "T00:00:00Z") - start) / DAY); }
  function mondayOf(i) { var wd = (new Date(start + i * DAY).getUTCDay() + 6) % 7; return i - wd; }
  function isoWeek(i) {
    var d = new Date(start + (mondayOf(i) + 3) * DAY), y = d.getUTCFullYear();
    var jan4 = new Date(Date.UTC(y, 0, 4)), w1 = Date.UTC(y, 0, 4) - ((jan4.getUTCDay() + 6) % 7) * DAY;
    return y + "-W" + String(Math.floor((d.getTime() - w1) / (7 * DAY)) + 1).padStart(2, "0");
  }
  var SEASONS = [["寒", 1, 2], ["春", 3, 6], ["暑", 7, 8], ["秋", 9, 12]];
  function termRange(name) {
    var y = +name.slice(0, 4), s = SEASONS.filter(function (x) { return x[0] === name.slice(4); })[0];
    var first = Date.UTC(y, s[1] - 1, 1), last = Date.UTC(y, s[2], 1) - DAY;
    return [Math.round((first - start) / DAY), Math.round((last - start) / DAY)];
  }
  function termOfIndex(i) {
    var d = new Date(start + i * DAY), m = d.getUTCMonth() + 1;
    return d.getUTCFullYear() + SEASONS.filter(function (x) { return m >= x[1] && m <= x[2]; })[0][0];
  }
  function monthRange(key) {
    var y = +key.slice(0, 4), m = +key.slice(5, 7);
    return [Math.round((Date.UTC(y, m - 1, 1) - start) / DAY), Math.round((Date.UTC(y, m, 1) - DAY - start) / DAY)];
  }

  // ---------------------------------------------------------------- period options
  var options = { week: [], month: [], term: [] }, seen = {};
  for (var i = 0; i < ndays; i++) {
    var wk = mondayOf(i), mo = iso(i).slice(0, 7), te = data.terms[i];
    if (!seen["w" + wk]) { seen["w" + wk] = 1; options.week.push({ key: iso(wk), label: isoWeek(i) + " (" + iso(wk).slice(5) + " – " + iso(wk + 6).slice(5) + ")", from: wk, to: wk + 6 }); }
    if (!seen["m" + mo]) { seen["m" + mo] = 1; var mr = monthRange(mo); options.month.push({ key: mo, label: mo, from: mr[0], to: mr[1] }); }
    if (!seen["t" + te]) { seen["t" + te] = 1; var tr = termRange(te); options.term.push({ key: te, label: te, from: tr[0], to: tr[1] }); }
  }
  function prevRange(kind, from, to) {
    if (kind === "week") return [from - 7, from - 1];
    if (kind === "month") return monthRange(iso(from - 1).slice(0, 7));
    if (kind === "term") return termRange(termOfIndex(from - 1));
    return [from - (to - from) - 1, from - 1];
  }

  // ---------------------------------------------------------------- state
  var state = { kind: "month", key: null, from: 0, to: ndays - 1, f: { cls: "", teacher: "", subject: "", grade: "", term: "" },
                student: null };
  var init = data.initial || {};
  if (init.period) {
    state.kind = init.period.kind; state.key = init.period.key;
    state.from = idx(init.period.from); state.to = idx(init.period.to);
  }
  if (init.class !== undefined) {
    CLASSES.forEach(function (c, k) { if (c[0] === init.class) state.f.cls = String(k); });
  }
  function choose(kind, key) {
    state.kind = kind;
    if (kind === "custom") { state.key = null; return; }
    var opts = options[kind], o = opts.filter(function (x) { return x.key === key; })[0] || opts[opts.length - 1];
    state.key = o.key; state.from = o.from; state.to = o.to;
  }
  if (!init.period) choose("month", null);

  // ---------------------------------------------------------------- filters
  function classPasses(k, ignoreTeacher) {
    var f = state.f;
    if (f.cls !== "" && String(k) !== f.cls) return false;
    if (f.subject || f.grade || f.term) {
      if (k < 0) return false;
      var c = CLASSES[k];
      if (f.subject && c[2] !== f.subject) return false;
      if (f.grade && c[3] !== f.grade) return false;
      if (f.term && c[4] !== f.term) return false;
    }
    return true;
  }
  function lessonPasses(j, ignoreTeacher) {
    if (!ignoreTeacher && state.f.teacher !== "" && String(L.tc[j]) !== state.f.teacher) return false;
    return classPasses(L.c[j]);
  }
  function anyFilter() { var f = state.f; return !!(f.cls || f.teacher || f.subject || f.grade || f.term); }

  function agg(from, to) {
    var a = { lessons: 0, held: 0, expired: 0, en: 0, at: 0, la: 0, tp: 0, td: 0 };
    for (var j = 0; j < N; j++) {
      var d = L.d[j];
      if (d < from || d > to || !lessonPasses(j)) continue;
      a.lessons++;
      if (L.s[j] === 3) a.expired++;
      if (L.s[j] !== 2) continue;
      a.held++; a.en += L.en[j]; a.at += L.at[j]; a.la += L.la[j];
      if (L.tl[j] !== null) { a.td++; if (L.tl[j] === 0) a.tp++; }
    }
    a.attendance = a.en ? a.at / a.en : null;
    a.late = a.at ? a.la / a.at : null;
    a.punct = a.td ? a.tp / a.td : null;
    a.absent = a.en - a.at;
    return a;
  }

  // ---------------------------------------------------------------- formatting
  function pct(v) { return v === null || v === undefined ? "–" : (Math.round(v * 1000) / 10).toFixed(1) + "%"; }
  function num(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"); }
  function esc(s) { return String(s === null || s === undefined ? "–" : s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function el(id) { return document.getElementById(id); }
  function className(k) { return k >= 0 ? CLASSES[k][1] : "–"; }
  function teacherName(k) { return k >= 0 ? TEACHERS[k][1] : "–"; }

  // ---------------------------------------------------------------- controls
  function fillSelect(sel, items, value) {
    sel.innerHTML = '<option value="">全部 All</option>' + items.map(function (it) {
      return '<option value="' + esc(it[0]) + '">' + esc(it[1]) + "</option>"; }).join("");
    sel.value = value;
    sel.disabled = items.length === 0;
  }
  function uniq(col) {
    var s = {}; CLASSES.forEach(function (c) { if (c[col] !== null && c[col] !== undefined) s[c[col]] = 1; });
    return Object.keys(s).sort().map(function (v) { return [v, v]; });
  }
  function byName(list) {
    return list.map(function (x, k) { return [String(k), x[1]]; }).sort(function (a, b) { return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0; });
  }
  var FILTERS = [["f-class", "cls", function () { return byName(CLASSES); }], ["f-teacher", "teacher", function () { return byName(TEACHERS); }],
                 ["f-subject", "subject", function () { return uniq(2); }], ["f-grade", "grade", function () { return uniq(3); }],
                 ["f-term", "term", function () { return uniq(4); }]];
  FILTERS.forEach(function (f) {
    var sel = el(f[0]);
    fillSelect(sel, f[2](), state.f[f[1]]);
    sel.addEventListener("change", function () { state.f[f[1]] = sel.value; state.student = null; update(); });
  });
  el("reset").addEventListener("click", function () {
    FILTERS.forEach(function (f) { state.f[f[1]] = ""; el(f[0]).value = ""; }); state.student = null; update();
  });
  var periodSel = el("period-select"), from = el("from"), to = el("to");
  from.min = to.min = data.window.start; from.max = to.max = data.window.end;
  function syncPeriodControls() {
    document.querySelectorAll(".periods button").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.kind === state.kind)); });
    var custom = state.kind === "custom";
    periodSel.hidden = custom; el("custom-range").hidden = !custom;
    if (!custom) {
      periodSel.innerHTML = options[state.kind].map(function (o) { return '<option value="' + esc(o.key) + '">' + esc(o.label) + "</option>"; }).join("");
      periodSel.value = state.key;
    }
    from.value = iso(Math.max(state.from, 0)); to.value = iso(Math.min(state.to, ndays - 1));
  }
  document.querySelectorAll(".periods button").forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.dataset.kind === "custom") { state.kind = "custom"; state.key = null; } else choose(b.dataset.kind, null);
      update();
    });
  });
  periodSel.addEventListener("change", function () { choose(state.kind, periodSel.value); update(); });
  function onRange() {
    if (!from.value || !to.value) return;
    var a = idx(from.value), b = idx(to.value);
    if (b < a) { var t = a; a = b; b = t; }
    state.kind = "custom"; state.from = a; state.to = b; update();
  }
  from.addEventListener("change", onRange); to.addEventListener("change", onRange);

  // ---------------------------------------------------------------- KPI cards
  var KPIS = [
    ["held", "已上课节 Lessons held", function (a) { return a.held; }, "count", 1, function (a) { return "排课 scheduled " + num(a.lessons); }],
    ["attendance", "出勤率 Attendance rate", function (a) { return a.attendance; }, "rate", 1, function (a) { return "实到 / 应到 " + num(a.at) + " / " + num(a.en); }],
    ["late", "迟到率 Late rate", function (a) { return a.late; }, "rate", -1, function (a) { return "迟到 / 实到 late / attended " + num(a.la); }],
    ["punctuality", "教师准时率 Teacher punctuality", function (a) { return a.punct; }, "rate", 1, function (a) { return "准时 punctual " + num(a.tp) + " / " + num(a.td); }],
    ["absences", "缺勤人次 Absences", function (a) { return a.held ? a.absent : null; }, "count", -1, function () { return "应到未到 enrolled, not attended"; }],
    ["expired", "已过期课节 Expired lessons", function (a) { return a.expired; }, "count", -1, function () { return "未上课 not held"; }]
  ];
  function change(cur, prev, kind, good) {
    if (cur === null || prev === null || prev === undefined) return '<span class="chg">–</span>';
    var diff = cur - prev, txt;
    if (kind === "rate") txt = (diff >= 0 ? "+" : "−") + Math.abs(Math.round(diff * 1000) / 10).toFixed(1) + " 个百分点 pp";
    else txt = (diff >= 0 ? "+" : "−") + num(Math.abs(diff)) + (prev ? " (" + (diff >= 0 ? "+" : "−") + Math.abs(Math.round(diff / prev * 1000) / 10).toFixed(1) + "%)" : "");
    var cls = diff === 0 ? "" : (diff > 0) === (good > 0) ? "up-good" : "up-bad";
    return '<span class="chg ' + cls + '">' + (diff > 0 ? "▲ " : diff < 0 ? "▼ " : "= ") + txt + "</span>";
  }
  function renderKpis(cur, prev) {
    el("kpis").innerHTML = KPIS.map(function (k) {
      var v = k[2](cur), p = prev ? k[2](prev) : null;
      var shown = k[3] === "rate" ? pct(v) : num(v);
      return '<div class="kpi" data-kpi="' + k[0] + '" data-value="' + (v === null ? "" : v) + '"><div class="kpi-label">' + k[1] +
        '</div><div class="kpi-value">' + shown + '</div><div class="kpi-prev">上期 previous: ' +
        (prev ? (k[3] === "rate" ? pct(p) : num(p)) + " " + change(v, p, k[3], k[4]) : "–") +
        '</div><div class="kpi-note">' + k[5](cur) + "</div></div>";
    }).join("");
  }

  // ---------------------------------------------------------------- tables
  var sorts = {};
  function table(id, cols, rows, opts) {
    opts = opts || {};
    var t = el(id), s = sorts[id] || (sorts[id] = { key: opts.sort || null, dir: opts.dir || 1 });
    if (s.key) {
      var col = cols.filter(function (c) { return c.key === s.key; })[0];
      var val = col.sortVal || function (r) { return r[col.key]; };
      rows = rows.slice().sort(function (a, b) {
        var x = val(a), y = val(b);
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * s.dir;
      });
    }
    var total = rows.length, cap = opts.cap || 1e9;
    rows = rows.slice(0, cap);
    var head = "<thead><tr>" + cols.map(function (c) {
      var dir = s.key === c.key ? (s.dir > 0 ? "ascending" : "descending") : "none";
      return '<th data-key="' + c.key + '" aria-sort="' + dir + '"' + (c.num ? ' class="n"' : "") + ">" + c.label + "</th>";
    }).join("") + "</tr></thead>";
    var bodyHtml = rows.map(function (r) {
      return "<tr>" + cols.map(function (c) {
        var v = c.fmt ? c.fmt(r) : esc(r[c.key]);
        if (c.link) v = '<a href="#" class="drill-link" data-' + c.link + '="' + esc(c.linkVal(r)) + '">' + v + "</a>";
        return "<td" + (c.num ? ' class="n"' : "") + ">" + v + "</td>";
      }).join("") + "</tr>";
    }).join("");
    t.innerHTML = head + "<tbody>" + (bodyHtml || '<tr><td colspan="' + cols.length + '" class="none">无 None</td></tr>') + "</tbody>";
    t.querySelectorAll("th").forEach(function (th) {
      th.addEventListener("click", function () {
        if (s.key === th.dataset.key) s.dir = -s.dir; else { s.key = th.dataset.key; s.dir = 1; }
        update();
      });
    });
    return total;
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest(".drill-link") : null;
    if (!a) return;
    ev.preventDefault();
    if (a.dataset.cls !== undefined) drillClass(+a.dataset.cls);
    else if (a.dataset.student !== undefined) { state.student = +a.dataset.student; update(); el("student-panel").scrollIntoView({ block: "nearest" }); }
    else if (a.dataset.close !== undefined) { state.student = null; update(); }
  });
  function drillClass(k) {
    if (k < 0) return;
    state.f.cls = String(k); el("f-class").value = state.f.cls; state.student = null; update();
    el("lessons-section").scrollIntoView({ block: "start" });
  }
  var classIdx = {}; CLASSES.forEach(function (c, k) { classIdx[c[0]] = k; });
  var teacherIdx = {}; TEACHERS.forEach(function (t, k) { teacherIdx[t[0]] = k; });

  function renderAct() {
    el("as-of").textContent = data.as_of || "–";
    // students: pass when any of their lessons passes the filters
    var risk = data.at_risk.filter(function (r) {
      return !anyFilter() || r.lessons.some(function (x) { return lessonPasses(x[0]); });
    });
    risk.forEach(function (r, k) { r._k = data.at_risk.indexOf(r); });
    var n = table("risk-table", [
      { key: "student_name", label: "学员 Student", link: "student", linkVal: function (r) { return r._k; } },
      { key: "class", label: "班级 Class" }, { key: "teacher", label: "教师 Teacher" },
      { key: "current_absence_streak", label: "连续缺勤 Absence streak", num: true },
      { key: "rate_last_4w", label: "最近4周 Last 4 weeks", num: true, fmt: function (r) { return pct(r.rate_last_4w); } },
      { key: "rate_prev_4w", label: "之前4周 4 weeks before", num: true, fmt: function (r) { return pct(r.rate_prev_4w); } },
      { key: "rate_change", label: "变化 Change", num: true, fmt: function (r) { return r.rate_change === null ? "–" : (r.rate_change >= 0 ? "+" : "−") + Math.abs(Math.round(r.rate_change * 1000) / 10).toFixed(1) + " pp"; } },
      { key: "last_attended_date", label: "最近出勤 Last attended" },
      { key: "risk_reason", label: "原因 Reason" }
    ], risk);
    el("risk-count").textContent = "(" + num(n) + (data.at_risk_total > data.at_risk.length ? " · 名单前 first " + num(data.at_risk.length) + " of " + num(data.at_risk_total) : "") + ")";
    renderStudent();

    var classOK = {};
    if (state.f.teacher !== "") for (var j = 0; j < N; j++) if (String(L.tc[j]) === state.f.teacher) classOK[L.c[j]] = 1;
    var falling = data.falling.filter(function (r) {
      var k = classIdx[r.class_id]; k = k === undefined ? -1 : k;
      if (state.f.cls !== "" && String(k) !== state.f.cls) return false;
      if (state.f.subject && r.subject !== state.f.subject) return false;
      if (state.f.grade && r.grade !== state.f.grade) return false;
      if (state.f.term && r.term !== state.f.term) return false;
      return state.f.teacher === "" || classOK[k];
    });
    n = table("falling-table", [
      { key: "class_name", label: "班级 Class", link: "cls", linkVal: function (r) { return classIdx[r.class_id] === undefined ? -1 : classIdx[r.class_id]; } },
      { key: "subject", label: "科目 Subject" }, { key: "grade", label: "年级 Grade" },
      { key: "rate_last_4w", label: "最近4周 Last 4 weeks", num: true, fmt: function (r) { return pct(r.rate_last_4w); } },
      { key: "rate_prev_4w", label: "之前4周 4 weeks before", num: true, fmt: function (r) { return pct(r.rate_prev_4w); } },
      { key: "rate_change", label: "变化 Change", num: true, fmt: function (r) { return (r.rate_change >= 0 ? "+" : "−") + Math.abs(Math.round(r.rate_change * 1000) / 10).toFixed(1) + " pp"; } },
      { key: "lessons_last_4w", label: "课节 Lessons (4 weeks)", num: true }
    ], falling);
    el("falling-count").textContent = "(" + num(n) + ")";

    var teacherOK = {};
    for (j = 0; j < N; j++) if (lessonPasses(j, true)) teacherOK[L.tc[j]] = 1;
    var late = data.late_teachers.filter(function (r) {
      var k = teacherIdx[r.teacher_id];
      if (state.f.teacher !== "" && String(k) !== state.f.teacher) return false;
      return !(state.f.cls || state.f.subject || state.f.grade || state.f.term) || teacherOK[k];
    });
    n = table("late-table", [
      { key: "teacher_name", label: "教师 Teacher" },
      { key: "late_starts_14d", label: "迟到开课(14天) Late starts, 14 days", num: true },
      { key: "lessons_held_14d", label: "已上(14天) Held, 14 days", num: true },
      { key: "punctuality_rate_14d", label: "准时率(14天) Punctuality, 14 days", num: true, fmt: function (r) { return pct(r.punctuality_rate_14d); } },
      { key: "late_starts_5min", label: "迟到≥5分钟 Late ≥ 5 min (all)", num: true },
      { key: "avg_late_minutes_when_late", label: "迟到时平均(分) Avg minutes when late", num: true, fmt: function (r) { return r.avg_late_minutes_when_late === null ? "–" : (Math.round(r.avg_late_minutes_when_late * 10) / 10).toFixed(1); } }
    ], late);
    el("late-count").textContent = "(" + num(n) + ")";
  }
  function renderStudent() {
    var panel = el("student-panel");
    if (state.student === null) { panel.hidden = true; panel.innerHTML = ""; return; }
    var r = data.at_risk[state.student];
    panel.hidden = false;
    panel.innerHTML = '<h4>' + esc(r.student_name) + " 的课节 lessons <small>(" + esc(data.window.start) + " – " + esc(data.window.end) +
      ')</small> <a href="#" class="drill-link" data-close="1">关闭 Close</a></h4><div class="table-wrap short"><table id="student-table"></table></div>';
    var rows = r.lessons.map(function (x) {
      var j = x[0];
      return { date: iso(L.d[j]), t: L.t[j], id: L.id[j], c: L.c[j], cls: className(L.c[j]), teacher: teacherName(L.tc[j]), att: x[1], late: x[2] };
    });
    table("student-table", [
      { key: "date", label: "日期 Date" }, { key: "t", label: "开始 Start" }, { key: "id", label: "课节 Lesson" },
      { key: "cls", label: "班级 Class", link: "cls", linkVal: function (x) { return x.c; } }, { key: "teacher", label: "教师 Teacher" },
      { key: "att", label: "出勤 Attended", fmt: function (x) { return x.att ? "出勤 present" : '<b class="absent">缺勤 absent</b>'; } },
      { key: "late", label: "迟到 Late", fmt: function (x) { return x.late ? "迟到 late" : ""; } }
    ], rows, { sort: "date", dir: -1 });
  }

  function renderLessons(from, to) {
    var rows = [];
    for (var j = 0; j < N; j++) {
      if (L.d[j] < from || L.d[j] > to || !lessonPasses(j)) continue;
      rows.push({ j: j, date: iso(L.d[j]), t: L.t[j], id: L.id[j], c: L.c[j], cls: className(L.c[j]), teacher: teacherName(L.tc[j]),
                  s: L.s[j], en: L.en[j], at: L.at[j], rate: L.s[j] === 2 && L.en[j] ? L.at[j] / L.en[j] : null, la: L.la[j], tl: L.tl[j] });
    }
    var cap = 500;
    var n = table("lesson-table", [
      { key: "date", label: "日期 Date", sortVal: function (r) { return r.date + r.t; } }, { key: "t", label: "开始 Start" },
      { key: "id", label: "课节 Lesson", num: true },
      { key: "cls", label: "班级 Class", link: "cls", linkVal: function (r) { return r.c; } }, { key: "teacher", label: "教师 Teacher" },
      { key: "s", label: "状态 Status", fmt: function (r) { return '<span class="status s' + r.s + '">' + STATUS[r.s] + "</span>"; } },
      { key: "en", label: "应到 Enrolled", num: true }, { key: "at", label: "实到 Attended", num: true },
      { key: "rate", label: "出勤率 Attendance", num: true, fmt: function (r) { return pct(r.rate); } },
      { key: "la", label: "迟到 Late", num: true },
      { key: "tl", label: "教师迟到(分) Teacher late (min)", num: true, fmt: function (r) { return r.tl === null ? "–" : r.tl; } }
    ], rows, { sort: "date", dir: 1, cap: cap });
    el("lesson-count").textContent = "(" + num(n) + (n > cap ? " · 显示前 showing the first " + cap + "; 排序或筛选查看其余 sort or filter for the rest" : "") + ")";
    el("lesson-table").dataset.rows = String(n);
  }

  // ---------------------------------------------------------------- charts
  var css = getComputedStyle(document.documentElement);
  var charts = {};
  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = css.fontFamily;
    Chart.defaults.font.size = 12;
    Chart.defaults.color = "#3e4c59";
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
  }
  function draw(id, hasData, config) {
    var canvas = el(id);
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    var box = canvas.parentNode, old = box.querySelector(".nodata");
    if (old) box.removeChild(old);
    if (!hasData || typeof Chart === "undefined") {
      var div = document.createElement("div");
      div.className = "nodata"; div.textContent = "所选时段无数据 No data for this selection";
      box.appendChild(div); canvas.dataset.rendered = "empty"; return;
    }
    config.options = config.options || {};
    config.options.plugins = config.options.plugins || {};
    config.options.plugins.tooltip = Object.assign({ position: "nearest", caretPadding: 4 }, config.options.plugins.tooltip || {});
    charts[id] = new Chart(canvas, config);
    canvas.dataset.rendered = "chart";
  }
  function pctAxis() { return { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } }; }
  function p1(v) { return v === null ? null : Math.round(v * 1000) / 10; }

  function renderCharts(from, to) {
    var weekly = to - from + 1 > 35, buckets = [], bIdx = {};
    for (var i = Math.max(from, 0); i <= Math.min(to, ndays - 1); i++) {
      var key = weekly ? mondayOf(i) : i;
      if (bIdx[key] === undefined) {
        bIdx[key] = buckets.length;
        buckets.push({ label: weekly ? isoWeek(i) + " " + iso(Math.max(key, from)).slice(5) : iso(i).slice(5), en: 0, at: 0, held: 0, expired: 0 });
      }
    }
    var cls = {}, tea = {};
    for (var j = 0; j < N; j++) {
      var d = L.d[j];
      if (d < from || d > to || !lessonPasses(j)) continue;
      var b = buckets[bIdx[weekly ? mondayOf(d) : d]];
      if (L.s[j] === 3) b.expired++;
      if (L.s[j] !== 2) continue;
      b.held++; b.en += L.en[j]; b.at += L.at[j];
      var c = L.c[j];
      if (c >= 0) { var x = cls[c] || (cls[c] = { en: 0, at: 0, held: 0 }); x.en += L.en[j]; x.at += L.at[j]; x.held++; }
      if (L.tc[j] >= 0 && L.tl[j] !== null) { var y = tea[L.tc[j]] || (tea[L.tc[j]] = { td: 0, tp: 0, late5: 0 }); y.td++; if (L.tl[j] === 0) y.tp++; if (L.tl[j] >= 5) y.late5++; }
    }
    var rates = buckets.map(function (b) { return b.en ? p1(b.at / b.en) : null; });
    draw("chart-trend", rates.some(function (v) { return v !== null; }), {
      type: "line",
      data: { labels: buckets.map(function (b) { return b.label; }),
              datasets: [{ label: "出勤率 Attendance rate", data: rates, borderColor: C.blue, backgroundColor: C.blue, pointRadius: weekly ? 3 : 2, tension: 0.2, spanGaps: false }] },
      options: { scales: { y: pctAxis() }, plugins: { legend: { display: false },
                 tooltip: { callbacks: { label: function (ctx) { var b = buckets[ctx.dataIndex]; return "出勤率 Attendance " + ctx.parsed.y + "% (" + num(b.at) + " / " + num(b.en) + ")"; } } } } }
    });
    draw("chart-lessons", buckets.some(function (b) { return b.held + b.expired > 0; }), {
      type: "bar",
      data: { labels: buckets.map(function (b) { return b.label; }),
              datasets: [{ label: "已上 Held", data: buckets.map(function (b) { return b.held; }), backgroundColor: C.blue },
                         { label: "已过期 Expired", data: buckets.map(function (b) { return b.expired; }), backgroundColor: C.orange }] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "课节 Lessons" } } } }
    });
    var cl = Object.keys(cls).map(function (k) { return { k: +k, rate: cls[k].at / cls[k].en, held: cls[k].held }; })
      .filter(function (r) { return cls[r.k].en > 0; })
      .sort(function (a, b) { return a.rate - b.rate || b.held - a.held; }).slice(0, 15);
    draw("chart-classes", cl.length > 0, {
      type: "bar",
      data: { labels: cl.map(function (r) { return className(r.k) + " · " + pct(r.rate) + " · " + r.held + " 节"; }),
              datasets: [{ label: "出勤率 Attendance rate", data: cl.map(function (r) { return p1(r.rate); }), minBarLength: 4, maxBarThickness: 26,
                           backgroundColor: cl.map(function (r) { return r.rate < 0.8 ? C.verm : C.blue; }) }] },
      options: { indexAxis: "y", scales: { x: pctAxis(), y: { ticks: { autoSkip: false, font: { size: 11 } } } },
                 onClick: function (e, els) { if (els.length) drillClass(cl[els[0].index].k); },
                 plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) { return "出勤率 Attendance " + ctx.parsed.x + "%"; } } } } }
    });
    var tl = Object.keys(tea).map(function (k) { return { k: +k, rate: tea[k].tp / tea[k].td, td: tea[k].td, late5: tea[k].late5 }; })
      .filter(function (r) { return r.td >= 2; })
      .sort(function (a, b) { return a.rate - b.rate || b.td - a.td; }).slice(0, 15);
    draw("chart-teachers", tl.length > 0, {
      type: "bar",
      data: { labels: tl.map(function (r) { return teacherName(r.k) + " · " + pct(r.rate); }),
              datasets: [{ label: "准时率 Punctuality", data: tl.map(function (r) { return p1(r.rate); }), minBarLength: 4, maxBarThickness: 26,
                           backgroundColor: tl.map(function (r) { return r.rate < 0.8 ? C.verm : C.blue; }) }] },
      options: { indexAxis: "y", scales: { x: pctAxis(), y: { ticks: { autoSkip: false, font: { size: 11 } } } },
                 plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) {
                   var r = tl[ctx.dataIndex];
                   return ["准时率 Punctuality " + ctx.parsed.x + "%", "有考勤的已上课节 Held with data " + r.td, "迟到≥5分钟 Late ≥ 5 min " + r.late5];
                 } } } } }
    });
    var n = 0; Object.keys(charts).forEach(function () { n++; });
    body.dataset.charts = String(n);
  }

  // ---------------------------------------------------------------- update
  function selectionText(from, to) {
    var parts = [iso(from) + " – " + iso(to)];
    if (from < 0 || to > ndays - 1) parts.push("数据只有 data only " + data.window.start + " – " + data.window.end);
    FILTERS.forEach(function (f) { var s = el(f[0]); if (s.value) parts.push(s.options[s.selectedIndex].text); });
    return parts.join(" · ");
  }
  function update() {
    var from = state.from, to = state.to;
    syncPeriodControls();
    var pr = prevRange(state.kind, from, to);
    var prev = pr[0] >= 0 ? agg(pr[0], pr[1]) : null;  // only when the page holds the whole previous period
    renderKpis(agg(from, to), prev);
    el("selection").textContent = selectionText(from, to) + (prev ? " · 上期 previous " + iso(pr[0]) + " – " + iso(pr[1]) : " · 无上期数据 no previous period in the data");
    renderAct();
    renderCharts(from, to);
    renderLessons(from, to);
    body.dataset.state = JSON.stringify({ kind: state.kind, key: state.key, from: iso(from), to: iso(to), f: state.f });
  }
  update();
  var ready = document.fonts && document.fonts.ready ? document.fonts.ready : Promise.resolve();
  ready.then(function () { update(); body.dataset.ready = "1"; });
  window.addEventListener("beforeprint", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
})();
