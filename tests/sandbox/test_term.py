"""A synthetic school that looks like a term: calendar terms, closures, twice-a-week classes, drift."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from pipeline.core.calendar import term_of
from pipeline.sandbox.school import (
    CLASSROOM_ID_BASE,
    SPRING_FESTIVAL,
    TZ,
    School,
    closure_of,
    term_index,
)
from pipeline.sandbox.truth import write_truth

NOW = datetime(2027, 1, 2, 3, 0, tzinfo=TZ)  # after the autumn term 2026: every lesson of it is over
YEAR_2026 = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
AUTUMN = term_of(date(2026, 10, 1))


def _ordinary_week(monday: date) -> list[date]:
    days = [monday + timedelta(days=i) for i in range(7)]
    assert not any(closure_of(d) for d in days)
    return days


@pytest.fixture(scope="module")
def small() -> School:
    return School(seed=11, lessons_per_day=6, now=NOW)


@pytest.fixture(scope="module")
def school() -> School:
    return School(seed=7, lessons_per_day=40, now=NOW)


# --------------------------------------------------------------------------- terms


def test_term_index_and_bounds():
    assert term_index(date(1985, 1, 1)) == 0
    assert term_index(date(2026, 9, 1)) == term_index(date(2026, 12, 31)) == (2026 - 1985) * 4 + 3 == 167
    assert term_index(date(2027, 1, 1)) == 168 and term_index(date(2027, 3, 1)) == 169
    assert term_index(date(2027, 7, 31)) == 170 and term_index(date(2027, 8, 31)) == 170
    for day in YEAR_2026[::5]:
        assert School.term_of(day) == term_of(day)


def test_class_names_and_ids_follow_the_calendar_term(small: School):
    """Every lesson of 2026 is in a classroom of the lesson day's calendar term, named after it."""
    seen_terms = set()
    for day in YEAR_2026:
        term = term_of(day)
        for lesson in small.lessons_on(day):
            c = small.classroom(lesson.classroom_id)
            grade, subject = small.classroom_info(c.id)
            assert c.name.startswith(f"{term.name}{grade}{subject}"), (day, c.name)
            assert term.start <= c.first_day <= day <= c.last_day <= term.end
            assert (c.id - CLASSROOM_ID_BASE) // 200_000 == term_index(day)
            assert 1 <= len(c.name) <= 20
            seen_terms.add(term.name)
    assert seen_terms == {"2026寒", "2026春", "2026暑", "2026秋"}


def test_class_names_realistic_and_unique(school: School):
    classrooms = school.classrooms_of_term(date(2026, 11, 1))
    names = [c.name for c in classrooms]
    assert len(set(names)) == len(names)  # unique in the term: a roster can name a class
    assert all(len(n) <= 20 and n.startswith("2026秋") for n in names)
    kinds = Counter(next(k for k in ("一对一", "小班", "大班", "讲座") if k in n) for n in names)
    assert set(kinds) == {"一对一", "小班", "大班", "讲座"}
    c = next(c for c in classrooms if c.category == 7 and len({x.start.weekday() for x in school.classroom_lessons(c.id)}) == 2)
    first = school.classroom_lessons(c.id)[0]
    days = "".join("一二三四五六日"[wd] for wd in sorted({x.start.weekday() for x in school.classroom_lessons(c.id)}))
    assert c.name.endswith(f" 周{days}{first.start:%H:%M}") or c.name.endswith(f"周{days}{first.start:%H:%M}")
    # students are (almost always) in classes of their grade
    rows = [(u, school.classroom_info(c.id)[0]) for c in classrooms for u in c.student_ids]
    same = sum(school.grade_of(u, date(2026, 11, 1)) == g for u, g in rows)
    assert same / len(rows) > 0.9


def test_grades_move_up_in_september(school: School):
    uid = school.students()[0].id
    grades = ("小一", "小二", "小三", "小四", "小五", "小六", "初一", "初二", "初三", "高一", "高二", "高三")
    g25 = grades.index(school.grade_of(uid, date(2025, 10, 1)))
    assert school.grade_of(uid, date(2026, 3, 1)) == grades[g25]  # 春 belongs to the school year of 2025秋
    assert school.grade_of(uid, date(2026, 7, 15)) == grades[(g25 + 1) % 12]  # 暑 prepares the next grade
    assert school.grade_of(uid, date(2026, 10, 1)) == grades[(g25 + 1) % 12]
    assert school.grade_of(12345, date(2026, 10, 1)) is None


# --------------------------------------------------------------------------- closures


def test_closure_calendar():
    assert [d for d in YEAR_2026 if closure_of(d) == "国庆"] == [date(2026, 10, i) for i in range(1, 8)]
    assert [d for d in YEAR_2026 if closure_of(d) == "春节"] == [date(2026, 2, 16) + timedelta(days=i) for i in range(7)]
    for year, cny in SPRING_FESTIVAL.items():
        assert closure_of(cny - timedelta(days=1)) == closure_of(cny + timedelta(days=5)) == "春节", year
        assert closure_of(cny - timedelta(days=2)) is None and closure_of(cny + timedelta(days=6)) is None
    assert SPRING_FESTIVAL[2024] == date(2024, 2, 10) and SPRING_FESTIVAL[2028] == date(2028, 1, 26)
    # outside the table: 02-05 stands for 正月初一
    assert closure_of(date(2040, 2, 4)) == closure_of(date(2040, 2, 10)) == "春节"
    assert closure_of(date(2040, 2, 3)) is None and closure_of(date(2040, 2, 11)) is None
    assert closure_of(date(2026, 5, 1)) is None and closure_of(date(2026, 1, 1)) is None


def test_closure_days_have_few_lessons(school: School):
    closed = [d for y in range(2024, 2029) for d in (date(y, 1, 1) + timedelta(days=i) for i in range(366))
              if d.year == y and closure_of(d)]
    assert len(closed) == 5 * 14
    counts = []
    for day in closed:
        lessons = school.lessons_on(day)
        counts.append(len(lessons))
        assert all(school.classroom(x.classroom_id).category == 0 for x in lessons)  # only one-to-one tutoring
        assert [x.id - school.lesson_id_for(day, 0) for x in lessons] == list(range(len(lessons)))
        for x in lessons:
            assert school.lesson(x.id) == x and x in school.classroom_lessons(x.classroom_id)
    assert max(counts) <= 0.2 * 40 and sum(counts) / len(counts) <= 0.08 * 40
    assert counts.count(0) >= 1 or min(counts) <= 1
    # the days around a closure are ordinary
    for day in (date(2026, 9, 30), date(2026, 10, 8), date(2026, 2, 15), date(2026, 2, 23)):
        assert len(school.lessons_on(day)) == 40
    # a group classroom running through National Day skips it (no lesson, no make-up)
    through = [c for c in school.classrooms_of_term(date(2026, 10, 1))
               if c.category in (2, 7) and c.first_day < date(2026, 10, 1) and c.last_day > date(2026, 10, 7)]
    assert through
    for c in through:
        assert not [x for x in school.classroom_lessons(c.id) if closure_of(x.start.date())]


# --------------------------------------------------------------------------- twice a week, several classes


def test_some_classes_meet_twice_a_week(school: School):
    week = _ordinary_week(date(2026, 11, 23))
    by_class = defaultdict(list)
    for day in week:
        for lesson in school.lessons_on(day):
            by_class[lesson.classroom_id].append(lesson)
    twice = {cid: ls for cid, ls in by_class.items() if len(ls) == 2}
    assert all(len(ls) <= 2 for ls in by_class.values())
    per_cat = Counter(school.classroom(cid).category for cid in twice)
    all_cat = Counter(school.classroom(cid).category for cid in by_class)
    assert per_cat[7] / all_cat[7] >= 0.3 and per_cat[2] / all_cat[2] >= 0.2 and per_cat[1] == 0
    for ls in twice.values():
        a, b = sorted(ls, key=lambda x: x.start)
        assert a.start.date() != b.start.date()
        assert (a.start.time(), a.end.time()) == (b.start.time(), b.end.time())
        assert a.teacher_id == b.teacher_id and a.student_ids == b.student_ids
        assert int(a.name.split("第")[1].rstrip("讲")) + 1 == int(b.name.split("第")[1].rstrip("讲"))
    # students have several classes and several lessons a week
    lessons_per_student = Counter(u for ls in by_class.values() for x in ls for u in x.student_ids)
    classes_per_student = Counter(u for cid in by_class for u in school.classroom(cid).student_ids)
    n = len(lessons_per_student)
    assert n >= 0.45 * len(school.students())
    assert sum(k >= 2 for k in classes_per_student.values()) / n >= 0.5
    assert sum(k >= 3 for k in lessons_per_student.values()) / n >= 0.4
    assert max(lessons_per_student.values()) >= 8


# --------------------------------------------------------------------------- drift


@pytest.fixture(scope="module")
def drift_truth(tmp_path_factory):
    """The truth of the first and the last four weeks of 2026秋 (seed 11, 12 lessons a day)."""
    school = School(seed=11, lessons_per_day=12, now=NOW)
    out = tmp_path_factory.mktemp("drift")
    tables = {}
    for part, (start, end) in {"first": (AUTUMN.start, AUTUMN.start + timedelta(days=27)),
                               "last": (AUTUMN.end - timedelta(days=27), AUTUMN.end)}.items():
        write_truth(school, start, end, out / part)
        tables[part] = {n: pq.read_table(out / part / f"{n}.parquet").to_pylist() for n in ("lessons", "attendance", "drift")}
    return school, tables


def _absence(tables) -> tuple[dict[int, list[int]], dict[int, list[tuple[date, int]]]]:
    """Per student [rows, absent] and per classroom [(day, absent)] over held lessons."""
    held = {r["lesson_id"]: r["class_id"] for r in tables["lessons"] if r["status"] == 2}
    students: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    classes: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for r in tables["attendance"]:
        if r["lesson_id"] not in held:
            continue
        absent = int(r["listen_minutes"] == 0 and r["inout_times"] == 0)
        students[r["user_id"]][0] += 1
        students[r["user_id"]][1] += absent
        classes[held[r["lesson_id"]]].append((r["lesson_date"], absent))
    return students, classes


def _rate(per: dict[int, list[int]], ids) -> tuple[float, int]:
    n = sum(per[u][0] for u in ids if u in per)
    return sum(per[u][1] for u in ids if u in per) / max(1, n), n


def test_drift_table_is_the_schools(drift_truth):
    school, tables = drift_truth
    rows = tables["first"]["drift"]
    # the same at-risk students in both windows of the term (they belong to the term, not to a day)
    assert [r for r in rows if r["kind"] == "at_risk_student"] == [
        r for r in tables["last"]["drift"] if r["kind"] == "at_risk_student"]
    risk = {r["id"]: r for r in rows if r["kind"] == "at_risk_student"}
    assert {r["term"] for r in risk.values()} == {"2026秋"}
    assert set(risk) == set(school.at_risk(AUTUMN.start))
    active = {u for c in school.classrooms_of_term(AUTUMN.start) for u in c.student_ids}
    assert 0.04 <= len(risk) / len(active) <= 0.15
    for uid, r in risk.items():
        amp, stop = school.at_risk(AUTUMN.start)[uid]
        assert r["amplitude"] == amp and 0.25 <= amp <= 0.55
        assert r["dropout"] == (stop if stop <= 1 else None)
    declining = [r for r in rows + tables["last"]["drift"] if r["kind"] == "declining_classroom"]
    assert declining and all(school.decline_of(r["id"]) == r["amplitude"] > 0 for r in declining)


def test_at_risk_students_drift_and_the_rest_stay_stable(drift_truth):
    school, tables = drift_truth
    first, first_cls = _absence(tables["first"])
    last, last_cls = _absence(tables["last"])
    risk = {r["id"] for r in tables["first"]["drift"] if r["kind"] == "at_risk_student"}
    declining = {r["id"] for part in tables.values() for r in part["drift"] if r["kind"] == "declining_classroom"}
    in_declining = {u for cid in declining for u in school.classroom(cid).student_ids}
    r_first, n_first = _rate(first, risk)
    r_last, n_last = _rate(last, risk)
    assert n_first >= 100 and n_last >= 100
    assert r_last >= r_first + 0.2, (r_first, r_last)
    # most at-risk students individually skip more at the end of the term
    both = [u for u in risk if first.get(u, [0])[0] >= 3 and last.get(u, [0])[0] >= 3]
    rising = sum(last[u][1] / last[u][0] > first[u][1] / first[u][0] for u in both)
    assert rising / len(both) >= 0.7
    stable = (set(first) | set(last)) - risk - in_declining
    s_first, _ = _rate(first, stable)
    s_last, _ = _rate(last, stable)
    assert abs(s_last - s_first) < 0.03, (s_first, s_last)
    assert 0.05 <= s_first <= 0.15


def test_declining_classrooms_lose_students_week_by_week(school: School):
    classrooms = [c for c in school.classrooms_of_term(AUTUMN.start) if school.decline_of(c.id)]
    assert 0.02 * len(school.classrooms_of_term(AUTUMN.start)) <= len(classrooms)
    assert all(c.category in (2, 7) for c in classrooms)
    early = late = early_n = late_n = 0
    for c in classrooms:
        held = [x for x in school.classroom_lessons(c.id) if school.status(x) == 2]
        third = max(1, len(held) // 3)
        for k, x in enumerate(held):
            absent = sum(not r.sessions for r in school.activity(x).attendance)
            if k < third:
                early, early_n = early + absent, early_n + len(x.student_ids)
            elif k >= len(held) - third:
                late, late_n = late + absent, late_n + len(x.student_ids)
    assert late / late_n >= early / early_n + 0.15, (early / early_n, late / late_n)


def test_same_inputs_same_term():
    a = School(seed=5, lessons_per_day=9, now=NOW)
    b = School(seed=5, lessons_per_day=9, now=NOW)
    day = date(2026, 10, 20)
    assert a.classrooms_of_term(day) == b.classrooms_of_term(day)
    assert a.at_risk(day) == b.at_risk(day)
    assert [a.decline_of(c.id) for c in a.classrooms_of_term(day)] == [b.decline_of(c.id) for c in b.classrooms_of_term(day)]
    assert a.lessons_on(day) == b.lessons_on(day)
    assert School(seed=6, lessons_per_day=9, now=NOW).at_risk(day) != a.at_risk(day)
