"""What happened in a lesson: its status, the teacher's and students' sessions, key events, help, replay.

A held lesson's whole activity (:class:`Full`, second offsets from the scheduled
start) is drawn once from ``random.Random("<seed>:tact:<lesson>:<teacher>")``,
``"<seed>:sact:<lesson>:<student>"`` per student and ``"<seed>:help:<lesson>"``;
:func:`cut_activity` turns it into the :class:`~.model.Activity` seen at ``now``.

Status (from ``now``)
---------------------
``start > now`` → 0; ``start <= now < end`` → 1; ``end <= now`` → 2, except ~3 % of
lessons that are never held → 3 (no actual times, every student absent with zeros, teacher
zeros, no events/awards/help/replay).  A never-held lesson reads status 1 with no actual
start while inside its scheduled window.  For an in-class lesson (status 1) the activity is
cut at ``now``: sessions/events after ``now`` are not shown, an open session ends at
``now``, ``actual_end`` is ``None`` and ``leave_minutes`` is 0.

Attendance of held lessons (all times whole seconds)
----------------------------------------------------
Per-student propensities, fixed for life:
- absence: 85 % regular (3–6 %), 10 % irregular (12–25 %), 5 % chronic (35–60 %),
  multiplied by category (one-to-one ×0.5, small ×0.9, big ×1.3, passcode ×1.6) and
  ×1.2 on weekends, plus the drift below.  In a term's first weeks ≈ 11 % of student rows
  are absent (one-to-one ≈ 5 %, small ≈ 9 %, big ≈ 12 %, passcode ≈ 13 %; weekends a point
  or two more), in its last four weeks ≈ 16 % (seed 7, 40 lessons/day).
- lateness: 75 % rarely late (3–8 %), 20 % often (15–30 %), 5 % chronic (45–70 %);
  ×1.2 in big classes.  Late minutes: 55 % 2–5, 30 % 6–15, 15 % 16–40 (capped at half the
  lesson).  On-time students enter between 5 min before and 90 s after the start.
- early leaving: 80 % 3–8 %, 20 % 12–30 %; leave minutes 50 % 3–10, 35 % 11–25, 15 %
  26–45 (capped at 45 % of the lesson).  Others leave when the teacher ends the class.
- network flakiness: 0–1 (skewed low); with that probability a student has 1–3 drop-outs
  (65/25/10 %) of 10–240 s, hence 1–4 sessions.
- engagement: log-normal around 1, scales the key-event rates.

Drift over a term (drawn with the term, :mod:`.timetable`; ``progress`` = days since the
term's first day / its length, 0…1; the truth's ``drift`` table lists both kinds):
- at-risk students: 8 % of a term's active students add ``amplitude * progress`` to their
  absence probability, amplitude 0.25–0.55;
  a third of them stop coming at a progress of 0.55–0.90 (absence 0.95 from then on), so
  their absences come in streaks.  ``School.at_risk(day)``.
- declining classrooms: 10 % of the small and big classes with at least 6 lessons add
  ``amplitude * (day - first day) / (last day - first day)`` to every student's absence,
  amplitude 0.25–0.50: attendance falls week by week.  ``School.decline_of(classroom_id)``.
- everyone else keeps their lifelong propensities: stable over the term.
The absence probability is capped at 0.97; the draw order is unchanged, so a student who is
neither at risk nor in a declining classroom attends exactly as without the drift.

Definitions (``E`` = scheduled end, ``S`` = scheduled start):
``listen_minutes = floor(sum(out - in seconds over sessions) / 60)``;
``inout_times = entries + exits`` (2 per closed session; an open session counts 1);
``late_minutes = floor(max(0, first_in - S) / 60)``;
``leave_minutes = floor(max(0, E - last_out) / 60)``.  Absent: no sessions, all zeros.
The records also carry the three durations in whole seconds (``listen_seconds`` ...), of which
the minutes are the floor: the API's unit is a reading (``listen_time``, see sandbox/readings.py).

Teacher: 92 % of teachers are punctual (late with p 3 %), 8 % chronically late (p 30 %);
``actual_start`` is ``S`` −150…+75 s, or 3–15 min late; ``actual_end`` is ``E`` −0…60 s,
or 3–10 min early (p 3–8 %); 8–20 % chance of 1–2 short drop-outs.  The teacher's
sessions run from ``actual_start`` to ``actual_end``; the same definitions give
listen/inout/late/leave.  A student's last exit is never after ``actual_end``.

Key events (times inside the student's sessions and inside ``[actual_start,
actual_end)``, distinct to the second per (user, type), sorted).  Poisson means per hour
present at engagement 1:

=============  =======  =======  ============  ======  =================
category       handup   onstage  mic pairs     reward  reward_all moments
=============  =======  =======  ============  ======  =================
0 one-to-one   0.6      0        4.0           4.0     0
7 small        3.0      2.0      3.0           2.0     2.5
2 big          1.2      0.25     0.4 (连麦)     0.4     3.0
1 passcode     0.8      0.1      0.2 (连麦)     0.25    2.0
=============  =======  =======  ============  ======  =================

Each on-stage earns an extra individual reward with p ½.  Mic events come in pairs
(``toggle_mic_off`` 5–240 s after ``toggle_mic_on``, same session, before the next on);
big/passcode classes have mic pairs only when ``need_lian_mai``.  ``reward_all`` moments
are the teacher's and are attributed to every student inside a session at that second.
Stars: ``awards[user] = #reward + #reward_all`` (only > 0).

Help requests: Poisson(``(0.06 + 0.004 * present) * hours``) per held lesson (≈ 5 a day
at 40 lessons/day), raised by present students (flaky ones more often) at a second inside
their sessions; types 网络卡顿 / 听不到老师声音 / 看不到课件 / 看不到老师视频 / 麦克风没声音
with items 001–005.

Replay: finished lessons of classrooms with ``is_replay`` get
``zbywsvod.weclassroom.com/vod/zby/_<lesson_id>_<n>.mp4`` (scheme-less, as in the doc).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple

from .model import Activity, AttendanceRow, HelpRequest, Lesson, TeacherInout
from .rand import K_EXPIRED, K_LATE, K_REPLAY, hash64, pick_seconds, poisson, split_sessions, unit
from .roster import Roster

#: Share of lessons that are scheduled but never held (status 3 once over).
EXPIRED_SHARE = 0.03
#: Absence probability of an at-risk student after their dropout point.
DROPOUT_ABSENCE = 0.95

#: Activity cache keys that do not depend on the exact clock (in-class keys are cuts >= 0); ``LATE``: finished,
#: with its late data not in yet (see :func:`late_delay`).
BEFORE, AFTER, LATE = -1, -2, -3
#: Share of held lessons whose data is not all in when they end (with ``late_hours`` > 0).
LATE_SHARE = 0.3

# Per-hour Poisson means at engagement 1: handup, onstage, mic pairs, reward, reward_all moments.
_RATES = {
    0: (0.6, 0.0, 4.0, 4.0, 0.0),
    7: (3.0, 2.0, 3.0, 2.0, 2.5),
    2: (1.2, 0.25, 0.4, 0.4, 3.0),
    1: (0.8, 0.1, 0.2, 0.25, 2.0),
}
_ABSENCE_MULT = {0: 0.5, 7: 0.9, 2: 1.3, 1: 1.6}

_HELP_TYPES = (  # (help_type, item, weight, contents)
    ("网络卡顿", "001", 35, ("一直在转圈", "画面很卡", "老师说话断断续续", "掉线了好几次")),
    ("听不到老师声音", "002", 25, ("没有声音", "声音很小", "只有杂音")),
    ("看不到课件", "003", 18, ("课件是白屏", "课件加载不出来", "翻页没反应")),
    ("看不到老师视频", "004", 12, ("老师画面黑屏", "视频一直加载")),
    ("麦克风没声音", "005", 10, ("老师听不到我说话", "麦克风打不开")),
)
_HELP_CUM = tuple(itertools.accumulate(h[2] for h in _HELP_TYPES))


class Full(NamedTuple):
    """A held lesson's whole activity, as second offsets from the scheduled start."""

    a0: int
    a1: int
    teacher_sessions: list[tuple[int, int]]
    student_sessions: list[list[tuple[int, int]] | None]  # in student_ids order; None = absent
    events: dict[tuple[int, str], list[int]]
    help: list[tuple[int, int, int, int]]  # (offset, user_id, type index, content index)
    replay_n: int


def _clip(sessions: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for i, o in sessions:
        i2 = i if i > lo else lo
        o2 = o if o < hi else hi
        if o2 > i2:
            out.append((i2, o2))
    return out


def never_held(seed: int, lesson_id: int) -> bool:
    """Whether the lesson is one of the ~3 % that are scheduled but never held."""
    return unit(seed, K_EXPIRED, lesson_id) < EXPIRED_SHARE


def late_delay(seed: int, lesson_id: int, late_hours: float, share: float = LATE_SHARE) -> timedelta | None:
    """How long after its scheduled end a lesson's late data comes in (None: none is late).

    With ``late_hours`` > 0, ``share`` (default :data:`LATE_SHARE`) of lessons have late data: one present student's
    attendance and key events, and one star award, come in a quarter to all of ``late_hours`` after
    the scheduled end.  Until then the student reads absent and the award is missing (late
    attendance, a late award), as on a platform whose data settles after the classroom closes."""
    if late_hours <= 0 or unit(seed, K_LATE, lesson_id) >= share:
        return None
    fraction = 0.25 + 0.75 * unit(seed, K_LATE, lesson_id, 1)
    return timedelta(seconds=round(late_hours * 3600 * fraction))


def view_key(lesson: Lesson, now: datetime, late: timedelta | None = None) -> int:
    """``BEFORE``, ``AFTER``, ``LATE`` (finished, ``late`` after the end not reached) or, in class, the cut at
    ``now`` in whole seconds since the scheduled start."""
    if lesson.start > now:
        return BEFORE
    if now >= lesson.end:
        return LATE if late is not None and now < lesson.end + late else AFTER
    return int((now - lesson.start).total_seconds())


def build_full(lesson: Lesson, *, seed: int, category: int, lian_mai: int, roster: Roster,
               class_extra: float = 0.0, progress: float = 0.0,
               at_risk: Mapping[int, tuple[float, float]] = MappingProxyType({})) -> Full:
    """The whole activity of a held lesson of a classroom of ``category`` (mic pairs in big classes need ``lian_mai``).

    Drift: ``class_extra`` is added to every student's absence probability (a declining
    classroom), ``progress`` is how far into its term the lesson is (0 first day, 1 last day)
    and ``at_risk`` maps the term's at-risk students to (amplitude, dropout progress).
    """
    lid = lesson.id
    cat = category
    E = int((lesson.end - lesson.start).total_seconds())
    if E < 120:
        E = 120
    weekend = lesson.start.weekday() >= 5

    # teacher
    trng = random.Random(f"{seed}:tact:{lid}:{lesson.teacher_id}")
    tp = roster.tprop(lesson.teacher_id)
    if trng.random() < tp.late:
        a0 = trng.randint(180, max(180, min(900, E // 3)))
    else:
        a0 = trng.randint(-150, 75)
    if trng.random() < tp.early:
        a1 = E - trng.randint(180, max(180, min(600, E // 4)))
    else:
        a1 = E - trng.randint(0, 60)
    if a1 < a0 + 300:
        a1 = max(min(E, a0 + 300), a0 + 60)
    k = 0
    if trng.random() < tp.drop:
        k = 1 if trng.random() < 0.8 else 2
    t_sessions = split_sessions(trng, a0, a1, k)
    span = a1 - a0

    h_rate, o_rate, m_rate, r_rate, g_rate = _RATES[cat]
    if cat in (1, 2) and not lian_mai:
        m_rate = 0.0
    abs_mult = _ABSENCE_MULT[cat] * (1.2 if weekend else 1.0)
    late_mult = 1.2 if cat in (1, 2) else 1.0
    late_cap = max(2, (E // 60) // 2)
    leave_cap = max(3, int((E // 60) * 0.45))

    # reward_all moments (the teacher's)
    n_group = poisson(trng, g_rate * span / 3600.0)
    moments = sorted(trng.sample(range(a0, a1), min(n_group, span))) if n_group else []

    sessions_all: list[list[tuple[int, int]] | None] = []
    events: dict[tuple[int, str], list[int]] = {}
    present: list[tuple[int, float, list[tuple[int, int]]]] = []
    for uid in lesson.student_ids:
        sp = roster.sprop(uid)
        r = random.Random(f"{seed}:sact:{lid}:{uid}")
        p_absent = sp.absent * abs_mult + class_extra
        risk = at_risk.get(uid)
        if risk is not None:
            p_absent = DROPOUT_ABSENCE if progress >= risk[1] else p_absent + risk[0] * progress
        if r.random() < min(0.97, p_absent):
            sessions_all.append(None)
            continue
        if r.random() < sp.late * late_mult:
            u = r.random()
            m = r.randint(2, 5) if u < 0.55 else r.randint(6, 15) if u < 0.85 else r.randint(16, 40)
            first_in = min(m, late_cap) * 60 + r.randint(0, 59)
        else:
            first_in = r.randint(-300, 90)
        if r.random() < sp.leave:
            u = r.random()
            m = r.randint(3, 10) if u < 0.5 else r.randint(11, 25) if u < 0.85 else r.randint(26, 45)
            last_out = min(E - min(m, leave_cap) * 60 - r.randint(0, 59), a1)
        else:
            last_out = a1 - r.randint(0, 20)
        if last_out - first_in < 300:
            last_out = min(a1, first_in + 300)
        if last_out - first_in < 120:
            sessions_all.append(None)  # arrived after the class was over: absent
            continue
        k = 0
        if r.random() < sp.flaky:
            u = r.random()
            k = 1 if u < 0.65 else 2 if u < 0.90 else 3
        sess = split_sessions(r, first_in, last_out, k)
        sessions_all.append(sess)

        # key events inside the sessions and inside [a0, a1)
        ivs = _clip(sess, a0, a1)
        total = sum(o - i for i, o in ivs)
        if total <= 0:
            continue
        present.append((uid, sp.flaky, ivs))
        hours = total / 3600.0 * sp.engage
        n_hand = poisson(r, h_rate * hours)
        n_stage = poisson(r, o_rate * hours)
        n_mic = poisson(r, m_rate * hours)
        n_reward = poisson(r, r_rate * hours) + sum(1 for _ in range(n_stage) if r.random() < 0.5)
        for etype, n in (("handup", n_hand), ("onstage", n_stage), ("reward", n_reward)):
            if n:
                events[(uid, etype)] = [t for t, _ in pick_seconds(r, ivs, total, n)]
        if n_mic:
            ons = pick_seconds(r, ivs, total, n_mic)
            on_l: list[int] = []
            off_l: list[int] = []
            for j, (t, b) in enumerate(ons):
                limit = b - 1
                if j + 1 < len(ons) and ons[j + 1][0] - 1 < limit:
                    limit = ons[j + 1][0] - 1
                off = min(t + r.randint(5, 240), limit)
                if off > t:
                    on_l.append(t)
                    off_l.append(off)
            if on_l:
                events[(uid, "toggle_mic_on")] = on_l
                events[(uid, "toggle_mic_off")] = off_l
        if moments:
            got = [m for m in moments if any(i <= m < o for i, o in ivs)]
            if got:
                events[(uid, "reward_all")] = got

    # help requests
    help_list: list[tuple[int, int, int, int]] = []
    if present:
        hrng = random.Random(f"{seed}:help:{lid}")
        n_help = poisson(hrng, (0.06 + 0.004 * len(present)) * span / 3600.0)
        seen: set[tuple[int, int]] = set()
        weights = [0.1 + f for _, f, _ in present]
        for _ in range(n_help):
            uid, _, ivs = hrng.choices(present, weights=weights)[0]
            total = sum(o - i for i, o in ivs)
            t = pick_seconds(hrng, ivs, total, 1)[0][0]
            ti = hrng.choices(range(len(_HELP_TYPES)), cum_weights=_HELP_CUM)[0]
            ci = hrng.randrange(len(_HELP_TYPES[ti][3]))
            if (uid, t) in seen:
                continue
            seen.add((uid, t))
            help_list.append((t, uid, ti, ci))
        help_list.sort()
    replay_n = 10_000 + hash64(seed, K_REPLAY, lid) % 90_000
    return Full(a0, a1, t_sessions, sessions_all, events, help_list, replay_n)


def empty_activity(lesson: Lesson, status: int) -> Activity:
    """A lesson not started (0) or never held (1 while scheduled, then 3): no times, every row zeros."""
    rows = tuple(AttendanceRow(uid, (), 0, 0, 0, 0) for uid in lesson.student_ids)
    teacher = TeacherInout(lesson.teacher_id, None, None, 0, 0, 0, 0)
    return Activity(status, None, None, rows, teacher, MappingProxyType({}), MappingProxyType({}), (), None)


def cut_activity(lesson: Lesson, full: Full, cut: int | None, has_replay: bool) -> Activity:
    """``full`` as seen ``cut`` seconds after the scheduled start (``None``: finished, with a replay if ``has_replay``)."""
    E = int((lesson.end - lesson.start).total_seconds())
    start = lesson.start
    td = timedelta

    def at(t: int) -> datetime:
        return start + td(seconds=t)

    # teacher
    tsess = full.teacher_sessions
    t_open = False
    if cut is not None:
        t_open = any(i < cut < o for i, o in tsess)
        tsess = [(i, min(o, cut)) for i, o in tsess if i < cut]
    if tsess:
        t_listen = sum(o - i for i, o in tsess)
        t_late = max(0, full.a0)
        t_leave = 0 if cut is not None else max(0, E - full.a1)
        teacher = TeacherInout(
            lesson.teacher_id,
            at(full.a0),
            None if cut is not None else at(full.a1),
            t_listen // 60,
            2 * len(tsess) - (1 if t_open else 0),
            t_late // 60,
            t_leave // 60,
            t_listen,
            t_late,
            t_leave,
        )
    else:
        teacher = TeacherInout(lesson.teacher_id, None, None, 0, 0, 0, 0)

    rows = []
    for uid, sess in zip(lesson.student_ids, full.student_sessions):
        if not sess:
            rows.append(AttendanceRow(uid, (), 0, 0, 0, 0))
            continue
        is_open = False
        if cut is not None:
            is_open = any(i < cut < o for i, o in sess)
            sess = [(i, min(o, cut)) for i, o in sess if i < cut]
            if not sess:
                rows.append(AttendanceRow(uid, (), 0, 0, 0, 0))
                continue
        listen = sum(o - i for i, o in sess)
        late = max(0, sess[0][0])
        leave = 0 if cut is not None else max(0, E - sess[-1][1])
        rows.append(
            AttendanceRow(
                uid,
                tuple((at(i), at(o)) for i, o in sess),
                listen // 60,
                2 * len(sess) - (1 if is_open else 0),
                late // 60,
                leave // 60,
                listen,
                late,
                leave,
            )
        )

    events: dict[tuple[int, str], tuple[datetime, ...]] = {}
    awards: dict[int, int] = {}
    for key, times in full.events.items():
        if cut is not None:
            times = [t for t in times if t < cut]
            if not times:
                continue
        events[key] = tuple(at(t) for t in times)
        if key[1] == "reward" or key[1] == "reward_all":
            awards[key[0]] = awards.get(key[0], 0) + len(times)

    helps = []
    for t, uid, ti, ci in full.help:
        if cut is not None and t >= cut:
            continue
        htype, item, _, contents = _HELP_TYPES[ti]
        helps.append(HelpRequest(lesson.id, uid, htype, item, contents[ci], at(t)))

    replay = None
    if has_replay:
        replay = f"zbywsvod.weclassroom.com/vod/zby/_{lesson.id}_{full.replay_n}.mp4"
    return Activity(
        1 if cut is not None else 2,
        at(full.a0) if cut is None or full.a0 < cut else None,
        None if cut is not None else at(full.a1),
        tuple(rows),
        teacher,
        MappingProxyType(awards),
        MappingProxyType(events),
        tuple(helps),
        replay,
    )


def without_late_data(activity: Activity, seed: int, lesson_id: int) -> Activity:
    """``activity`` before its late data came in: one present student absent (no sessions, no key events),
    one star award (a ``reward`` event of another student, or of the same one) missing."""
    present = [r.user_id for r in activity.attendance if r.sessions]
    if not present:
        return activity
    late_user = present[hash64(seed, K_LATE, lesson_id, 2) % len(present)]
    rows = tuple(AttendanceRow(r.user_id, (), 0, 0, 0, 0) if r.user_id == late_user else r
                 for r in activity.attendance)
    events = {k: v for k, v in activity.events.items() if k[0] != late_user}
    rewarded = sorted(k for k in events if k[1] == "reward")
    if rewarded:
        k = rewarded[hash64(seed, K_LATE, lesson_id, 3) % len(rewarded)]
        if len(events[k]) > 1:
            events[k] = events[k][:-1]
        else:
            del events[k]
    awards: dict[int, int] = {}
    for (uid, etype), times in events.items():
        if etype in ("reward", "reward_all"):
            awards[uid] = awards.get(uid, 0) + len(times)
    return dataclasses.replace(activity, attendance=rows, events=MappingProxyType(events),
                               awards=MappingProxyType(awards))
