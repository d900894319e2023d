"""The sandbox's ASGI app: the openAPI protocol, faults and latency around the handlers.

Protocol, in the order checked (every answer is HTTP 200 with the error
envelope ``{"status":0,"error_code":N,"msg":"<Table 4 text>: <detail>","data":null}``,
``code`` instead of ``error_code`` on API 34's path):

1. unknown path (one trailing ``/`` is tolerated) -> 30001
2. a method other than POST -> 30002
3. a body over :data:`MAX_BODY` (1 MiB) -> 40003, and the connection is closed
4. form fields are read as PHP's ``$_POST`` is (:mod:`.forms`): from an
   ``application/x-www-form-urlencoded`` or a ``multipart/form-data`` body (a
   body with another content type has no form fields; the query string is
   ignored); the last of repeated fields wins, as in PHP; more than
   :data:`MAX_FIELDS` fields -> 40003
4a. with a rate limit (``SandboxConfig.rate_limit``, ``--rate-limit N``): a
   request whose applicationID is a known application and which is over
   that application's limit -> **HTTP 429** with ``Retry-After`` (decimal
   seconds until one more request would be accepted), plain text, as an API
   gateway in front of the platform answers: nothing else is checked and
   nothing is decoded (:class:`RateLimit`)
5. applicationID absent or empty -> 20001; signMsg absent or empty -> 20002
6. unknown applicationID -> 20003; an application with active=0 -> 20004
7. a signMsg failing any check of :func:`decode_sign_msg` -> 20005 (the MAC
   is verified before anything is decrypted or unserialized), except a
   parameter (a string anywhere in the map) that is not valid UTF-8: the
   signature is fine and PHP's ``unserialize()`` takes any bytes, so -> 40003
8. the route's handler: 40001/40002/40003/40004 or the documented answer,
   as the platform's readings (:mod:`.readings`, ``app.readings``) say (with
   ``drift`` on, reshaped by :mod:`.drift` as a wandering platform would).

Faults (:mod:`.faults`) are decided before all this (after the rate limit:
a request the limit refused draws no fault); the opt-in ones that lie
(``swap``, ``nodata``, ``implausible``, ``oversized``) rewrite a copy of a
successful answer of a reporting endpoint, never the platform's state.

Anything unexpected is logged server-side and answered with 50000; no stack
trace ever reaches a client.  Answers of read-only endpoints are cached per
(path, params) while the platform state and the clock second are unchanged.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from email.utils import formatdate
from typing import Any

from pipeline.api.errors import ERROR_MESSAGES
from pipeline.api.signing import SignatureError, decode_sign_msg

from .config import SandboxConfig, default_burst
from .drift import Drift, normalize_mode
from .errors import Reject
from .faults import (
    ANSWER_FAULTS,
    DAMAGING_FAULTS,
    FAULT_KINDS,
    NO_DATA_FAULTS,
    FaultPlan,
    http_fault_response,
    params_key,
)
from .forms import parse_form
from .handlers import ROUTES, Ctx, Route
from .platform import Platform
from .readings import Readings

log = logging.getLogger("pipeline.sandbox.server")

#: Largest request body accepted (bytes); larger -> 40003 and the connection is closed.
MAX_BODY = 1024 * 1024
#: Most form fields parsed from one body.
MAX_FIELDS = 64
_CACHE_LIMIT = 50_000
_CACHE_KEY_LIMIT = 4096  # params longer than this (repr) are not cached

_JSON_CT = (b"content-type", b"application/json; charset=utf-8")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(code: int, detail: str, code_key: str = "error_code") -> bytes:
    text = ERROR_MESSAGES[code]
    return dumps({"status": 0, code_key: code, "msg": f"{text}: {detail}" if detail else text, "data": None})


class RateLimit:
    """At most ``rate`` requests per second per key (applicationID), with a burst of ``burst``: GCRA.

    The state of a key is its theoretical arrival time ``tat``; with interval
    ``T = 1/rate`` and tolerance ``tau = (burst - 1) * T`` a request at ``now``
    is accepted when ``tat - tau <= now`` (``tat`` becomes ``max(tat, now) + T``)
    and refused otherwise, without taking anything: in any window of ``w``
    seconds at most ``rate * w + burst`` requests of a key are accepted.  The
    default burst is :func:`default_burst` (a quarter second's worth): it
    absorbs the jitter of a client pacing itself at exactly ``rate`` (threads,
    scheduling, a busy machine: tens of milliseconds) without letting anyone
    exceed the rate by more than 25 % in any one second.  ``clock`` may be
    replaced (tests); the server calls :meth:`check` from its one event loop,
    with known applicationIDs only (so the keys are bounded).
    """

    def __init__(self, rate: float, burst: int = 0, clock=time.monotonic):
        rate = float(rate)
        if not rate > 0:
            raise ValueError("rate must be > 0 requests per second")
        self.rate = rate
        self.burst = int(burst) if burst else default_burst(rate)
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self.interval = 1.0 / rate
        self.tolerance = (self.burst - 1) * self.interval
        self.clock = clock
        self._tat: dict[str, float] = {}
        self.accepted = 0
        self.limited = 0

    def check(self, key: str) -> float | None:
        """None: accepted (its slot taken); else the seconds until one request of ``key`` would be."""
        now = self.clock()
        tat = self._tat.get(key, now)
        base = tat if tat > now else now
        allowed = base - self.tolerance
        if allowed > now:
            self.limited += 1
            return allowed - now
        self._tat[key] = base + self.interval
        self.accepted += 1
        return None

    @staticmethod
    def retry_after(seconds: float) -> bytes:
        """The Retry-After value: decimal seconds, rounded up to the millisecond (at least 0.001)."""
        return f"{max(1, math.ceil(seconds * 1000 - 1e-6)) / 1000:.3f}".encode()


class _QuietResetFilter(logging.Filter):
    """Drop uvicorn's complaint about the deliberately unfinished 'reset' fault responses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


_quiet_filter = _QuietResetFilter()


def install_log_filter() -> None:
    lg = logging.getLogger("uvicorn.error")
    if _quiet_filter not in lg.filters:
        lg.addFilter(_quiet_filter)


class SandboxApp:
    """A plain ASGI 3 callable; one instance per server (state lives in ``platform``)."""

    def __init__(self, platform: Platform, faults: FaultPlan, drift: Drift | None = None,
                 rate_limit: RateLimit | None = None, tenants: Mapping[str, Platform] | None = None):
        self.platform = platform
        #: further institutions served at the same URL: applicationID -> its own platform (school, seed, secret)
        self.tenants: dict[str, Platform] = dict(tenants or {})
        self.faults = faults
        self.drift = drift  # a drift.Drift, or None: answers as documented
        self.rate_limit = rate_limit  # a RateLimit, or None: no limit
        self.routes: dict[str, Route] = ROUTES
        # answers of cacheable routes, per platform: id(platform) -> (stamp, {(path, params): answer})
        self._caches: dict[int, tuple[tuple, dict[tuple, tuple[bytes, bool]]]] = {}
        self.requests = 0

    def platform_of(self, app_id: str) -> Platform:
        """The platform (institution) an applicationID belongs to: a tenant's, else the main one."""
        return self.tenants.get(app_id, self.platform)

    @property
    def readings(self) -> Readings:
        """How this platform reads the document's open points (:mod:`.readings`)."""
        return self.platform.readings

    @readings.setter
    def readings(self, value: Readings | Any) -> None:
        """Play other readings from the next request on (a Readings, a mapping or ``KEY=VALUE`` strings;
        keys not given are the defaults); the answer cache is dropped."""
        self.platform.readings = Readings.of(value)
        self._caches.clear()

    # -- ASGI entry point -------------------------------------------------------
    async def __call__(self, scope: dict, receive, send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        self.requests += 1
        try:
            await self._serve(scope, receive, send)
        except Exception:  # pragma: no cover - a bug; never leak it to the client
            log.exception("sandbox request failed")
            try:
                route = self.routes.get((scope.get("path") or "/").rstrip("/") or "/")
                code_key = route.code_key if route is not None else "error_code"
                await self._send(send, 200, [_JSON_CT], error_body(50000, "internal error", code_key))
            except Exception:
                pass

    async def _serve(self, scope: dict, receive, send) -> None:
        path: str = scope.get("path") or "/"
        route = self.routes.get(path)
        if route is None and len(path) > 1 and path.endswith("/"):
            route = self.routes.get(path[:-1])
        code_key = route.code_key if route else "error_code"

        content_type = b""
        declared = None
        for name, value in scope.get("headers") or ():
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        body, too_big = await self._read_body(receive, declared)
        form = None
        if self.rate_limit is not None and not too_big:
            form = self._form(content_type, body)
            app_id = form.get("applicationID", "") if form is not None else ""
            if app_id and app_id in self.platform_of(app_id).apps:
                wait = self.rate_limit.check(app_id)
                if wait is not None:
                    await self.faults.delay()
                    text = (f"Too Many Requests: over {self.rate_limit.rate:g} requests per second for this "
                            "applicationID").encode()
                    await self._send(send, 429, [(b"content-type", b"text/plain; charset=utf-8"),
                                                 (b"retry-after", RateLimit.retry_after(wait))], text)
                    return
        fault = self.faults.decide()
        await self.faults.delay()

        if fault in NO_DATA_FAULTS:
            if fault == "code50000":
                await self._send(send, 200, [_JSON_CT], error_body(50000, "injected server error", code_key))
            else:
                status, headers, text = http_fault_response(fault, self.faults.retry_after)
                await self._send(send, status, headers, text)
            return

        params: dict | None = None
        ok = False
        if fault in DAMAGING_FAULTS and route is not None and route.write:
            answer = error_body(50000, "injected server error", code_key)  # writes are never applied under a fault
        else:
            answer, params, ok = self._answer(scope.get("method", ""), path, route, content_type, body, too_big,
                                              form)
        readable = ok and route is not None and not route.write
        if readable and self.faults.remembering:
            self.faults.remember(route.path, params_key(params), answer)

        if fault in ANSWER_FAULTS:
            if readable:
                await self._lie(send, fault, route, params, answer)
                return
            self.faults.note(fault, False)  # a write, an error answer: answered normally below

        if fault == "slow":
            await self.faults.slow()
            await self._send(send, 200, [_JSON_CT], answer)
        elif fault == "truncated":
            await self._send(send, 200, [_JSON_CT], answer[: len(answer) // 2])
        elif fault == "reset":
            headers = [_JSON_CT, (b"content-length", str(len(answer)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer[: len(answer) // 2], "more_body": True})
            # returning without finishing makes uvicorn close the connection mid-body
        else:
            extra = [(b"connection", b"close")] if too_big else []
            await self._send(send, 200, [_JSON_CT, *extra], answer)

    def _date(self) -> bytes:
        """The HTTP Date header, from the platform's clock (the simulated one when fixed), as a gateway sends it."""
        return formatdate(self.platform.clock().timestamp(), usegmt=True).encode()

    async def _lie(self, send, fault: str, route: Route, params: dict | None, answer: bytes) -> None:
        """An opt-in fault: a wrong answer instead of ``answer``, the successful answer of a read-only endpoint
        (the real one if the kind has nothing to change)."""
        plan = self.faults
        body: bytes | None = None
        if fault == "swap":
            body = plan.swap(route.path, params_key(params), answer)
        elif fault == "oversized":
            prefix, chunk, repeats, suffix = plan.oversized(json.loads(answer))
            plan.note(fault, True)
            await self._stream(send, prefix, chunk, repeats, suffix)
            return
        else:
            decoded = json.loads(answer)
            lie = plan.nodata(decoded) if fault == "nodata" else plan.implausible(route.api, decoded)
            body = None if lie is None else dumps(lie)
        plan.note(fault, body is not None)
        await self._send(send, 200, [_JSON_CT], answer if body is None else body)

    @staticmethod
    async def _stream(send, prefix: bytes, chunk: bytes, repeats: int, suffix: bytes) -> None:
        """``prefix + chunk * repeats + suffix`` without building it (a client that hangs up ends it early)."""
        total = len(prefix) + len(chunk) * repeats + len(suffix)
        headers = [_JSON_CT, (b"content-length", str(total).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": prefix, "more_body": True})
        for _ in range(repeats):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": suffix})

    async def _send(self, send, status: int, headers: list, body: bytes) -> None:
        if not any(h[0] == b"content-length" for h in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        headers = [*headers, (b"date", self._date())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _read_body(receive, declared: bytes | None) -> tuple[bytes, bool]:
        if declared is not None:
            try:
                if int(declared) > MAX_BODY:
                    return b"", True
            except ValueError:
                pass
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # disconnect
                return b"".join(chunks), False
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return b"", True
            if chunk:
                chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks), False

    # -- the protocol, synchronously --------------------------------------------
    def answer(self, method: str, path: str, route: Route | None, content_type: bytes, body: bytes,
               too_big: bool) -> bytes:
        return self._answer(method, path, route, content_type, body, too_big)[0]

    def _answer(self, method: str, path: str, route: Route | None, content_type: bytes, body: bytes,
                too_big: bool, form: dict[str, str] | None = None) -> tuple[bytes, dict | None, bool]:
        """(answer, the decoded params or None, whether the handler answered with success); ``form``: the
        body's fields if already read (by the rate limit)."""
        code_key = route.code_key if route else "error_code"
        try:
            if route is None:
                return error_body(30001, f"no route for {path[:100]}"), None, False
            if method != "POST":
                return error_body(30002, f"{method[:10]} is not allowed, use POST", code_key), None, False
            if too_big:
                return error_body(40003, f"request body larger than {MAX_BODY} bytes", code_key), None, False
            if form is None:
                form = self._form(content_type, body)
            if form is None:
                return error_body(40003, f"more than {MAX_FIELDS} form fields", code_key), None, False
            app_id = form.get("applicationID", "")
            if not app_id:
                return error_body(20001, "", code_key), None, False
            sign_msg = form.get("signMsg", "")
            if not sign_msg:
                return error_body(20002, "", code_key), None, False
            platform = self.platform_of(app_id)
            app = platform.apps.get(app_id)
            if app is None:
                return error_body(20003, "", code_key), None, False
            if not app.active:
                return error_body(20004, "", code_key), None, False
            try:
                params = decode_sign_msg(sign_msg, app.secret)
            except SignatureError as exc:
                if _not_utf8(exc.reason):  # authenticated and decrypted: only a string's bytes are not UTF-8
                    return error_body(40003, "a parameter is not valid UTF-8", code_key), None, False
                return error_body(20005, exc.reason, code_key), None, False
            out, ok = self._handle(route, params, Ctx(app_id), platform)
            return out, params, ok
        except Exception:
            log.exception("sandbox handler failed on %s", path)
            return error_body(50000, "internal error", code_key), None, False

    @staticmethod
    def _form(content_type: bytes, body: bytes) -> dict[str, str] | None:
        return parse_form(content_type, body, MAX_FIELDS)

    def _handle(self, route: Route, params: dict, ctx: Ctx, platform: Platform | None = None) -> tuple[bytes, bool]:
        """(answer, success): the handler's answer or its refusal's error envelope."""
        platform = platform or self.platform
        clock = platform.clock_key()
        if not route.cache:
            try:
                result = route.handler(platform, params, ctx)
            except Reject as r:
                return error_body(r.code, r.detail, route.code_key), False
            return dumps(self._drift(route, result)), True
        stamp = (platform.version, clock)
        held = self._caches.get(id(platform))
        if held is None or held[0] != stamp or len(held[1]) > _CACHE_LIMIT:
            held = self._caches[id(platform)] = (stamp, {})
        cache = held[1]
        key: tuple | None = (route.path, repr(params))
        if len(key[1]) > _CACHE_KEY_LIMIT:
            key = None
        if key is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit
        try:
            out = dumps(self._drift(route, route.handler(platform, params, ctx))), True
        except Reject as r:
            out = error_body(r.code, r.detail, route.code_key), False
        if key is not None and platform.version == stamp[0]:
            cache[key] = out
        return out

    def _drift(self, route: Route, result: dict) -> dict:
        return result if self.drift is None or route.write else self.drift.apply(route.path, result)


def _not_utf8(reason: str) -> bool:
    """Whether :func:`decode_sign_msg` refused only because the unserialized parameters hold a string
    that is not UTF-8 (after the MAC, the decryption and the padding were checked)."""
    return reason.startswith("cannot unserialize params:") and "not valid UTF-8" in reason


def make_app(config: SandboxConfig) -> SandboxApp:
    """The ASGI callable for a :class:`~pipeline.sandbox.config.SandboxConfig`."""
    platform = Platform.from_config(config)
    faults = FaultPlan(seed=config.seed, fault_rate=config.fault_rate, latency_ms=config.latency_ms,
                       slow_seconds=config.slow_seconds, retry_after=config.retry_after,
                       kinds=tuple(getattr(config, "fault_kinds", ()) or ()) or FAULT_KINDS)
    install_log_filter()
    mode = normalize_mode(getattr(config, "drift", None))
    rate = getattr(config, "rate_limit", 0) or 0
    limit = RateLimit(rate, getattr(config, "rate_limit_burst", 0) or 0) if rate > 0 else None
    tenants = {t.app_id: Platform.from_config(replace(config, app_id=t.app_id, secret=t.secret, seed=t.seed,
                                                      lessons_per_day=t.lessons_per_day, tenants=()))
               for t in getattr(config, "tenants", ()) or ()}
    return SandboxApp(platform, faults, Drift(mode, config.seed) if mode else None, limit, tenants)
