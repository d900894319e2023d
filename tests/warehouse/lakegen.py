"""Synthetic Parquet lake for warehouse tests and benchmarks.

Writes ``<lake>/<table>/date=YYYY-MM-DD/part-0.parquet`` for the daily tables and
``<lake>/course_progress/snapshot.parquet`` with exactly the pyarrow schemas of
``assets.lake.schemas``.  Generation is vectorised with numpy, one day at a time,
so a 100 M-row attendance lake is written in bounded memory.

The school: ``n_classes`` classes, each with a fixed roster of
``students_per_lesson`` students and a regular teacher (5 % of lessons have a
substitute).  Every lesson lists its whole roster in ``attendance`` (API 23:
absent students with zeros).  Status mix: 90 % finished (2), 6 % expired (3),
2 % not started (0), 2 % in class (1).  Among finished lessons about 10 % of
students are absent, ~20 % of attendees late, ~10 % leave early; teachers start
late ~20 % of the time.  Awards, key-event counts (and their per-event times,
consistent with the counts) and a few help requests are drawn for attendees.

Usage: ``python -m tests.warehouse.lakegen LAKE_DIR --days 30 --lessons 20``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.schemas import (
    ATTENDANCE,
    AWARDS,
    COURSE_PROGRESS,
    DAILY_TABLES,
    HELP_REQUESTS,
    KEY_EVENT_COUNTS,
    KEY_EVENTS,
    LESSONS,
    TEACHER_INOUT,
)

SHANGHAI_OFFSET_US = 8 * 3600 * 1_000_000
HELP_TYPES = np.array(["听不到老师声音", "看不到课件", "画面卡顿", "无法上麦"], dtype=object)
LESSON_ID_BASE = 100_000_000
USER_ID_BASE = 2_000_000
TEACHER_ID_BASE = 500_000
CLASS_ID_BASE = 5_000_000


@dataclass
class LakeStats:
    lake_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0


def _local_midnight_us(day: dt.date) -> int:
    """Epoch microseconds (UTC) of 00:00 Asia/Shanghai on ``day``."""
    epoch_days = (day - dt.date(1970, 1, 1)).days
    return epoch_days * 86_400 * 1_000_000 - SHANGHAI_OFFSET_US


def _ts(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(us.astype("int64"), type=pa.int64(), mask=mask)
    return arr.cast(LESSONS.field("scheduled_start").type)


def _write(table: pa.Table, path: Path, stats: LakeStats, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    stats.rows[name] = stats.rows.get(name, 0) + table.num_rows
    stats.files += 1


def _table(schema: pa.Schema, cols: dict[str, object]) -> pa.Table:
    arrays = []
    for f in schema:
        v = cols[f.name]
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            arrays.append(v.cast(f.type))
        else:
            arrays.append(pa.array(v, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_lake(
    lake_dir: str | os.PathLike,
    *,
    days: int = 7,
    lessons_per_day: int = 10,
    students_per_lesson: int = 30,
    seed: int = 0,
    start: dt.date = dt.date(2024, 3, 1),
    n_classes: int | None = None,
    omit: tuple[str, ...] = (),
    events: bool = True,
) -> LakeStats:
    """Write a synthetic lake; returns row and file counts.

    ``omit`` lists lake tables to leave without any file (``"course_progress"``
    included).  ``events=False`` writes no awards, key-event or help-request
    files at all (attendance-only lakes).
    """
    lake = Path(lake_dir)
    rng = np.random.default_rng(seed)
    stats = LakeStats(lake)
    if n_classes is None:
        n_classes = max(1, lessons_per_day // 2)
    spl = students_per_lesson
    n_teachers = max(1, (n_classes + 1) // 2)
    class_teacher = np.arange(n_classes) % n_teachers
    status_counts = np.zeros((n_classes, 4), dtype=np.int64)

    for d in range(days):
        day = start + dt.timedelta(days=d)
        date_col = np.full(1, day)
        n = lessons_per_day
        idx = np.arange(n, dtype=np.int64)
        lesson_id = LESSON_ID_BASE + d * n + idx
        cls = (idx + d) % n_classes
        teacher = class_teacher[cls].copy()
        subst = rng.random(n) < 0.05
        teacher[subst] = rng.integers(0, n_teachers, subst.sum())
        teacher_id = TEACHER_ID_BASE + teacher
        # schedule: 08:00..19:45 in 15-minute steps, 30/45/60-minute lessons, end at :59
        slot = (idx * 7 + d) % 48
        start_us = _local_midnight_us(day) + (8 * 3600 + slot * 900) * 1_000_000
        dur_min = rng.choice(np.array([30, 45, 60]), n)
        end_us = start_us + (dur_min * 60 - 1) * 1_000_000
        sched_min = dur_min  # ceil((dur*60-1)/60)
        status = rng.choice(np.array([2, 3, 0, 1], dtype=np.int8), n, p=[0.90, 0.06, 0.02, 0.02])
        np.add.at(status_counts, (cls, status.astype(np.int64)), 1)
        t_late = np.where(rng.random(n) < 0.2, rng.integers(1, 11, n), 0)
        held = status == 2
        live = status == 1
        has_start = held | live
        a_start = start_us + t_late * 60_000_000 + rng.integers(0, 60, n) * 1_000_000
        a_end = end_us + rng.integers(-180, 300, n) * 1_000_000
        lessons = _table(
            LESSONS,
            {
                "lesson_date": np.repeat(date_col, n),
                "lesson_id": lesson_id,
                "class_id": CLASS_ID_BASE + cls,
                "class_name": np.array([f"班级{c}" for c in range(n_classes)], dtype=object)[cls],
                "teacher_name": np.array([f"老师{t}" for t in range(n_teachers)], dtype=object)[teacher],
                "status": status,
                "scheduled_start": _ts(start_us),
                "scheduled_end": _ts(end_us),
                "actual_start": _ts(a_start, ~has_start),
                "actual_end": _ts(a_end, ~held),
                "replay_url": pa.array(
                    [f"vod/zby/_{i}_{d}.mp4" for i in lesson_id], mask=~held
                ),
            },
        )
        part = f"date={day.isoformat()}/part-0.parquet"
        if "lessons" not in omit:
            _write(lessons, lake / "lessons" / part, stats, "lessons")

        # teacher attendance: held and live lessons, half of the expired ones
        ti_mask = has_start | ((status == 3) & (rng.random(n) < 0.5))
        k = ti_mask.sum()
        exp = status[ti_mask] == 3
        t_listen = np.where(exp, 0, np.maximum(sched_min - t_late, 1)[ti_mask])
        ti = _table(
            TEACHER_INOUT,
            {
                "lesson_date": np.repeat(date_col, k),
                "lesson_id": lesson_id[ti_mask],
                "teacher_id": teacher_id[ti_mask],
                "actual_start": _ts(a_start[ti_mask], ~has_start[ti_mask]),
                "actual_end": _ts(a_end[ti_mask], ~held[ti_mask]),
                "listen_minutes": t_listen.astype(np.int32),
                "inout_times": np.where(exp, 0, rng.integers(1, 4, k)).astype(np.int32),
                "late_minutes": np.where(exp, 0, t_late[ti_mask]).astype(np.int32),
                "leave_minutes": np.where(exp, 0, (rng.random(k) < 0.05) * rng.integers(1, 6, k)).astype(np.int32),
            },
        )
        if "teacher_inout" not in omit:
            _write(ti, lake / "teacher_inout" / part, stats, "teacher_inout")

        # attendance: full roster of every lesson
        m = n * spl
        a_lesson = np.repeat(lesson_id, spl)
        a_idx = np.repeat(idx, spl)
        seat = np.tile(np.arange(spl, dtype=np.int64), n)
        user_id = USER_ID_BASE + np.repeat(cls, spl) * spl + seat
        a_status = status[a_idx]
        a_dur = sched_min[a_idx]
        present_p = np.where(a_status == 2, 0.9, np.where(a_status == 1, 0.8, 0.0))
        present = rng.random(m) < present_p
        late = present & (rng.random(m) < 0.2)
        late_min = np.where(late, np.minimum(rng.geometric(0.25, m), 15), 0)
        leave = present & (a_status == 2) & (rng.random(m) < 0.1)
        leave_min = np.where(leave, np.minimum(rng.geometric(0.15, m), 20), 0)
        listen = np.where(
            present,
            np.maximum(a_dur - late_min - leave_min - rng.integers(0, 4, m), 1),
            0,
        )
        listen = np.where(a_status == 1, np.minimum(listen, rng.integers(1, 20, m)) * present, listen)
        att = _table(
            ATTENDANCE,
            {
                "lesson_date": np.repeat(date_col, m),
                "lesson_id": a_lesson,
                "user_id": user_id,
                "listen_minutes": listen.astype(np.int32),
                "inout_times": np.where(present, rng.integers(1, 5, m), 0).astype(np.int32),
                "late_minutes": late_min.astype(np.int32),
                "leave_minutes": leave_min.astype(np.int32),
            },
        )
        if "attendance" not in omit:
            _write(att, lake / "attendance" / part, stats, "attendance")
        del att

        if not events:
            continue
        # events only for attendees of finished lessons
        att_mask = present & (a_status == 2)
        e_lesson = a_lesson[att_mask]
        e_user = user_id[att_mask]
        e_idx = a_idx[att_mask]
        q = e_lesson.size
        # awards (API 25): students with >= 1 star
        aw = rng.random(q) < 0.4
        awards = _table(
            AWARDS,
            {
                "lesson_date": np.repeat(date_col, aw.sum()),
                "lesson_id": e_lesson[aw],
                "user_id": e_user[aw],
                "award_num": rng.integers(1, 6, aw.sum()).astype(np.int32),
            },
        )
        if "awards" not in omit:
            _write(awards, lake / "awards" / part, stats, "awards")

        onstage = (rng.random(q) < 0.15).astype(np.int64)
        mic_on = onstage * rng.integers(1, 3, q)
        mic_off = np.maximum(mic_on - (rng.random(q) < 0.1), 0)
        group = rng.random(n) < 0.3
        counts = {
            "handup": np.minimum(rng.poisson(0.8, q), 8),
            "onstage": onstage,
            "reward": rng.poisson(0.2, q),
            "toggle_mic_on": mic_on,
            "toggle_mic_off": mic_off,
            "reward_all": group[e_idx].astype(np.int64),
        }
        kc_l, kc_u, kc_t, kc_c, kc_i = [], [], [], [], []
        for etype, c in counts.items():
            nz = c > 0
            kc_l.append(e_lesson[nz])
            kc_u.append(e_user[nz])
            kc_t.append(np.full(nz.sum(), etype, dtype=object))
            kc_c.append(c[nz])
            kc_i.append(e_idx[nz])
        kc_l = np.concatenate(kc_l)
        kc_u = np.concatenate(kc_u)
        kc_t = np.concatenate(kc_t)
        kc_c = np.concatenate(kc_c)
        kc_i = np.concatenate(kc_i)
        kec = _table(
            KEY_EVENT_COUNTS,
            {
                "lesson_date": np.repeat(date_col, kc_l.size),
                "lesson_id": kc_l,
                "user_id": kc_u,
                "event_type": kc_t,
                "event_count": kc_c.astype(np.int32),
            },
        )
        if "key_event_counts" not in omit:
            _write(kec, lake / "key_event_counts" / part, stats, "key_event_counts")

        # key events: one row per counted event, distinct times within the lesson
        r = np.repeat(np.arange(kc_l.size), kc_c)
        j = np.arange(r.size) - np.repeat(np.cumsum(kc_c) - kc_c, kc_c)
        span = sched_min[kc_i] * 60
        base = rng.integers(0, np.maximum(span // 2, 1))
        is_group = kc_t == "reward_all"
        base = np.where(is_group, (kc_i * 977) % np.maximum(span // 2, 1), base)
        offs = base[r] + j * 37
        ev_us = start_us[kc_i[r]] + offs * 1_000_000
        ke = _table(
            KEY_EVENTS,
            {
                "lesson_date": np.repeat(date_col, r.size),
                "lesson_id": kc_l[r],
                "user_id": kc_u[r],
                "event_type": kc_t[r],
                "event_time": _ts(ev_us),
            },
        )
        if "key_events" not in omit:
            _write(ke, lake / "key_events" / part, stats, "key_events")

        hmask = rng.random(q) < 0.01
        h = hmask.sum()
        if "help_requests" not in omit and h:
            hr = _table(
                HELP_REQUESTS,
                {
                    "lesson_date": np.repeat(date_col, h),
                    "lesson_id": e_lesson[hmask],
                    "user_id": e_user[hmask],
                    "help_type": HELP_TYPES[rng.integers(0, HELP_TYPES.size, h)],
                    "help_item_name": np.array([f"{x:03d}" for x in rng.integers(1, 20, h)], dtype=object),
                    "help_content": np.full(h, "test", dtype=object),
                    "help_time": _ts(start_us[e_idx[hmask]] + rng.integers(0, 1800, h) * 1_000_000),
                },
            )
            _write(hr, lake / "help_requests" / part, stats, "help_requests")

    if "course_progress" not in omit:
        seen = status_counts.sum(axis=1) > 0
        sc = status_counts[seen]
        cp = _table(
            COURSE_PROGRESS,
            {
                "class_id": CLASS_ID_BASE + np.arange(n_classes)[seen],
                "finished": sc[:, 2].astype(np.int32),
                "not_started": sc[:, 0].astype(np.int32),
                "on_class": sc[:, 1].astype(np.int32),
                "expired": sc[:, 3].astype(np.int32),
                "total": sc.sum(axis=1).astype(np.int32),
            },
        )
        _write(cp, lake / "course_progress" / "snapshot.parquet", stats, "course_progress")
    for t in DAILY_TABLES:
        stats.rows.setdefault(t, 0)
    return stats


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lake_dir")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--lessons", type=int, default=20, help="lessons per day")
    p.add_argument("--students", type=int, default=30, help="students per lesson")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 3, 1))
    a = p.parse_args(argv)
    s = write_lake(a.lake_dir, days=a.days, lessons_per_day=a.lessons, students_per_lesson=a.students, seed=a.seed, start=a.start)
    print(f"{s.files} files", s.rows)


if __name__ == "__main__":
    main()
