"""Latency and fault injection for the sandbox server.

A fault is decided when a request arrives, *before* it is handled, from a
seeded RNG: the same seed and the same request order give the same faults.
Faults never change data (the platform's state, the school, the ground truth
of ``liveclass sandbox truth``): a fault changes what the API *says*, never
what happened.

* the faults that carry no answer (HTTP 500/502/503, HTTP 429, a 200 body with
  error_code 50000) never reach a handler, so a write is not applied;
* the faults that damage an answer (``slow``, ``reset``, ``truncated``) carry
  the real answer for reporting (read-only) endpoints; for management
  endpoints they carry a 50000 envelope and the handler is not run either.
* the *opt-in* faults that lie (``swap``, ``nodata``, ``implausible``,
  ``oversized``: :data:`ANSWER_FAULT_KINDS`) rewrite a successful answer of a
  reporting endpoint, after the handler ran on a copy; on a management
  endpoint, on an error answer, or where the kind has nothing to rewrite, the
  request is answered normally and the decision is counted in
  :attr:`FaultPlan.skipped` instead of :attr:`FaultPlan.counts`.

A retried request therefore gets exactly what an unfaulted one gets.

Default kinds (:data:`FAULT_KINDS`, an equal share each of ``fault_rate``):

``http500`` ``http502`` ``http503``
    that HTTP status with a short plain-text body.
``http429``
    HTTP 429 with ``Retry-After: <retry_after>`` (seconds, default 1).
``code50000``
    HTTP 200 with the error envelope ``{"status":0,"error_code":50000,...}``.
``slow``
    the answer is sent after ``slow_seconds`` (default 35 s: longer than a
    client's read timeout).
``reset``
    headers with the full Content-Length and half of the body, then the
    connection is closed: the client sees a broken response.
``truncated``
    HTTP 200, complete headers, the JSON body cut in half (Content-Length
    matches the cut body, so only the JSON parser notices).

Opt-in kinds (``SandboxConfig.fault_kinds`` / ``--fault-kinds``; never in the
default mix), each a well-formed HTTP 200 answer that is wrong:

``swap``
    the answer of *another* request on the same path (a misbehaving cache or
    gateway): the plan keeps the last :attr:`FaultPlan.swap_depth` distinct
    successful answers per path with their request parameters and serves one
    whose parameters and bytes differ from this request's.
``nodata``
    ``status: 1`` with the success code, but ``data`` null or missing (the two
    alternate), on the paths whose success answer carries ``data``.
``implausible``
    one value that cannot be true (:func:`implausible`): API 23 a row with a
    negative ``listen_time``, ``listen_time`` 100000 or a negative ``u_late``;
    API 34 a negative ``u_late`` or ``listen_time`` 100000; API 25 a negative
    ``award_num``; API 26 parts that do not add up to ``total``; API 27 a
    negative count; API 28 an ``event_time`` days away from the lesson.
``oversized``
    valid JSON larger than :attr:`FaultPlan.oversized_bytes` (default 21 MiB):
    the ``data`` list padded with copies of its rows (APIs 16, 17, 23, ...) or,
    without rows, a ``msg`` padded with spaces; streamed in chunks.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "http500",
    "http502",
    "http503",
    "http429",
    "code50000",
    "slow",
    "reset",
    "truncated",
)
#: Opt-in kinds: a well-formed answer that is wrong.  Never in the default mix.
ANSWER_FAULT_KINDS: tuple[str, ...] = ("swap", "nodata", "implausible", "oversized")
ALL_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS + ANSWER_FAULT_KINDS

#: Faults that never run the handler and answer without data.
NO_DATA_FAULTS = frozenset({"http500", "http502", "http503", "http429", "code50000"})
#: Faults that damage (or delay) the real answer of a read-only endpoint.
DAMAGING_FAULTS = frozenset({"slow", "reset", "truncated"})
#: Faults that rewrite a successful answer of a read-only endpoint.
ANSWER_FAULTS = frozenset(ANSWER_FAULT_KINDS)

#: Distinct recent answers kept per path for the ``swap`` fault.
SWAP_DEPTH = 32
#: Smallest body of the ``oversized`` fault (over 20 MB and over 20 MiB).
OVERSIZED_BYTES = 21 * 1024 * 1024
_CHUNK = 256 * 1024
#: The APIs that have an ``implausible`` variant.
IMPLAUSIBLE_APIS = ("23", "25", "26", "27", "28", "34")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_fault_kinds(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"swap,nodata"`` or an iterable of kinds -> a tuple without repeats.

    ``default`` stands for :data:`FAULT_KINDS`, ``all`` for :data:`ALL_FAULT_KINDS`;
    empty -> ``()`` (the caller's default mix).  Unknown kinds raise ValueError.
    """
    if value is None:
        return ()
    tokens = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for token in tokens:
        token = str(token).strip()
        if not token:
            continue
        names = FAULT_KINDS if token == "default" else ALL_FAULT_KINDS if token == "all" else (token,)
        for name in names:
            if name not in ALL_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {name!r}: one of {', '.join(ALL_FAULT_KINDS)}, default, all")
            if name not in out:
                out.append(name)
    return tuple(out)


def params_key(params: Any) -> str:
    """A stable key of a request's parameters (the order of the fields does not matter)."""
    if isinstance(params, dict):
        return repr(sorted(((repr(k), params_key(v)) for k, v in params.items())))
    if isinstance(params, (list, tuple)):
        return repr([params_key(v) for v in params])
    return repr(params)


@dataclass
class FaultPlan:
    """Seeded decisions for latency and faults; one instance per server.

    ``rate`` (alias of ``fault_rate``) and ``kinds`` may be changed on a running
    server.  ``counts[kind]``: faults injected; ``skipped[kind]``: opt-in faults
    decided but not applicable (the request was answered normally).
    """

    seed: int = 7
    fault_rate: float = 0.0
    latency_ms: float = 0.0
    slow_seconds: float = 35.0
    retry_after: int = 1
    kinds: tuple[str, ...] = FAULT_KINDS
    swap_depth: int = SWAP_DEPTH
    oversized_bytes: int = OVERSIZED_BYTES

    def __post_init__(self) -> None:
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if self.latency_ms < 0 or self.slow_seconds < 0:
            raise ValueError("latency_ms and slow_seconds must not be negative")
        if isinstance(self.kinds, str) or any(k in ("default", "all") for k in self.kinds):
            self.kinds = parse_fault_kinds(self.kinds)
        unknown = set(self.kinds) - set(ALL_FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.kinds = tuple(self.kinds)
        self._fault_rng = random.Random(f"sandbox-faults-{self.seed}")
        self._latency_rng = random.Random(f"sandbox-latency-{self.seed}")
        # the opt-in kinds draw their details here, so the decisions above stay as without them
        self._detail_rng = random.Random(f"sandbox-fault-detail-{self.seed}")
        self.counts: dict[str, int] = {k: 0 for k in ALL_FAULT_KINDS}
        self.skipped: dict[str, int] = {k: 0 for k in ANSWER_FAULT_KINDS}
        self._recent: dict[str, OrderedDict[str, bytes]] = {}

    @property
    def rate(self) -> float:
        """The share of requests that get a fault; settable on a running server (0 clears the faults)."""
        return self.fault_rate

    @rate.setter
    def rate(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        self.fault_rate = value

    def decide(self) -> str | None:
        """The fault for the next request, or None; called once per request, in arrival order."""
        if self.fault_rate <= 0.0:
            return None
        rng = self._fault_rng
        if rng.random() >= self.fault_rate:
            return None
        kind = self.kinds[rng.randrange(len(self.kinds))]
        if kind not in ANSWER_FAULTS:  # those are counted once applied (see note)
            self.counts[kind] += 1
        return kind

    def note(self, kind: str, injected: bool) -> None:
        """Count an opt-in fault as injected, or as skipped (answered normally)."""
        (self.counts if injected else self.skipped)[kind] += 1

    async def delay(self) -> None:
        """The configured latency with +-50% jitter (non-blocking)."""
        if self.latency_ms > 0:
            factor = 0.5 + self._latency_rng.random()
            await asyncio.sleep(self.latency_ms * factor / 1000.0)

    async def slow(self) -> None:
        await asyncio.sleep(self.slow_seconds)

    # -- swap --------------------------------------------------------------------
    @property
    def remembering(self) -> bool:
        """Whether successful answers are kept for ``swap`` (only while it is in the mix)."""
        return "swap" in self.kinds

    def remember(self, path: str, key: str, body: bytes) -> None:
        """Keep the real, successful answer ``body`` of the request ``key`` on ``path``."""
        recent = self._recent.setdefault(path, OrderedDict())
        recent.pop(key, None)
        recent[key] = body
        while len(recent) > max(1, self.swap_depth):
            recent.popitem(last=False)

    def swap(self, path: str, key: str, body: bytes) -> bytes | None:
        """A recent answer on ``path`` to other parameters and with other bytes than ``body``, or None."""
        recent = self._recent.get(path)
        if not recent:
            return None
        candidates = [b for k, b in recent.items() if k != key and b != body]
        if not candidates:
            return None
        return candidates[self._detail_rng.randrange(len(candidates))]

    # -- nodata, implausible, oversized -------------------------------------------
    def nodata(self, answer: dict) -> dict | None:
        """The success envelope with ``data`` null or (every other time) missing; None without ``data``."""
        if not isinstance(answer, dict) or "data" not in answer:
            return None
        out = dict(answer)
        if self.counts["nodata"] % 2:
            del out["data"]
        else:
            out["data"] = None
        return out

    def implausible(self, api: str, answer: dict) -> dict | None:
        """``answer`` (a fresh copy, changed in place) with one impossible value; None if nothing applies."""
        return implausible(api, answer, self._detail_rng)

    def oversized(self, answer: dict) -> tuple[bytes, bytes, int, bytes]:
        return oversized_parts(answer, self.oversized_bytes)


def _rows(value: Any) -> list | None:
    return value if isinstance(value, list) and value and all(isinstance(r, dict) for r in value) else None


def implausible(api: str, answer: dict, rng: random.Random) -> dict | None:
    """Change one value of ``answer`` (a decoded successful answer of API ``api``) into one that cannot be true.

    The JSON shape stays as documented.  None when the API has no such value or
    the answer has no row to change (an empty page, nobody rewarded, ...).
    """
    data = answer.get("data") if isinstance(answer, dict) else None
    if api == "23":
        rows = _rows(data.get("data")) if isinstance(data, dict) else None
        if rows is None:
            return None
        row = rows[rng.randrange(len(rows))]
        variant = rng.randrange(3)
        if variant == 0:
            row["listen_time"] = -rng.randint(1, 90)
        elif variant == 1:
            row["listen_time"] = 100000
        else:
            row["u_late"] = -rng.randint(1, 30)
    elif api == "34":
        if not isinstance(data, dict):
            return None
        if rng.randrange(2):
            data["u_late"] = -rng.randint(1, 30)
        else:
            data["listen_time"] = 100000
    elif api == "25":
        rows = _rows(data)
        if rows is None:
            return None
        rows[rng.randrange(len(rows))]["award_num"] = -rng.randint(1, 9)
    elif api == "26":
        if not isinstance(data, dict) or "total" not in data:
            return None
        try:
            parts = sum(int(v) for k, v in data.items() if k != "total")
        except (TypeError, ValueError):
            return None
        data["total"] = parts + rng.randint(1, 5)
    elif api == "27":
        if not isinstance(data, dict) or not data:
            return None
        keys = sorted(data)
        data[keys[rng.randrange(len(keys))]] = -rng.randint(1, 9)
    elif api == "28":
        rows = _rows(data)
        if rows is None:
            return None
        row = rows[rng.randrange(len(rows))]
        try:
            when = datetime.strptime(str(row.get("event_time")), _TIME_FORMAT)
        except ValueError:
            return None
        days = rng.randint(3, 40) * (1 if rng.randrange(2) else -1)
        row["event_time"] = (when + timedelta(days=days)).strftime(_TIME_FORMAT)
    else:
        return None
    return answer


_PAD_MARK = "\ue000liveclass-oversized-padding\ue000"


def _dumps(obj: Any) -> bytes:  # the server's encoding (compact, UTF-8)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def oversized_parts(answer: dict, size: int) -> tuple[bytes, bytes, int, bytes]:
    """``(prefix, chunk, repeats, suffix)``: the JSON body ``prefix + chunk * repeats + suffix`` is at least
    ``size`` bytes and valid.  The rows of ``data`` (or of API 23's ``data.data``) are repeated; without
    rows, ``msg`` is padded with spaces.  ``answer`` (a fresh copy) is changed.
    """
    data = answer.get("data")
    rows = _rows(data) or (_rows(data.get("data")) if isinstance(data, dict) else None)
    mark = _PAD_MARK.encode("utf-8")
    if rows is not None:
        unit = b"," + b",".join(_dumps(r) for r in rows)
        rows.append(_PAD_MARK)
        prefix, suffix = _dumps(answer).split(b',"' + mark + b'"', 1)
    else:
        key = "msg" if isinstance(answer.get("msg"), str) else "padding"
        answer[key] = str(answer.get(key) or "") + _PAD_MARK
        prefix, suffix = _dumps(answer).split(mark, 1)
        unit = b" "
    chunk = unit * max(1, _CHUNK // len(unit))
    room = size - len(prefix) - len(suffix)
    repeats = max(1, -(-room // len(chunk)))
    return prefix, chunk, repeats, suffix


def http_fault_response(kind: str, retry_after: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the answer-less HTTP faults."""
    status = {"http500": 500, "http502": 502, "http503": 503, "http429": 429}[kind]
    body = {
        500: b"Internal Server Error",
        502: b"Bad Gateway",
        503: b"Service Unavailable",
        429: b"Too Many Requests",
    }[status]
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if status == 429:
        headers.append((b"retry-after", str(retry_after).encode()))
    return status, headers, body
