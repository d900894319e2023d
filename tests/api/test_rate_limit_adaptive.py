"""The limiter adapting to a platform limit it does not know: AIMD on HTTP 429, Retry-After held for everyone.

Fake clocks where the limiter takes one; against loopback servers, only counts and lower bounds on gaps.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from loopback import Loopback, http, ok  # noqa: E402

from pipeline.api import LiveClassClient  # noqa: E402
from pipeline.api.ratelimit import DECREASE, FLOOR, MAX_HOLD, RECOVERY_SECONDS, FileBucket, TokenBucket  # noqa: E402


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now
        self.on_sleep = None  # called once, at the first sleep, before the clock moves

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        hook, self.on_sleep = self.on_sleep, None
        if hook is not None:
            hook()
        self.now += seconds


def bucket(rate=40.0, burst=1):
    clock = FakeClock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_a_429_decreases_once_per_generation_then_the_rate_climbs_back_to_the_ceiling():
    b, clock = bucket(40)
    old = b.acquire_slot()
    assert b.throttled(old.reserved) is True
    assert b.rate_now == pytest.approx(40 * DECREASE)
    # another 429 for a request paced by the old rate: the same overload episode, no second decrease
    assert b.throttled(old.reserved) is False
    assert b.rate_now == pytest.approx(40 * DECREASE)
    clock.now += 0.001
    new = b.acquire_slot()
    assert b.throttled(new.reserved) is True  # paced by the new rate and still too fast
    assert b.rate_now == pytest.approx(40 * DECREASE * DECREASE, rel=1e-3)
    clock.now += 6.0  # additive increase: ceiling / RECOVERY_SECONDS per second
    b.acquire()
    assert b.rate_now == pytest.approx(40 * DECREASE ** 2 + 40 / RECOVERY_SECONDS * 6.0, rel=1e-3)
    clock.now += 10 * RECOVERY_SECONDS
    b.acquire()
    assert b.rate_now == 40.0  # never above the configured rate


def test_the_pace_follows_the_adapted_rate_and_has_a_floor():
    b, clock = bucket(10)
    b.acquire()
    b.throttled(None)
    waits = [b.acquire() for _ in range(3)]
    assert waits[1] == pytest.approx(1 / 7.0, rel=1e-3) and waits[2] == pytest.approx(1 / 7.0, rel=1e-3)
    for _ in range(50):
        b.throttled(None)
    assert b.rate_now == pytest.approx(10 * FLOOR)


def test_retry_after_holds_every_caller_and_allows_no_burst_after_it():
    b, clock = bucket(100, burst=5)
    assert b.throttled(None, retry_after=2.0) is True
    assert b.acquire() == pytest.approx(2.0)  # nobody before the hold ends
    assert clock.now == pytest.approx(102.0)
    assert 0.01 < b.acquire() < 0.02  # then about one interval (1/70 s) apart, no burst of 5


def test_a_slot_reserved_before_a_retry_after_is_queued_again_behind_it():
    b, clock = bucket(10)
    b.acquire()  # slot at 100.0
    clock.on_sleep = lambda: b.hold(1.0)  # while the next caller sleeps for its slot at 100.1, a 503 says 1 s
    slot = b.acquire_slot()
    assert clock.now == pytest.approx(101.0) and slot.wait == pytest.approx(1.0)
    assert slot.reserved == pytest.approx(100.1)  # reserved again after the wake-up: the new reservation counts


def test_slots_paced_by_the_old_rate_are_queued_again_after_a_decrease():
    b, clock = bucket(10)
    first = b.acquire_slot()

    def late_429():  # a 429 arrives while the next caller sleeps
        clock.now += 0.01
        b.throttled(first.reserved)

    clock.on_sleep = late_429
    slot = b.acquire_slot()
    assert slot.reserved > first.reserved  # its old slot was given up and reserved again at the new pace
    assert b.throttled(slot.reserved) is True  # so a 429 for it is news: a second decrease is right


def test_a_retry_after_longer_than_max_hold_is_not_imposed_on_everyone():
    b, clock = bucket(10)
    assert b.hold(MAX_HOLD * 10) is False
    assert b.acquire() == 0


def test_file_bucket_shares_the_adapted_rate_and_the_hold_across_instances(tmp_path):
    """Two FileBuckets on one path stand for two processes: one's 429 slows and holds the other."""
    path = tmp_path / ".ratelimit"
    clock = FakeClock(1_700_000_000.0)
    a = FileBucket(path, 40, clock=clock, sleep=clock.sleep)
    b = FileBucket(path, 40, clock=clock, sleep=clock.sleep)
    slot = a.acquire_slot()
    assert a.throttled(slot.reserved, retry_after=0.5) is True
    assert path.stat().st_size == 32
    assert b.acquire() == pytest.approx(0.5)  # b waits out a's Retry-After
    assert b.rate_now == pytest.approx(40 * DECREASE)
    assert b.throttled(slot.reserved) is False  # the same episode, seen from the other process
    clock.now += 4.5
    a.acquire()
    assert a.rate_now == pytest.approx(40 * DECREASE + 40 / RECOVERY_SECONDS * 5.0, rel=1e-3)  # 0.5 s held + 4.5 s
    a.close()
    b.close()


def test_the_client_holds_every_thread_for_a_retry_after_and_slows_down():
    """One call is answered 429 + Retry-After 0.6 s: the other threads wait too, then go at the decreased rate."""
    with Loopback(lambda p, q, a: http(429, retry_after=0.6) if q.get("i") == 3 and a == 1 else ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, rate_limit_per_second=50, concurrency=4,
                                 backoff_base=0.01, backoff_max=0.05)
        client.map_concurrent(lambda i: client.call("/x", {"i": i}), range(40))
        snap = client.stats.snapshot()
        client.close()
        stamps = sorted(r.at for r in srv.requests)
        t429 = next(r.at for r in srv.requests if r.params.get("i") == 3)
    assert snap["calls"] == 40 and snap["http_429"] == 1 and snap["rate_limit_decreases"] == 1
    assert 50 * DECREASE <= snap["rate_limit_per_second"] < 45
    assert snap["rate_limit_ceiling_per_second"] == 50
    assert snap["request_rate_per_second"] is not None and snap["request_rate_per_second"] < 50
    retried = [r.at for r in srv.requests if r.params.get("i") == 3][1]
    assert retried - t429 >= 0.58
    # everyone stopped: at 50/s requests are 20 ms apart; after the 429 there is a gap of most of the hold
    gaps = [b - a for a, b in zip(stamps, stamps[1:]) if t429 - 0.01 <= a <= t429 + 0.6]
    assert max(gaps) >= 0.4, gaps


def test_stats_without_a_limiter():
    with Loopback(lambda p, q, a: ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret)
        for i in range(3):
            client.call("/x", {"i": i})
            time.sleep(0.01)
        snap = client.stats.snapshot()
        client.close()
    assert snap["rate_limit_per_second"] is None and snap["rate_limit_ceiling_per_second"] is None
    assert snap["http_429"] == 0 and snap["rate_limit_decreases"] == 0
    assert 0 < snap["request_rate_per_second"] < 1000


def test_a_paced_retry_sleeps_nothing_itself_but_the_retry_after_still_counts_against_the_deadline():
    from pipeline.api.classify import Failure
    from pipeline.api.errors import RetriesExhausted, TransientError
    from pipeline.api.retry import RetryPolicy

    policy = RetryPolicy(max_seconds=5.0)
    failure = Failure("http_429", TransientError("HTTP 429", path="/x", http_status=429, retry_after=2.0))
    started = time.monotonic()
    assert policy.after("/x", failure, 1, started, paced=True) == 0.0  # the limiter holds the next attempt
    assert policy.after("/x", failure, 1, started) >= 2.0  # without a limiter: the call sleeps it out
    late = Failure("http_429", TransientError("HTTP 429", path="/x", http_status=429, retry_after=10.0))
    assert isinstance(policy.after("/x", late, 1, started, paced=True), RetriesExhausted)
