"""Value coercion at the edge: API values (ints as digit strings, times without an
offset) to Python values, or a :class:`DataDriftError` naming endpoint, field and value.

Harmless variation is absorbed (an id as ``"123"``, a time without seconds); anything
that would change a number if guessed (``2.5`` as a count, an unparseable time, a
missing required field) raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .calendar import TZ


class DataDriftError(ValueError):
    """The platform sent something that would change the numbers if we guessed."""

    def __init__(self, endpoint: str, field_name: str, value: Any, expected: str):
        self.endpoint, self.field, self.value = endpoint, field_name, value
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{endpoint} field {field_name!r}: expected {expected}, got {shown}")



_INT_RE = re.compile(r"^\s*-?\d+\s*$")
#: Integers a JSON float holds exactly; an id sent as a larger float may already have been rounded.
MAX_SAFE_FLOAT_INT = 2**53


def to_int(value: Any, endpoint: str, name: str, *, nullable: bool = False) -> int | None:
    if value is None or value == "":
        if nullable:
            return None
        raise DataDriftError(endpoint, name, value, "an integer")
    if isinstance(value, bool):
        raise DataDriftError(endpoint, name, value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        if abs(value) > MAX_SAFE_FLOAT_INT:
            raise DataDriftError(endpoint, name, value, "an integer (a float above 2^53 may have been rounded)")
        return int(value)
    raise DataDriftError(endpoint, name, value, "an integer")


def to_str(value: Any, endpoint: str, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800": not text
            raise DataDriftError(endpoint, name, value, "valid Unicode text") from None
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise DataDriftError(endpoint, name, value, "a string")


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def to_time(value: Any, endpoint: str, name: str, *, nullable: bool = True) -> datetime | None:
    if value is None or value == "":
        if nullable:
            return None
        raise DataDriftError(endpoint, name, value, "a time YYYY-MM-DD HH:MM:SS")
    if isinstance(value, str):
        for fmt in _TIME_FORMATS:
            try:
                return datetime.strptime(value.strip(), fmt).replace(tzinfo=TZ)
            except ValueError:
                continue
    raise DataDriftError(endpoint, name, value, "a time YYYY-MM-DD HH:MM:SS")


def require(item: Mapping[str, Any], key: str, endpoint: str) -> Any:
    if not isinstance(item, Mapping):
        raise DataDriftError(endpoint, key, item, "an object")
    if key not in item:
        raise DataDriftError(endpoint, key, "<missing>", "a value")
    return item[key]


def req_int(item: Mapping[str, Any], key: str, endpoint: str) -> int:
    """A required integer field of an API item."""
    return to_int(require(item, key, endpoint), endpoint, key)
