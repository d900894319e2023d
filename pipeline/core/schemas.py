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

# -- the school's roster (optional files in LIVECLASS_ROSTER_DIR), resolved to platform ids ----------
# Mobiles stop at the raw layer: these tables key on user ids (API 20 resolves the mobiles).

ROSTER_STUDENTS = pa.schema(  # roster students/*.csv|xlsx, one row per resolved student
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("student_number", pa.string()),
        pa.field("class_name", pa.string()),
        pa.field("grade", pa.string()),
    ]
)

ROSTER_TEACHERS = pa.schema(  # roster teachers.csv|xlsx, one row per resolved teacher
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("subject", pa.string()),
    ]
)

ROSTER_COURSES = pa.schema(  # roster courses.csv|xlsx: a class by platform id or by its exact name
    [
        pa.field("class_id", pa.int64()),
        pa.field("class_name", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("grade", pa.string()),
        pa.field("term", pa.string()),
    ]
)

ROSTER_PROBLEMS = pa.schema(  # one row per problem found in the roster files (mobiles masked)
    [
        pa.field("file", pa.string(), nullable=False),      # file name inside the roster folder
        pa.field("row", pa.int32()),                        # 1-based row as a spreadsheet shows it; NULL: whole file
        pa.field("column", pa.string()),
        pa.field("problem", pa.string(), nullable=False),   # a short code: unknown_mobile, duplicate_mobile, ...
        pa.field("message", pa.string(), nullable=False),   # the one line shown to the user
    ]
)

#: Snapshot lake tables of the roster, by name (``lake/<table>/snapshot.parquet``; absent without a roster).
ROSTER_TABLES: dict[str, pa.Schema] = {
    "roster_students": ROSTER_STUDENTS,
    "roster_teachers": ROSTER_TEACHERS,
    "roster_courses": ROSTER_COURSES,
    "roster_problems": ROSTER_PROBLEMS,
}

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
    "roster_students": ("user_id",),
    "roster_teachers": ("user_id",),
}
