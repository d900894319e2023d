"""Mart values against values computed independently with pandas from the same lake.

The pandas side re-implements docs/definitions.md from the raw Parquet files; it
does not read the warehouse except to compare.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.warehouse.lakegen import write_lake
from warehouse.build import build_warehouse, connect_readonly


def _read(lake: Path, table: str) -> pd.DataFrame:
    files = sorted((lake / table).glob("date=*/*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    write_lake(lake, days=45, lessons_per_day=10, students_per_lesson=25, seed=11)
    out = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    build_warehouse(lake, out)
    con = connect_readonly(out)
    raw = {t: _read(lake, t) for t in
           ("lessons", "attendance", "teacher_inout", "awards", "key_event_counts", "help_requests")}
    les = raw["lessons"]
    # scheduled minutes: ceil of the seconds between scheduled start and end / 60
    secs = (les["scheduled_end"] - les["scheduled_start"]).dt.total_seconds()
    les["sched_min"] = np.ceil(secs / 60).astype(int)
    att = raw["attendance"].merge(les[["lesson_id", "status", "sched_min"]], on="lesson_id", how="left")
    att["attended"] = att["listen_minutes"] > 0
    att["late"] = att["attended"] & (att["late_minutes"] > 0)
    att["early"] = att["attended"] & (att["leave_minutes"] > 0)
    att["share"] = np.minimum(att["listen_minutes"] / att["sched_min"], 1.0)
    raw["att"] = att
    yield con, raw
    con.close()


def q(con, sql, *params):
    return con.execute(sql, list(params)).df()


def test_lesson_attendance_rate(env):
    con, raw = env
    att, les = raw["att"], raw["lessons"]
    finished = les.loc[les["status"] == 2, "lesson_id"]
    lid = int(finished.iloc[17])
    rows = att[att["lesson_id"] == lid]
    expect = rows["attended"].sum() / len(rows)
    got = q(con, "SELECT * FROM mart_lesson_attendance WHERE lesson_id = ?", lid).iloc[0]
    assert got["enrolled"] == len(rows)
    assert got["attended"] == rows["attended"].sum()
    assert got["attendance_rate"] == pytest.approx(expect)
    assert got["late"] == rows["late"].sum()
    assert got["early_leavers"] == rows["early"].sum()
    assert got["avg_listen_share"] == pytest.approx(rows.loc[rows["attended"], "share"].mean())
    ti = raw["teacher_inout"].set_index("lesson_id").loc[lid]
    assert got["teacher_late_minutes"] == ti["late_minutes"]
    assert bool(got["teacher_punctual"]) == (ti["late_minutes"] == 0)
    # not finished lessons have no rate
    other = les.loc[les["status"] != 2, "lesson_id"]
    got = q(con, "SELECT attendance_rate, teacher_punctual FROM mart_lesson_attendance WHERE lesson_id = ?",
            int(other.iloc[0])).iloc[0]
    assert pd.isna(got["attendance_rate"]) and pd.isna(got["teacher_punctual"])


def test_student_monthly_late_count(env):
    con, raw = env
    att = raw["att"]
    fin = att[att["status"] == 2].copy()
    fin["month"] = pd.to_datetime(fin["lesson_date"]).dt.to_period("M")
    march = fin[fin["month"] == pd.Period("2024-03", "M")]
    per_user = march.groupby("user_id")["late"].sum()
    uid = int(per_user.sort_values(kind="stable").index[-1])  # a student with the most late lessons
    got = q(con, "SELECT * FROM mart_student_attendance_month WHERE user_id = ? "
                 "AND month_start = DATE '2024-03-01'", uid).iloc[0]
    mine = march[march["user_id"] == uid]
    assert got["late"] == per_user[uid] > 0
    assert got["lessons"] == len(mine)
    assert got["attended"] == mine["attended"].sum()
    assert got["absent"] == len(mine) - mine["attended"].sum()
    assert got["early_leave"] == mine["early"].sum()
    assert got["late_5min"] == (mine["attended"] & (mine["late_minutes"] >= 5)).sum()
    assert got["listen_minutes"] == mine["listen_minutes"].sum()
    assert got["attendance_rate"] == pytest.approx(mine["attended"].mean())


_SEASON = {1: "寒", 2: "寒", 3: "春", 4: "春", 5: "春", 6: "春", 7: "暑", 8: "暑"}  # else 秋 (Sep-Dec)


@pytest.mark.parametrize("grain, key", [("day", "lesson_date"), ("week", "week_start"),
                                         ("month", "month_start"), ("term", "term")])
def test_student_attendance_marts_one_per_grain(env, grain, key):
    con, raw = env
    fin = raw["att"][raw["att"]["status"] == 2].copy()
    day = pd.to_datetime(fin["lesson_date"])
    fin["lesson_date"] = day.dt.date
    fin["week_start"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date
    fin["month_start"] = day.dt.to_period("M").dt.start_time.dt.date
    fin["term"] = day.dt.year.astype(str) + day.dt.month.map(lambda m: _SEASON.get(m, "秋"))
    exp = fin.groupby(["user_id", key]).agg(
        lessons=("attended", "size"), attended=("attended", "sum"), late=("late", "sum"),
        early_leave=("early", "sum"), listen_minutes=("listen_minutes", "sum"),
    ).reset_index().sort_values(["user_id", key]).reset_index(drop=True)
    got = q(con, f"SELECT user_id, {key}, lessons, attended, late, early_leave, listen_minutes "
                 f"FROM mart_student_attendance_{grain} ORDER BY user_id, {key}")
    assert len(got) == len(exp) > 0
    for c in ("user_id", "lessons", "attended", "late", "early_leave", "listen_minutes"):
        assert (got[c].to_numpy() == exp[c].to_numpy()).all(), c
    assert [str(v)[:10] for v in got[key]] == [str(v) for v in exp[key]]
    # one grain: the sums equal the finished student-lessons, whatever the grain
    assert got["lessons"].sum() == len(fin)


def _teacher_of_lesson(raw) -> pd.Series:
    """teacher id per lesson: API 34 row, else unique teacher-name mapping."""
    les, ti = raw["lessons"], raw["teacher_inout"]
    direct = les.merge(ti[["lesson_id", "teacher_id"]], on="lesson_id", how="left")
    known = direct.dropna(subset=["teacher_id"])
    ids_per_name = known.groupby("teacher_name")["teacher_id"].agg(lambda s: set(s))
    unique = {n: next(iter(s)) for n, s in ids_per_name.items() if len(s) == 1}
    fallback = direct["teacher_name"].map(unique)
    return pd.Series(direct["teacher_id"].fillna(fallback).to_numpy(), index=direct["lesson_id"])


def test_teacher_late_starts(env):
    con, raw = env
    les, ti = raw["lessons"], raw["teacher_inout"]
    teacher = _teacher_of_lesson(raw)
    held = les[les["status"] == 2].merge(ti[["lesson_id", "late_minutes"]], on="lesson_id")
    held["teacher_id"] = held["lesson_id"].map(teacher)
    got = q(con, "SELECT * FROM mart_teacher_punctuality ORDER BY teacher_id").set_index("teacher_id")
    assert len(got) == teacher.dropna().nunique()
    for tid, g in held.groupby("teacher_id"):
        row = got.loc[int(tid)]
        assert row["late_starts"] == (g["late_minutes"] > 0).sum()
        assert row["lessons_held"] == len(g)
        assert row["avg_late_minutes"] == pytest.approx(g["late_minutes"].mean())
        assert row["punctuality_rate"] == pytest.approx((g["late_minutes"] == 0).mean())
    expired = les[les["status"] == 3].assign(teacher_id=lambda d: d["lesson_id"].map(teacher))
    exp_expired = expired.groupby("teacher_id").size()
    for tid, n in exp_expired.items():
        assert got.loc[int(tid), "expired_lessons"] == n
    assert got["expired_lessons"].sum() == exp_expired.sum()


def test_daily_overview(env):
    con, raw = env
    les, att = raw["lessons"], raw["att"]
    got = q(con, "SELECT * FROM mart_daily_overview ORDER BY lesson_date").set_index("lesson_date")
    assert len(got) == les["lesson_date"].nunique()
    ti = raw["teacher_inout"][["lesson_id", "late_minutes"]]
    stars = raw["awards"].groupby("lesson_date")["award_num"].sum()
    kec = raw["key_event_counts"]
    hand = kec[kec["event_type"] == "handup"].groupby("lesson_date")["event_count"].sum()
    helps = raw["help_requests"].groupby("lesson_date").size()
    for day, dl in les.groupby("lesson_date"):
        row = got.loc[pd.Timestamp(day)]
        fin_ids = dl.loc[dl["status"] == 2, "lesson_id"]
        a = att[att["lesson_id"].isin(fin_ids)]
        attended = a["attended"].sum()
        assert row["lessons"] == len(dl)
        assert row["finished"] == len(fin_ids)
        assert row["expired"] == (dl["status"] == 3).sum()
        assert row["students_enrolled"] == len(a)
        assert row["attendance_rate"] == pytest.approx(attended / len(a))
        assert row["late_rate"] == pytest.approx(a["late"].sum() / attended)
        assert row["early_leave_rate"] == pytest.approx(a["early"].sum() / attended)
        assert row["avg_listen_share"] == pytest.approx(a.loc[a["attended"], "share"].mean())
        t = ti[ti["lesson_id"].isin(fin_ids)]
        assert row["teacher_punctuality_rate"] == pytest.approx((t["late_minutes"] == 0).mean())
        assert row["stars"] == stars.get(day, 0)
        assert row["handups"] == hand.get(day, 0)
        assert row["help_requests"] == helps.get(day, 0)


def _score(share, handups, onstage, mic_on, stars) -> float:
    """docs/definitions.md, engagement score."""
    raw = (50 * share + 15 * min(handups, 3) / 3 + 10 * min(onstage, 1)
           + 10 * min(mic_on, 1) + 15 * min(stars, 5) / 5)
    return raw


def test_engagement_score(env):
    con, raw = env
    att, kec, aw = raw["att"], raw["key_event_counts"], raw["awards"]
    # a student who raised a hand, went on stage and got stars in a finished lesson
    fin = att[(att["status"] == 2) & att["attended"]]
    counts = kec.pivot_table(index=["lesson_id", "user_id"], columns="event_type",
                             values="event_count", aggfunc="sum", fill_value=0)
    stars = aw.set_index(["lesson_id", "user_id"])["award_num"]
    candidates = counts[(counts["handup"] > 0) & (counts["onstage"] > 0)].index.intersection(stars.index)
    checked = 0
    for lid, uid in list(candidates)[:20]:
        r = fin[(fin["lesson_id"] == lid) & (fin["user_id"] == uid)]
        if r.empty:
            continue
        c = counts.loc[(lid, uid)]
        exp = _score(float(r["share"].iloc[0]), c["handup"], c["onstage"], c["toggle_mic_on"], stars[(lid, uid)])
        got = q(con, "SELECT * FROM mart_student_engagement WHERE lesson_id = ? AND user_id = ?",
                int(lid), int(uid)).iloc[0]
        assert got["handups"] == c["handup"] and got["stars"] == stars[(lid, uid)]
        assert got["onstage"] == c["onstage"] and got["mic_on"] == c["toggle_mic_on"]
        assert abs(got["engagement_score"] - exp) <= 0.05 + 1e-9
        assert 0 <= got["engagement_score"] <= 100
        checked += 1
    assert checked >= 5
    # absent students with nothing else score 0
    absent = att[(att["status"] == 2) & ~att["attended"]].iloc[0]
    got = q(con, "SELECT engagement_score FROM mart_student_engagement WHERE lesson_id = ? AND user_id = ?",
            int(absent["lesson_id"]), int(absent["user_id"])).iloc[0, 0]
    assert got == 0
    # bounded everywhere
    lo, hi = con.execute("SELECT min(engagement_score), max(engagement_score) FROM mart_student_engagement").fetchone()
    assert 0 <= lo <= hi <= 100 and not math.isnan(hi)


def test_key_event_minute_of_lesson(env):
    con, raw = env
    bad = con.execute(
        "SELECT count(*) FROM fct_key_events e JOIN dim_lesson l USING (lesson_id) "
        "WHERE e.minute_of_lesson <> floor(date_diff('second', l.scheduled_start, e.event_time) / 60) "
        "OR e.minute_of_lesson IS NULL"
    ).fetchone()[0]
    assert bad == 0
    assert con.execute("SELECT min(minute_of_lesson) >= 0 FROM fct_key_events").fetchone()[0]
