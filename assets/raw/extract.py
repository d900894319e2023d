"""What each raw asset asks the API for one day, with the fewest calls the endpoints allow.

Per day: API 17 once, API 16 once, API 19/18/25 once per 100 lessons.
Per lesson: API 30 once ever (it takes a lesson id; no endpoint maps lessons to
classes in bulk; a re-extraction reuses the recorded answer), API 23 once per 40 students, API 34 once, API 27 once per
event type (6).  API 28 only for (lesson, user, type) with an API 27 count
above zero, so no call can only return nothing.  API 26 once per class seen.
The client records every answer through its ``on_response`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pipeline.api import LiveClassClient, ParameterError, RetriesExhausted, TransientError
from pipeline.api.catalog import EVENT_TYPES
from pipeline.core.calendar import day_window

from . import fanout


def lessons(client: LiveClassClient, day: date, known_classes: dict[int, dict] | None = None) -> list[dict]:
    """API 17, then 19/18 in batches and API 30 for lessons whose class is not known yet.

    A lesson's class never changes, so API 30 answers recorded by an earlier
    extraction of the same day (``known_classes``: lesson id -> raw record) are
    reused instead of asked again; they are returned to be stored with the
    new pages, so the raw file stays complete.
    """
    start, end = day_window(day)
    items = client.get_class_info(start, end)  # API 17: the day's window
    ids = fanout.lesson_ids(items)
    known = known_classes or {}
    if ids:
        client.get_lesson_info(ids)  # API 19, batches of 100
        client.get_lesson_status(ids)  # API 18, batches of 100
        client.map_concurrent(client.get_lesson_class, [i for i in ids if i not in known])  # API 30
    return [known[i] for i in ids if i in known]


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


def course_progress(client: LiveClassClient, class_ids: list[int]) -> list[int]:
    """API 26 for each class; returns the classes whose call failed (transient failures past
    the retry budget, or a class the platform no longer knows), so the caller can keep their
    previous snapshot instead of failing the whole publish.  Authorisation errors still raise."""
    failed: list[int] = []

    def one(class_id: int) -> None:
        try:
            client.get_course_progress(class_id)
        except (RetriesExhausted, TransientError, ParameterError):
            failed.append(class_id)

    client.map_concurrent(one, class_ids)  # API 26
    return sorted(failed)
