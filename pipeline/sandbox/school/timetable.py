"""The timetable: term templates of lanes and classrooms, and the lessons of a day.

Every day has exactly ``lessons_per_day`` lessons; a lane holds the same weekday/time for
the whole term.  Weekdays are evening heavy (≈63 % start 18:00–20:30, 25 % 16:00–17:30,
12 % 09:00–15:30); weekends are daytime heavy (35 % 08:00–11:30, 45 % 13:00–17:30, 20 %
18:00–20:00).  Nothing starts before 07:00 or ends after 22:30, so lessons never cross
midnight.  Lane categories: 35 % one-to-one (0), 40 % small class (7), 18 % big class
(2), 7 % passcode big class (1).  Enrolment: 1 / 4–12 / 20–60 / 30–80.  Durations
(minutes): one-to-one 30/45/60 (20/30/50 %), small 60/90 (60/40 %), big 45/60/90
(30/50/20 %), passcode 60/90.  Classroom lengths in weeks: one-to-one 4/8/16, small
8/16, big 8/16, passcode 1/2/4.  A scheduled end is ``start + duration + 59 s`` (like the
document's ``18:00:00 … 18:45:59``).  Teachers and students are never double-booked
(students best effort; a teacher owns a lane for the whole term).  ~2 % of lessons are
test lessons (genre 1).

A term template (:class:`Term`) is drawn once per ``(seed, lessons_per_day, term)``
from ``random.Random("<seed>:term:<term>:<lessons_per_day>")``: for each weekday
its lanes (start, duration, category, teacher), each lane split into consecutive
classrooms (segments) with their enrolment.  A lesson is then a cheap function of
(template, day, slot).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.core.calendar import TZ

from .model import (
    CLASSROOM_ID_BASE,
    CLASSROOM_TERM_STRIDE,
    COURSEWARE_ID_BASE,
    LESSON_EPOCH,
    LESSON_ID_BASE,
    MAX_SEGMENTS,
    STUDENT_ID_BASE,
    TEACHER_ID_BASE,
    TERM_DAYS,
    TERM_EPOCH,
    TERM_WEEKS,
    Classroom,
    Lesson,
)
from .rand import K_CW, K_GENRE, unit
from .roster import SUBJECTS, Roster

#: Share of lessons that are test lessons (genre 1).
TEST_LESSON_SHARE = 0.02

_GRADES = ("小一", "小二", "小三", "小四", "小五", "小六", "初一", "初二", "初三", "高一", "高二", "高三")
_WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_KIND_LABEL = {7: "小班", 2: "大班", 1: "讲座"}
_CATEGORIES = (0, 7, 2, 1)
_CATEGORY_WEIGHTS = (35, 40, 18, 7)
_DURATIONS = {0: ((30, 45, 60), (20, 30, 50)), 7: ((60, 90), (60, 40)), 2: ((45, 60, 90), (30, 50, 20)), 1: ((60, 90), (50, 50))}
_SEGMENT_WEEKS = {0: (4, 8, 8, 16, 16), 7: (8, 16, 16), 2: (8, 16), 1: (1, 2, 4)}
_ENROLMENT = {0: (1, 1), 7: (4, 12), 2: (20, 60), 1: (30, 80)}
_LATEST_END_MIN = 22 * 60 + 29  # end (incl. the :59 second) stays before 22:30


@dataclass(slots=True)
class Segment:
    """One classroom of a lane: weeks ``first_week..last_week`` of the term."""

    classroom: Classroom
    first_week: int
    last_week: int
    grade: str
    subject: str
    coursewares: tuple[int, ...]


@dataclass(slots=True)
class Lane:
    """A weekday/time slot held by one teacher for the whole term, split into segments."""

    weekday: int
    slot: int
    start_min: int
    dur: int
    category: int
    teacher_id: int
    segments: list[Segment]
    seg_of_week: list[int]


@dataclass(slots=True)
class Term:
    """A term's template."""

    index: int
    start: date
    lanes: list[list[Lane]]  # by weekday, in slot order
    classrooms: dict[int, tuple[Lane, Segment]]
    classroom_list: tuple[Classroom, ...]


def day_of(day: date) -> date:
    """A date (the date of a datetime)."""
    if isinstance(day, datetime):
        return day.date()
    return day


def term_of(day: date) -> int:
    """The index of the term holding ``day`` (16-week terms from TERM_EPOCH)."""
    return (day_of(day) - TERM_EPOCH).days // TERM_DAYS


def term_start(term: int) -> date:
    """The first day (a Monday) of ``term``."""
    return TERM_EPOCH + timedelta(days=term * TERM_DAYS)


def lane_times(rng: random.Random, weekday: int, lessons_per_day: int) -> list[tuple[int, int, int]]:
    """``lessons_per_day`` (start minute, duration, category) triples, sorted by start."""
    out = []
    for _ in range(lessons_per_day):
        cat = rng.choices(_CATEGORIES, weights=_CATEGORY_WEIGHTS)[0]
        durs, w = _DURATIONS[cat]
        dur = rng.choices(durs, weights=w)[0]
        u = rng.random()
        if weekday < 5:
            if u < 0.63:
                lo, hi = 18 * 60, 20 * 60 + 30
            elif u < 0.88:
                lo, hi = 16 * 60, 17 * 60 + 30
            else:
                lo, hi = 9 * 60, 15 * 60 + 30
        else:
            if u < 0.35:
                lo, hi = 8 * 60, 11 * 60 + 30
            elif u < 0.80:
                lo, hi = 13 * 60, 17 * 60 + 30
            else:
                lo, hi = 18 * 60, 20 * 60
        step = 15 if rng.random() < 0.15 else 30
        start = lo + step * rng.randint(0, (hi - lo) // step)
        start = min(start, _LATEST_END_MIN - dur)
        out.append((start, dur, cat))
    out.sort(key=lambda t: t[0])  # stable: ties keep draw order
    return out


def build_term(seed: int, lessons_per_day: int, roster: Roster, term: int) -> Term:
    """The template of ``term``: its lanes by weekday and its classrooms (enrolled from ``roster``)."""
    rng = random.Random(f"{seed}:term:{term}:{lessons_per_day}")
    t_start = term_start(term)
    season = {12: "冬", 1: "冬", 2: "春", 3: "春", 4: "春", 5: "春", 6: "夏", 7: "夏", 8: "夏"}.get(t_start.month, "秋")
    label = f"{t_start.year}{season}"
    lanes: list[list[Lane]] = []
    classrooms: dict[int, tuple[Lane, Segment]] = {}
    student_busy: dict[int, list[tuple[int, int, int, int]]] = {}
    n_t, n_s = len(roster.teachers), len(roster.students)
    lpd = lessons_per_day
    for wd in range(7):
        day_lanes: list[Lane] = []
        teacher_busy: list[list[tuple[int, int]]] = [[] for _ in range(n_t)]
        for slot, (start_min, dur, cat) in enumerate(lane_times(rng, wd, lpd)):
            end_min = start_min + dur
            # a load-weighted teacher free at that time (n_teachers >= 1.5 * lanes: always exists)
            for _ in range(64):
                t_idx = rng.choices(range(n_t), cum_weights=roster.teacher_load_cum)[0]
                if all(end_min + 10 <= s or e + 10 <= start_min for s, e in teacher_busy[t_idx]):
                    break
            else:
                free = [
                    t
                    for t in range(n_t)
                    if all(end_min + 10 <= s or e + 10 <= start_min for s, e in teacher_busy[t])
                ] or list(range(n_t))
                t_idx = rng.choice(free)
            teacher_busy[t_idx].append((start_min, end_min))
            teacher_id = TEACHER_ID_BASE + t_idx
            lane = Lane(wd, slot, start_min, dur, cat, teacher_id, [], [0] * TERM_WEEKS)
            week = 0
            seg_no = 0
            while week < TERM_WEEKS:
                length = min(rng.choice(_SEGMENT_WEEKS[cat]), TERM_WEEKS - week)
                w0, w1 = week, week + length - 1
                cid = CLASSROOM_ID_BASE + term * CLASSROOM_TERM_STRIDE + (wd * lpd + slot) * MAX_SEGMENTS + seg_no
                subject_i = roster.teacher_subject[t_idx] if rng.random() < 0.85 else rng.randrange(len(SUBJECTS))
                subject = SUBJECTS[subject_i]
                grade = rng.choice(_GRADES)
                # enrolment, avoiding students' clashes (same weekday, overlapping time and weeks)
                lo_n, hi_n = _ENROLMENT[cat]
                n = min(rng.randint(lo_n, hi_n), n_s)
                chosen: set[int] = set()
                for _ in range(n):
                    for attempt in range(25):
                        s_idx = rng.randrange(n_s)
                        if s_idx in chosen:
                            continue
                        busy = student_busy.get(s_idx)
                        if attempt < 24 and busy and any(
                            bwd == wd and bs < end_min + 10 and start_min < be + 10 and bw0 <= w1 and w0 <= bw1
                            for bwd, bs, be, bw0, bw1 in busy
                        ):
                            continue
                        chosen.add(s_idx)
                        student_busy.setdefault(s_idx, []).append((wd, start_min, end_min, w0, w1))
                        break
                student_ids = tuple(sorted(STUDENT_ID_BASE + s for s in chosen))
                if cat == 0:
                    who = roster.students[student_ids[0] - STUDENT_ID_BASE].name if student_ids else "学员"
                    name = f"{grade}{subject}一对一·{who}"
                else:
                    name = f"{label}{grade}{subject}{_KIND_LABEL[cat]}({_WEEKDAY_NAMES[wd]}{start_min // 60:02d}:{start_min % 60:02d})"
                is_replay = 1 if rng.random() < 0.85 else 0
                classroom = Classroom(
                    id=cid,
                    name=name,
                    category=cat,
                    teacher_id=teacher_id,
                    student_ids=student_ids,
                    first_day=t_start + timedelta(days=7 * w0 + wd),
                    last_day=t_start + timedelta(days=7 * w1 + wd),
                    small_routine=1 if cat == 1 and rng.random() < 0.3 else 0,
                    need_lian_mai=(1 if rng.random() < 0.5 else 0) if cat in (1, 2) else 0,
                    parent_supervise=(1 if rng.random() < 0.25 else 0) if cat in (0, 7) else 0,
                    is_replay=is_replay,
                    replay_duration=rng.choice((30, 90, 180, 365, 365)) if is_replay else 0,
                )
                cws = tuple(COURSEWARE_ID_BASE + 4 * subject_i + k for k in range(4))
                seg = Segment(classroom, w0, w1, grade, subject, cws)
                for w in range(w0, w1 + 1):
                    lane.seg_of_week[w] = seg_no
                lane.segments.append(seg)
                classrooms[cid] = (lane, seg)
                week = w1 + 1
                seg_no += 1
            day_lanes.append(lane)
        lanes.append(day_lanes)
    classroom_list = tuple(sorted((s.classroom for _, s in classrooms.values()), key=lambda c: c.id))
    return Term(term, t_start, lanes, classrooms, classroom_list)


def make_lesson(seed: int, tpl: Term, day: date, slot: int) -> Lesson:
    """The lesson of lane ``slot`` on ``day`` (a day of ``tpl``'s term)."""
    wd = day.weekday()
    week = (day - tpl.start).days // 7
    lane = tpl.lanes[wd][slot]
    seg = lane.segments[lane.seg_of_week[week]]
    c = seg.classroom
    lid = LESSON_ID_BASE + (day - LESSON_EPOCH).days * 1000 + slot
    start = datetime(day.year, day.month, day.day, lane.start_min // 60, lane.start_min % 60, tzinfo=TZ)
    end = start + timedelta(minutes=lane.dur, seconds=59)
    n = week - seg.first_week + 1
    genre = 1 if unit(seed, K_GENRE, lid) < TEST_LESSON_SHARE else 0
    name = f"{seg.subject}测试课" if genre else f"{seg.grade}{seg.subject}第{n}讲"
    u = unit(seed, K_CW, lid)
    cws = seg.coursewares
    if u < 0.10:
        cw: tuple[int, ...] = ()
    elif u < 0.85:
        cw = (cws[(n - 1) % 4],)
    else:
        cw = (cws[(n - 1) % 4], cws[n % 4])
    return Lesson(lid, c.id, lane.teacher_id, name, start, end, c.student_ids, genre, cw)
