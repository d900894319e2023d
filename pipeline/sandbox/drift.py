"""Schema drift: the sandbox answering like a platform whose fields wander from the document.

Applied to successful answers of the reporting endpoints, after the handler
and before the answer is encoded (so a cached answer drifts the same way each
time).  Every choice is a deterministic function of (seed, path, item), so the
same request always drifts the same way.

``harmless`` (what the document's own inconsistencies allow; a pipeline must absorb it)
    * unknown fields added to the envelope and to items;
    * ids and counts sent as decimal strings where the document shows numbers
      (``listen_time: "12"``, ``count: "85"``, ``award_num: "3"``, API 27's
      counts), and numbers where it shows strings (API 16/17/18 ids);
    * API 20 ``mobile`` as a string or a number;
    * optional fields omitted: API 19 ``teacher_name``, API 18 ``video``.

``harmful`` (would change the numbers if a pipeline guessed; it must stop and say so)
    everything of ``harmless``, and in addition
    * API 23 ``listen_time`` as ``"12.5"`` (a fraction of a minute) on the
      first row of some lessons,
    * API 27 a count ``"n/a"`` for some lessons,
    * API 34 the required ``teacher_id`` dropped for some lessons.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from pipeline.api.catalog import path_of

MODES = ("harmless", "harmful")

EXTRA_ENVELOPE = {"request_id": "drift-0000", "server_version": "7.4.33"}
EXTRA_ITEM = {"ext_info": {"source": "drift"}, "is_deleted": 0}


def normalize_mode(value: Any) -> str | None:
    """``SandboxConfig.drift`` -> None, "harmless" or "harmful"."""
    if value in (None, False, "", "off", "none"):
        return None
    if value is True:
        return "harmless"
    if value in MODES:
        return value
    raise ValueError(f"drift must be off, harmless or harmful, not {value!r}")


class Drift:
    def __init__(self, mode: str, seed: int = 7):
        self.mode = mode
        self.seed = seed
        self.harmful = mode == "harmful"
        self.applied: dict[str, int] = {}  # kind -> times applied (for tests and reports)

    def pick(self, *key: Any, every: int = 2) -> bool:
        """Deterministically true for about one key in ``every``."""
        return zlib.crc32(repr((self.seed, *key)).encode()) % every == 0

    def _note(self, kind: str) -> None:
        self.applied[kind] = self.applied.get(kind, 0) + 1

    def as_str(self, item: dict, name: str, *key: Any, every: int = 2) -> None:
        if (name in item and isinstance(item[name], int) and not isinstance(item[name], bool)
                and self.pick(name, *key, every=every)):
            item[name] = str(item[name])
            self._note(f"{name}:str")

    def as_int(self, item: dict, name: str, *key: Any) -> None:
        v = item.get(name)
        if isinstance(v, str) and v.lstrip("-").isdigit() and self.pick(name, *key):
            item[name] = int(v)
            self._note(f"{name}:int")

    def omit(self, item: dict, name: str, *key: Any) -> None:
        if name in item and self.pick("omit", name, *key):
            del item[name]
            self._note(f"{name}:omitted")

    def extra(self, item: dict, *key: Any) -> None:
        if self.pick("extra", *key, every=3):
            item.update(EXTRA_ITEM)
            self._note("extra_item_fields")

    # -- per endpoint ---------------------------------------------------------------

    def apply(self, path: str, body: dict) -> dict:
        if not isinstance(body, dict) or body.get("status") != 1:
            return body
        fn = _ENDPOINTS.get(path)
        if fn is None:
            return body
        body = {**body, **EXTRA_ENVELOPE}
        self._note("extra_envelope_fields")
        fn(self, body)
        return body


def _items(body: dict) -> list[dict]:
    data = body.get("data")
    return [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []


def _api16(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("lesson_id"), it.get("user_id"), it.get("help_time"))
        d.as_int(it, "lesson_id", *k)
        d.as_int(it, "user_id", *k)
        d.extra(it, *k)


def _api17(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("lesson_id"),)
        d.as_int(it, "lesson_id", *k)
        d.as_str(it, "status", *k)
        d.extra(it, *k)


def _api18(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("lesson_id"),)
        d.as_int(it, "lesson_id", *k)
        d.as_str(it, "status", *k)
        d.omit(it, "video", *k)


def _api19(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("zby_lid"),)
        d.as_str(it, "zby_lid", *k)
        d.as_str(it, "status", *k)
        d.omit(it, "teacher_name", *k)
        d.extra(it, *k)


def _api20(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("uid"),)
        if isinstance(it.get("mobile"), int):
            d.as_str(it, "mobile", *k)
        else:
            d.as_int(it, "mobile", *k)


def _api23(d: Drift, body: dict) -> None:
    data = body.get("data")
    if not isinstance(data, dict):
        return
    for name in ("count", "sumpage", "page"):  # the page envelope: decimal strings two times in three
        d.as_str(data, name, data.get("data") and data["data"][0].get("user_id"), every=1 if name == "count" else 2)
    rows = [r for r in data.get("data") or [] if isinstance(r, dict)]
    for r in rows:
        k = (r.get("user_id"), r.get("listen_time"))
        for name in ("user_id", "listen_time", "inout_times", "u_late", "u_leave"):
            d.as_str(r, name, *k)
        d.extra(r, *k)
    if d.harmful and rows and data.get("page") in (1, "1") and d.pick("harm23", rows[0].get("user_id"), every=3):
        rows[0]["listen_time"] = f"{int(rows[0]['listen_time'])}.5"
        d._note("listen_time:fraction")


def _api25(d: Drift, body: dict) -> None:
    for it in _items(body):
        k = (it.get("lesson_id"), it.get("user_id"))
        d.as_str(it, "award_num", *k)
        d.as_str(it, "lesson_id", *k)
        d.as_str(it, "user_id", *k)


def _api26(d: Drift, body: dict) -> None:
    data = body.get("data")
    if isinstance(data, dict):
        for name in ("finish", "lessonNotStart", "lessonOnClass", "lessonExpired", "total"):
            d.as_str(data, name, tuple(sorted(data.items())))


def _api27(d: Drift, body: dict) -> None:
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        return
    for uid in list(data):
        if isinstance(data[uid], int) and d.pick("count27", uid, data[uid]):
            data[uid] = str(data[uid])
            d._note("event_count:str")
    if d.harmful:
        uid = sorted(data)[0]
        if d.pick("harm27", uid, len(data), every=4):
            data[uid] = "n/a"
            d._note("event_count:non_numeric")


def _api28(d: Drift, body: dict) -> None:
    for it in _items(body):
        d.extra(it, it.get("event_time"))


def _api30(d: Drift, body: dict) -> None:
    data = body.get("data")
    if isinstance(data, dict):
        d.as_str(data, "id", data.get("id"))


def _api34(d: Drift, body: dict) -> None:
    data = body.get("data")
    if not isinstance(data, dict):
        return
    k = (data.get("teacher_id"), data.get("actual_start_time"))
    for name in ("teacher_id", "listen_time", "inout_times", "u_late", "u_leave"):
        d.as_str(data, name, *k)
    d.extra(data, *k)
    if d.harmful and d.pick("harm34", *k, every=2):
        del data["teacher_id"]
        d._note("teacher_id:missing")


_BY_API: dict[str, Callable[[Drift, dict], None]] = {
    "16": _api16,
    "17": _api17,
    "18": _api18,
    "19": _api19,
    "20": _api20,
    "23": _api23,
    "25": _api25,
    "26": _api26,
    "27": _api27,
    "28": _api28,
    "30": _api30,
    "34": _api34,
}
#: path -> reshaping of its answer (paths from the catalog).
_ENDPOINTS: dict[str, Callable[[Drift, dict], None]] = {path_of(api): fn for api, fn in _BY_API.items()}
