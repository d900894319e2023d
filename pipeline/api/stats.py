"""ClientStats: thread-safe counters of one client's calls, attempts, failures and waits."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["ClientStats"]


class ClientStats:
    """Thread-safe counters of one client.

    ``requests``: HTTP requests (attempts) by path; ``calls``: successful calls
    by path; ``attempts``/``retries``; ``failures``: failed attempts by kind
    (``http_503``, ``timeout``, ``connection``, ``bad_json``, ``error_50000``,
    ``auth`` ...); ``request_seconds``: time spent in HTTP requests;
    ``backoff_seconds`` / ``rate_limit_wait_seconds``: time slept (the second:
    waiting for the rate limiter, Retry-After holds included).

    The rate limit, for run metadata (:meth:`snapshot` keys):

    ``http_429``
        HTTP 429 answers (also in ``failures``);
    ``request_rate_per_second``
        the achieved rate: HTTP requests sent per second from the first request
        sent to the last (``None`` before two requests);
    ``rate_limit_wait_seconds``
        total time waited for the limiter, by all threads together;
    ``rate_limit_per_second`` / ``rate_limit_ceiling_per_second``
        the limiter's adapted rate at its last use, and the configured rate it
        climbs back to (``None`` without a limiter);
    ``rate_limit_decreases``
        how often this client's 429s made the limiter slow down.
    """

    def __init__(self):
        self._lock = threading.Lock()
        #: the limiter's rate in force at its last use, and its ceiling (the client sets them; not counters,
        #: so :meth:`reset` keeps them)
        self.rate_now: float | None = None
        self.rate_ceiling: float | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._calls: Counter[str] = Counter()
            self._failures: Counter[str] = Counter()
            self._attempts = 0
            self._retries = 0
            self._errors = 0
            self._request_seconds = 0.0
            self._backoff_seconds = 0.0
            self._rate_wait_seconds = 0.0
            self._first_sent: float | None = None
            self._last_sent: float | None = None
            self._decreases = 0

    def record_attempt(self, path: str, seconds: float, failure: str | None, sent: float | None = None) -> None:
        """One HTTP request to ``path``: its duration, if it failed the failure's kind, and when it was
        sent (``time.monotonic()``; for the achieved rate)."""
        with self._lock:
            if sent is not None:
                if self._first_sent is None or sent < self._first_sent:
                    self._first_sent = sent
                if self._last_sent is None or sent > self._last_sent:
                    self._last_sent = sent
            self._requests[path] += 1
            self._attempts += 1
            self._request_seconds += seconds
            if failure:
                self._failures[failure] += 1

    def record_failure(self, failure: str) -> None:
        """A failed attempt that sent no request (the rate limiter had no slot before the deadline)."""
        with self._lock:
            self._failures[failure] += 1

    def record_retry(self, sleep: float) -> None:
        with self._lock:
            self._retries += 1
            self._backoff_seconds += sleep

    def record_rate_wait(self, seconds: float, rate: float | None = None) -> None:
        """Time waited for the limiter, and the rate in force when it granted the slot."""
        if rate is not None:
            self.rate_now = rate
        if seconds:
            with self._lock:
                self._rate_wait_seconds += seconds

    def record_throttle(self, decreased: bool, rate: float | None) -> None:
        """A 429 reported to the limiter: whether it slowed down, and the rate in force after."""
        if rate is not None:
            self.rate_now = rate
        if decreased:
            with self._lock:
                self._decreases += 1

    def request_rate(self) -> float | None:
        """HTTP requests sent per second, from the first sent to the last; None before two."""
        with self._lock:
            return self._rate()

    def _rate(self) -> float | None:
        if self._attempts < 2 or self._first_sent is None or self._last_sent is None:
            return None
        span = self._last_sent - self._first_sent
        return (self._attempts - 1) / span if span > 0 else None

    def record_call(self, path: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._calls[path] += 1
            else:
                self._errors += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._attempts,
                "requests_by_path": dict(sorted(self._requests.items())),
                "calls_by_path": dict(sorted(self._calls.items())),
                "calls": sum(self._calls.values()),
                "attempts": self._attempts,
                "retries": self._retries,
                "failed_calls": self._errors,
                "failures": dict(sorted(self._failures.items())),
                "request_seconds": round(self._request_seconds, 6),
                "backoff_seconds": round(self._backoff_seconds, 6),
                "rate_limit_wait_seconds": round(self._rate_wait_seconds, 6),
                "http_429": self._failures.get("http_429", 0),
                "request_rate_per_second": None if (rate := self._rate()) is None else round(rate, 3),
                "rate_limit_per_second": None if self.rate_now is None else round(self.rate_now, 3),
                "rate_limit_ceiling_per_second": self.rate_ceiling,
                "rate_limit_decreases": self._decreases,
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.snapshot()!r})"
