"""`liveclass probe`: decide, from the platform's own answers, which reading of the document it follows.

Read-only calls only (a few dozen, over the last few complete days), one finding per reading
of :mod:`pipeline.core.profile`: the value, the evidence, and whether it was decided or the
default was kept because the days held nothing that could tell (say, no lesson started late).
What each reading means and what the pipeline does with it: docs/platform-readings.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.core.calendar import day_window
from pipeline.core.coerce import DataDriftError, to_time
from pipeline.core.profile import DEFAULTS, Finding, PlatformProfile

from .catalog import path_of
from .client import LiveClassClient
from .errors import ApiError, AuthError

#: Lessons sampled for the attendance readings (each costs an API 23 page and an API 34 call).
SAMPLE = 3
#: Minutes a lesson may run past its span before listen_time reads as seconds (as the lake's check).
SLACK_MINUTES = 15


@dataclass
class Lesson:
    lesson_id: int
    scheduled_start: dt.datetime
    scheduled_end: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None

    @property
    def span_minutes(self) -> int:
        start = min(self.scheduled_start, self.actual_start or self.scheduled_start)
        return int(((self.actual_end or self.scheduled_end) - start).total_seconds() // 60)


@dataclass
class Probe:
    client: LiveClassClient
    days: list[dt.date]

    # -- what the days hold ---------------------------------------------------------

    def window_ids(self) -> list[int]:
        ids: set[int] = set()
        for day in self.days:
            start, end = day_window(day)
            ids |= {int(i["lesson_id"]) for i in self.client.get_class_info(start, end) if "lesson_id" in i}
        return sorted(ids)

    def lessons(self, ids: list[int]) -> list[Lesson]:
        """API 19 details of up to 100 of ``ids``, in the array form already found."""
        details = self._call("19", {"lessonId": self._form(ids[:100])})
        return [Lesson(int(d["zby_lid"]), _t(d["start_time"]), _t(d["end_time"]), _t(d.get("actual_start_time")),
                       _t(d.get("actual_end_time"))) for d in details]

    _arrays = DEFAULTS["arrays"]

    def _form(self, ids: list[int]) -> Any:
        return ids if self._arrays == "native" else "[" + ",".join(map(str, ids)) + "]"

    def _call(self, api: str, params: dict) -> Any:
        return self.client.call(path_of(api), params).get("data")

    # -- the readings -----------------------------------------------------------------

    def arrays(self, lesson_id: int) -> Finding:
        """API 19 with a one-id array in each form: the form that answers is the platform's."""
        answers = {}
        for form, value in (("native", [lesson_id]), ("json_string", f"[{lesson_id}]")):
            try:
                self.client.call(path_of("19"), {"lessonId": value})
                answers[form] = "answered"
            except AuthError:
                raise
            except ApiError as exc:
                answers[form] = f"refused ({exc.error_code or exc.msg[:40]})"
        ok = [f for f, a in answers.items() if a == "answered"]
        evidence = "API 19 lessonId " + ", ".join(f"as {f}: {a}" for f, a in answers.items())
        if len(ok) == 1:
            self._arrays = ok[0]
            return Finding("arrays", ok[0], evidence)
        return Finding("arrays", DEFAULTS["arrays"], evidence + ("; both work" if ok else "; neither works"),
                       "default" if not ok else "decided")

    def unknown_ids(self, lesson_id: int) -> Finding:
        unknown = 1  # no platform numbers lessons from 1
        try:
            data = self._call("19", {"lessonId": self._form([lesson_id, unknown])})
        except AuthError:
            raise
        except ApiError as exc:
            return Finding("unknown_ids", "reject", f"API 19 for [{lesson_id}, {unknown}] refused: {exc.msg[:60]}")
        got = sorted(int(d["zby_lid"]) for d in data or [])
        return Finding("unknown_ids", "omit", f"API 19 for [{lesson_id}, {unknown}] answered {got}")

    def attendance(self, lessons: list[Lesson]) -> list[Finding]:
        """listen_time's unit against the lessons' spans; whether API 34's teacher is among API 23's rows."""
        held = [x for x in lessons if x.actual_start is not None and x.actual_end is not None][:SAMPLE]
        if not held:
            return [Finding(k, DEFAULTS[k], "no held lesson in the probed days", "default")
                    for k in ("listen_time", "attendance_rows")]
        over, most, teacher_rows, teachers = [], 0, 0, 0
        for lesson in held:
            rows = self.client.get_attendance(lesson.lesson_id)
            teacher = self.client.get_teacher_inout(lesson.lesson_id) or {}
            listens = [int(r.get("listen_time") or 0) for r in rows] + [int(teacher.get("listen_time") or 0)]
            most = max(most, *listens)
            if max(listens) > lesson.span_minutes + SLACK_MINUTES:
                over.append(f"lesson {lesson.lesson_id}: listen_time {max(listens)} > span {lesson.span_minutes} min")
            if teacher.get("teacher_id") is not None:
                teachers += 1
                teacher_rows += any(str(r.get("user_id")) == str(teacher["teacher_id"]) for r in rows)
        if most == 0:
            listen = Finding("listen_time", DEFAULTS["listen_time"], "every sampled listen_time is 0", "default")
        elif over:
            listen = Finding("listen_time", "seconds", "; ".join(over[:2]) + " (minutes cannot be)")
        else:
            listen = Finding("listen_time", "minutes", f"{len(held)} held lessons: every listen_time (max {most}) "
                                                       "fits the lesson's span in minutes")
        if not teachers:
            rows_finding = Finding("attendance_rows", DEFAULTS["attendance_rows"], "API 34 named no teacher", "default")
        elif teacher_rows == teachers:
            rows_finding = Finding("attendance_rows", "students_and_teacher",
                                   f"API 34's teacher is among API 23's rows in {teacher_rows} of {teachers} lessons")
        elif teacher_rows == 0:
            rows_finding = Finding("attendance_rows", "students",
                                   f"API 34's teacher is in none of API 23's lists ({teachers} lessons)")
        else:
            rows_finding = Finding("attendance_rows", DEFAULTS["attendance_rows"],
                                   f"API 34's teacher is in {teacher_rows} of {teachers} lessons' API 23 rows",
                                   "default")
        return [listen, rows_finding]

    def class_window(self, lessons: list[Lesson]) -> Finding:
        """A one-minute API 17 window at a lesson's scheduled start and one at its actual start."""
        late = [x for x in lessons if x.actual_start is not None
                and abs((x.actual_start - x.scheduled_start).total_seconds()) >= 120]
        if not late:
            return Finding("class_window", DEFAULTS["class_window"],
                           "no lesson started 2 minutes or more off its schedule", "default")
        x = late[0]

        def holds(at: dt.datetime) -> bool:
            at = at.replace(second=0)
            items = self.client.get_class_info(at, at + dt.timedelta(minutes=1))
            return any(str(i.get("lesson_id")) == str(x.lesson_id) for i in items)

        by_scheduled, by_actual = holds(x.scheduled_start), holds(x.actual_start)
        evidence = (f"lesson {x.lesson_id} scheduled {x.scheduled_start:%H:%M}, started {x.actual_start:%H:%M}: "
                    f"in the scheduled minute's window {by_scheduled}, in the actual minute's {by_actual}")
        if by_scheduled and not by_actual:
            return Finding("class_window", "scheduled_start", evidence)
        if by_actual and not by_scheduled:
            return Finding("class_window", "actual_start", evidence)
        return Finding("class_window", DEFAULTS["class_window"], evidence, "default")

    def class_is_course(self, lesson_id: int) -> Finding:
        data = self._call("30", {"lessonId": lesson_id}) or {}
        cid = data.get("id")
        try:
            self._call("26", {"classroomId": cid})
        except AuthError:
            raise
        except ApiError as exc:
            return Finding("class_is_course", "no", f"API 26 refused API 30's class id {cid}: {exc.msg[:60]}")
        return Finding("class_is_course", "yes", f"API 26 answered for API 30's class id {cid}")

    def empty(self, lessons: list[Lesson]) -> Finding:
        """An API 27 answer with no events: {} or []."""
        order = sorted(lessons, key=lambda x: x.actual_start is not None)  # never-held lessons first
        for lesson in order[:2]:
            for event_type in ("onstage", "toggle_mic_on", "handup"):
                body = self.client.call(path_of("27"), {"lid": lesson.lesson_id, "event_type": event_type})
                data = body.get("data")
                if data in ({}, []):
                    value = "list" if data == [] else "object"
                    return Finding("empty", value, f"API 27 for lesson {lesson.lesson_id} {event_type} "
                                                   f"answered {'[]' if data == [] else '{}'}")
        return Finding("empty", DEFAULTS["empty"], "no empty API 27 answer found", "default")

    # -- all of it ------------------------------------------------------------------------

    def run(self, echo: Callable[[str], None] = print) -> PlatformProfile:
        ids = self.window_ids()
        findings: list[Finding] = []
        if not ids:
            findings = [Finding(k, DEFAULTS[k], f"no lessons in {self.days[0]} .. {self.days[-1]}", "default")
                        for k in DEFAULTS if k != "json_arrays"]
        else:
            first = ids[0]
            findings.append(self.arrays(first))
            lessons = self.lessons(ids)
            findings.append(self.unknown_ids(first))
            findings += self.attendance(lessons)
            findings.append(self.class_window(lessons))
            findings.append(self.class_is_course(first))
            findings.append(self.empty(lessons))
        findings.append(Finding("json_arrays", DEFAULTS["json_arrays"],
                                "not probed: only management endpoints (writes) take these; reporting never calls "
                                "them", "default"))
        for f in findings:
            echo(f"  {f.line()}")
        return PlatformProfile.from_findings(findings, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def _t(value: str | None) -> dt.datetime | None:
    """An API time, or None when absent or unreadable (the probe decides nothing from it then)."""
    try:
        return to_time(value, path_of("19"), "time")
    except DataDriftError:
        return None
