"""LiveClassClient: the openAPI client, composed of small parts.

Every call is a form-encoded POST of ``applicationID`` + ``signMsg``, and
every *attempt* carries a freshly encrypted signMsg (new random IV).  One
attempt: a slot from the rate limiter (:mod:`.ratelimit`), the POST
(:mod:`.transport`), the answer's meaning (:func:`.classify.classify`).
Between attempts the :class:`.retry.RetryPolicy` decides (its docstring says
why retries are done here rather than by urllib3 or tenacity).  The call's one
deadline (``max_retry_seconds`` after it started) bounds everything: the
limiter's wait, each attempt's connect and reads, and the sleeps.

The configured rate limit is a ceiling the limiter adapts below: an HTTP 429
is reported to it (it slows down for every thread, and through its file for
every process, or through Redis for every host, and holds them all until the
Retry-After has passed), a
Retry-After on another answer (HTTP 503) holds them without slowing down, and
the rate climbs back to the ceiling (AIMD, :mod:`.ratelimit`).  Error code
50000 (服务端错误, the one 5xxxx code of Table 4) is a server error, not a
"slow down": it is retried, the rate is left alone.

The secret (held by a :class:`.secret.Secret`) and signMsg never reach logs,
exceptions, reprs or the ``on_response`` hook.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar

import requests

from .classify import Failure, classify
from .concurrency import map_concurrent
from .endpoints import EndpointsMixin
from .errors import ApiError, TransientError
from .limiters import make_limiter
from .ratelimit import MAX_HOLD, RateLimiterUnavailable, RateLimitTimeout
from .retry import RetryPolicy
from .secret import Secret
from .signing import encode_sign_msg
from .stats import ClientStats
from .transport import Transport

__all__ = ["LiveClassClient", "ClientStats"]

log = logging.getLogger("liveclass.api")

T = TypeVar("T")
R = TypeVar("R")

#: Largest answer body accepted by default.
MAX_BODY_BYTES = 16 * 1024 * 1024


class _Failed(NamedTuple):
    """A failed attempt, and whether the rate limiter holds the next one until its Retry-After has passed."""

    failure: Failure
    paced: bool


class LiveClassClient(EndpointsMixin):
    """Client of the 直播云 openAPI.

    ``call(path, params)`` returns the decoded JSON body of a successful call;
    the typed endpoint methods come from :class:`EndpointsMixin`.
    """

    def __init__(self, base_url: str, app_id: str, secret: str | bytes, *,
                 timeout: tuple[float, float] | float = (3.05, 30.0),
                 max_attempts: int = 8, max_retry_seconds: float = 120.0,
                 backoff_base: float = 0.5, backoff_max: float = 20.0,
                 rate_limit_per_second: float | None = None, rate_limit_file: str | None = None,
                 rate_limit_url: str | None = None,
                 concurrency: int = 8, session: requests.Session | None = None,
                 on_response: Callable[[str, dict, dict], None] | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES, array_form: str = "native",
                 json_array_form: str = "json_string"):
        if not base_url:
            raise ValueError("base_url is empty")
        if not app_id:
            raise ValueError("app_id is empty")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.app_id = str(app_id)
        self._secret = Secret(secret)
        self.retry = RetryPolicy(max_attempts, max_retry_seconds, backoff_base, backoff_max)
        self.concurrency = int(concurrency)
        pair = timeout if isinstance(timeout, (tuple, list)) else (timeout, timeout)
        self.transport = Transport(pair, max_body_bytes, pool_size=self.concurrency, session=session)
        if array_form not in ("native", "json_string") or json_array_form not in ("native", "json_string"):
            raise ValueError("array forms are 'native' or 'json_string'")
        self.array_form, self.json_array_form = array_form, json_array_form
        self.on_response = on_response
        # rate_limit_url (file:///path or redis://host:port/db, keyed by the app id) wins over rate_limit_file
        self.limiter = make_limiter(rate_limit_per_second, rate_limit_url or rate_limit_file, key=self.app_id)
        self.stats = ClientStats()
        self._first_answer: datetime | None = None
        self._first_lock = threading.Lock()
        if self.limiter is not None:
            self.stats.rate_ceiling = self.limiter.rate
            self.stats.rate_now = self.limiter.rate_now

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()
        close = getattr(self.limiter, "close", None)
        if close:
            close()

    def __enter__(self) -> LiveClassClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"LiveClassClient(base_url={self.base_url!r}, app_id={self.app_id!r}, secret=<hidden>, "
                f"concurrency={self.concurrency}, max_attempts={self.retry.max_attempts})")

    def __reduce__(self):
        raise TypeError("LiveClassClient holds a secret and cannot be pickled; pass its settings instead")

    @property
    def first_answer_at(self) -> datetime | None:
        """When the platform gave this client's earliest successful answer (its HTTP ``Date`` header, the
        platform's clock; this machine's clock when an answer has none), or None before any."""
        return self._first_answer

    def _answered(self, headers: Mapping[str, str]) -> None:
        try:
            at = parsedate_to_datetime(headers.get("Date") or headers.get("date") or "")
        except (TypeError, ValueError, IndexError):
            at = None
        if at is None or at.tzinfo is None:
            at = datetime.now(UTC)
        with self._first_lock:
            if self._first_answer is None or at < self._first_answer:
                self._first_answer = at

    # -- one call ------------------------------------------------------------------

    def call(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``params`` (signed) to ``path``; the whole decoded body once it says success."""
        if not path.startswith("/"):
            path = "/" + path
        params = dict(params or {})
        started = time.monotonic()
        deadline = self.retry.deadline(started)
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(path, params, attempt, deadline)
            if not isinstance(outcome, _Failed):
                self.stats.record_call(path, True)
                if self.on_response is not None:
                    self.on_response(path, params, outcome)
                return outcome
            verdict = self.retry.after(path, outcome.failure, attempt, started, paced=outcome.paced)
            if isinstance(verdict, ApiError):
                self.stats.record_call(path, False)
                raise verdict  # outside any except block: no chain back to the request
            self.stats.record_retry(verdict)
            if verdict > 0:
                time.sleep(verdict)

    def _attempt(self, path: str, params: dict[str, Any], attempt: int,
                 deadline: float) -> dict[str, Any] | _Failed:
        """One attempt: the success body, or the failure (and whether the limiter took its Retry-After over)."""
        limiter = self.limiter
        slot = None
        if limiter is not None:
            try:
                slot = limiter.acquire_slot(max_wait=deadline - time.monotonic())
            except RateLimitTimeout as exc:
                self.stats.record_failure("rate_limit")
                return _Failed(Failure("rate_limit", TransientError(f"not sent: {exc}", path=path,
                                                                     retry_after=exc.wait)), False)
            except RateLimiterUnavailable as exc:  # Redis down: retried with backoff within the deadline
                self.stats.record_failure("rate_limit")
                return _Failed(Failure("rate_limit", TransientError(f"not sent: {exc}", path=path)), False)
            self.stats.record_rate_wait(slot.wait, limiter.rate_now)
        form = {"applicationID": self.app_id, "signMsg": encode_sign_msg(params, self._secret)}
        sent = time.monotonic()
        t0 = time.perf_counter()
        answer = self.transport.post(self.base_url + path, path, form, deadline)
        if isinstance(answer, Failure):
            outcome: dict[str, Any] | Failure = answer
        else:
            outcome = classify(path, answer.status, answer.headers, answer.body)
        seconds = time.perf_counter() - t0
        failure = outcome if isinstance(outcome, Failure) else None
        self.stats.record_attempt(path, seconds, failure.kind if failure else None, sent)
        paced = False
        if failure is not None and limiter is not None and failure.kind.startswith("http_"):
            paced = self._pace(limiter, failure, slot)
        if failure is None:
            self._answered(answer.headers)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("POST %s attempt=%d http=%s error_code=%s %.1fms", path, attempt, answer.status,
                          outcome.get("error_code", outcome.get("code")), seconds * 1000)
        elif log.isEnabledFor(logging.WARNING):
            err = failure.error
            log.warning("POST %s attempt=%d http=%s error_code=%s %.1fms failed (%s%s): %s",
                        path, attempt, err.http_status, err.error_code, seconds * 1000, failure.kind,
                        ", retryable" if err.transient else "", err.msg)
        return outcome if failure is None else _Failed(failure, paced)

    def _pace(self, limiter, failure: Failure, slot) -> bool:
        """Tell the limiter about an HTTP failure: a 429 slows everyone down, a Retry-After holds everyone.
        Whether the limiter holds the next attempt until the Retry-After has passed."""
        retry_after = getattr(failure.error, "retry_after", None)
        if failure.kind == "http_429":
            decreased = limiter.throttled(slot.reserved if slot is not None else None, retry_after)
            self.stats.record_throttle(decreased, limiter.rate_now)
            if decreased:
                log.info("HTTP 429: the request rate is now %.3g/s (ceiling %.3g/s)", limiter.rate_now, limiter.rate)
            return retry_after is not None and 0 < retry_after <= MAX_HOLD
        if retry_after is not None and retry_after > 0:
            return limiter.hold(retry_after)
        return False

    # -- concurrency ---------------------------------------------------------------

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
        """``[fn(x) for x in items]`` on ``workers`` (default ``concurrency``) threads; see
        :func:`.concurrency.map_concurrent`.  Every error reaching it is final: transient
        ones were already retried."""
        return map_concurrent(fn, items, workers or self.concurrency)
