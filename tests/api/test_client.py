"""LiveClassClient against a real HTTP server on loopback (tests/api/loopback.py): no mocks of requests."""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from loopback import (  # noqa: E402
    Loopback,
    Reply,
    chunked,
    close,
    error,
    http,
    ok,
    raw,
    reset,
    slow,
    trickle,
    truncated,
)

from pipeline.api import (  # noqa: E402
    ApiError,
    AuthError,
    LiveClassClient,
    OutcomeUnknown,
    ParameterError,
    RetriesExhausted,
    RoutingError,
    TransientError,
)

FAST = dict(timeout=(1.0, 0.25), backoff_base=0.005, backoff_max=0.05, max_attempts=5, max_retry_seconds=10.0)


@pytest.fixture
def serve():
    servers: list[Loopback] = []
    clients: list[LiveClassClient] = []

    def start(script=None, **client_kw):
        srv = Loopback(script) if script else Loopback()
        srv.start()
        servers.append(srv)
        kw = {**FAST, **client_kw}
        secret = kw.pop("secret", srv.secret)
        app_id = kw.pop("app_id", srv.app_id)
        client = LiveClassClient(srv.url, app_id, secret, **kw)
        clients.append(client)
        return srv, client

    yield start
    for c in clients:
        c.close()
    for s in servers:
        s.stop()


# -- success envelopes -------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"status": 1, "error_code": 10000, "msg": "成功", "data": [1, 2]},
    {"status": 1, "msg": "获取课件列表成功", "data": [1, 2]},                  # API 7/16/17/18: no error_code
    {"status": 1, "code": 10000, "msg": "", "data": [1, 2]},                 # API 34: code
    {"status": "1", "error_code": "10000", "msg": "", "data": [1, 2]},        # numbers as strings
])
def test_success_envelopes_return_whole_body(serve, body):
    srv, client = serve(lambda path, params, attempt: body)
    assert client.call("/lesson/info", {"lessonId": [1]}) == body
    assert srv.hits() == 1


def test_top_level_results_and_form_encoding(serve):
    srv, client = serve(lambda p, q, a: {"status": 1, "error_code": 10000, "msg": "ok", "classroomId": 1002})
    assert client.call("/classroom/create", {"teacherId": 1})["classroomId"] == 1002
    req = srv.requests[0]
    assert req.fields == ["applicationID", "signMsg"]
    assert req.content_type == "application/x-www-form-urlencoded"
    assert req.app_id == srv.app_id and req.params == {"teacherId": 1}


@pytest.mark.parametrize("body,cls,code", [
    ({"status": 0, "error_code": 40001, "msg": "缺少参数"}, ParameterError, 40001),
    ({"status": 1, "error_code": 40003, "msg": "参数数值异常"}, ParameterError, 40003),  # status 1 but an error code
    ({"status": 0, "code": 40002, "msg": "参数类型不正确"}, ParameterError, 40002),
    ({"status": 0, "error_code": 30001, "msg": "未找到对应路由"}, RoutingError, 30001),
    ({"status": 0, "msg": "失败"}, ApiError, None),
])
def test_error_in_200_body_is_fatal_with_server_message(serve, body, cls, code):
    srv, client = serve(lambda p, q, a: body)
    with pytest.raises(cls) as info:
        client.call("/lesson/edit", {"lessonId": 1})
    assert info.value.error_code == code
    assert body["msg"] in str(info.value)
    assert not info.value.transient
    assert srv.hits() == 1


def test_other_http_4xx_is_fatal(serve):
    srv, client = serve(lambda p, q, a: http(404, body="not found"))
    with pytest.raises(ApiError) as info:
        client.call("/nope", {})
    assert info.value.http_status == 404 and not isinstance(info.value, RetriesExhausted)
    assert srv.hits() == 1


# -- authorisation: fatal after exactly one request ------------------------------------

def test_wrong_secret_one_request(serve):
    srv, client = serve(secret="0" * 32)
    with pytest.raises(AuthError) as info:
        client.call("/lesson/info", {"lessonId": [1]})
    assert info.value.error_code == 20005
    assert srv.hits() == 1
    assert client.stats.snapshot()["failures"] == {"auth": 1}


def test_unknown_application_id_one_request(serve):
    srv, client = serve(app_id="ffffffffffffffffffffffffffffffff")
    with pytest.raises(AuthError) as info:
        client.call("/lesson/info", {"lessonId": [1]})
    assert info.value.error_code == 20003
    assert "applicationID" in str(info.value)
    assert srv.hits() == 1


# -- transient failures ------------------------------------------------------------

FAULTS = {
    "http_500": lambda: http(500),
    "http_502": lambda: http(502),
    "http_503": lambda: http(503),
    "http_429": lambda: http(429, retry_after=0),
    "error_50000": lambda: error(50000, "服务端错误"),
    "slow": lambda: slow(0.6),
    "reset": reset,
    "close": close,
    "truncated": truncated,
    "bad_json": lambda: raw('{"status": 1, "error_code": 10000, "da'),
    "json_not_object": lambda: raw("[1, 2, 3]"),
    "html": lambda: raw("<html>502 Bad Gateway</html>"),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_transient_fault_retried_then_succeeds(serve, kind):
    def script(path, params, attempt):
        return FAULTS[kind]() if attempt <= 2 else ok({"n": params["n"]})

    srv, client = serve(script)
    assert client.call("/lesson/info", {"n": 7})["data"] == {"n": 7}
    assert srv.hits() == 3
    snap = client.stats.snapshot()
    assert snap["attempts"] == 3 and snap["retries"] == 2 and snap["calls"] == 1
    assert sum(snap["failures"].values()) == 2


def test_retry_after_is_honoured_in_full(serve):
    srv, client = serve(lambda p, q, a: http(429, retry_after=0.4) if a == 1 else ok(1), backoff_max=0.1)
    t0 = time.monotonic()
    client.call("/x", {})
    assert time.monotonic() - t0 >= 0.4  # the server's word, even above backoff_max
    gap = srv.requests[1].at - srv.requests[0].at
    assert 0.38 <= gap < 1.5


def test_retry_after_past_the_deadline_gives_up_at_once_and_says_why(serve):
    srv, client = serve(lambda p, q, a: http(503, retry_after=3600) if a == 1 else ok(1), max_retry_seconds=5.0)
    t0 = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        client.call("/x", {})
    assert time.monotonic() - t0 < 1.0 and srv.hits() == 1
    assert "Retry-After 3600s" in str(info.value)


def test_no_attempt_reads_past_the_total_time_limit(serve):
    srv, client = serve(lambda p, q, a: slow(3.0), timeout=(1.0, 2.0), max_retry_seconds=1.5, max_attempts=10)
    t0 = time.monotonic()
    with pytest.raises(RetriesExhausted):
        client.call("/x", {})
    assert time.monotonic() - t0 < 2.5  # one 1.5 s deadline, not attempts x 2 s read timeouts


def test_a_trickling_answer_ends_at_the_deadline_and_says_so(serve):
    """Each byte comes well within the 0.25 s read timeout; the whole answer would take ~12 s."""
    srv, client = serve(lambda p, q, a: trickle(0.05, ok("x" * 200)), max_retry_seconds=1.5, max_attempts=10)
    t0 = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        client.call("/lesson/get_class_info", {})
    elapsed = time.monotonic() - t0
    assert 1.4 <= elapsed < 1.5 + 0.4
    text = str(info.value)
    assert "1 attempt " in text and "retry time limit 1.5s" in text
    assert "deadline: the answer was still arriving (" in text and "at the call's deadline" in text
    assert srv.hits() == 1 and client.stats.snapshot()["failures"] == {"deadline": 1}


def test_attempt_limit_in_retries_exhausted(serve):
    srv, client = serve(lambda p, q, a: http(503), max_attempts=3)
    with pytest.raises(RetriesExhausted) as info:
        client.call("/lesson/io/info", {"lessonId": 1, "page": 1})
    text = str(info.value)
    assert srv.hits() == 3
    assert "3 attempts" in text and "http_503" in text and "/lesson/io/info" in text
    assert info.value.attempts == 3 and info.value.http_status == 503
    assert isinstance(info.value.last_error, TransientError)
    assert not info.value.transient


def test_total_time_cap(serve):
    srv, client = serve(lambda p, q, a: error(50000, "服务端错误"), max_attempts=1000, backoff_base=0.05,
                        backoff_max=0.1, max_retry_seconds=0.6)
    t0 = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        client.call("/x", {})
    elapsed = time.monotonic() - t0
    assert elapsed <= 0.6 + 0.25
    n = srv.hits()
    assert 2 <= n < 1000
    assert f"{n} attempts" in str(info.value) and "retry time limit" in str(info.value)
    assert info.value.error_code == 50000


def test_full_jitter_backoff_bounds():
    client = LiveClassClient("http://127.0.0.1:9", "a", "s", backoff_base=0.5, backoff_max=20.0)
    for attempt in range(1, 12):
        ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))
        samples = [client.retry.backoff(attempt, None) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range
    for retry_after in (7.0, 99.0):  # Retry-After in full, plus at most min(1 s, backoff_base) of jitter
        assert all(retry_after <= client.retry.backoff(3, retry_after) <= retry_after + 0.5 for _ in range(50))


def test_an_answer_over_max_body_bytes_is_refused_naming_path_and_limit(serve):
    big = {"status": 1, "error_code": 10000, "data": "x" * 5000}
    gzipped = gzip.compress(json.dumps({**big, "data": "x" * 100_000}).encode())  # small on the wire
    replies = {
        "length": lambda: Reply(body=big),  # refused from its Content-Length, before reading
        "chunked": lambda: chunked(big),    # no length: refused while streaming
        "gzip": lambda: Reply(body=gzipped, headers={"Content-Encoding": "gzip"}),  # the limit is on the decoded body
        "fits": lambda: chunked(Reply(body=gzip.compress(json.dumps(ok(7).body).encode()),
                                      headers={"Content-Encoding": "gzip"})),
    }
    srv, client = serve(lambda p, q, a: replies[q["how"]](), max_body_bytes=4096)
    for how in ("length", "chunked", "gzip"):
        with pytest.raises(ApiError) as info:
            client.call("/lesson/get_class_info", {"how": how})
        err = info.value
        assert type(err) is ApiError and not err.transient, how
        assert "/lesson/get_class_info" in err.msg and "limit of 4096 bytes" in err.msg, how
        assert client.call("/lesson/get_class_info", {"how": "fits"})["data"] == 7  # the pool is still sound
    assert srv.hits() == 6  # never retried
    assert client.stats.snapshot()["failures"] == {"too_large": 3}


def test_connection_refused_is_transient():
    client = LiveClassClient("http://127.0.0.1:9", "a", "s" * 32, **{**FAST, "max_attempts": 2})
    with pytest.raises(RetriesExhausted) as info:
        client.call("/x", {})
    assert "2 attempts" in str(info.value) and "connection" in str(info.value)


def test_every_attempt_has_a_fresh_sign_msg(serve):
    srv, client = serve(lambda p, q, a: http(502) if a < 4 else ok(1))
    client.call("/lesson/info", {"lessonId": [1, 2]})
    signs = [r.sign_msg for r in srv.requests]
    assert len(signs) == 4 and len(set(signs)) == 4
    assert all(r.params == {"lessonId": [1, 2]} for r in srv.requests)


# -- a flaky server gives the same results as a clean one ---------------------------

def test_half_failing_server_same_results_as_clean(serve):
    faults = [lambda: http(500), lambda: http(502), lambda: http(503), lambda: http(429, retry_after=0),
              lambda: error(50000), reset, close, truncated, lambda: raw("{oops")]
    rng = random.Random(1234)
    lock = threading.Lock()

    def answer(path, params):
        return ok({"id": params["id"], "square": params["id"] ** 2, "path": path})

    def flaky(path, params, attempt):
        with lock:
            fail = rng.random() < 0.5
            fault = rng.choice(faults)
        return fault() if fail else answer(path, params)

    clean_srv, clean = serve(lambda p, q, a: answer(p, q), concurrency=8)
    flaky_srv, dirty = serve(flaky, concurrency=8, max_attempts=30)
    items = list(range(200))
    expected = clean.map_concurrent(lambda i: clean.call("/lesson/info", {"id": i})["data"], items)
    got = dirty.map_concurrent(lambda i: dirty.call("/lesson/info", {"id": i})["data"], items)
    assert got == expected == [{"id": i, "square": i * i, "path": "/lesson/info"} for i in items]
    snap = dirty.stats.snapshot()
    assert snap["calls"] == 200 and snap["retries"] >= 100 and snap["failed_calls"] == 0
    # every attempt the server saw was counted; an attempt can also die on a kept-alive connection the
    # server's `close` fault had just shut (it never reaches the server), so a few more may be counted
    assert snap["attempts"] - 5 <= flaky_srv.hits() <= snap["attempts"]
    json.dumps(snap)


# -- map_concurrent ----------------------------------------------------------------

def test_map_concurrent_keeps_order(serve):
    srv, client = serve(lambda p, q, a: slow(random.random() * 0.01, ok(q["i"])), concurrency=8)
    out = client.map_concurrent(lambda i: client.call("/x", {"i": i})["data"], range(60))
    assert out == list(range(60))
    assert client.map_concurrent(lambda i: i, []) == []
    assert client.map_concurrent(lambda i: i * 2, [5]) == [10]


def test_map_concurrent_stops_at_first_fatal(serve):
    def script(path, params, attempt):
        if params["i"] == 5:
            return error(40003, "参数数值异常")
        return slow(0.02, ok(params["i"]))

    srv, client = serve(script, concurrency=4)
    with pytest.raises(ParameterError) as info:
        client.map_concurrent(lambda i: client.call("/x", {"i": i})["data"], range(200))
    assert info.value.error_code == 40003
    assert srv.hits() < 40  # the pending items were cancelled
    n = srv.hits()
    time.sleep(0.1)
    assert srv.hits() == n  # nothing left running


class PeakCounter:
    """A function for map_concurrent that records how many calls ran at once."""

    def __init__(self, sleep: float):
        self.sleep, self.active, self.peak = sleep, 0, 0
        self.lock = threading.Lock()

    def __call__(self, i):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.sleep)
        with self.lock:
            self.active -= 1
        return i


def test_map_concurrent_workers_bound(serve):
    srv, client = serve(concurrency=3)
    fn = PeakCounter(0.005)
    assert client.map_concurrent(fn, range(30)) == list(range(30))
    assert fn.peak <= 3
    fn = PeakCounter(0.005)
    client.map_concurrent(fn, range(30), workers=2)
    assert fn.peak <= 2


def test_nested_map_concurrent_stays_bounded(serve):
    inner = PeakCounter(0.002)
    srv, client = serve(concurrency=3)
    out = client.map_concurrent(lambda j: client.map_concurrent(inner, range(j, j + 5)), range(8))
    assert out == [list(range(j, j + 5)) for j in range(8)]
    assert inner.peak <= 3


# -- hook, stats ---------------------------------------------------------------------

def test_on_response_hook_once_per_success(serve):
    seen = []
    srv, client = serve(lambda p, q, a: http(500) if a == 1 else ok({"x": q}),
                        on_response=lambda path, params, body: seen.append((path, params, body)))
    client.call("/lesson/info", {"lessonId": [3]})
    assert seen == [("/lesson/info", {"lessonId": [3]}, ok({"x": {"lessonId": [3]}}).body)]
    srv2, failing = serve(lambda p, q, a: error(40001), on_response=lambda *a: seen.append(a))
    with pytest.raises(ParameterError):
        failing.call("/x", {})
    assert len(seen) == 1


def test_stats_snapshot_and_reset(serve):
    srv, client = serve(lambda p, q, a: http(503) if (a == 1 and p == "/a") else ok(1))
    client.call("/a", {})
    client.call("/b", {})
    client.call("/b", {"k": 1})
    snap = client.stats.snapshot()
    json.dumps(snap)
    assert snap["requests_by_path"] == {"/a": 2, "/b": 2}
    assert snap["calls_by_path"] == {"/a": 1, "/b": 2}
    assert snap["attempts"] == 4 and snap["retries"] == 1 and snap["failures"] == {"http_503": 1}
    assert snap["request_seconds"] > 0
    client.stats.reset()
    assert client.stats.snapshot()["attempts"] == 0 and client.stats.snapshot()["requests_by_path"] == {}


# -- redaction ---------------------------------------------------------------------

def test_secret_and_sign_msg_never_leak(serve, caplog):
    caplog.set_level(logging.DEBUG)
    srv, client = serve(lambda p, q, a: {
        "/ok": ok(1), "/flaky": http(502) if a == 1 else ok(2), "/fatal": error(40002, "参数类型不正确"),
        "/down": http(503), "/bad": raw("not json"), "/slow": slow(0.5),
    }[p], max_attempts=2)
    texts = [repr(client), str(client)]
    client.call("/ok", {"a": 1})
    client.call("/flaky", {"a": 1})
    for path in ("/fatal", "/down", "/bad", "/slow"):
        with pytest.raises(ApiError) as info:
            client.call(path, {"a": 1})
        texts += [str(info.value), repr(info.value), repr(info.value.args)]
        cause = info.value.__cause__ or info.value.__context__
        texts.append(repr(cause))
    _, wrong = serve(secret="f" * 32)
    with pytest.raises(AuthError) as info:
        wrong.call("/ok", {})
    texts += [str(info.value), repr(wrong)]
    texts.append(json.dumps(client.stats.snapshot()))
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    assert any(r.name == "liveclass.api" and "attempt=" in r.getMessage() for r in caplog.records)
    assert srv.secret not in blob and "f" * 32 not in blob
    signs = [r.sign_msg for r in srv.requests]
    assert signs and not any(s in blob or s[:40] in blob for s in signs)
    assert "signMsg=" not in blob


def test_one_log_line_per_attempt(serve, caplog):
    caplog.set_level(logging.DEBUG, logger="liveclass.api")
    srv, client = serve(lambda p, q, a: error(50000) if a == 1 else ok(1))
    client.call("/lesson/info", {"x": 1})
    lines = [r.getMessage() for r in caplog.records if r.name == "liveclass.api"]
    assert len(lines) == 2
    assert "/lesson/info" in lines[0] and "attempt=1" in lines[0] and "http=200" in lines[0]
    assert "error_code=50000" in lines[0] and "ms" in lines[0]
    assert "attempt=2" in lines[1] and "error_code=10000" in lines[1]


def test_client_rejects_pickling_and_bad_settings():
    import pickle

    client = LiveClassClient("http://127.0.0.1:9", "app", "secret-value")
    with pytest.raises(TypeError):
        pickle.dumps(client)
    with pytest.raises(ValueError):
        LiveClassClient("http://127.0.0.1:9", "app", "")
    err = RetriesExhausted("gave up", error_code=50000, path="/x", attempts=3)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is RetriesExhausted and str(again) == str(err)


def test_a_change_whose_answer_was_lost_is_not_retried(serve):
    """API 2 creates a course: after a read timeout the platform may have created it already."""
    srv, client = serve(lambda p, q, a: slow(1.0) if a == 1 else ok(classroomId=7))
    with pytest.raises(OutcomeUnknown) as info:
        client.call("/classroom/create", {"teacherId": 1, "className": "x", "category": 1})
    assert srv.hits() == 1 and "not retried" in str(info.value)
    # a read is retried as usual
    srv, client = serve(lambda p, q, a: slow(1.0) if a == 1 else ok([]))
    assert client.call("/lesson/get_class_info", {})["data"] == [] and srv.hits() == 2


def test_a_change_refused_before_it_was_sent_is_retried(serve):
    srv, client = serve(lambda p, q, a: http(429, retry_after=0.05) if a == 1 else ok(classroomId=7))
    assert client.call("/classroom/create", {"teacherId": 1})["classroomId"] == 7 and srv.hits() == 2


def test_an_error_code_table_4_does_not_know_is_fatal(serve):
    srv, client = serve(lambda p, q, a: {"status": 0, "error_code": 0, "msg": "?"})
    with pytest.raises(ApiError) as info:
        client.call("/x", {})
    assert not isinstance(info.value, RetriesExhausted) and srv.hits() == 1


@pytest.mark.parametrize("fault", ["timeout", "reset", "http"])
def test_no_exception_chain_leads_back_to_the_signmsg(serve, fault):
    reply = {"timeout": lambda: slow(1.0), "reset": reset, "http": lambda: http(503)}[fault]
    srv, client = serve(lambda p, q, a: reply(), max_attempts=2)
    with pytest.raises(ApiError) as info:
        client.call("/lesson/io/info", {"lessonId": 1})
    seen, stack = set(), [info.value]
    while stack:  # walk __cause__, __context__ and the attributes of every exception reachable
        exc = stack.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        text = repr(vars(exc)) + str(exc)
        for sent in srv.requests:
            assert sent.sign_msg not in text
        stack += [e for e in (exc.__cause__, exc.__context__, getattr(exc, "last_error", None)) if e is not None]
        request = getattr(exc, "request", None)
        assert request is None, f"{type(exc).__name__} keeps the request (and its signMsg)"
