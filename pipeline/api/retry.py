"""The retry policy of one call: what to do after a failed attempt.

* at most ``max_attempts`` attempts, and one deadline, ``max_seconds`` after the
  call started, for the whole call: no sleep reaches past it (and the client
  keeps every attempt inside it);
* transient failures wait ``uniform(0, min(backoff_max, backoff_base * 2**(n-1)))``
  (exponential backoff, full jitter); a ``Retry-After`` is honoured in full, plus
  a little jitter so that workers do not come back in step; when the client's
  rate limiter took the ``Retry-After`` over (``paced``: it holds every thread
  until then and lets them go one interval apart, :mod:`.ratelimit`), the call
  does not sleep by itself: its next attempt waits in the limiter's queue, and
  the ``Retry-After`` still counts against the deadline;
* a write (catalog ``WRITE_PATHS``: create, edit, delete) is retried only after
  a failure that proves the request never reached the platform (the connection
  was refused or timed out, HTTP 429, no rate-limit slot); any other failure
  after it was sent is :class:`~.errors.OutcomeUnknown`, since a retry could
  apply the change twice;
* fatal failures end the call at once.

Why home-made rather than urllib3's ``Retry`` or tenacity:

* every attempt needs a *fresh* signMsg (a new random IV), so a retry is a new
  request built by the client, not a resend of the same bytes by the transport;
* one deadline spans all attempts, their sleeps and the rate limiter's waits,
  and it also bounds each attempt's connect and reads, which neither library
  shares with the transport;
* a write whose answer was lost must not be retried at all, a rule about the
  endpoint and the failure's kind (including failures decided from the body,
  such as error_code 50000), not about HTTP methods or status codes;
* no exception chain may lead back to the request whose body holds the signMsg:
  here failures are values, and the final error is raised outside any
  ``except`` block, where a library would re-raise or wrap the transport's
  exceptions.
"""

from __future__ import annotations

import random
import time

from .catalog import WRITE_PATHS
from .classify import Failure
from .errors import ApiError, OutcomeUnknown, RetriesExhausted

__all__ = ["RetryPolicy", "NEVER_SENT"]

#: Failure kinds that prove the request never reached the platform: safe to retry even for a change.
NEVER_SENT = frozenset({"connect_timeout", "connect_failed", "http_429", "rate_limit"})


class RetryPolicy:
    """Attempts, deadline and backoff of a call; :meth:`after` decides after each failure."""

    def __init__(self, max_attempts: int = 8, max_seconds: float = 120.0, backoff_base: float = 0.5,
                 backoff_max: float = 20.0, rng: random.Random | None = None):
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = int(max_attempts)
        self.max_seconds = float(max_seconds)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._random = rng or random.Random()

    def deadline(self, started: float) -> float:
        """The monotonic time by which a call started at ``started`` ends."""
        return started + self.max_seconds

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        if retry_after is not None:  # the server's word, in full, with a little jitter
            return retry_after + self._random.uniform(0.0, min(1.0, self.backoff_base))
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return self._random.uniform(0.0, ceiling)

    def after(self, path: str, failure: Failure, attempt: int, started: float,
              paced: bool = False) -> float | ApiError:
        """After failed attempt ``attempt`` of a call to ``path``: the seconds to sleep before the
        next attempt, or the error that ends the call.  ``paced``: the rate limiter holds the next
        attempt until the failure's Retry-After has passed, so the sleep is 0 (the deadline check
        still counts the Retry-After)."""
        err = failure.error
        if err.transient and path in WRITE_PATHS and failure.kind not in NEVER_SENT:
            return OutcomeUnknown(
                f"the answer was lost after the request was sent ({failure.kind}: {err.msg}); the change may "
                "or may not have been applied, so it is not retried: check the platform before trying again",
                error_code=err.error_code, path=path, http_status=err.http_status, attempts=attempt)
        if not err.transient:
            err.attempts = attempt
            err.args = (err._text(),)
            return err
        retry_after = getattr(err, "retry_after", None)
        paced = paced and retry_after is not None
        sleep = retry_after if paced else self.backoff(attempt, retry_after)
        now = time.monotonic()
        if attempt < self.max_attempts and now + sleep < self.deadline(started):
            return 0.0 if paced else sleep
        if attempt >= self.max_attempts:
            why = f"attempt limit {self.max_attempts}"
        elif retry_after is not None:
            wait = "the rate limiter's wait" if failure.kind == "rate_limit" else "Retry-After"
            why = f"{wait} {retry_after:g}s reaches past the retry time limit {self.max_seconds:g}s"
        else:
            why = f"retry time limit {self.max_seconds:g}s"
        exc = RetriesExhausted(
            f"gave up after {attempt} attempt{'s' if attempt != 1 else ''} in {now - started:.2f}s "
            f"({why}); last failure: {failure.kind}: {err.msg}",
            error_code=err.error_code, path=path, http_status=err.http_status, attempts=attempt)
        exc.last_error = err
        return exc

    def __repr__(self) -> str:
        return (f"RetryPolicy(max_attempts={self.max_attempts}, max_seconds={self.max_seconds:g}, "
                f"backoff_base={self.backoff_base:g}, backoff_max={self.backoff_max:g})")
