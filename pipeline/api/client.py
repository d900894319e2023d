"""LiveClassClient: the transport to the openAPI.

One pooled ``requests.Session``; every call is a form-encoded POST of
``applicationID`` + ``signMsg`` with a (connect, read) timeout, and every
*attempt* carries a freshly encrypted signMsg (new random IV).

Outcome of one attempt::

    HTTP 200, JSON object, status == 1, error_code/code in (10000, absent)   success
    error_code 2000x                                                          AuthError, fatal, at once
    error_code 3000x / 4000x                                                  fatal, server's msg
    error_code 50000, HTTP 5xx / 429, timeout, connection error/reset,
    body not JSON or not a JSON object                                        transient: retried
    any other HTTP status (4xx ...)                                           fatal

Transient failures are retried with exponential backoff and full jitter
(``uniform(0, min(backoff_max, backoff_base * 2**(n-1)))``); a ``Retry-After``
header (seconds) is honoured in full, plus a little jitter so that workers do
not return in step.  ``max_retry_seconds`` is one deadline for the whole call:
no attempt's read timeout, and no sleep, reaches past it.  Retrying stops after
``max_attempts`` attempts or at the deadline: :class:`RetriesExhausted` then
says how many attempts were made and what the last failure was.

Management endpoints (they change state: create, edit, delete) are retried
only after failures that prove the request never reached the platform (the
connection was refused or timed out, or HTTP 429); any other failure after
the request was sent raises :class:`OutcomeUnknown`, since a retry could apply
the change twice.  Codes Table 4 does not list are fatal.

The secret and signMsg never reach logs, exceptions, reprs or the
``on_response`` hook.  Exception texts are built here from the path, codes
and the server's ``msg``; response bodies are never echoed.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from .endpoints import WRITE_PATHS, EndpointsMixin
from .errors import SUCCESS, ApiError, OutcomeUnknown, RetriesExhausted, TransientError, error_for_code
from .ratelimit import make_limiter
from .signing import encode_sign_msg

__all__ = ["LiveClassClient", "ClientStats"]

log = logging.getLogger("liveclass.api")

T = TypeVar("T")
R = TypeVar("R")

_MSG_LIMIT = 300  # characters of the server's msg kept in exceptions


class _Secret:
    """Holds the secret; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes):
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not value:
            raise ValueError("secret is empty")
        self._value = value

    def get(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "<secret hidden>"

    __str__ = __repr__

    def __reduce__(self):  # never pickle the secret by accident
        raise TypeError("the secret cannot be pickled")


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

    def _attempt(self, path: str, seconds: float, failure: str | None) -> None:
        with self._lock:
            self._requests[path] += 1
            self._attempts += 1
            self._request_seconds += seconds
            if failure:
                self._failures[failure] += 1

    def _retry(self, sleep: float) -> None:
        with self._lock:
            self._retries += 1
            self._backoff_seconds += sleep

    def _rate_wait(self, seconds: float) -> None:
        if seconds:
            with self._lock:
                self._rate_wait_seconds += seconds

    def _done(self, path: str, ok: bool) -> None:
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


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # HTTP-date form: ignored, the normal backoff applies
    return seconds if seconds >= 0 else None


def _as_code(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _server_msg(body: Mapping[str, Any]) -> str:
    msg = body.get("msg")
    if msg is None:
        return ""
    text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)[:_MSG_LIMIT]
    return text[:_MSG_LIMIT]


class _Failure(Exception):
    """Internal: one failed attempt (kind for stats, the ApiError to raise or retry)."""

    def __init__(self, kind: str, error: ApiError):
        self.kind = kind
        self.error = error


class LiveClassClient(EndpointsMixin):
    """Client of the 直播云 openAPI (see the module docstring for the retry policy).

    ``call(path, params)`` returns the decoded JSON body of a successful call;
    the typed endpoint methods come from :class:`EndpointsMixin`.
    """

    def __init__(self, base_url: str, app_id: str, secret: str | bytes, *,
                 timeout: tuple[float, float] | float = (3.05, 30.0),
                 max_attempts: int = 8, max_retry_seconds: float = 120.0,
                 backoff_base: float = 0.5, backoff_max: float = 20.0,
                 rate_limit_per_second: float | None = None, rate_limit_file: str | None = None,
                 concurrency: int = 8, session: requests.Session | None = None,
                 on_response: Callable[[str, dict, dict], None] | None = None):
        if not base_url:
            raise ValueError("base_url is empty")
        if not app_id:
            raise ValueError("app_id is empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.app_id = str(app_id)
        self._secret = _Secret(secret)
        if isinstance(timeout, (tuple, list)):
            connect, read = timeout
            self.timeout = (float(connect), float(read))
        else:
            self.timeout = (float(timeout), float(timeout))
        self.max_attempts = int(max_attempts)
        self.max_retry_seconds = float(max_retry_seconds)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.concurrency = int(concurrency)
        self.on_response = on_response
        self.limiter = make_limiter(rate_limit_per_second, rate_limit_file)
        self.stats = ClientStats()
        self._random = random.Random()
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(self.concurrency, 10), max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        if self._own_session:
            self.session.close()
        close = getattr(self.limiter, "close", None)
        if close:
            close()

    def __enter__(self) -> LiveClassClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"LiveClassClient(base_url={self.base_url!r}, app_id={self.app_id!r}, secret=<hidden>, "
                f"concurrency={self.concurrency}, max_attempts={self.max_attempts})")

    def __reduce__(self):
        raise TypeError("LiveClassClient holds a secret and cannot be pickled; pass its settings instead")

    # -- one call ------------------------------------------------------------------

    def call(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``params`` (signed) to ``path``; the whole decoded body once it says success."""
        if not path.startswith("/"):
            path = "/" + path
        params = dict(params or {})
        url = self.base_url + path
        started = time.monotonic()
        deadline = started + self.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            failure: _Failure | None = None
            try:
                body = self._attempt(path, url, params, attempt, deadline)
            except _Failure as exc:
                failure = exc
            if failure is None:
                self.stats._done(path, True)
                if self.on_response is not None:
                    self.on_response(path, params, body)
                return body
            # Raised outside the except block, so no exception chain leads back to the
            # request (whose body holds the signMsg).
            err = failure.error
            if err.transient and path in WRITE_PATHS and failure.kind not in _NEVER_SENT:
                self.stats._done(path, False)
                raise OutcomeUnknown(
                    f"the answer was lost after the request was sent ({failure.kind}: {err.msg}); the change may "
                    "or may not have been applied, so it is not retried: check the platform before trying again",
                    error_code=err.error_code, path=path, http_status=err.http_status, attempts=attempt)
            if not err.transient:
                err.attempts = attempt
                err.args = (err._text(),)
                self.stats._done(path, False)
                raise err
            sleep = self._backoff(attempt, getattr(err, "retry_after", None))
            now = time.monotonic()
            if attempt >= self.max_attempts or now + sleep >= deadline:
                self.stats._done(path, False)
                if attempt >= self.max_attempts:
                    why = f"attempt limit {self.max_attempts}"
                elif getattr(err, "retry_after", None) is not None:
                    why = f"Retry-After {err.retry_after:g}s reaches past the retry time limit {self.max_retry_seconds:g}s"
                else:
                    why = f"retry time limit {self.max_retry_seconds:g}s"
                exc = RetriesExhausted(
                    f"gave up after {attempt} attempt{'s' if attempt != 1 else ''} in {now - started:.2f}s "
                    f"({why}); last failure: {failure.kind}: {err.msg}",
                    error_code=err.error_code, path=path, http_status=err.http_status, attempts=attempt)
                exc.last_error = err
                raise exc
            self.stats._retry(sleep)
            if sleep > 0:
                time.sleep(sleep)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server's word, in full, with a little jitter
            return retry_after + self._random.uniform(0.0, min(1.0, self.backoff_base))
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return self._random.uniform(0.0, ceiling)

    def _attempt(self, path: str, url: str, params: dict[str, Any], attempt: int,
                 deadline: float) -> dict[str, Any]:
        if self.limiter is not None:
            self.stats._rate_wait(self.limiter.acquire())
        # no attempt reads past the call's deadline
        timeout = (self.timeout[0], max(0.05, min(self.timeout[1], deadline - time.monotonic())))
        form = {"applicationID": self.app_id, "signMsg": encode_sign_msg(params, self._secret.get())}
        http_status: int | None = None
        code: int | None = None
        failure: _Failure | None = None
        body: Any = None
        t0 = time.perf_counter()
        try:
            try:
                resp = self.session.post(url, data=form, timeout=timeout, allow_redirects=False)
                http_status = resp.status_code
                content = resp.content
            except requests.Timeout as exc:
                kind = "connect_timeout" if isinstance(exc, requests.ConnectTimeout) else "timeout"
                raise _Failure(kind, TransientError(f"{kind.replace('_', ' ')}: {_exc_text(exc)}", path=path))
            except requests.ConnectionError as exc:
                kind = "connect_failed" if _never_sent(exc) else "connection"
                raise _Failure(kind, TransientError(f"connection error: {_exc_text(exc)}", path=path))
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                raise _Failure("truncated", TransientError(f"incomplete response: {_exc_text(exc)}", path=path))
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as exc:
                raise _Failure("config", ApiError(f"bad URL: {_exc_text(exc)}", path=path))
            except requests.RequestException as exc:
                raise _Failure("transport", TransientError(f"transport error: {_exc_text(exc)}", path=path))

            if http_status == 429 or http_status >= 500:
                raise _Failure(f"http_{http_status}", TransientError(
                    f"HTTP {http_status} {resp.reason or ''}".rstrip(), path=path, http_status=http_status,
                    retry_after=_retry_after(resp.headers.get("Retry-After"))))
            try:
                body = json.loads(content)
            except (ValueError, RecursionError):
                body = None
            if not 200 <= http_status < 300:
                code = _as_code(body.get("error_code", body.get("code"))) if isinstance(body, dict) else None
                if code is not None and 20000 <= code < 50000:
                    err = error_for_code(code, _server_msg(body), path, http_status)
                else:
                    err = ApiError(f"HTTP {http_status} {resp.reason or ''}".rstrip(), error_code=code, path=path,
                                   http_status=http_status)
                raise _Failure(f"http_{http_status}", err)
            if not isinstance(body, dict):
                what = "not valid JSON" if body is None else "JSON but not an object"
                ctype = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()[:60]
                err = TransientError(f"response body is {what} ({len(content)} bytes"
                                     f"{', ' + ctype if ctype else ''})", path=path, http_status=http_status)
                err.content_type = ctype  # lets a preflight tell "a web page answered" from a flaky server
                raise _Failure("bad_json", err)
            code = _as_code(body.get("error_code", body.get("code")))
            status = _as_code(body.get("status"))
            if status == 1 and code in (None, SUCCESS):
                return body
            if code is not None and code != SUCCESS:
                err = error_for_code(code, _server_msg(body) or "error", path, http_status)
                kind = "auth" if 20000 <= code < 30000 else f"error_{code}"
                raise _Failure(kind, err)
            if status is None:
                raise _Failure("bad_body", TransientError(
                    "response has no status field", path=path, http_status=http_status))
            raise _Failure("status_0", ApiError(
                _server_msg(body) or f"status={body.get('status')!r}", error_code=code, path=path,
                http_status=http_status))
        except _Failure as f:
            failure = f
            code = f.error.error_code
            raise
        finally:
            seconds = time.perf_counter() - t0
            self.stats._attempt(path, seconds, failure.kind if failure else None)
            if failure is None:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("POST %s attempt=%d http=%s error_code=%s %.1fms",
                              path, attempt, http_status, code, seconds * 1000)
            elif log.isEnabledFor(logging.WARNING):
                log.warning("POST %s attempt=%d http=%s error_code=%s %.1fms failed (%s%s): %s",
                            path, attempt, http_status, code, seconds * 1000, failure.kind,
                            ", retryable" if failure.error.transient else "", failure.error.msg)

    # -- concurrency ---------------------------------------------------------------

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
        """``[fn(x) for x in items]`` on a pool of ``workers`` (default ``concurrency``) threads.

        Results keep the input order.  Called from inside a worker (a batched or
        paginated method mapped over many ids) it runs sequentially in that worker,
        so concurrency stays bounded by the outermost pool.  The first exception (every error reaching
        here is final: transient ones were already retried) cancels the items
        not yet started, waits for the running ones, and is re-raised.
        """
        items = list(items)
        workers = max(1, min(int(workers or self.concurrency), len(items) or 1))
        if workers == 1 or len(items) <= 1 or getattr(_pool_thread, "active", False):
            # Nested (e.g. attendance pages inside a map over lessons): run in the calling
            # worker, so the total stays bounded by the outer pool instead of multiplying.
            return [fn(x) for x in items]
        stop = threading.Event()

        def run(x: T) -> R:
            if stop.is_set():
                raise _Cancelled()
            _pool_thread.active = True
            return fn(x)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="liveclass-api")
        try:
            futures = [pool.submit(run, x) for x in items]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            if pending:  # an exception happened: stop the rest
                stop.set()
                for f in pending:
                    f.cancel()
            first: BaseException | None = None
            for f in futures:
                if f.done() and not f.cancelled():
                    exc = f.exception()
                    if exc is not None and not isinstance(exc, _Cancelled):
                        first = exc
                        break
            if first is None and not pending:
                return [f.result() for f in futures]
            if first is None:  # pragma: no cover - only _Cancelled seen
                wait(futures)
                for f in futures:
                    if not f.cancelled() and f.exception() is not None and not isinstance(f.exception(), _Cancelled):
                        first = f.exception()
                        break
            raise first  # type: ignore[misc]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


_pool_thread = threading.local()  # .active is True in map_concurrent worker threads


class _Cancelled(Exception):
    """A map_concurrent item skipped because an earlier one failed."""


#: Failures that prove the request never reached the platform: safe to retry even for a change.
_NEVER_SENT = frozenset({"connect_timeout", "connect_failed", "http_429"})


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection itself could not be made (refused, unreachable, name not found)."""
    import urllib3.exceptions as u3

    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError, u3.NameResolutionError))


def _exc_text(exc: BaseException) -> str:
    """A requests exception as text: names the URL at most, never a request or response body."""
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
