"""What each raw asset asks the API for one day, with the fewest calls the endpoints allow.

Per day: API 17 once, API 16 once, API 19/18/25 once per 100 lessons.
Per lesson: API 30 twice, once ever (it takes a lesson id; no endpoint maps lessons to
classes in bulk; a re-extraction reuses the recorded answer once the lake accepted it),
API 23 once per 40 students, API 34 once, API 27 once per event type (6).  API 28 only
for (lesson, user, type) with an API 27 count above zero, so no call can only return
nothing.  API 26 once per class seen.  The client records every answer through its
``on_response`` hook (the newest answer of a request replaces an older one).

A re-extraction (the nightly look-back) keeps what :mod:`.settle` says cannot have changed: a
settled lesson's per-lesson answers are kept, not asked; a day settled for a group costs that
group no call; API 28 is asked only where API 27's count differs from the times recorded.  Each
function returns the records it kept, to be stored beside the new answers.

Answers that echo their request (APIs 18, 19, 25 name the lesson ids they answer) are
checked here, and a foreign one is asked again once; the lake checks the final pages.
Answers that cannot be checked against anything (API 30's class, and APIs 23 and 34 for a
lesson that was never held, so nothing else says who was there) are asked twice and taken
when they agree (:func:`consensus`): a cache or gateway that mixes up answers is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from pipeline.api import ApiError, LiveClassClient, ParameterError, RetriesExhausted, TransientError
from pipeline.api.catalog import BY_METHOD, EVENT_TYPES
from pipeline.core.calendar import day_window

from . import fanout
from .settle import NOTHING, Previous, event_triple, times_recorded

#: How far around the day API 17 is asked when its window selects on actual starts (a lesson scheduled
#: on the day can start early the evening before or late after midnight).
ACTUAL_START_SLACK = timedelta(hours=3)


def lessons(client: LiveClassClient, day: date, known_classes: dict[int, dict] | None = None, *,
            by_actual_start: bool = False, prev: Previous = NOTHING) -> list[dict]:
    """API 17, then 19/18 in batches and API 30 for lessons whose class is not known yet.

    A lesson's class never changes, so API 30 answers recorded by an earlier
    extraction of the same day (``known_classes``: lesson id -> raw record) are
    reused instead of asked again; they are returned to be stored with the
    new pages, so the raw file stays complete.  A settled day keeps every answer.
    """
    if prev.day_settled:
        return list(prev.records)
    start, end = day_window(day)
    if by_actual_start:  # the reading class_window=actual_start: ask wider, keep the day's scheduled lessons
        items = client.get_class_info(start - ACTUAL_START_SLACK, end + ACTUAL_START_SLACK)
        ids = fanout.lesson_ids(items)
        details = client.get_lesson_info(ids) if ids else []
        ids = fanout.scheduled_on(details, day)
    else:
        items = client.get_class_info(start, end)  # API 17: the day's window
        ids = fanout.lesson_ids(items)
    known = known_classes or {}
    if ids:
        if not by_actual_start:
            by_ids(client, client.get_lesson_info, ids, "zby_lid")  # API 19, batches of 100
        by_ids(client, client.get_lesson_status, ids, "lesson_id")  # API 18, batches of 100
        new = [i for i in ids if i not in known]
        client.map_concurrent(lambda lid: consensus(lambda: client.get_lesson_class(lid), "get_lesson_class",
                                                    f"the class of lesson {lid}"), new)  # API 30
    return [known[i] for i in ids if i in known]


BATCH = 100  # ids per call of APIs 18, 19 and 25
T = TypeVar("T")


def by_ids(client: LiveClassClient, method: Callable[[Sequence[int]], list], ids: list[int], echoed: str) -> None:
    """A batched lookup whose items echo their lesson id: a batch answered with ids it did not ask
    for (an answer of another request) is asked again once."""

    def one(batch: list[int]) -> None:
        asked = set(batch)
        items = method(batch)
        if not set(fanout.lesson_ids(items, key=echoed)) <= asked:
            method(batch)  # the newest answer is the one recorded; the lake checks it

    client.map_concurrent(one, [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)])


def consensus(ask: Callable[[], T], method: str, what: str) -> T:
    """Ask twice and take the answer when both agree; else a third time and take the answer two of
    the three agree on (the newest recorded, since it is the third); else fail naming the endpoint."""
    first, second = ask(), ask()
    if first == second:
        return second
    third = ask()
    if third in (first, second):
        return third
    path = BY_METHOD[method].path
    raise ApiError(f"three different answers for {what}: the platform (or a cache in between) mixes up "
                   "answers of different requests", path=path)


def per_lesson(client: LiveClassClient, ask: Callable[[int], Any], method: str, what: str,
               lesson_ids: list[int], unheld: Iterable[int] = ()) -> None:
    """``ask`` for every lesson, concurrently; a lesson never held is asked by :func:`consensus`
    (nothing else tells who was there, and there are no actual times to check its answer against)."""
    unheld = set(unheld)

    def one(lid: int) -> Any:
        if lid in unheld:
            return consensus(lambda: ask(lid), method, f"lesson {lid}'s {what}")
        return ask(lid)

    client.map_concurrent(one, lesson_ids)


def _unsettled(lesson_ids: list[int], prev: Previous) -> list[int]:
    return [lid for lid in lesson_ids if lid not in prev.settled]


def attendance(client: LiveClassClient, lesson_ids: list[int], unheld: Iterable[int] = (),
               prev: Previous = NOTHING) -> list[dict]:
    per_lesson(client, client.get_attendance, "get_attendance_page", "attendance", _unsettled(lesson_ids, prev),
               unheld)  # API 23
    return prev.kept(lesson_ids)


def teacher_inout(client: LiveClassClient, lesson_ids: list[int], unheld: Iterable[int] = (),
                  prev: Previous = NOTHING) -> list[dict]:
    per_lesson(client, client.get_teacher_inout, "get_teacher_inout", "teacher", _unsettled(lesson_ids, prev),
               unheld)  # API 34
    return prev.kept(lesson_ids)


def awards(client: LiveClassClient, lesson_ids: list[int], prev: Previous = NOTHING) -> list[dict]:
    """API 25 in batches of 100 for the whole window (a batch costs what a single lesson costs), unless
    every lesson of the window is settled."""
    if prev.settled >= set(lesson_ids):
        return list(prev.records)
    if lesson_ids:
        by_ids(client, client.get_student_awards, lesson_ids, "lesson_id")  # API 25, batches of 100
    return []


def key_event_counts(client: LiveClassClient, lesson_ids: list[int], prev: Previous = NOTHING) -> list[dict]:
    pairs = [(lid, et) for lid in _unsettled(lesson_ids, prev) for et in EVENT_TYPES]
    client.map_concurrent(lambda p: client.get_key_event_counts(p[0], p[1]), pairs)  # API 27
    return prev.kept(lesson_ids)


def event_times_to_ask(counts: dict[tuple[int, int, str], int],
                       prev: Previous = NOTHING) -> tuple[list[tuple[int, int, str]], list[dict]]:
    """The (lesson, user, type) to ask API 28 for, and the recorded answers kept: every triple with a count
    above zero (``counts``, from API 27) except those of a settled lesson and those whose recorded answer
    lists exactly that many times."""
    kept: list[dict] = []
    recorded = {t: r for r in prev.records if (t := event_triple(r)) is not None}
    ask = []
    for triple, n in sorted(counts.items()):
        rec = recorded.get(triple)
        if rec is not None and (triple[0] in prev.settled or times_recorded(rec) == n):
            kept.append(rec)
        else:
            ask.append(triple)
    return ask, kept


def key_event_times(client: LiveClassClient, counts: dict[tuple[int, int, str], int],
                    prev: Previous = NOTHING) -> list[dict]:
    ask, kept = event_times_to_ask(counts, prev)
    client.map_concurrent(lambda t: client.get_key_event_times(t[0], t[1], t[2]), ask)  # API 28
    return kept


def help_requests(client: LiveClassClient, day: date, prev: Previous = NOTHING) -> list[dict]:
    if prev.day_settled:
        return list(prev.records)
    start, end = day_window(day)
    client.get_help_info(start, end)  # API 16
    return []


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
