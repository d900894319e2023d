"""The sandbox's synthetic school: determinism, timetable, status, attendance, events."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest

from pipeline.sandbox.school import (
    EVENT_TYPES,
    LESSON_ID_BASE,
    MAX_TERM_WEEKS,
    STUDENT_ID_BASE,
    TEACHER_ID_BASE,
    TZ,
    Activity,
    Lesson,
    School,
)

NOW = datetime(2024, 6, 1, 3, 0, tzinfo=TZ)
MONTH = [date(2024, 5, 1) + timedelta(days=i) for i in range(31)]


@pytest.fixture(scope="module")
def school() -> School:
    return School(seed=7, now=NOW)


@pytest.fixture(scope="module")
def month(school: School) -> list[tuple[Lesson, Activity]]:
    return [(lesson, school.activity(lesson)) for day in MONTH for lesson in school.lessons_on(day)]


def held(month):
    return [(lesson, act) for lesson, act in month if act.status == 2]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_school():
    a, b = School(seed=11, now=NOW), School(seed=11, now=NOW)
    for day in (date(2024, 5, 3), date(2016, 2, 29), date(2031, 12, 31)):
        la, lb = a.lessons_on(day), b.lessons_on(day)
        assert la == lb
        for x, y in zip(la, lb):
            assert a.activity(x) == b.activity(y)
    assert a.teachers() == b.teachers() and a.students() == b.students()
    assert a.coursewares() == b.coursewares()


def test_other_seed_differs():
    a, b = School(seed=11, now=NOW), School(seed=12, now=NOW)
    day = date(2024, 5, 3)
    assert a.lessons_on(day) != b.lessons_on(day)
    assert [p.name for p in a.students()] != [p.name for p in b.students()]
    # same ids, different activity
    lesson = a.lessons_on(day)[10]
    assert a.activity(lesson) != b.activity(lesson)


def test_now_normalisation():
    naive = School(seed=1, now=datetime(2024, 6, 1, 3, 0))
    assert naive.now == NOW and naive.now.tzinfo is not None
    utc = School(seed=1, now=datetime(2024, 5, 31, 19, 0, tzinfo=TZ).astimezone(ZoneInfoUTC()))
    assert utc.now == datetime(2024, 5, 31, 19, 0, tzinfo=TZ)
    wall = School(seed=1)
    assert wall.now.second == 0 and wall.now.microsecond == 0 and wall.now.tzinfo is not None


def ZoneInfoUTC():
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


# --------------------------------------------------------------------------- timetable


@pytest.mark.parametrize("lpd", [1, 7, 40])
def test_lessons_per_day_exact_and_within_day(lpd):
    """An ordinary (non-closure) day has exactly lessons_per_day lessons."""
    s = School(seed=3, lessons_per_day=lpd, now=NOW)
    days = [date(2015, 1, 1), date(2015, 1, 4), date(2019, 7, 13), date(2024, 2, 29), date(2060, 8, 16)]
    days += [date(2024, 5, 1) + timedelta(days=i) for i in range(14)]
    for day in days:
        assert s.closure_of(day) is None
        lessons = s.lessons_on(day)
        assert len(lessons) == lpd
        assert list(lessons) == sorted(lessons, key=lambda x: (x.start, x.id))
        for slot, lesson in enumerate(lessons):
            assert lesson.id == LESSON_ID_BASE + (day - date(2015, 1, 1)).days * 1000 + slot
            assert lesson.start.tzinfo is not None and lesson.end.tzinfo is not None
            assert lesson.start.date() == day == lesson.end.date()
            assert lesson.start.second == 0 and lesson.start.microsecond == 0
            assert lesson.end.second == 59
            assert lesson.start.hour >= 7
            assert (lesson.end.hour, lesson.end.minute) < (22, 30)
            minutes = (lesson.end - lesson.start - timedelta(seconds=59)).total_seconds() / 60
            assert minutes in (30, 45, 60, 90)
            assert lesson.genre in (0, 1)
            assert s.lesson(lesson.id) == lesson


def test_lesson_id_round_trip_and_rejects(school: School):
    for day in (date(2024, 5, 20), date(2017, 9, 1)):
        for lesson in school.lessons_on(day):
            assert school.lesson(lesson.id) == lesson
    day_base = LESSON_ID_BASE + (date(2024, 5, 20) - date(2015, 1, 1)).days * 1000
    assert school.lesson(day_base + 40) is None  # slot >= lessons_per_day
    early = school.lessons_on(date(2014, 12, 28))[3]  # before the id epoch: ids below 100_000_000
    assert early.id == 99_996_003 and school.lesson(early.id) == early
    assert school.classroom(early.classroom_id) is not None
    assert school.lesson(1) is None
    assert school.lesson(900_000_001) is None  # reserved for API-created lessons
    assert school.lesson("not a number") is None  # type: ignore[arg-type]


def test_classrooms_people_and_courseware(school: School):
    day = date(2024, 5, 20)
    active = {c.id for c in school.classrooms_on(day)}
    sizes = {0: (1, 1), 7: (4, 12), 2: (20, 60), 1: (30, 80)}
    for lesson in school.lessons_on(day):
        c = school.classroom(lesson.classroom_id)
        assert c is not None and c.id in active
        assert c.first_day <= day <= c.last_day
        assert c.teacher_id == lesson.teacher_id and c.student_ids == lesson.student_ids
        lo, hi = sizes[c.category]
        assert lo <= len(c.student_ids) <= hi
        assert 1 <= len(c.name) <= 20
        mine = school.classroom_lessons(c.id)
        assert lesson in mine and 1 <= len(mine) <= 2 * MAX_TERM_WEEKS
        assert [x.start for x in mine] == sorted(x.start for x in mine)
        assert mine[0].start.date() == c.first_day and mine[-1].start.date() == c.last_day
        assert school.person(lesson.teacher_id).user_type == 2
        for sid in lesson.student_ids:
            assert school.person(sid).user_type == 1
        library = {cw.id for cw in school.coursewares()}
        assert set(lesson.courseware_ids) <= library
    assert school.classroom(12345) is None and school.classroom_lessons(12345) == ()
    assert len(school.teachers()) == 60 and len(school.students()) == 2400
    assert school.teachers()[0].id == TEACHER_ID_BASE and school.students()[0].id == STUDENT_ID_BASE
    mobiles = [p.mobile for p in school.teachers() + school.students()]
    assert len(set(mobiles)) == len(mobiles)
    for p in school.teachers() + school.students():
        assert str(p.mobile)[:2] in ("13", "15", "18") and len(str(p.mobile)) == 11
        assert school.person_by_mobile(p.mobile) is p and school.person(p.id) is p
        assert p.gender in (1, 2) and 2 <= len(p.name) <= 3
    assert school.person(1) is None and school.person_by_mobile(12345678901) is None
    assert all(cw.convert_status == 2 and cw.type in (1, 2, 3, 4) for cw in school.coursewares())


def test_no_double_booking(school: School):
    clashes = enrolments = 0
    for day in MONTH[:14]:
        by_teacher = defaultdict(list)
        by_student = defaultdict(list)
        for lesson in school.lessons_on(day):
            by_teacher[lesson.teacher_id].append((lesson.start, lesson.end))
            for sid in lesson.student_ids:
                by_student[sid].append((lesson.start, lesson.end))
                enrolments += 1
        for spans in by_teacher.values():
            spans.sort()
            assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))
        for spans in by_student.values():
            spans.sort()
            clashes += sum(a[1] >= b[0] for a, b in zip(spans, spans[1:]))
    assert clashes <= enrolments * 0.01


def test_timetable_shape(school: School):
    weekday_evening = weekday = weekend_day = weekend = 0
    categories = Counter()
    for day in MONTH:
        for lesson in school.lessons_on(day):
            categories[school.classroom(lesson.classroom_id).category] += 1
            if day.weekday() < 5:
                weekday += 1
                weekday_evening += lesson.start.hour >= 16
            else:
                weekend += 1
                weekend_day += lesson.start.hour < 18
    assert weekday_evening / weekday > 0.7
    assert weekend_day / weekend > 0.6
    assert set(categories) == {0, 1, 2, 7}


# --------------------------------------------------------------------------- status


def test_status_follows_now():
    s = School(seed=5, now=NOW)
    lessons = s.lessons_on(date(2024, 5, 20))
    for lesson in lessons[::5]:
        s.now = lesson.start - timedelta(minutes=1)
        act = s.activity(lesson)
        assert act.status == 0 == s.status(lesson)
        assert act.actual_start is None and not act.events and not act.awards
        assert all(r.sessions == () and r.listen_minutes == 0 for r in act.attendance)
        s.now = lesson.start + timedelta(minutes=20)
        act = s.activity(lesson)
        assert act.status == 1 == s.status(lesson)
        assert act.actual_end is None and act.replay_url is None
        for r in act.attendance:
            assert all(o <= s.now for _, o in r.sessions)
            assert r.leave_minutes == 0
        assert all(t < s.now for ts in act.events.values() for t in ts)
        s.now = lesson.end
        act = s.activity(lesson)
        assert act.status in (2, 3) and act.status == s.status(lesson)
    # a fresh school with the same clock agrees with the one whose clock was moved
    lesson = lessons[::5][-1]
    assert s.now == lesson.end
    assert School(seed=5, now=lesson.end).activity(lesson) == s.activity(lesson)


def test_expired_lessons(school: School, month):
    statuses = Counter(act.status for _, act in month)
    assert set(statuses) == {2, 3}
    share = statuses[3] / len(month)
    assert 0.01 <= share <= 0.06
    for lesson, act in month:
        if act.status != 3:
            continue
        assert act.actual_start is None and act.actual_end is None and act.replay_url is None
        assert not act.events and not act.awards and not act.help_requests
        assert len(act.attendance) == len(lesson.student_ids)
        assert all(r.sessions == () and (r.listen_minutes, r.inout_times, r.late_minutes, r.leave_minutes) == (0, 0, 0, 0) for r in act.attendance)
        t = act.teacher
        assert (t.actual_start, t.actual_end, t.listen_minutes, t.inout_times) == (None, None, 0, 0)


# --------------------------------------------------------------------------- attendance & events


def test_attendance_invariants(school: School, month):
    for lesson, act in held(month):
        assert [r.user_id for r in act.attendance] == list(lesson.student_ids)
        assert act.actual_start is not None and act.actual_end is not None
        assert act.actual_start < act.actual_end <= lesson.end
        for r in act.attendance:
            if not r.sessions:
                assert (r.listen_minutes, r.inout_times, r.late_minutes, r.leave_minutes) == (0, 0, 0, 0)
                continue
            assert 1 <= len(r.sessions) <= 4
            flat = [t for s in r.sessions for t in s]
            assert flat == sorted(flat) and len(set(flat)) == len(flat)
            assert all(t.microsecond == 0 for t in flat)
            assert r.sessions[0][0] >= lesson.start - timedelta(minutes=5)
            assert r.sessions[-1][1] <= act.actual_end
            seconds = sum((o - i).total_seconds() for i, o in r.sessions)
            assert r.listen_minutes == int(seconds // 60)
            assert r.inout_times == 2 * len(r.sessions)
            assert r.late_minutes == int(max(0.0, (r.sessions[0][0] - lesson.start).total_seconds()) // 60)
            assert r.leave_minutes == int(max(0.0, (lesson.end - r.sessions[-1][1]).total_seconds()) // 60)
        t = act.teacher
        assert t.teacher_id == lesson.teacher_id
        assert (t.actual_start, t.actual_end) == (act.actual_start, act.actual_end)
        assert t.late_minutes == int(max(0.0, (t.actual_start - lesson.start).total_seconds()) // 60)
        assert t.leave_minutes == int(max(0.0, (lesson.end - t.actual_end).total_seconds()) // 60)
        assert t.inout_times in (2, 4, 6)
        span = (t.actual_end - t.actual_start).total_seconds() // 60
        assert span - 10 <= t.listen_minutes <= span


def test_events_awards_help_replay(school: School, month):
    for lesson, act in held(month):
        sessions = {r.user_id: r.sessions for r in act.attendance}
        present = {u for u, s in sessions.items() if s}
        for (uid, etype), times in act.events.items():
            assert etype in EVENT_TYPES and uid in present and times
            assert list(times) == sorted(set(times))
            for t in times:
                assert act.actual_start <= t <= act.actual_end
                assert any(i <= t <= o for i, o in sessions[uid])
        for uid in present:
            ons = act.events.get((uid, "toggle_mic_on"), ())
            offs = act.events.get((uid, "toggle_mic_off"), ())
            assert len(ons) == len(offs)
            for k, (on, off) in enumerate(zip(ons, offs)):
                assert on < off
                if k + 1 < len(ons):
                    assert off < ons[k + 1]
            expected = len(act.events.get((uid, "reward"), ())) + len(act.events.get((uid, "reward_all"), ()))
            assert act.awards.get(uid, 0) == expected
        assert all(v > 0 and u in present for u, v in act.awards.items())
        # reward_all is a group moment: everyone inside a session at that second has it
        moments = {t for (u, e), ts in act.events.items() if e == "reward_all" for t in ts}
        for m in moments:
            for uid in present:
                inside = any(i <= m < o for i, o in sessions[uid])
                assert inside == (m in act.events.get((uid, "reward_all"), ()))
        for h in act.help_requests:
            assert h.lesson_id == lesson.id and h.user_id in present
            assert h.help_item_name in ("001", "002", "003", "004", "005")
            assert h.help_type and h.help_content
            assert any(i <= h.time <= o for i, o in sessions[h.user_id])
        classroom = school.classroom(lesson.classroom_id)
        if classroom.is_replay:
            assert act.replay_url == f"zbywsvod.weclassroom.com/vod/zby/_{lesson.id}_{act.replay_url.rsplit('_', 1)[1]}"
            assert act.replay_url.endswith(".mp4") and "://" not in act.replay_url
        else:
            assert act.replay_url is None


def test_category_event_profile(school: School, month):
    per_student = defaultdict(Counter)
    present = Counter()
    for lesson, act in held(month):
        cat = school.classroom(lesson.classroom_id).category
        present[cat] += sum(1 for r in act.attendance if r.sessions)
        for (_uid, etype), times in act.events.items():
            per_student[cat][etype] += len(times)
    rate = {cat: {e: per_student[cat][e] / present[cat] for e in EVENT_TYPES} for cat in present}
    assert rate[7]["onstage"] > rate[2]["onstage"] > 0
    assert rate[7]["handup"] > rate[2]["handup"]
    assert rate[0]["reward_all"] == 0 and rate[0]["toggle_mic_on"] > 1
    assert rate[2]["reward_all"] > 0


def test_distributions_plausible(school: School, month):
    rows = absent = late = leave = multi = 0
    per_student = defaultdict(lambda: [0, 0])
    by_cat = defaultdict(lambda: [0, 0])
    teacher_late = helps = 0
    lessons = held(month)
    for lesson, act in lessons:
        cat = school.classroom(lesson.classroom_id).category
        teacher_late += act.teacher.late_minutes >= 3
        helps += len(act.help_requests)
        for r in act.attendance:
            rows += 1
            a = not r.sessions
            absent += a
            per_student[r.user_id][0] += 1
            per_student[r.user_id][1] += a
            by_cat[cat][0] += 1
            by_cat[cat][1] += a
            if not a:
                late += r.late_minutes >= 2
                leave += r.leave_minutes >= 3
                multi += len(r.sessions) > 1
    present = rows - absent
    assert 0.03 <= absent / rows <= 0.20
    assert 0.03 <= late / present <= 0.35
    assert 0.03 <= leave / present <= 0.35
    assert 0.05 <= multi / present <= 0.40
    # chronic absentees exist, most students are regular
    rates = [a / n for n, a in per_student.values() if n >= 4]
    assert any(r >= 0.4 for r in rates)
    assert sum(r <= 0.15 for r in rates) / len(rates) > 0.6
    # big classes are skipped more than one-to-one lessons
    assert by_cat[2][1] / by_cat[2][0] > by_cat[0][1] / by_cat[0][0]
    assert teacher_late / len(lessons) < 0.15
    assert 1 <= helps / len(MONTH) <= 15


# --------------------------------------------------------------------------- edited lessons


def test_edited_lesson_stays_consistent(school: School):
    import dataclasses

    lesson = next(x for x in school.lessons_on(date(2024, 5, 14)) if len(x.student_ids) >= 5 and school.status(x) == 2)
    newcomer = STUDENT_ID_BASE + 2399
    edited = dataclasses.replace(
        lesson,
        teacher_id=TEACHER_ID_BASE + 1,
        student_ids=lesson.student_ids + (newcomer, 987_654),  # 987_654: unknown to the roster
        start=lesson.start + timedelta(hours=1),
        end=lesson.end + timedelta(hours=1),
    )
    act = school.activity(edited)
    assert [r.user_id for r in act.attendance] == list(edited.student_ids)
    assert act.teacher.teacher_id == TEACHER_ID_BASE + 1
    for r in act.attendance:
        for i, o in r.sessions:
            assert edited.start - timedelta(minutes=5) <= i < o <= edited.end
    # an API-created lesson (unknown classroom) works too
    api = dataclasses.replace(lesson, id=900_000_123, classroom_id=77)
    assert school.activity(api).status == school.status(api)


# --------------------------------------------------------------------------- memory & speed


def test_caches_stay_bounded():
    s = School(seed=9, now=NOW)
    day0 = date(2023, 1, 1)
    for i in range(365 * 2):
        day = day0 + timedelta(days=i)
        lessons = s.lessons_on(day)
        if lessons:  # a closure day may have none
            s.activity(lessons[i % len(lessons)])
    for cache in (s._term_cached, s._lessons_on_cached, s._full_cached, s._activity_cached):
        info = cache.cache_info()
        assert info.currsize <= info.maxsize
    assert s._lessons_on_cached.cache_info().currsize == s._lessons_on_cached.cache_info().maxsize
    assert s._term_cached.cache_info().currsize <= 6
