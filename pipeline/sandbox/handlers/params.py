"""Parameter coercion shared by the handlers: the sandbox's PHP-like rules, id lookups, the success envelope.

Parameter rules (PHP-like, see docs):

* int parameters accept ints and decimal-digit strings (``"12"``); anything
  else (floats, booleans, arrays, other strings) is 40002;
* a required parameter that is absent, ``null``, ``""`` or an empty array is
  40001;
* array parameters accept a native PHP array or a JSON string holding an
  array (section 4 (b)), for every array parameter of the document, unless a
  strict array reading (``arrays=json_string``, ``json_arrays=native``) wants
  one form: the other is then 40002;
* date-time parameters accept ``YYYY-m-d H:i`` with or without ``:s`` and
  with unpadded month/day/hour; a string that is not in that format is 40002,
  an impossible date or time is 40003;
* an id that does not exist (lesson, course, user, courseware) is 40003.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ..errors import Reject
from ..platform import Platform

#: Sanity cap for id lists without a documented maximum (APIs 18, 20, 25).
MAX_IDS_UNDOCUMENTED = 500
#: Dates outside these years are 40003 (the school starts in 2015).
MIN_YEAR, MAX_YEAR = 2015, 2999

_INT_RE = re.compile(r"-?[0-9]{1,19}\Z")
_DT_RE = re.compile(r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[ T]+([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?\s*\Z")
_DAY_RE = re.compile(r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\s*\Z")
_HM_RE = re.compile(r"\s*([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?\s*\Z")
_MOBILE_RE = re.compile(r"1[0-9]{10}\Z")


def absent(v: Any) -> bool:
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)


def raw(params: Mapping[Any, Any], name: str, required: bool) -> Any:
    v = params.get(name)
    if absent(v):
        if required:
            raise Reject(40001, f"{name} is required")
        return None
    return v


def as_int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, str) and _INT_RE.match(v):
        return int(v)
    raise Reject(40002, f"{name} must be an integer")


def req_int(params: Mapping[Any, Any], name: str, lo: int | None = None, hi: int | None = None) -> int:
    v = as_int(raw(params, name, True), name)
    _check_range(v, name, lo, hi)
    return v


def opt_int(params: Mapping[Any, Any], name: str, default: Any = None, lo: int | None = None,
            hi: int | None = None) -> Any:
    v = raw(params, name, False)
    if v is None:
        return default
    v = as_int(v, name)
    _check_range(v, name, lo, hi)
    return v


def _check_range(v: int, name: str, lo: int | None, hi: int | None) -> None:
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Reject(40003, f"{name}={v} is out of range")


def req_flag(params: Mapping[Any, Any], name: str, default: int | None) -> int | None:
    v = opt_int(params, name, default)
    if v is not None and v not in (0, 1):
        raise Reject(40003, f"{name} must be 0 or 1")
    return v


def as_str(v: Any, name: str) -> str:
    if isinstance(v, str):
        return v
    if type(v) is int:  # PHP would cast
        return str(v)
    raise Reject(40002, f"{name} must be a string")


def req_str(params: Mapping[Any, Any], name: str, max_len: int | None = None) -> str:
    s = as_str(raw(params, name, True), name)
    if max_len is not None and len(s) > max_len:
        raise Reject(40003, f"{name} is longer than {max_len} characters")
    return s


def opt_str(params: Mapping[Any, Any], name: str, max_len: int | None = None) -> str | None:
    v = raw(params, name, False)
    if v is None:
        return None
    s = as_str(v, name)
    if max_len is not None and len(s) > max_len:
        raise Reject(40003, f"{name} is longer than {max_len} characters")
    return s


def as_array(v: Any, name: str, only: str | None = None) -> list:
    """A native PHP array (list or int-keyed map) or a JSON string holding an array.

    ``only`` (a strict array reading, :meth:`~..readings.Readings.only_form`): ``"native"`` or
    ``"json_string"`` accepts that form alone and answers the other with 40002, the type check a
    validating PHP handler makes before ``json_decode()`` (PHP 8: TypeError on an array) or a loop
    over the array (on a string) would fail.
    """
    if only == "json_string" and isinstance(v, (list, dict)):
        raise Reject(40002, f"{name} must be a JSON string holding an array, not a native array")
    if only == "native" and isinstance(v, str):
        raise Reject(40002, f"{name} must be a native array, not a string")
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except (ValueError, RecursionError):
            raise Reject(40002, f"{name} must be an array or a JSON array string") from None
        if not isinstance(v, list):
            raise Reject(40002, f"{name} must be an array or a JSON array string")
        return v
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return list(v.values())
    raise Reject(40002, f"{name} must be an array or a JSON array string")


def req_array(params: Mapping[Any, Any], name: str, only: str | None = None) -> list:
    arr = as_array(raw(params, name, True), name, only)
    if not arr:
        raise Reject(40001, f"{name} is empty")
    return arr


def req_id_list(params: Mapping[Any, Any], name: str, max_items: int | None = None,
                only: str | None = None) -> list[int]:
    arr = req_array(params, name, only)
    if max_items is not None and len(arr) > max_items:
        raise Reject(40004, f"{name} has {len(arr)} entries, at most {max_items} are allowed")
    return [as_int(x, f"{name}[]") for x in arr]


def dedupe(ids: list[int]) -> list[int]:
    """The ids in first-seen order, each once."""
    return list(dict.fromkeys(ids))


def parse_datetime(v: Any, name: str, tz) -> datetime:
    if not isinstance(v, str):
        raise Reject(40002, f"{name} must be a date-time string YYYY-mm-dd HH:ii[:ss]")
    m = _DT_RE.match(v)
    if not m:
        raise Reject(40002, f"{name} must be a date-time string YYYY-mm-dd HH:ii[:ss]")
    y, mo, d, h, mi, s = (int(x) if x is not None else 0 for x in m.groups())
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Reject(40003, f"{name}={v!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError:
        raise Reject(40003, f"{name}={v!r} is not a valid date-time") from None


def req_datetime(params: Mapping[Any, Any], name: str, tz) -> datetime:
    return parse_datetime(raw(params, name, True), name, tz)


def parse_day(v: Any, name: str) -> date:
    if not isinstance(v, str) or not _DAY_RE.match(v):
        raise Reject(40002, f"{name} must be a date string YYYY-mm-dd")
    y, mo, d = (int(x) for x in _DAY_RE.match(v).groups())
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Reject(40003, f"{name}={v!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    try:
        return date(y, mo, d)
    except ValueError:
        raise Reject(40003, f"{name}={v!r} is not a valid date") from None


def parse_hm(v: Any, name: str) -> tuple[int, int]:
    if not isinstance(v, str) or not _HM_RE.match(v):
        raise Reject(40002, f"{name} must be a time string HH:ii")
    h, mi, _s = _HM_RE.match(v).groups()
    h, mi = int(h), int(mi)
    if not (0 <= h <= 23 and 0 <= mi <= 59):
        raise Reject(40003, f"{name}={v!r} is not a valid time")
    return h, mi


def as_mobile(v: Any, name: str) -> int:
    if type(v) is int:
        s = str(v)
    elif isinstance(v, str) and v.isascii() and v.isdigit():
        s = v
    else:
        raise Reject(40002, f"{name} must be a mobile number")
    if not _MOBILE_RE.match(s):
        raise Reject(40003, f"{name}={s} is not an 11-digit mobile number")
    return int(s)


# ----------------------------------------------------------------------------
# the success envelope


def ok(msg: str, **rest: Any) -> dict:
    """``{"status": 1, "error_code": 10000, "msg": msg, **rest}`` (key order as in the document)."""
    out: dict[str, Any] = {"status": 1, "error_code": 10000, "msg": msg}
    out.update(rest)
    return out


# ----------------------------------------------------------------------------
# ids that must exist (40003 otherwise)


def req_lesson(p: Platform, params: Mapping[Any, Any], name: str):
    lid = req_int(params, name)
    lesson = p.lesson(lid)
    if lesson is None:
        raise Reject(40003, f"lesson {lid} does not exist")
    return lesson


def req_classroom(p: Platform, params: Mapping[Any, Any], name: str = "classroomId"):
    cid = req_int(params, name)
    c = p.classroom(cid)
    if c is None:
        raise Reject(40003, f"course {cid} does not exist")
    return c


def check_teacher(p: Platform, tid: int, name: str = "teacherId"):
    t = p.person(tid)
    if t is None or t.user_type != 2:
        raise Reject(40003, f"{name}={tid} is not a teacher of this institution")
    return t

