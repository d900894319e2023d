"""One rate limit across hosts: the Redis limiter against a real redis-server (tests/redis_server.py).

Processes stand for hosts: each has its own connections and shares nothing with the others but Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from loopback import Loopback, ok  # noqa: E402

from pipeline.api import LiveClassClient, RetriesExhausted  # noqa: E402
from pipeline.api.limiters import make_limiter  # noqa: E402
from pipeline.api.ratelimit import DECREASE, RateLimiterUnavailable, RateLimitTimeout, TokenBucket  # noqa: E402

redis = pytest.importorskip("redis") if not os.environ.get("CI") else __import__("redis")

from pipeline.api.ratelimit_redis import KEY_PREFIX, RedisLimiter, safe_url  # noqa: E402
from tests.redis_server import RedisServer, available, free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_n = [0]


def app_id() -> str:
    """A fresh applicationID per test: its own budget on the shared server."""
    _n[0] += 1
    return f"app-{os.getpid()}-{_n[0]}-{time.time_ns()}"


class NoSleep:
    """A sleep that only records: the schedule Redis hands out, without waiting it."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def max_in_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def run_py(code: str, *args: str, timeout: float = 60) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, to kill."""
    if not available():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs Debian's redis-server)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_make_limiter_chooses_by_url(tmp_path, redis_server):
    from pipeline.api.ratelimit import FileBucket

    assert isinstance(make_limiter(5), TokenBucket)
    for n, form in enumerate(("{}", "file://{}", "file://localhost{}")):
        fresh = tmp_path / f"fresh{n}" / "data" / ".ratelimit"
        bucket = make_limiter(5, form.format(fresh))
        assert isinstance(bucket, FileBucket) and bucket.path == str(fresh)
        assert bucket.acquire() == 0 and fresh.is_file()  # its folder was created
        bucket.close()
    limiter = make_limiter(5, redis_server.url, key="school-1")
    assert isinstance(limiter, RedisLimiter) and limiter.key == KEY_PREFIX + "school-1"
    limiter.close()
    limiter = make_limiter(5, redis_server.url + "?burst=7", key="school-1")
    assert limiter.burst == 7 and limiter.cap == 12  # 5/s + a burst of 7 in any second, at most
    limiter.close()
    with pytest.raises(ValueError, match="applicationID"):
        make_limiter(5, redis_server.url, key="")
    with pytest.raises(ValueError, match="expected a path"):
        make_limiter(5, "memcached://x:1")
    with pytest.raises(ValueError, match="needs rate_limit_per_second"):
        make_limiter(0, redis_server.url, key="a")


def test_the_url_never_shows_its_password():
    assert safe_url("redis://:s3cret@db.local:6380/2") == "redis://:***@db.local:6380/2"
    assert safe_url("rediss://user:s3cret@[::1]:6380/0") == "rediss://user:***@[::1]:6380/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    limiter = RedisLimiter("redis://:s3cret@127.0.0.1:1/0", "app", 5)
    assert "s3cret" not in repr(limiter)
    with pytest.raises(RateLimiterUnavailable) as info:
        limiter.acquire()
    assert "s3cret" not in str(info.value) and "redis://:***@127.0.0.1:1/0" in str(info.value)
    limiter.close()


def test_gcra_schedule_and_burst_on_redis_clock(redis_server):
    sleep = NoSleep()
    limiter = RedisLimiter(redis_server.url, app_id(), 10, burst=3, sleep=sleep)
    slots = [limiter.acquire_slot() for _ in range(6)]
    waits = [s.wait for s in slots]
    assert waits[:3] == [0, 0, 0]  # the burst
    elapsed = slots[-1].reserved - slots[0].reserved  # Redis's clock, while we did not sleep
    for k in (3, 4, 5):  # then one every 0.1 s
        assert waits[k] == pytest.approx((k - 2) * 0.1 - (slots[k].reserved - slots[0].reserved), abs=1e-3)
    assert elapsed < 0.5
    assert limiter.rate_now == 10
    limiter.close()


def test_max_wait_reserves_nothing(redis_server):
    key = app_id()
    limiter = RedisLimiter(redis_server.url, key, 2, sleep=NoSleep())
    assert limiter.acquire(max_wait=0) == 0
    r = redis.Redis.from_url(redis_server.url)
    before = r.hget(KEY_PREFIX + key, "tat")
    with pytest.raises(RateLimitTimeout) as info:
        limiter.acquire(max_wait=0.3)  # the next slot is ~0.5 s away
    assert 0.3 < info.value.wait <= 0.5
    assert r.hget(KEY_PREFIX + key, "tat") == before  # nothing reserved
    assert 0 < r.pttl(KEY_PREFIX + key) <= 2000  # the state expires once it says nothing more
    limiter.close()
    r.close()


def test_each_application_has_its_own_budget(redis_server):
    a = RedisLimiter(redis_server.url, app_id(), 1, sleep=NoSleep())
    b = RedisLimiter(redis_server.url, app_id(), 1, sleep=NoSleep())
    assert a.acquire() == 0 and b.acquire() == 0  # one slot each at 1/s: another institution does not wait
    assert a.acquire() > 0.9
    a.close()
    b.close()


WORKER = textwrap.dedent("""
    import json, sys, threading, time
    from pipeline.api.limiters import make_limiter
    url, key, rate, start, n, threads = sys.argv[1:7]
    limiter = make_limiter(float(rate), url, key=key)
    slots, lock = [], threading.Lock()
    def work():
        for _ in range(int(n)):
            s = limiter.acquire_slot()
            with lock:  # the slot's reservation and its admission, on Redis's clock
                slots.append((s.reserved, limiter.admitted_at))
    while time.time() < float(start):
        time.sleep(0.001)
    ts = [threading.Thread(target=work) for _ in range(int(threads))]
    for t in ts: t.start()
    for t in ts: t.join()
    limiter.close()
    print(json.dumps(slots))
""")


def test_processes_share_one_budget_within_rate_plus_burst(redis_server):
    """Three processes x 4 threads, 25 slots each thread at 100/s: 300 sends take ~3 s (three separate
    budgets would take ~1 s), and no 1-second window of them on Redis's clock holds more than rate + burst."""
    key, rate = app_id(), 100
    start = time.time() + 3.0  # every interpreter is up by then, even on a loaded machine
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, redis_server.url, key, str(rate), str(start), "25", "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    slots = [s for out, _ in outs for s in json.loads(out)]
    admitted = sorted(s[1] for s in slots)
    assert len(admitted) == 300 and all(a >= r for r, a in slots)
    assert max_in_window(admitted) <= rate + 1
    assert max_in_window(admitted) >= rate - 5  # and it is used: a second holds about the rate
    assert 299 / rate - 0.02 <= admitted[-1] - admitted[0] <= 299 / rate + 1.0  # ~3 s, whatever the load


THROTTLER = textwrap.dedent("""
    import sys
    from pipeline.api.limiters import make_limiter
    url, key = sys.argv[1:3]
    limiter = make_limiter(40, url, key=key)
    slot = limiter.acquire_slot()
    print(int(limiter.throttled(slot.reserved, retry_after=3.0)), repr(slot.reserved))
    limiter.close()
""")


def test_a_429_in_another_process_slows_and_holds_this_one(redis_server):
    key = app_id()
    here = RedisLimiter(redis_server.url, key, 40)
    here.acquire()
    decreased, reserved = run_py(THROTTLER, redis_server.url, key).split()
    assert decreased == "1"
    t0 = time.monotonic()
    slot = here.acquire_slot()
    waited = time.monotonic() - t0
    assert 0.5 < slot.wait <= 3.0 and waited >= slot.wait  # the other's Retry-After (3 s from its 429)
    assert 40 * DECREASE <= here.rate_now < 40 * DECREASE + 40 / 60 * 3.5  # its decrease, climbing back
    # a 429 for a request paced by the old rate is the same episode, seen from here: no second decrease
    assert here.throttled(float(reserved)) is False
    before = here.rate_now
    assert here.throttled(slot.reserved) is True  # paced by the new rate and still too fast: news
    assert here.rate_now == pytest.approx(before * DECREASE, rel=0.02)
    state = redis.Redis.from_url(redis_server.url).hgetall(KEY_PREFIX + key)
    assert set(state) == {b"tat", b"dec_rate", b"dec_at", b"hold"}
    here.close()


def test_a_slot_granted_before_another_hosts_hold_is_queued_again(redis_server):
    key = app_id()
    a = RedisLimiter(redis_server.url, key, 2)
    b = RedisLimiter(redis_server.url, key, 2)
    a.acquire()
    hold = threading.Timer(0.05, lambda: b.hold(1.0))  # while a sleeps for its next slot (0.5 s away)
    hold.start()
    t0 = time.monotonic()
    a.acquire()
    assert time.monotonic() - t0 >= 0.9  # woke at its slot, saw the hold, queued again behind it
    hold.join()
    a.close()
    b.close()


def test_the_client_shares_one_budget_across_processes(redis_server):
    """End to end: two processes' clients (4 threads each) against one server, at 40/s together."""
    worker = textwrap.dedent("""
        import json, sys, time
        from pipeline.api import LiveClassClient
        url, app_id, secret, limiter, start, n, tag = sys.argv[1:8]
        client = LiveClassClient(url, app_id, secret, rate_limit_per_second=40, rate_limit_url=limiter, concurrency=4)
        while time.time() < float(start):
            time.sleep(0.001)
        client.map_concurrent(lambda i: client.call("/x", {"proc": tag, "i": i}), range(int(n)))
        print(json.dumps(client.stats.snapshot()))
    """)
    with Loopback(lambda p, q, a: ok(1)) as srv:
        start = time.time() + 3.0
        procs = [subprocess.Popen([sys.executable, "-c", worker, srv.url, srv.app_id, srv.secret, redis_server.url,
                                   str(start), "30", tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=ROOT) for tag in ("a", "b")]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert json.loads(out)["calls"] == 30
        stamps = sorted(r.at for r in srv.requests)
        assert len(stamps) == 60 and {r.params["proc"] for r in srv.requests} == {"a", "b"}
    # 60 requests at 40/s in total: ~1.5 s; two separate budgets would take ~0.75 s
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) <= 40 * 1.1


def test_redis_killed_mid_run_and_back_within_the_deadline(own_redis):
    """Redis dies under a running client: nothing is sent while it is down (no slot, no request), the calls
    retry within their deadline, and the run completes once Redis is back (its state lost: a fresh budget)."""
    with Loopback(lambda p, q, a: ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, rate_limit_per_second=20,
                                 rate_limit_url=own_redis.url, concurrency=4, max_retry_seconds=20,
                                 max_attempts=100, backoff_base=0.05, backoff_max=0.2)
        done: list = []
        runner = threading.Thread(target=lambda: done.append(client.map_concurrent(
            lambda i: client.call("/x", {"i": i}), range(60))))
        runner.start()
        time.sleep(0.8)
        own_redis.kill()
        killed = time.time()
        time.sleep(1.5)
        sent_while_down = sum(1 for r in srv.requests if killed + 0.5 < r.at)  # admitted before, sent late
        restarted = time.time()
        own_redis.start()
        runner.join(timeout=30)
        snap = client.stats.snapshot()
        client.close()
        stamps = [r.at for r in srv.requests]
    assert done and len(done[0]) == 60  # every call succeeded
    assert sent_while_down == 0
    assert any(killed - 0.5 < t < killed for t in stamps) and any(t > restarted for t in stamps)
    assert snap["calls"] == 60 and snap["failed_calls"] == 0
    assert snap["retries"] >= 1


def test_redis_down_past_the_deadline_fails_the_call(own_redis):
    """Redis stays down: the call gives up at its deadline naming the limiter (so a Dagster step fails and
    is run again), without sending anything."""
    with Loopback(lambda p, q, a: ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, rate_limit_per_second=20,
                                 rate_limit_url=own_redis.url, max_retry_seconds=1.5, max_attempts=100, backoff_base=0.05,
                                 backoff_max=0.2)
        client.call("/x", {})
        own_redis.kill()
        t0 = time.monotonic()
        with pytest.raises(RetriesExhausted) as info:
            client.call("/x", {})
        took = time.monotonic() - t0
        client.close()
        assert srv.hits() == 1
    assert took < 3.0
    text = str(info.value)
    assert "retry time limit 1.5s" in text and f"the rate limiter at {own_redis.url} is unavailable" in text
    assert "ConnectionError" in text


def test_an_unreachable_redis_fails_at_once_not_after_minutes():
    port = free_port()  # nothing listens there
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", "app", 5)
    t0 = time.monotonic()
    with pytest.raises(RateLimiterUnavailable):
        limiter.acquire()
    assert time.monotonic() - t0 < 1.0
    assert limiter.throttled(None, retry_after=1.0) is False  # feedback is lost, never raised
    limiter.close()
