"""Request rate limiting: one bucket for the threads of a process, one file for several processes.

Both limiters implement GCRA (the generic cell rate algorithm), the exact,
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
    the same algorithm with ``tat`` kept as 8 bytes in a small state file and
    the read-modify-write done under ``fcntl.flock(LOCK_EX)``.  Why a file:
    Dagster's multiprocess executor materialises partitions in parallel
    *processes*, and the platform's limit applies to the account in total.
    A lock file needs no server (no Redis, no sidecar), works for any number of
    unrelated processes on the host, and is exact: every process sees the one
    ``tat`` and the lock serialises reservations, so the combined rate never
    exceeds ``rate`` (plus ``burst``), whatever the number of processes or
    threads.  The critical section is a few microseconds (read 8 bytes, write
    8 bytes), so the lock is never held while sleeping.  Locks die with their
    process, so a crashed worker cannot wedge the others.  Clock: wall time
    (``time.time``), the one clock every process agrees on; a ``tat`` further in
    the future than ``max_backlog`` seconds (a clock step backwards, a stale file)
    is treated as absent.

``acquire(max_wait)`` bounds the wait: when the next slot is further away than
``max_wait`` seconds, nothing is reserved and :class:`RateLimitTimeout` says how
far away it is (the client passes the time left before its call's deadline).

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

__all__ = ["TokenBucket", "FileBucket", "RateLimitTimeout", "make_limiter"]

_TAT = struct.Struct("<d")


class RateLimitTimeout(Exception):
    """The next slot is further away than the caller may wait; nothing was reserved."""

    def __init__(self, wait: float, max_wait: float):
        super().__init__(f"the next request slot is {wait:.2f}s away, longer than the {max_wait:.2f}s allowed")
        self.wait = wait
        self.max_wait = max_wait


class _Gcra:
    def __init__(self, rate: float, burst: int = 1):
        rate = float(rate)
        if not rate > 0:
            raise ValueError("rate must be > 0 requests per second")
        if int(burst) < 1:
            raise ValueError("burst must be >= 1")
        self.rate = rate
        self.burst = int(burst)
        self.interval = 1.0 / rate
        self.tolerance = (self.burst - 1) * self.interval

    def _reserve(self, tat: float, now: float, max_wait: float | None) -> tuple[float, float]:
        """Return (new tat, seconds to wait) for one request at ``now``; the tat is unchanged
        (nothing reserved) when the wait would exceed ``max_wait``."""
        base = tat if tat > now else now
        wait = base - self.tolerance - now
        wait = wait if wait > 0 else 0.0
        if max_wait is not None and wait > max_wait:
            return tat, wait
        return base + self.interval, wait


class TokenBucket(_Gcra):
    """GCRA token bucket shared by the threads of one process.

    ``acquire()`` blocks until the caller may send one request and returns the
    seconds it waited (see the module docstring for ``max_wait``).
    """

    def __init__(self, rate: float, burst: int = 1, *, clock=time.monotonic, sleep=time.sleep):
        super().__init__(rate, burst)
        self._lock = threading.Lock()
        self._tat = 0.0
        self._clock = clock
        self._sleep = sleep

    def acquire(self, max_wait: float | None = None) -> float:
        with self._lock:
            now = self._clock()
            self._tat, wait = self._reserve(self._tat, now, max_wait)
        return _wait(wait, max_wait, self._sleep)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst})"


class FileBucket(_Gcra):
    """GCRA bucket whose state (the theoretical arrival time) lives in ``path``.

    Every process (and thread) that opens a ``FileBucket`` on the same path with
    the same rate shares one budget.  See the module docstring for why.
    """

    def __init__(self, path: str | os.PathLike, rate: float, burst: int = 1, *, max_backlog: float = 600.0,
                 sleep=time.sleep):
        super().__init__(rate, burst)
        self.path = os.fspath(path)
        self.max_backlog = max(float(max_backlog), 2 * self.interval)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._sleep = sleep

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # After a fork the inherited descriptor shares the parent's lock: open our own.
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)  # a fresh data directory
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, max_wait: float | None = None) -> float:
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(fd, _TAT.size, 0)
                now = time.time()
                tat = _TAT.unpack(raw)[0] if len(raw) == _TAT.size else 0.0
                if not (tat == tat) or tat > now + self.max_backlog:  # NaN / clock stepped back / stale
                    tat = 0.0
                tat, wait = self._reserve(tat, now, max_wait)
                os.pwrite(fd, _TAT.pack(tat), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return _wait(wait, max_wait, self._sleep)

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
        return f"FileBucket({self.path!r}, rate={self.rate:g}/s, burst={self.burst})"


def _wait(wait: float, max_wait: float | None, sleep) -> float:
    if max_wait is not None and wait > max_wait:
        raise RateLimitTimeout(wait, max_wait)
    if wait > 0:
        sleep(wait)
    return wait


def make_limiter(rate_per_second: float | None, path: str | None = None, burst: int = 1):
    """The limiter a client uses: a file bucket if ``path`` is given, else a thread bucket, else None.

    A file bucket already serialises the threads of its own process, so it is
    used alone (it is the stricter of the two).
    """
    if path:
        if not rate_per_second:
            raise ValueError("rate_limit_file needs rate_limit_per_second")
        return FileBucket(path, rate_per_second, burst)
    if rate_per_second:
        return TokenBucket(rate_per_second, burst)
    return None
