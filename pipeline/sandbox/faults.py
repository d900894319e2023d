"""Latency and fault injection for the sandbox server.

A fault is decided when a request arrives, *before* it is handled, from a
seeded RNG: the same seed and the same request order give the same faults.
Faults never change data:

* the faults that carry no answer (HTTP 500/502/503, HTTP 429, a 200 body with
  error_code 50000) never reach a handler, so a write is not applied;
* the faults that damage an answer (``slow``, ``reset``, ``truncated``) carry
  the real answer for reporting (read-only) endpoints; for management
  endpoints they carry a 50000 envelope and the handler is not run either.

A retried request therefore gets exactly what an unfaulted one gets.

Kinds (an equal share each of ``fault_rate``):

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
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

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

#: Faults that never run the handler and answer without data.
NO_DATA_FAULTS = frozenset({"http500", "http502", "http503", "http429", "code50000"})
#: Faults that damage (or delay) the real answer of a read-only endpoint.
DAMAGING_FAULTS = frozenset({"slow", "reset", "truncated"})


@dataclass
class FaultPlan:
    """Seeded decisions for latency and faults; one instance per server."""

    seed: int = 7
    fault_rate: float = 0.0
    latency_ms: float = 0.0
    slow_seconds: float = 35.0
    retry_after: int = 1
    kinds: tuple[str, ...] = FAULT_KINDS

    def __post_init__(self) -> None:
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if self.latency_ms < 0 or self.slow_seconds < 0:
            raise ValueError("latency_ms and slow_seconds must not be negative")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._fault_rng = random.Random(f"sandbox-faults-{self.seed}")
        self._latency_rng = random.Random(f"sandbox-latency-{self.seed}")
        self.counts: dict[str, int] = {k: 0 for k in FAULT_KINDS}

    def decide(self) -> str | None:
        """The fault for the next request, or None; called once per request, in arrival order."""
        if self.fault_rate <= 0.0:
            return None
        rng = self._fault_rng
        if rng.random() >= self.fault_rate:
            return None
        kind = self.kinds[rng.randrange(len(self.kinds))]
        self.counts[kind] += 1
        return kind

    async def delay(self) -> None:
        """The configured latency with +-50% jitter (non-blocking)."""
        if self.latency_ms > 0:
            factor = 0.5 + self._latency_rng.random()
            await asyncio.sleep(self.latency_ms * factor / 1000.0)

    async def slow(self) -> None:
        await asyncio.sleep(self.slow_seconds)


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
