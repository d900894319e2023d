"""What each raw asset asks the API for one day, with the fewest calls the endpoints allow.

Per day: API 17 once, API 16 once, API 19/18/25 once per 100 lessons.
Per lesson: API 30 once (it takes a lesson id; no endpoint maps lessons to
classes in bulk), API 23 once per 40 students, API 34 once, API 27 once per
event type (6).  API 28 only for (lesson, user, type) with an API 27 count
above zero, so no call can only return nothing.  API 26 once per class seen.
The client records every answer through its ``on_response`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pipeline.api import LiveClassClient
from pipeline.partitions import day_window

from ..lake import normalize
from ..lake.schemas import EVENT_TYPES


def lessons(client: LiveClassClient, day: date, lesson_ids: list[int] | None = None) -> None:
    start, end = day_window(day)
    items = client.get_class_info(start, end)  # API 17: the day's window
    ids = sorted({normalize.to_int(i.get("lesson_id"), normalize.API17, "lesson_id") for i in items})
    if ids:
        client.get_lesson_info(ids)  # API 19, batches of 100
        client.get_lesson_status(ids)  # API 18, batches of 100
        client.map_concurrent(client.get_lesson_class, ids)  # API 30


def attendance(client: LiveClassClient, lesson_ids: list[int]) -> None:
    client.map_concurrent(client.get_attendance, lesson_ids)  # API 23, every page


def teacher_inout(client: LiveClassClient, lesson_ids: list[int]) -> None:
    client.map_concurrent(client.get_teacher_inout, lesson_ids)  # API 34


def awards(client: LiveClassClient, lesson_ids: list[int]) -> None:
    if lesson_ids:
        client.get_student_awards(lesson_ids)  # API 25, batches of 100


def key_event_counts(client: LiveClassClient, lesson_ids: list[int]) -> None:
    pairs = [(lid, et) for lid in lesson_ids for et in EVENT_TYPES]
    client.map_concurrent(lambda p: client.get_key_event_counts(p[0], p[1]), pairs)  # API 27


def key_event_times(client: LiveClassClient, triples: Iterable[tuple[int, int, str]]) -> None:
    client.map_concurrent(lambda t: client.get_key_event_times(t[0], t[1], t[2]), list(triples))  # API 28


def help_requests(client: LiveClassClient, day: date) -> None:
    start, end = day_window(day)
    client.get_help_info(start, end)  # API 16


def course_progress(client: LiveClassClient, class_ids: list[int]) -> None:
    client.map_concurrent(client.get_course_progress, class_ids)  # API 26
