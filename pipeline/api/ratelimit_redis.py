"""One rate limit across hosts: the GCRA limiter of :mod:`.ratelimit` with its state in Redis.

``LIVECLASS_RATE_LIMIT_URL=redis://host:port/db`` makes every worker of every
host that uses the same applicationID share one budget: the state of
:class:`~.ratelimit.FileBucket` (theoretical arrival time ``tat``, the rate
after the last AIMD decrease and its time, the end of the Retry-After hold)
lives in one Redis hash, ``liveclass:ratelimit:<applicationID>`` (beside it the log of
recent sends, ``...:sent``; one budget
per institution; the applicationID is not a secret, the secret never reaches
Redis), and every read-modify-write of it is one Lua script, run atomically by
Redis with **Redis's clock** (``redis.call('TIME')``): hosts whose clocks
disagree still share one schedule, and no lock is held across the network.

* **reserve** (one ``EVALSHA`` round trip per request): the rate in force
  (ceiling, or the rate after the last decrease plus the linear climb since),
  the hold, GCRA's ``max(now, tat - tau)``; ``tat`` moves on only when the
  wait fits the caller's ``max_wait``.  Returns the wait, the reservation time
  and the rate in force; the thread sleeps locally, never in Redis.  A slot
  due at once is also *admitted* in the same round trip.
* **confirm** (only for a thread that had to sleep, one more round trip): if
  a decrease or a hold arrived while it slept it queues again, as with the
  other limiters; else the send is admitted, now, against a log of the last
  ``cap = floor(rate) + burst`` sends (a Redis list): a send is admitted only
  if the ``cap``-th latest is more than a second old.  GCRA's schedule already
  has at most ``rate + burst`` slots in any second; the log also holds the
  *sends* to it, on Redis's clock, when threads wake up late on a busy host
  (tens of milliseconds on a loaded machine) and would otherwise go out
  together with those woken on time.
* **feedback** (on a 429 or a Retry-After): the AIMD decrease (once per
  generation, see :mod:`.ratelimit`) and the hold, seen by every host at its
  next reservation.

Burst: ``burst`` (``?burst=N`` in the URL; default 1, as the other limiters: no
request ahead of its interval) is the GCRA tolerance and part of ``cap``
(figures: BENCHMARKS.md, "Rate limit across hosts (Redis)").

The hash expires by itself once it says nothing more than an absent one (its
``tat`` and hold passed, the rate climbed back to the ceiling), the log two
seconds after the last send, so an idle institution leaves nothing behind.

Redis unreachable
-----------------

A reservation that cannot reach Redis (refused, reset, timed out after
``timeout`` seconds, a Redis still loading) raises
:class:`~.ratelimit.RateLimiterUnavailable`: the client counts it as a failed
attempt that sent nothing (kind ``rate_limit``), and its retry policy tries
again with backoff within the call's deadline; so does a confirmation that
cannot reach it (the slot is given up: nothing is sent without Redis's word).
If Redis comes back, the run goes on (with a fresh budget: the state is not
persisted); if it stays down past the deadline the call fails, so the Dagster
step fails and is run again (a re-execution from failure, the next tick's
look-back).  There is no fallback to a local share of the rate: a host cannot
know how many others are running (a fixed share of ``rate / N`` over-sends
when more than N hosts run and wastes the budget when fewer do), and
over-sending is what draws 429s and a platform's penalties, while a failed
step costs only a retry.  Feedback (a 429 or Retry-After to record) never
fails a call: with Redis down the next reservation fails anyway.
``redis`` is an optional dependency (the ``scale`` extra): this module
is imported only when a ``redis://`` URL is configured.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .ratelimit import (
    DECREASE,
    FLOOR,
    MAX_HOLD,
    RECOVERY_SECONDS,
    RateLimiterUnavailable,
    RateLimitTimeout,
    Slot,
    _Gcra,
)

__all__ = ["RedisLimiter", "KEY_PREFIX", "safe_url", "split_burst"]

log = logging.getLogger("liveclass.api")

#: Prefix of the state hash; the applicationID follows.
KEY_PREFIX = "liveclass:ratelimit:"

# KEYS: 1 the state hash, 2 the log of recent sends.  ARGV (every script): 1 ceiling, 2 burst,
# 3 RECOVERY_SECONDS, 4 max_backlog, 5 the log's capacity (requests in any second: floor(ceiling) + burst);
# then the script's own.
_PRELUDE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ceiling = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local increase = ceiling / tonumber(ARGV[3])
local limit = now + tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local s = redis.call('HMGET', key, 'tat', 'dec_rate', 'dec_at', 'hold')
local tat = tonumber(s[1]) or 0
local dec_rate = tonumber(s[2]) or 0
local dec_at = tonumber(s[3]) or 0
local hold = tonumber(s[4]) or 0
-- a time further ahead than max_backlog (another Redis's clock after a failover): absent
if tat > limit then tat = 0 end
if hold > limit then hold = 0 end
if not (dec_rate > 0 and dec_at > 0 and dec_at <= limit) then dec_rate = 0; dec_at = 0 end
local function rate_at(at)
  if dec_rate <= 0 then return ceiling end
  return math.min(ceiling, dec_rate + increase * math.max(0, at - dec_at))
end
local function num(x) return string.format('%.17g', x) end
local function expire()
  -- keep the hash while it says more than an absent one would
  local last = math.max(tat, hold)
  if dec_rate > 0 then last = math.max(last, dec_at + (ceiling - dec_rate) / increase) end
  redis.call('PEXPIRE', key, math.max(1, math.ceil((last - now) * 1000)) + 1000)
end
-- the send itself, now: admitted (0) unless `cap` sends are already in the last second (then the seconds
-- until the oldest of them leaves it).  Threads wake up late on a busy host, and a late one must not
-- bunch up with those on time: this keeps every 1-second window of sends within cap.
local function admit()
  local n = redis.call('LLEN', KEYS[2])
  if n >= cap then
    local oldest = tonumber(redis.call('LINDEX', KEYS[2], cap - 1))
    if oldest and oldest > now - 1 then return oldest + 1 - now end
  end
  redis.call('LPUSH', KEYS[2], num(now))
  if n >= cap then redis.call('LTRIM', KEYS[2], 0, cap - 1) end
  redis.call('PEXPIRE', KEYS[2], 2000)
  return 0
end
"""

# ARGV 6: max_wait (seconds; negative: none).  Returns {wait, now, rate, reserved 0/1, admitted 0/1}: a slot
# due now is admitted at once (one round trip); a later one is confirmed after the sleep (_CONFIRM).
_RESERVE = _PRELUDE + """
local max_wait = tonumber(ARGV[6])
local rate = rate_at(now)
local interval = 1 / rate
local tolerance = (burst - 1) * interval
if hold > now and tat < hold + tolerance then tat = hold + tolerance end
local base = math.max(tat, now)
local wait = math.max(0, base - tolerance - now)
if max_wait >= 0 and wait > max_wait then
  return {num(wait), num(now), num(rate), 0, 0}
end
tat = base + interval
redis.call('HSET', key, 'tat', num(tat))
expire()
local admitted = 0
if wait <= 0 then
  wait = admit()
  if wait <= 0 then admitted = 1 end
end
return {num(wait), num(now), num(rate), 1, admitted}
"""

# ARGV 6: reserved (negative: unknown), 7: retry_after (negative: none), 8: decrease 0/1, 9: DECREASE,
# 10: FLOOR, 11: MAX_HOLD.  Returns {decreased 0/1, rate}.
_FEEDBACK = _PRELUDE + """
local reserved = tonumber(ARGV[6])
local retry_after = tonumber(ARGV[7])
local decreased = 0
if ARGV[8] == '1' and (reserved < 0 or dec_rate <= 0 or reserved > dec_at) then
  dec_rate = math.max(ceiling * tonumber(ARGV[10]), rate_at(now) * tonumber(ARGV[9]))
  dec_at = now
  tat = now + (burst - 1) / dec_rate
  decreased = 1
end
if retry_after > 0 and retry_after <= tonumber(ARGV[11]) then hold = math.max(hold, now + retry_after) end
redis.call('HSET', key, 'tat', num(tat), 'dec_rate', num(dec_rate), 'dec_at', num(dec_at), 'hold', num(hold))
expire()
return {decreased, num(rate_at(now))}
"""

# After the sleep, ARGV 6: reserved.  Returns {stale 0/1, wait, rate, now}: stale (a decrease since the slot was
# reserved, or a hold now): reserve again; else the send is admitted (wait 0) or waits for the log.
_CONFIRM = _PRELUDE + """
local reserved = tonumber(ARGV[6])
if hold > now or (dec_rate > 0 and dec_at > reserved) then return {1, '0', num(rate_at(now)), num(now)} end
return {0, num(admit()), num(rate_at(now)), num(now)}
"""


def safe_url(url: str) -> str:
    """``url`` without its password (for reprs, logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}:***@" if parts.username else ":***@") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def split_burst(url: str, burst: int = 1) -> tuple[str, int]:
    """``redis://host:port/db?burst=N``: the URL without ``burst`` (Redis's own options stay), and N."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in query:
        if name == "burst":
            try:
                burst = int(value)
            except ValueError:
                raise ValueError(f"burst={value!r} in the rate limit URL is not an integer") from None
    rest = urlencode([(n, v) for n, v in query if n != "burst"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), burst


class RedisLimiter(_Gcra):
    """GCRA limiter whose state lives in Redis under ``KEY_PREFIX + key`` (the applicationID).

    Every process of every host that opens a ``RedisLimiter`` on the same Redis
    and key with the same rate shares one budget (see the module docstring).
    ``timeout`` bounds each round trip (connect and read).
    """

    def __init__(self, url: str, key: str, rate: float, burst: int = 1, *, timeout: float = 2.0,
                 max_backlog: float = 600.0, sleep=time.sleep):
        super().__init__(rate, burst)
        if not key:
            raise ValueError("a Redis rate limit is keyed by the applicationID, and it is empty")
        self.url = safe_url(url)
        self.key = KEY_PREFIX + str(key)
        self.max_backlog = max(float(max_backlog), 2 * self.interval, 2 * MAX_HOLD)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._admitted = threading.local()
        # One reconnect at once for a connection Redis closed (a restart); longer outages are the client's
        # retry policy's to wait out.  The pool reconnects by itself after a fork.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                           retry=Retry(NoBackoff(), 1), client_name="liveclass-ratelimit")
        self.sent_key = self.key + ":sent"
        self.cap = int(self.rate) + self.burst  # sends in any 1-second window, at most
        self._scripts = {name: self._redis.register_script(text)
                         for name, text in (("reserve", _RESERVE), ("feedback", _FEEDBACK), ("confirm", _CONFIRM))}

    def _run(self, name: str, *args) -> list:
        argv = (self.rate, self.burst, RECOVERY_SECONDS, self.max_backlog, self.cap, *args)
        try:
            return self._scripts[name](keys=[self.key, self.sent_key], args=argv)
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(f"the rate limiter at {self.url} is unavailable: "
                                         f"{type(exc).__name__}: {exc}") from None

    def acquire_slot(self, max_wait: float | None = None) -> Slot:
        """One slot (see :meth:`.ratelimit._Gcra.acquire_slot`): reserved in one round trip, slept for locally,
        then confirmed in a second one (queued again after a decrease or hold, or waiting for a second
        that already holds ``cap`` sends).  Raises :class:`RateLimiterUnavailable` when Redis cannot be
        reached at either step: nothing is sent without Redis's word."""
        waited = 0.0
        while True:
            left = None if max_wait is None else max_wait - waited
            wait, reserved, rate, _, admitted = self._run("reserve", -1.0 if left is None else max(0.0, left))
            wait, reserved = float(wait), float(reserved)
            self.rate_now = float(rate)
            if left is not None and wait > left:
                raise RateLimitTimeout(waited + wait, max_wait)
            self._admitted.at = reserved
            while not int(admitted):
                if max_wait is not None and waited + wait > max_wait:
                    raise RateLimitTimeout(waited + wait, max_wait)
                self._sleep(wait)
                waited += wait
                stale, wait, rate, now = self._run("confirm", reserved)
                wait, self.rate_now = float(wait), float(rate)
                self._admitted.at = float(now)
                if int(stale):
                    break  # queue again at the new pace, or behind the hold
                admitted = wait <= 0
            else:
                return Slot(waited, reserved)

    @property
    def admitted_at(self) -> float | None:
        """When Redis admitted this thread's last send (Redis's clock; the benchmark's measure)."""
        return getattr(self._admitted, "at", None)

    def _locked_feedback(self, reserved, retry_after, decrease) -> bool:
        try:
            decreased, rate = self._run("feedback", -1.0 if reserved is None else reserved,
                                        -1.0 if retry_after is None else retry_after, 1 if decrease else 0,
                                        DECREASE, FLOOR, MAX_HOLD)
        except RateLimiterUnavailable as exc:
            log.warning("%s; the %s is not shared", exc, "429" if decrease else "Retry-After")
            return False
        self.rate_now = float(rate)
        return bool(int(decreased))

    def close(self) -> None:
        with self._lock:
            self._redis.close()

    def __repr__(self) -> str:
        return f"RedisLimiter({self.url!r}, key={self.key!r}, rate={self.rate:g}/s, burst={self.burst}, " \
               f"now={self.rate_now:.3g}/s)"
