// Renders the report's charts from the inline JSON (#report-data) with the inlined Chart.js.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var C = { blue: "#2563eb", orange: "#ea580c", green: "#16a34a", red: "#dc2626", grey: "#9aa5b1", purple: "#7c3aed" };
  var rendered = 0;
  if (data.empty || typeof Chart === "undefined") { document.body.dataset.charts = "0"; return; }
  var css = getComputedStyle(document.documentElement);
  Chart.defaults.font.family = css.fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#3e4c59";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  function pctAxis(max) {
    return { min: 0, max: max, ticks: { callback: function (v) { return v + "%"; } } };
  }
  function pctTooltip(ctx) { return ctx.dataset.label + ": " + (ctx.parsed.y === null ? "–" : ctx.parsed.y + "%"); }
  function make(id, hasData, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    if (!hasData) {
      var div = document.createElement("div");
      div.className = "nodata";
      div.textContent = "无数据 No data in this window";
      canvas.parentNode.appendChild(div);
      canvas.dataset.rendered = "empty";
      return;
    }
    new Chart(canvas, config);
    canvas.dataset.rendered = "chart";
    rendered++;
  }

  // 1. daily attendance and lateness
  var daily = data.daily;
  make("chart-daily", daily.length > 0, {
    type: "line",
    data: {
      labels: daily.map(function (d) { return d.lesson_date.slice(5); }),
      datasets: [
        { label: "出勤率 Attendance rate", data: daily.map(function (d) { return pct(d.attendance_rate); }),
          borderColor: C.blue, backgroundColor: C.blue, tension: 0.2, pointRadius: 2 },
        { label: "迟到率 Late rate", data: daily.map(function (d) { return pct(d.late_rate); }),
          borderColor: C.orange, backgroundColor: C.orange, tension: 0.2, pointRadius: 2 },
        { label: "早退率 Early-leave rate", data: daily.map(function (d) { return pct(d.early_leave_rate); }),
          borderColor: C.grey, backgroundColor: C.grey, borderDash: [4, 3], tension: 0.2, pointRadius: 0 },
        { label: "教师准时率 Teacher punctuality", data: daily.map(function (d) { return pct(d.teacher_punctuality_rate); }),
          borderColor: C.green, backgroundColor: C.green, tension: 0.2, pointRadius: 0, hidden: false }
      ]
    },
    options: { interaction: { mode: "index", intersect: false }, scales: { y: pctAxis(100) },
               plugins: { tooltip: { callbacks: { label: pctTooltip } } } }
  });

  // 2. listen share histogram
  var hist = data.listen_share;
  var histTotal = hist.reduce(function (s, b) { return s + b.n; }, 0);
  make("chart-listen", histTotal > 0, {
    type: "bar",
    data: {
      labels: hist.map(function (b) { return b.from + "–" + b.to + "%"; }),
      datasets: [{ label: "出勤学员人次 Attending student-lessons", data: hist.map(function (b) { return b.n; }),
                   backgroundColor: C.blue, barPercentage: 1.0, categoryPercentage: 0.95 }]
    },
    options: { scales: { x: { title: { display: true, text: "听课时长占比 Listen share" } },
                         y: { title: { display: true, text: "人次 Student-lessons" } } } }
  });

  // 3. teacher punctuality ranking (least punctual first)
  var teachers = data.teachers;
  make("chart-teachers", teachers.length > 0, {
    type: "bar",
    data: {
      labels: teachers.map(function (t) { return (t.teacher_name || "#" + t.teacher_id); }),
      datasets: [{ label: "准时率 Punctuality rate", data: teachers.map(function (t) { return pct(t.punctuality_rate); }),
                   backgroundColor: teachers.map(function (t) { return t.punctuality_rate < 0.8 ? C.red : C.green; }) }]
    },
    options: {
      indexAxis: "y", scales: { x: pctAxis(100), y: { ticks: { autoSkip: false, font: { size: 11 } } } },
      plugins: { legend: { display: false }, tooltip: { callbacks: {
        label: function (ctx) {
          var t = teachers[ctx.dataIndex];
          return ["准时率 Punctuality: " + ctx.parsed.x + "%", "已上课节 Lessons held: " + t.held,
                  "迟到≥5分钟 Late ≥5 min: " + t.late_5min,
                  "迟到时平均 Avg late when late: " + (t.avg_late_when_late === null ? "–" : t.avg_late_when_late + " min")];
        } } } }
    }
  });

  // 4. engagement by class size band
  var bands = data.bands;
  make("chart-bands", bands.some(function (b) { return b.lessons > 0; }), {
    type: "bar",
    data: {
      labels: bands.map(function (b) { return [b.label, "(" + b.note + ", " + (b.classes || 0) + " classes)"]; }),
      datasets: [
        { label: "平均参与度 Avg engagement (0–100)", data: bands.map(function (b) { return b.avg_score === undefined || b.avg_score === null ? null : Math.round(b.avg_score * 10) / 10; }), backgroundColor: C.purple },
        { label: "出勤率 Attendance %", data: bands.map(function (b) { return pct(b.attendance_rate); }), backgroundColor: C.blue },
        { label: "举手学员占比 Raised a hand %", data: bands.map(function (b) { return pct(b.handup_share); }), backgroundColor: C.orange },
        { label: "开麦学员占比 Used the mic %", data: bands.map(function (b) { return pct(b.mic_share); }), backgroundColor: C.green }
      ]
    },
    options: { scales: { y: { min: 0, max: 100 } } }
  });

  // 5. hand-ups and mic use over the minutes of a lesson
  var minutes = data.minutes;
  var minuteTotal = minutes.reduce(function (s, m) { return s + m.handup + m.mic_on; }, 0);
  make("chart-minutes", minuteTotal > 0, {
    type: "line",
    data: {
      datasets: [
        { label: "举手 Hand-ups", data: minutes.map(function (m) { return { x: m.minute, y: m.handup }; }), borderColor: C.orange,
          backgroundColor: "rgba(234,88,12,0.15)", fill: true, pointRadius: 0, tension: 0.25 },
        { label: "开麦 Mic on", data: minutes.map(function (m) { return { x: m.minute, y: m.mic_on }; }), borderColor: C.green,
          backgroundColor: "rgba(22,163,74,0.15)", fill: true, pointRadius: 0, tension: 0.25 }
      ]
    },
    options: { interaction: { mode: "index", intersect: false },
               scales: { x: { type: "linear", min: minutes[0].minute, max: minutes[minutes.length - 1].minute,
                              title: { display: true, text: "开课后分钟 Minute of lesson" }, ticks: { stepSize: 5 } },
                         y: { min: 0, title: { display: true, text: "每 100 节 per 100 lessons" } } } }
  });

  // 6. students with the most absences
  var abs = data.absences;
  make("chart-absences", abs.length > 0, {
    type: "bar",
    data: {
      labels: abs.map(function (s) { return "学员 " + s.user_id; }),
      datasets: [
        { label: "缺勤 Absent", data: abs.map(function (s) { return s.absent; }), backgroundColor: C.red },
        { label: "出勤 Attended", data: abs.map(function (s) { return s.lessons - s.absent; }), backgroundColor: "#cbd2d9" }
      ]
    },
    options: {
      indexAxis: "y", scales: { x: { stacked: true, title: { display: true, text: "课节 Lessons" } },
                                y: { stacked: true, ticks: { autoSkip: false, font: { size: 11 } } } },
      plugins: { tooltip: { callbacks: { afterBody: function (items) {
        var s = abs[items[0].dataIndex];
        return ["班级 Class: " + (s.classes || "–"), "迟到 Late: " + s.late, "最近缺勤 Last absence: " + s.last_absence];
      } } } }
    }
  });

  document.body.dataset.charts = String(rendered);
})();
