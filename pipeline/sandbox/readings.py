"""Readings: the platform's other plausible readings of the points openapi.md leaves open.

The sandbox was written with the client, so by default it reads every ambiguous point the way
the client does.  A *reading* makes it play another plausible platform, so that what the client
assumes is tested (``liveclass sandbox --reading KEY=VALUE``, ``SandboxConfig.readings``, at
runtime ``app.readings``).  The first value of each key is the default: today's behaviour,
exactly.

=================  ================================================  =========================================
key                values (default first)                            what changes
=================  ================================================  =========================================
listen_time        minutes | seconds                                 APIs 23, 34: listen_time, u_late, u_leave
attendance_rows    students | students_and_teacher                   API 23 also lists the teacher (first row)
class_window       scheduled_start | actual_start                    API 17's window selects on the actual
                                                                     start (a lesson never started: on its
                                                                     scheduled start)
class_is_course    yes | no                                          API 30 answers a class id API 26 refuses
arrays             native | json_string                              APIs 18/19/20/25's array parameters
json_arrays        json_string | native                              APIs 3/4/8.1/10/12's JSON-string ones
unknown_ids        reject | omit                                     APIs 18, 19, 25: an unknown lesson id
empty              object | list                                     an empty keyed answer (API 27): {} or []
=================  ================================================  =========================================

A reading changes what the API says, never what happened: the school and ``liveclass sandbox
truth`` are the same for every reading.  The array readings: the default value (the form the
document gives) also accepts the other form, as today and as section 4 (b) asks of a server;
the other value is strict, accepting only its form and answering the other with 40002 (see
docs/sandbox.md).  What the document says about each, and the probe: docs/platform-readings.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# The readings and their values have one home, shared with the pipeline's platform profile.
from pipeline.core.profile import DEFAULTS, READINGS

__all__ = ["READINGS", "DEFAULTS", "ALTERNATIVES", "Readings", "parse_readings", "class_id_of", "CLASS_ID_BASE"]

#: Every key at its other value: the platform that reads everything the other way.
ALTERNATIVES: dict[str, str] = {k: v[1] for k, v in READINGS.items()}

#: The documented form of each array reading's parameters (the default value's form).
_DOCUMENTED_FORM = {"arrays": "native", "json_arrays": "json_string"}


def _check(key: Any, value: Any) -> tuple[str, str]:
    key = key.strip() if isinstance(key, str) else key
    value = value.strip() if isinstance(value, str) else value
    if key not in READINGS:
        raise ValueError(f"unknown reading {key!r}; readings: {', '.join(READINGS)}")
    if value not in READINGS[key]:
        raise ValueError(f"reading {key} has no value {value!r}; values: {'|'.join(READINGS[key])}")
    return key, value


def parse_readings(value: Any) -> dict[str, str]:
    """Readings as given (checked): a mapping, ``"KEY=VALUE[,KEY=VALUE...]"``, or an iterable of
    ``"KEY=VALUE"`` (the CLI's repeated ``--reading``); ``None`` or empty: none.  ValueError names
    the bad key or value."""
    if value is None or isinstance(value, Readings):
        return {} if value is None else value.changed()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        items = value.split(",") if isinstance(value, str) else list(value)
        pairs = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"a reading must be 'KEY=VALUE', got {item!r}")
            if not item.strip():
                continue
            key, sep, val = item.partition("=")
            if not sep:
                raise ValueError(f"a reading must be 'KEY=VALUE', got {item!r}")
            pairs.append((key, val))
    out: dict[str, str] = {}
    for key, val in pairs:
        k, v = _check(key, val)
        out[k] = v
    return out


@dataclass(frozen=True)
class Readings:
    """Every reading's value (defaults filled in); what the handlers consult."""

    listen_time: str = "minutes"
    attendance_rows: str = "students"
    class_window: str = "scheduled_start"
    class_is_course: str = "yes"
    arrays: str = "native"
    json_arrays: str = "json_string"
    unknown_ids: str = "reject"
    empty: str = "object"

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, getattr(self, f.name))

    @classmethod
    def of(cls, value: Any = None) -> Readings:
        """From anything :func:`parse_readings` takes (or a Readings)."""
        if isinstance(value, Readings):
            return value
        return cls(**parse_readings(value))

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in READINGS}

    def changed(self) -> dict[str, str]:
        """The readings that are not the default."""
        return {k: v for k, v in self.as_dict().items() if v != DEFAULTS[k]}

    def __getitem__(self, key: str) -> str:
        if key not in READINGS:
            raise KeyError(key)
        return getattr(self, key)

    def only_form(self, key: str) -> str | None:
        """For ``arrays``/``json_arrays``: the one form its parameters are accepted in (``"native"`` or
        ``"json_string"``), or None where both are (the default: the documented form, and the other too)."""
        value = getattr(self, key)
        return None if value == _DOCUMENTED_FORM[key] else value

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.changed().items()) or "defaults"


if {f.name for f in fields(Readings)} != set(READINGS) or Readings().as_dict() != DEFAULTS:  # pragma: no cover
    raise RuntimeError("Readings does not match READINGS")


# ----------------------------------------------------------------------------- class_is_course=no

#: Class ids (API 30 under ``class_is_course=no``) live in [CLASS_ID_BASE, CLASS_ID_BASE + _CLASS_P): above
#: every course id (school courses < 420,000,000, created ones from 990,000,000) and below 2**31.
CLASS_ID_BASE = 1_000_000_000
_CLASS_P = 999_999_937  # prime: the map below is one-to-one on course ids < _CLASS_P
_CLASS_A, _CLASS_B = 7_919, 104_729


def class_id_of(classroom_id: int) -> int:
    """The 班级 id of a course's lessons when a class is not a course: one class per course, deterministic,
    one-to-one, never a course id (API 26 answers 40003 for it)."""
    return CLASS_ID_BASE + (_CLASS_A * classroom_id + _CLASS_B) % _CLASS_P
