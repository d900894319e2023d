"""Request rate limiting: one bucket for the threads of a process, one file for several processes,
one Redis hash for several hosts.

The limiters implement GCRA (the generic cell rate algorithm), the exact,
state-light form of a token bucket: instead of a token count refilled by a
timer, the only state is the *theoretical arrival time* ``tat`` of the next
request.  With emission interval ``T = 1 / rate`` and burst tolerance
``tau = (burst - 1) * T``, a request arriving at ``now`` may go at
``max(now, tat - tau)``, and ``tat`` becomes ``max(now, tat) + T``.  A request
*reserves* its slot under the lock and sleeps outside it, so waiting threads
queue in arrival order and never spin.

:class:`TokenBucket`
    in memory, guarded by a ``threading.Lock``: shared by all threads of one
    process (all the ``map_concurrent`` workers of a client).

:class:`FileBucket`
    the same algorithm with its state kept in a small state file and the
    read-modify-write done under ``fcntl.flock(LOCK_EX)``.  Why a file:
    Dagster's multiprocess executor materialises partitions in parallel
    *processes*, and the platform's limit applies to the account in total.
    A lock file needs no server (no Redis, no sidecar), works for any number of
    unrelated processes on the host, and is exact: every process sees the one
    state and the lock serialises reservations, so the combined rate never
    exceeds ``rate`` (plus ``burst``), whatever the number of processes or
    threads.  The critical section is a few microseconds (read and write 32
    bytes), so the lock is never held while sleeping.  Locks die with their
    process, so a crashed worker cannot wedge the others.  Clock: wall time
    (``time.time``), the one clock every process agrees on; a time further in
    the future than ``max_backlog`` seconds (a clock step backwards, a stale file)
    is treated as absent.  The file's folder is created if missing (a fresh data
    directory).

:class:`~.ratelimit_redis.RedisLimiter`
    the same state in Redis, each read-modify-write one Lua script on Redis's
    clock, keyed by applicationID: one budget for every process of every host
    (:mod:`.ratelimit_redis`, chosen by a ``redis://`` URL in :func:`.limiters.make_limiter`).

``acquire(max_wait)`` bounds the wait: when the next slot is further away than
``max_wait`` seconds, nothing is reserved and :class:`RateLimitTimeout` says how
far away it is (the client passes the time left before its call's deadline).

Adapting to a limit the platform does not publish
-------------------------------------------------

The configured rate is a *ceiling*.  When the platform answers HTTP 429 the
client tells its limiter (:meth:`throttled`), and the limiter slows down for
everyone sharing it, AIMD style (additive increase, multiplicative decrease,
as TCP's congestion control):

* **decrease**: the rate in force is multiplied by :data:`DECREASE` (0.7, as
  TCP CUBIC), down to :data:`FLOOR` x the ceiling.  At most once per
  "generation": a 429 for a request whose slot was reserved *before* the last
  decrease says nothing about the new rate (it was paced by the old one), so
  the 429s of one overload episode, arriving together from several threads,
  count once.  The slots already reserved at the old pace are given up: their
  threads wake, see the decrease and queue again at the new pace (so no
  request paced by the old rate is sent after a decrease but by a thread
  already sending), and no burst credit is left;
* **increase**: afterwards the rate climbs back linearly,
  ``ceiling / RECOVERY_SECONDS`` (60 s) per second, up to the ceiling.  The
  state is just (rate after the last decrease, when), so the rate in force is
  a pure function of the clock, the same for every thread and process;
* **Retry-After**: the server's word holds everyone: no slot is granted before
  ``now + Retry-After`` (at most :data:`MAX_HOLD` seconds), and none in a burst
  right after it (``tat`` is pushed to ``hold + tau``).  A thread that had
  already reserved a slot inside the hold wakes up, sees the hold and queues
  again behind it; one whose slot lies after the hold keeps it.

In a :class:`FileBucket` the adapted rate and the hold live in the state file
beside ``tat``, so every process on the machine slows down and waits together.
File layout: four little-endian doubles, ``tat``, the rate after the last
decrease (0: never decreased), its time, the end of the hold; a file of 8
bytes (``tat`` only, the earlier layout) reads as "never decreased, no hold",
and a reservation rewrites only ``tat``.

``flock`` locks belong to the *open file description*: threads sharing one
descriptor would not exclude each other, and a forked child would share its
parent's lock.  ``FileBucket`` therefore also holds a thread lock and reopens
the file after a fork.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
from typing import NamedTuple

__all__ = ["TokenBucket", "FileBucket", "RateLimitTimeout", "RateLimiterUnavailable", "Slot",
           "DECREASE", "RECOVERY_SECONDS", "FLOOR", "MAX_HOLD"]

#: Multiplicative decrease of the rate in force on an HTTP 429.
DECREASE = 0.7
#: Seconds the additive increase takes to climb from 0 to the ceiling (increase = ceiling / this, per second).
RECOVERY_SECONDS = 60.0
#: Lowest adapted rate, as a share of the ceiling.
FLOOR = 0.02
#: Longest Retry-After imposed on everyone sharing the limiter (seconds); a longer one is left to its call.
MAX_HOLD = 60.0

_TAT = struct.Struct("<d")
_STATE = struct.Struct("<dddd")  # tat, rate after the last decrease, its time, end of the hold


class RateLimitTimeout(Exception):
    """The next slot is further away than the caller may wait; nothing was reserved."""

    def __init__(self, wait: float, max_wait: float):
        super().__init__(f"the next request slot is {wait:.2f}s away, longer than the {max_wait:.2f}s allowed")
        self.wait = wait
        self.max_wait = max_wait


class RateLimiterUnavailable(Exception):
    """The shared limiter's store (Redis, :mod:`.ratelimit_redis`) cannot be reached: no slot was granted.
    The client treats it as a failed attempt that sent nothing, retried within the call's deadline."""


class Slot(NamedTuple):
    """One granted request slot: seconds waited, and when it was reserved (the limiter's clock)."""

    wait: float
    reserved: float


class _State:
    """The adapted part of a limiter's state: rate after the last decrease (0: none), its time, end of hold."""

    __slots__ = ("tat", "dec_rate", "dec_at", "hold")

    def __init__(self, tat: float = 0.0, dec_rate: float = 0.0, dec_at: float = 0.0, hold: float = 0.0):
        self.tat, self.dec_rate, self.dec_at, self.hold = tat, dec_rate, dec_at, hold


class _Gcra:
    def __init__(self, rate: float, burst: int = 1):
        rate = float(rate)
        if not rate > 0:
            raise ValueError("rate must be > 0 requests per second")
        if int(burst) < 1:
            raise ValueError("burst must be >= 1")
        self.rate = rate  # the ceiling: the configured rate
        self.burst = int(burst)
        self.interval = 1.0 / rate
        self.tolerance = (self.burst - 1) * self.interval
        self.increase = rate / RECOVERY_SECONDS
        self.floor = rate * FLOOR
        #: the rate in force at the last reservation or feedback (requests per second)
        self.rate_now = rate

    def rate_at(self, state: _State, now: float) -> float:
        """The rate in force at ``now``: the ceiling, or the rate after the last decrease plus the climb since."""
        if state.dec_rate <= 0:
            return self.rate
        return min(self.rate, state.dec_rate + self.increase * max(0.0, now - state.dec_at))

    def _reserve(self, state: _State, now: float, max_wait: float | None) -> float:
        """Reserve one request at ``now`` in ``state`` (its ``tat`` moves on) and return the seconds to wait;
        nothing is reserved (``state`` unchanged) when the wait would exceed ``max_wait``."""
        rate = self.rate_at(state, now)
        self.rate_now = rate
        interval = 1.0 / rate
        tolerance = (self.burst - 1) * interval
        tat = state.tat
        if state.hold > now and tat < state.hold + tolerance:
            tat = state.hold + tolerance  # nobody before the hold ends, and no burst right after it
        base = tat if tat > now else now
        wait = base - tolerance - now
        wait = wait if wait > 0 else 0.0
        if max_wait is not None and wait > max_wait:
            return wait
        state.tat = base + interval
        return wait

    def _feedback(self, state: _State, now: float, reserved: float | None, retry_after: float | None,
                  decrease: bool) -> bool:
        """Apply a 429 (``decrease``) and/or a Retry-After to ``state``; whether the rate was decreased."""
        decreased = False
        if decrease and (reserved is None or state.dec_rate <= 0 or reserved > state.dec_at):
            state.dec_rate = max(self.floor, self.rate_at(state, now) * DECREASE)
            state.dec_at = now
            # the slots reserved at the old pace are given up (their threads queue again, see acquire_slot),
            # and no burst credit is left: the next request may go now, the one after a new interval later
            state.tat = now + (self.burst - 1) / state.dec_rate
            decreased = True
        if retry_after is not None and 0 < retry_after <= MAX_HOLD:
            state.hold = max(state.hold, now + retry_after)
        self.rate_now = self.rate_at(state, now)
        return decreased

    def acquire(self, max_wait: float | None = None) -> float:
        """Block until the caller may send one request; the seconds waited (see ``max_wait`` above)."""
        return self.acquire_slot(max_wait).wait

    def acquire_slot(self, max_wait: float | None = None) -> Slot:
        """:meth:`acquire`, also saying when the slot was reserved (for :meth:`throttled`)."""
        waited = 0.0
        while True:
            left = None if max_wait is None else max_wait - waited
            wait, reserved = self._locked_reserve(left)
            if left is not None and wait > left:
                raise RateLimitTimeout(waited + wait, max_wait)
            if wait <= 0:
                return Slot(waited, reserved)
            self._sleep(wait)
            waited += wait
            if not self._stale(reserved):
                return Slot(waited, reserved)
            # while we slept the rate was decreased (our slot was paced by the old one), or a Retry-After
            # arrived that lasts past our slot: queue again

    def throttled(self, reserved: float | None = None, retry_after: float | None = None) -> bool:
        """The platform answered HTTP 429 to a request whose slot was reserved at ``reserved``: slow down
        (unless that request was paced by a rate already decreased since) and hold everyone for
        ``retry_after`` seconds.  Returns whether the rate was decreased."""
        return self._locked_feedback(reserved, retry_after, True)

    def hold(self, retry_after: float) -> bool:
        """Another answer with a Retry-After (HTTP 503): hold everyone, without changing the rate.
        Returns whether the hold was imposed (at most :data:`MAX_HOLD` seconds)."""
        self._locked_feedback(None, retry_after, False)
        return 0 < retry_after <= MAX_HOLD

    # implemented by the two buckets
    def _locked_reserve(self, max_wait: float | None) -> tuple[float, float]:  # pragma: no cover
        raise NotImplementedError

    def _locked_feedback(self, reserved, retry_after, decrease) -> bool:  # pragma: no cover
        raise NotImplementedError

    def _stale(self, reserved: float) -> bool:  # pragma: no cover
        """Whether a slot reserved at ``reserved`` must be reserved again: a decrease since, or a hold now."""
        raise NotImplementedError


class TokenBucket(_Gcra):
    """GCRA token bucket shared by the threads of one process.

    ``acquire()`` blocks until the caller may send one request and returns the
    seconds it waited (see the module docstring for ``max_wait`` and for the
    adaptation to 429s).
    """

    def __init__(self, rate: float, burst: int = 1, *, clock=time.monotonic, sleep=time.sleep):
        super().__init__(rate, burst)
        self._lock = threading.Lock()
        self._state = _State()
        self._clock = clock
        self._sleep = sleep

    def _locked_reserve(self, max_wait: float | None) -> tuple[float, float]:
        with self._lock:
            now = self._clock()
            return self._reserve(self._state, now, max_wait), now

    def _locked_feedback(self, reserved, retry_after, decrease) -> bool:
        with self._lock:
            return self._feedback(self._state, self._clock(), reserved, retry_after, decrease)

    def _stale(self, reserved: float) -> bool:
        with self._lock:
            state = self._state
            return state.hold > self._clock() or (state.dec_rate > 0 and state.dec_at > reserved)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst}, now={self.rate_now:.3g}/s)"


class FileBucket(_Gcra):
    """GCRA bucket whose state (theoretical arrival time, adapted rate, hold) lives in ``path``.

    Every process (and thread) that opens a ``FileBucket`` on the same path with
    the same rate shares one budget.  See the module docstring for why.
    """

    def __init__(self, path: str | os.PathLike, rate: float, burst: int = 1, *, max_backlog: float = 600.0,
                 sleep=time.sleep, clock=time.time):
        super().__init__(rate, burst)
        self.path = os.fspath(path)
        self.max_backlog = max(float(max_backlog), 2 * self.interval, 2 * MAX_HOLD)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._sleep = sleep
        self._clock = clock

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # After a fork the inherited descriptor shares the parent's lock: open our own.
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)  # a fresh data directory
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
        return self._fd

    def _read(self, fd: int, now: float) -> _State:
        raw = os.pread(fd, _STATE.size, 0)
        if len(raw) >= _STATE.size:
            values = list(_STATE.unpack(raw[:_STATE.size]))
        elif len(raw) >= _TAT.size:  # the earlier layout: tat only
            values = [_TAT.unpack(raw[:_TAT.size])[0], 0.0, 0.0, 0.0]
        else:
            values = [0.0, 0.0, 0.0, 0.0]
        limit = now + self.max_backlog
        tat, dec_rate, dec_at, hold = (v if v == v else 0.0 for v in values)  # NaN: absent
        tat, hold = (t if t <= limit else 0.0 for t in (tat, hold))  # clock stepped back / stale file
        if not (0 < dec_rate < float("inf")) or not (0 < dec_at <= limit):
            dec_rate = dec_at = 0.0
        return _State(tat, dec_rate, dec_at, hold)

    def _locked_reserve(self, max_wait: float | None) -> tuple[float, float]:
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = self._clock()
                state = self._read(fd, now)
                before = state.tat
                wait = self._reserve(state, now, max_wait)
                if state.tat != before:
                    os.pwrite(fd, _TAT.pack(state.tat), 0)  # only tat: an 8-byte file stays 8 bytes
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return wait, now

    def _locked_feedback(self, reserved, retry_after, decrease) -> bool:
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = self._clock()
                state = self._read(fd, now)
                decreased = self._feedback(state, now, reserved, retry_after, decrease)
                os.pwrite(fd, _STATE.pack(state.tat, state.dec_rate, state.dec_at, state.hold), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return decreased

    def _stale(self, reserved: float) -> bool:
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                now = self._clock()
                state = self._read(fd, now)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return state.hold > now or (state.dec_rate > 0 and state.dec_at > reserved)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"FileBucket({self.path!r}, rate={self.rate:g}/s, burst={self.burst}, now={self.rate_now:.3g}/s)"
