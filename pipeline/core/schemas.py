"""Explicit pyarrow schemas of the lake tables: the contract between extraction,
the sandbox's ground truth (same column names) and the warehouse.

Times are ``timestamp[us, tz=Asia/Shanghai]`` (the API writes China Standard Time
without an offset, see openapi.md section 4 (d)).  Durations are minutes
(section 4 (e)).  Daily tables are hive-partitioned by ``date=YYYY-MM-DD`` under
``$LIVECLASS_DATA_DIR/lake/<table>/`` and also carry ``lesson_date`` inside the
file, so a single file is self-describing.
"""

from __future__ import annotations

import pyarrow as pa

from .calendar import TZ_NAME

TS = pa.timestamp("us", tz=TZ_NAME)

LESSONS = pa.schema(
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("class_id", pa.int64()),            # API 30 data.id
        pa.field("class_name", pa.string()),         # API 30 data.name
        pa.field("teacher_name", pa.string()),       # API 19
        pa.field("status", pa.int8(), nullable=False),  # 0 not started, 1 in class, 2 finished, 3 expired
        pa.field("scheduled_start", TS, nullable=False),  # API 19 start_time
        pa.field("scheduled_end", TS, nullable=False),    # API 19 end_time (ends in :59)
        pa.field("actual_start", TS),                # API 19 / 17
        pa.field("actual_end", TS),
        pa.field("replay_url", pa.string()),         # API 18 video
    ]
)

ATTENDANCE = pa.schema(  # API 23, one row per enrolled student
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("listen_minutes", pa.int32(), nullable=False),
        pa.field("inout_times", pa.int32(), nullable=False),
        pa.field("late_minutes", pa.int32(), nullable=False),
        pa.field("leave_minutes", pa.int32(), nullable=False),
    ]
)

TEACHER_INOUT = pa.schema(  # API 34, one row per lesson
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("teacher_id", pa.int64(), nullable=False),
        pa.field("actual_start", TS),
        pa.field("actual_end", TS),
        pa.field("listen_minutes", pa.int32(), nullable=False),
        pa.field("inout_times", pa.int32(), nullable=False),
        pa.field("late_minutes", pa.int32(), nullable=False),
        pa.field("leave_minutes", pa.int32(), nullable=False),
    ]
)

AWARDS = pa.schema(  # API 25, students with at least one star
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("award_num", pa.int32(), nullable=False),
    ]
)

KEY_EVENT_COUNTS = pa.schema(  # API 27, (lesson, user, type) with count > 0
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_count", pa.int32(), nullable=False),
    ]
)

KEY_EVENTS = pa.schema(  # API 28, one row per event time
    [
        pa.field("lesson_date", pa.date32(), nullable=False),
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_time", TS, nullable=False),
    ]
)

HELP_REQUESTS = pa.schema(  # API 16 over the day's window
    [
        pa.field("lesson_date", pa.date32(), nullable=False),  # the day whose window returned it
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("help_type", pa.string()),
        pa.field("help_item_name", pa.string()),
        pa.field("help_content", pa.string()),
        pa.field("help_time", TS, nullable=False),
    ]
)

COURSE_PROGRESS = pa.schema(  # API 26, current snapshot per class seen
    [
        pa.field("class_id", pa.int64(), nullable=False),
        pa.field("finished", pa.int32(), nullable=False),
        pa.field("not_started", pa.int32(), nullable=False),
        pa.field("on_class", pa.int32(), nullable=False),
        pa.field("expired", pa.int32(), nullable=False),
        pa.field("total", pa.int32(), nullable=False),
    ]
)

#: Daily (hive-partitioned) lake tables, by name.
DAILY_TABLES: dict[str, pa.Schema] = {
    "lessons": LESSONS,
    "attendance": ATTENDANCE,
    "teacher_inout": TEACHER_INOUT,
    "awards": AWARDS,
    "key_event_counts": KEY_EVENT_COUNTS,
    "key_events": KEY_EVENTS,
    "help_requests": HELP_REQUESTS,
}

#: Primary keys, checked by asset checks and relied on by the warehouse.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "lessons": ("lesson_id",),
    "attendance": ("lesson_id", "user_id"),
    "teacher_inout": ("lesson_id",),
    "awards": ("lesson_id", "user_id"),
    "key_event_counts": ("lesson_id", "user_id", "event_type"),
    "key_events": ("lesson_id", "user_id", "event_type", "event_time"),
    "help_requests": ("lesson_id", "user_id", "help_time", "help_type"),
    "course_progress": ("class_id",),
}
