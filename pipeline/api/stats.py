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
    ``backoff_seconds`` / ``rate_limit_wait_seconds``: time slept.
    """

    def __init__(self):
        self._lock = threading.Lock()
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

    def record_attempt(self, path: str, seconds: float, failure: str | None) -> None:
        """One HTTP request to ``path``: its duration and, if it failed, the failure's kind."""
        with self._lock:
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

    def record_rate_wait(self, seconds: float) -> None:
        if seconds:
            with self._lock:
                self._rate_wait_seconds += seconds

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
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.snapshot()!r})"
