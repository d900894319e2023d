"""The timetable: terms (lanes, classrooms, enrolment, closures) and the lessons of a day.

Terms
-----
Terms are the calendar's (:func:`pipeline.core.calendar.term_of`, the one home of the rule):
寒 winter Jan–Feb, 春 spring Mar–Jun, 暑 summer Jul–Aug, 秋 autumn Sep–Dec.  A classroom lives
inside one term and its name carries the term's name.  Term index: ``(year - 1985) * 4 +
season`` (season 0 寒, 1 春, 2 暑, 3 秋; :func:`term_index`).  Weeks are calendar weeks from the
Monday on or before the term's first day (``Term.monday0``); a term touches 9–19 of them and
lessons fall only on the term's own days.

Closures
--------
:func:`closure_of`: National Day 国庆 (10-01…10-07) and the Spring Festival 春节 (除夕 to 初六,
seven days, from :data:`SPRING_FESTIVAL`'s 正月初一 for 2015–2030; other years use 02-05 as
正月初一, a documented approximation).  On a closure day only ≈10 % of the one-to-one lanes
hold their lesson (``unit(seed, K_HOLIDAY, lane, day)``), i.e. ≈3.5 % of an ordinary day, often
none; group classes skip the day (no make-up lesson).  Every **ordinary** (non-closure) day has
exactly ``lessons_per_day`` lessons.

Lanes
-----
A lane holds one category, start time, duration and teacher for the whole term on one weekday
or, for classes meeting twice a week, on two (Mon+Wed/Thu, Tue+Thu/Fri, Wed+Fri or Sat+Sun, at
the same time: "周二四19:00").  Each weekday first draws ``lessons_per_day`` (start, duration,
category) meetings: weekdays are evening heavy (≈63 % start 18:00–20:30, 25 % 16:00–17:30,
12 % 09:00–15:30), weekends daytime heavy (35 % 08:00–11:30, 45 % 13:00–17:30, 20 %
18:00–20:00).  Then a Mon/Tue/Wed/Sat meeting asks for a partner with probability 15 %
(one-to-one), 70 % (small class), 50 % (big class), 0 (passcode lecture): a meeting of the same
category on a partner weekday, which takes the first one's start and duration.  So ≈ half of
the small classes and ≈ 40 % of the big ones meet twice a week, and every weekday still has
``lessons_per_day`` meetings.  Nothing starts before 07:00 or ends after 22:30, so lessons
never cross midnight.  Categories: 35 % one-to-one (0), 40 % small class (7), 18 % big class
(2), 7 % passcode big class (1).  Durations (minutes): one-to-one 30/45/60 (20/30/50 %), small
60/90 (60/40 %), big 45/60/90 (30/50/20 %), passcode 60/90.  A scheduled end is ``start +
duration + 59 s`` (like the document's ``18:00:00 … 18:45:59``).  Teachers are never
double-booked (a teacher owns a lane for the whole term); students best effort.  ~2 % of
lessons are test lessons (genre 1).

Classrooms
----------
A lane is split into consecutive classrooms (segments) over the term's weeks: one-to-one 4/8/8
weeks or the rest of the term (2 in 5), small 8 weeks or the rest (2 in 3), big 8 weeks or the
rest, passcode 1/2/4 weeks.  Each has a subject (the teacher's main subject 85 %), a grade the
subject is taught in (物理 from 初二, 化学 from 初三, 生物/历史 from 初一, 编程 小三–初三,
美术/书法/围棋/科学 primary only, the rest every grade) and a name unique in the term,
``<term><grade><subject><小班|大班|讲座> <周…><HH:MM>`` (e.g. ``2026秋初二数学小班 周二四19:00``) or
``<term><grade><subject>一对一·<student>``, at most 20 characters (API 2's ``className``); a
clash gets a letter (``…小班B周二19:00``).  A classroom without a lesson (its weeks outside the
term's days or closed) is not created.  Enrolment 1 / 4–12 / 20–60 / 30–80 students of the
classroom's grade among the term's *active* students (each student is active in a term with
probability 65 %), weighted by their appetite (:mod:`.roster`), avoiding clashes; when the
grade runs out (small schools) any active student.  At 40 lessons/day a student with lessons
in a week has on average ≈2 classes and ≈3 lessons that week (up to ≈10).

A term template (:class:`Term`) is drawn once per ``(seed, lessons_per_day, term)`` from
``random.Random("<seed>:term:<index>:<lessons_per_day>")``, the term's active and at-risk
students from ``random.Random("<seed>:students:<index>")`` (one draw per student in id order,
two more for an at-risk one) and its declining classrooms from
``random.Random("<seed>:decline:<index>:<lessons_per_day>")`` (one draw per eligible classroom
in lane order).  A lesson is then a cheap function of (template, day, slot).  The drifts are
documented in :mod:`.activity`.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from pipeline.core.calendar import TERM_SEASONS, TZ
from pipeline.core.calendar import Term as CalendarTerm
from pipeline.core.calendar import term_of as calendar_term_of

from .model import (
    CLASSROOM_ID_BASE,
    CLASSROOM_TERM_STRIDE,
    COURSEWARE_ID_BASE,
    LESSON_EPOCH,
    LESSON_ID_BASE,
    MAX_SEGMENTS,
    SEASONS_PER_YEAR,
    STUDENT_ID_BASE,
    TEACHER_ID_BASE,
    TERM_BASE_YEAR,
    Classroom,
    Lesson,
)
from .rand import K_CW, K_GENRE, K_HOLIDAY, unit
from .roster import GRADES, SUBJECTS, Roster

#: Share of lessons that are test lessons (genre 1).
TEST_LESSON_SHARE = 0.02
#: Share of one-to-one lanes that still meet on a closure day.
HOLIDAY_ONE_TO_ONE_SHARE = 0.10
#: Share of a term's active students who are at risk (their absence rises over the term).
AT_RISK_SHARE = 0.08
#: Share of group classrooms (small and big classes, >= 6 lessons) whose attendance falls lesson by lesson.
DECLINING_SHARE = 0.10
#: Share of students active (enrolled in classes) in a term.
ACTIVE_SHARE = 0.65

#: 正月初一 (Chinese New Year's day) by year; the Spring Festival closure is 除夕 (the day before) to 初六.
SPRING_FESTIVAL: dict[int, date] = {
    2015: date(2015, 2, 19), 2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
    2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
}
#: 正月初一 assumed for a year outside :data:`SPRING_FESTIVAL` (month, day).
SPRING_FESTIVAL_FALLBACK = (2, 5)

_WEEKDAY_CHARS = "一二三四五六日"
_KIND_LABEL = {7: "小班", 2: "大班", 1: "讲座"}
_CATEGORIES = (0, 7, 2, 1)
_CATEGORY_WEIGHTS = (35, 40, 18, 7)
_DURATIONS = {0: ((30, 45, 60), (20, 30, 50)), 7: ((60, 90), (60, 40)), 2: ((45, 60, 90), (30, 50, 20)), 1: ((60, 90), (50, 50))}
_SEGMENT_WEEKS = {0: (4, 8, 8, 0, 0), 7: (8, 0, 0), 2: (8, 0), 1: (1, 2, 4)}  # 0: the rest of the term
_ENROLMENT = {0: (1, 1), 7: (4, 12), 2: (20, 60), 1: (30, 80)}
_TWICE = {0: 0.15, 7: 0.70, 2: 0.50, 1: 0.0}
_PARTNERS = {0: (2, 3), 1: (3, 4), 2: (4,), 5: (6,)}
_SUBJECT_GRADES = {  # grade indexes (into GRADES) a subject is taught in
    "数学": range(12), "语文": range(12), "英语": range(12), "物理": range(7, 12), "化学": range(8, 12),
    "生物": range(6, 12), "编程": range(2, 9), "美术": range(6), "书法": range(6), "围棋": range(6),
    "科学": range(6), "历史": range(6, 12),
}
_LATEST_END_MIN = 22 * 60 + 29  # end (incl. the :59 second) stays before 22:30
_SEASON_OF_MONTH = {m: s for s, (_, _, first, last) in enumerate(TERM_SEASONS) for m in range(first, last + 1)}


@dataclass(slots=True, eq=False)
class Segment:
    """One classroom of a lane: weeks ``first_week..last_week`` of the term."""

    classroom: Classroom
    first_week: int
    last_week: int
    grade: str
    subject: str
    coursewares: tuple[int, ...]
    lessons: tuple[tuple[date, int], ...] = ()  # (day, slot on that day), in time order
    number: dict[date, int] = field(default_factory=dict)  # day -> 1-based lesson number
    decline: float = 0.0  # absence added by the classroom's last lesson (0: stable)


@dataclass(slots=True, eq=False)
class Lane:
    """A time slot held by one teacher for the whole term, on one or two weekdays, split into segments."""

    no: int  # weekday * lessons_per_day + index of its (first) meeting as drawn: unique in the term
    weekdays: tuple[int, ...]
    start_min: int
    dur: int
    category: int
    teacher_id: int
    segments: list[Segment]
    seg_of_week: list[int]


@dataclass(slots=True, eq=False)
class Term:
    """A term's template."""

    index: int
    name: str  # e.g. 2026秋
    start: date
    end: date
    monday0: date  # the Monday on or before ``start``: week w is monday0 + 7w ...
    meetings: tuple[tuple[Lane, ...], ...]  # by weekday, in slot order (lessons_per_day each)
    closures: dict[date, tuple[int, ...]]  # closure day -> positions in meetings[weekday] still held
    classrooms: dict[int, tuple[Lane, Segment]]
    classroom_list: tuple[Classroom, ...]
    at_risk: dict[int, tuple[float, float]]  # student id -> (amplitude, dropout progress; 2.0: none)
    school_year: int


def day_of(day: date) -> date:
    """A date (the date of a datetime)."""
    if isinstance(day, datetime):
        return day.date()
    return day


def term_index(day: date) -> int:
    """The index of the term holding ``day``: ``(year - 1985) * 4 + season``."""
    day = day_of(day)
    return (day.year - TERM_BASE_YEAR) * SEASONS_PER_YEAR + _SEASON_OF_MONTH[day.month]


def term_bounds(index: int) -> CalendarTerm:
    """The calendar term (name, season, first and last day) of a term index."""
    year, season = divmod(index, SEASONS_PER_YEAR)
    return calendar_term_of(date(TERM_BASE_YEAR + year, TERM_SEASONS[season][2], 1))


def school_year(index: int) -> int:
    """The school year (its September's year) whose grades a term's classes are for.

    寒 and 春 belong to the school year that started the September before; 暑 already
    prepares the next grade (新初二), so it counts with the coming September, like 秋.
    """
    year, season = divmod(index, SEASONS_PER_YEAR)
    return TERM_BASE_YEAR + year - (1 if season < 2 else 0)


def closure_of(day: date) -> str | None:
    """``'国庆'`` or ``'春节'`` when the school is closed on ``day``, else ``None``."""
    day = day_of(day)
    if day.month == 10 and day.day <= 7:
        return "国庆"
    if day.month <= 2:
        cny = SPRING_FESTIVAL.get(day.year) or date(day.year, *SPRING_FESTIVAL_FALLBACK)
        if -1 <= (day - cny).days <= 5:
            return "春节"
    return None


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


def _pair_meetings(rng: random.Random, times: list[list[list[int]]]) -> dict[tuple[int, int], tuple[int, int]]:
    """Pair meetings into twice-a-week lanes: ``{(weekday, i): (partner weekday, j)}``.

    The partner meeting takes the first one's start and duration (``times`` is edited).
    """
    pairs: dict[tuple[int, int], tuple[int, int]] = {}
    used: set[tuple[int, int]] = set()
    for wd, partners in _PARTNERS.items():
        for i, (start, dur, cat) in enumerate(times[wd]):
            if (wd, i) in used or rng.random() >= _TWICE[cat]:
                continue
            wd2 = partners[0] if len(partners) == 1 else rng.choice(partners)
            cands = [j for j, m in enumerate(times[wd2]) if m[2] == cat and (wd2, j) not in used]
            if not cands:
                continue
            j = rng.choice(cands)
            times[wd2][j][0], times[wd2][j][1] = start, dur
            used.update(((wd, i), (wd2, j)))
            pairs[(wd, i)] = (wd2, j)
    return pairs


def _schedule_label(weekdays: tuple[int, ...], start_min: int) -> str:
    return "周" + "".join(_WEEKDAY_CHARS[wd] for wd in weekdays) + f"{start_min // 60:02d}:{start_min % 60:02d}"


def build_term(seed: int, lessons_per_day: int, roster: Roster, index: int) -> Term:
    """The template of term ``index``: its lanes, classrooms (enrolled from ``roster``), closures and drifts."""
    rng = random.Random(f"{seed}:term:{index}:{lessons_per_day}")
    cal = term_bounds(index)
    t_start, t_end, label = cal.start, cal.end, cal.name
    monday0 = t_start - timedelta(days=t_start.weekday())
    n_weeks = (t_end - monday0).days // 7 + 1
    year_of_grades = school_year(index)
    lpd = lessons_per_day
    n_t, n_s = len(roster.teachers), len(roster.students)

    # the term's active students by grade, weighted by appetite (cumulative weights)
    pools: list[tuple[list[int], list[float]]] = [([], []) for _ in GRADES]
    all_ids: list[int] = []
    all_cum: list[float] = []
    at_risk: dict[int, tuple[float, float]] = {}
    acc = 0.0
    srng = random.Random(f"{seed}:students:{index}")  # who is active / at risk this term (one draw per student)
    for s_idx in range(n_s):
        uid = STUDENT_ID_BASE + s_idx
        u = srng.random()
        if u >= ACTIVE_SHARE:
            continue
        w = float(roster.student_appetite[s_idx])
        ids, cum = pools[(roster.student_cohort[s_idx] + year_of_grades) % len(GRADES)]
        ids.append(s_idx)
        cum.append((cum[-1] if cum else 0.0) + w)
        acc += w
        all_ids.append(s_idx)
        all_cum.append(acc)
        if u < ACTIVE_SHARE * AT_RISK_SHARE:  # AT_RISK_SHARE of the active students
            amp = 0.25 + 0.30 * srng.random()
            v = srng.random()
            at_risk[uid] = (amp, 0.55 + 1.05 * v if v < 1 / 3 else 2.0)  # a third stop coming at 55-90 %

    all_total = acc

    # meetings of each weekday, then twice-a-week pairs
    times = [[list(t) for t in lane_times(rng, wd, lpd)] for wd in range(7)]
    pairs = _pair_meetings(rng, times)
    seconds = set(pairs.values())

    rand = rng.random
    load_cum = roster.teacher_load_cum
    load_total = load_cum[-1]
    teacher_busy: list[list[list[tuple[int, int]]]] = [[[] for _ in range(n_t)] for _ in range(7)]
    student_busy: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}  # (student, weekday) -> spans
    lanes: list[Lane] = []
    lane_of: dict[tuple[int, int], Lane] = {}
    classrooms: dict[int, tuple[Lane, Segment]] = {}
    used_names: set[str] = set()

    def free(t_idx: int, wds: tuple[int, ...], s: int, e: int) -> bool:
        return all(e + 10 <= bs or be + 10 <= s for wd in wds for bs, be in teacher_busy[wd][t_idx])

    for wd in range(7):
        for i, (start_min, dur, cat) in enumerate(times[wd]):
            if (wd, i) in seconds and (wd, i) in lane_of:
                continue  # already the second meeting of an earlier lane
            end_min = start_min + dur
            partner = pairs.get((wd, i))
            wds = (wd,) if partner is None else (wd, partner[0])
            # a load-weighted teacher free at that time on every weekday of the lane
            t_idx = -1
            for _ in range(64):
                cand = bisect_right(load_cum, rand() * load_total, 0, n_t - 1)  # = rng.choices(range(n_t), cum_weights)
                if free(cand, wds, start_min, end_min):
                    t_idx = cand
                    break
            else:
                cands = [t for t in range(n_t) if free(t, wds, start_min, end_min)]
                if not cands and partner is not None:  # nobody free on both days: meet once a week
                    partner, wds = None, (wd,)
                    cands = [t for t in range(n_t) if free(t, wds, start_min, end_min)]
                t_idx = rng.choice(cands or list(range(n_t)))
            for w in wds:
                teacher_busy[w][t_idx].append((start_min, end_min))
            teacher_id = TEACHER_ID_BASE + t_idx
            lane = Lane(wd * lpd + i, wds, start_min, dur, cat, teacher_id, [], [0] * n_weeks)
            lane_of[(wd, i)] = lane
            if partner is not None:
                lane_of[partner] = lane
            lanes.append(lane)
            sched = _schedule_label(wds, start_min)

            week = 0
            seg_no = 0
            while week < n_weeks:
                length = rng.choice(_SEGMENT_WEEKS[cat]) or n_weeks
                length = min(length, n_weeks - week)
                w0, w1 = week, week + length - 1
                cid = CLASSROOM_ID_BASE + index * CLASSROOM_TERM_STRIDE + lane.no * MAX_SEGMENTS + seg_no
                subject_i = roster.teacher_subject[t_idx] if rng.random() < 0.85 else rng.randrange(len(SUBJECTS))
                subject = SUBJECTS[subject_i]
                g_idx = rng.choice(_SUBJECT_GRADES[subject])
                grade = GRADES[g_idx]
                # enrolment: active students of the grade by appetite, avoiding clashes
                lo_n, hi_n = _ENROLMENT[cat]
                n = min(rng.randint(lo_n, hi_n), n_s)
                pool_ids, pool_cum = pools[g_idx]
                pool_total = pool_cum[-1] if pool_cum else 0.0
                chosen: set[int] = set()
                for _ in range(n):
                    for attempt in range(25):
                        # (= rng.choices(ids, cum_weights=cum)[0], without its overhead)
                        if pool_ids and attempt < 16:
                            s_idx = pool_ids[bisect_right(pool_cum, rand() * pool_total, 0, len(pool_ids) - 1)]
                        elif all_ids:
                            s_idx = all_ids[bisect_right(all_cum, rand() * all_total, 0, len(all_ids) - 1)]
                        else:
                            s_idx = rng.randrange(n_s)
                        if s_idx in chosen:
                            continue
                        if attempt < 24 and any(
                            bs < end_min + 10 and start_min < be + 10 and bw0 <= w1 and w0 <= bw1
                            for w in wds
                            for bs, be, bw0, bw1 in student_busy.get((s_idx, w), ())
                        ):
                            continue
                        chosen.add(s_idx)
                        for w in wds:
                            student_busy.setdefault((s_idx, w), []).append((start_min, end_min, w0, w1))
                        break
                student_ids = tuple(sorted(STUDENT_ID_BASE + s for s in chosen))
                if cat == 0:
                    who = roster.students[student_ids[0] - STUDENT_ID_BASE].name if student_ids else "学员"
                    name = f"{label}{grade}{subject}一对一·{who}"
                    k = 0
                    while name in used_names:
                        name = f"{label}{grade}{subject}一对一{chr(66 + k)}·{who}"
                        k += 1
                else:
                    name = f"{label}{grade}{subject}{_KIND_LABEL[cat]} {sched}"
                    k = 0
                    while name in used_names:
                        name = f"{label}{grade}{subject}{_KIND_LABEL[cat]}{chr(66 + k)}{sched}"
                        k += 1
                used_names.add(name)
                is_replay = 1 if rng.random() < 0.85 else 0
                classroom = Classroom(
                    id=cid,
                    name=name,
                    category=cat,
                    teacher_id=teacher_id,
                    student_ids=student_ids,
                    first_day=t_start,  # set below from the lessons
                    last_day=t_end,
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
                week = w1 + 1
                seg_no += 1

    # slots: each weekday's meetings by (start, draw order)
    meetings: list[tuple[Lane, ...]] = []
    slot_of: list[dict[int, int]] = []
    for wd in range(7):
        order = sorted(range(lpd), key=lambda i, wd=wd: (times[wd][i][0], i))
        day_lanes = tuple(lane_of[(wd, i)] for i in order)
        meetings.append(day_lanes)
        slot_of.append({lane.no: pos for pos, lane in enumerate(day_lanes)})

    # closures: the positions still held (a few one-to-one lanes)
    closures: dict[date, tuple[int, ...]] = {}
    d = t_start
    while d <= t_end:
        if closure_of(d):
            o = d.toordinal()
            closures[d] = tuple(
                pos for pos, lane in enumerate(meetings[d.weekday()])
                if lane.category == 0 and unit(seed, K_HOLIDAY, lane.no, o) < HOLIDAY_ONE_TO_ONE_SHARE
            )
        d += timedelta(days=1)

    # each classroom's lessons (day, slot), its first/last day, its drift; drop classrooms without lessons
    drng = random.Random(f"{seed}:decline:{index}:{lpd}")
    for lane in lanes:
        for seg in lane.segments:
            lessons = []
            for w in range(seg.first_week, seg.last_week + 1):
                for wd in lane.weekdays:
                    day = monday0 + timedelta(days=7 * w + wd)
                    if day < t_start or day > t_end:
                        continue
                    pos = slot_of[wd][lane.no]
                    held = closures.get(day)
                    if held is None:
                        lessons.append((day, pos))
                    elif pos in held:
                        lessons.append((day, held.index(pos)))
            if not lessons:
                continue
            lessons.sort()
            seg.lessons = tuple(lessons)
            seg.number = {day: k for k, (day, _) in enumerate(lessons, 1)}
            seg.classroom = c = replace(seg.classroom, first_day=lessons[0][0], last_day=lessons[-1][0])
            if c.category in (2, 7) and len(lessons) >= 6:
                u = drng.random()
                if u < DECLINING_SHARE:
                    seg.decline = 0.25 + 0.25 * u / DECLINING_SHARE
            classrooms[c.id] = (lane, seg)
    classroom_list = tuple(sorted((s.classroom for _, s in classrooms.values()), key=lambda c: c.id))
    return Term(index, label, t_start, t_end, monday0, tuple(meetings), closures, classrooms, classroom_list,
                at_risk, year_of_grades)


def slots_on(tpl: Term, day: date) -> int:
    """How many lessons ``day`` (a day of ``tpl``'s term) has."""
    held = tpl.closures.get(day)
    return len(tpl.meetings[day.weekday()]) if held is None else len(held)


def make_lesson(seed: int, tpl: Term, day: date, slot: int) -> Lesson:
    """The lesson ``slot`` of ``day`` (a day of ``tpl``'s term; ``slot < slots_on(tpl, day)``)."""
    held = tpl.closures.get(day)
    lane = tpl.meetings[day.weekday()][slot if held is None else held[slot]]
    return _lesson(seed, lane, day, (day - tpl.monday0).days // 7, slot)


def lessons_of_day(seed: int, tpl: Term, day: date) -> tuple[Lesson, ...]:
    """Every lesson of ``day`` (a day of ``tpl``'s term), in slot order."""
    held = tpl.closures.get(day)
    lanes = tpl.meetings[day.weekday()]
    week = (day - tpl.monday0).days // 7
    if held is not None:
        lanes = tuple(lanes[pos] for pos in held)
    return tuple(_lesson(seed, lane, day, week, slot) for slot, lane in enumerate(lanes))


def _lesson(seed: int, lane: Lane, day: date, week: int, slot: int) -> Lesson:
    seg = lane.segments[lane.seg_of_week[week]]
    c = seg.classroom
    lid = LESSON_ID_BASE + (day - LESSON_EPOCH).days * 1000 + slot
    start = datetime(day.year, day.month, day.day, lane.start_min // 60, lane.start_min % 60, tzinfo=TZ)
    end = start + timedelta(minutes=lane.dur, seconds=59)
    n = seg.number[day]
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
