"""What a sandbox is started with: :class:`SandboxConfig` and the built-in applications.

The credentials below are **sandbox-only**: they open nothing but a local
sandbox and must never be used against the real platform.  Any secret length
works with the signMsg codec (the AES key is the secret NUL-padded or cut to
32 bytes, as PHP's openssl_encrypt does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .drift import normalize_mode
from .faults import parse_fault_kinds
from .readings import parse_readings

__all__ = ["DEFAULT_APP_ID", "INACTIVE_APP_ID", "DEFAULT_SECRET", "SandboxConfig", "SandboxTenant", "default_burst"]

DEFAULT_APP_ID = "liveclass-sandbox"
#: A second built-in application with active=0 (answers 20004); same secret.
INACTIVE_APP_ID = "liveclass-sandbox-inactive"
DEFAULT_SECRET = "sandbox-secret-not-for-production"


def default_burst(rate: float) -> int:
    """The burst of a rate limit of ``rate`` requests per second: a quarter of a second's worth, at least 1."""
    return max(1, math.ceil(rate / 4))


@dataclass(frozen=True)
class SandboxTenant:
    """A further institution served at the same URL: its applicationID, secret and school (seed, size)."""

    app_id: str
    secret: str
    seed: int
    lessons_per_day: int = 40

    @classmethod
    def parse(cls, value: SandboxTenant | str) -> SandboxTenant:
        """``APP_ID:SECRET:SEED[:LESSONS_PER_DAY]`` (or a SandboxTenant)."""
        if isinstance(value, SandboxTenant):
            return value
        parts = str(value).split(":")
        try:
            if len(parts) not in (3, 4) or not parts[0] or not parts[1]:
                raise ValueError
            return cls(parts[0], parts[1], int(parts[2]), int(parts[3]) if len(parts) == 4 else 40)
        except ValueError:
            raise ValueError(f"tenant {value!r} is not APP_ID:SECRET:SEED[:LESSONS_PER_DAY]") from None

    def arg(self) -> str:
        return f"{self.app_id}:{self.secret}:{self.seed}:{self.lessons_per_day}"


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    seed: int = 7
    app_id: str = DEFAULT_APP_ID
    secret: str = DEFAULT_SECRET
    lessons_per_day: int = 40
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    slow_seconds: float = 35.0  # the "slower than a client's read timeout" fault
    retry_after: int = 1  # Retry-After of the HTTP 429 fault, seconds
    # the fault mix (see sandbox/faults.py): () = the default kinds; opt-in: swap, nodata, implausible, oversized;
    # "default" and "all" expand; a comma-separated string is accepted
    fault_kinds: tuple[str, ...] = ()
    header_timeout: float = 10.0  # a request's headers must arrive within this many seconds (0: no limit)
    now: datetime | None = None  # simulated clock; None: the wall clock
    drift: bool | str = False  # schema drift: False/"off", True/"harmless" or "harmful" (see sandbox/drift.py)
    convert_seconds: float = 3.0  # courseware conversion time (API 6 -> API 7 convert_status 0 -> 2)
    log_level: str = "warning"
    # the platform's reading of ambiguous points (see sandbox/readings.py): key -> value, only those given
    # (the rest are the defaults); a mapping, "KEY=VALUE[,...]" or an iterable of "KEY=VALUE" is accepted
    readings: Mapping[str, str] = field(default_factory=dict)
    # requests per second per applicationID, answered HTTP 429 + Retry-After above it, as an API gateway would
    # (see server.RateLimit); 0: no limit
    rate_limit: float = 0.0
    rate_limit_burst: int = 0  # requests accepted at once; 0: a quarter second's worth, max(1, ceil(rate_limit / 4))
    # late data: 30 % of lessons get one student's attendance and one award up to this many hours after they end
    # (School.late_hours, school/activity.py late_delay); 0: every lesson's data is in when it ends
    late_hours: float = 0.0
    late_share: float = 0.3  # the share of lessons with late data (when late_hours > 0)
    # further institutions at the same URL, one applicationID, secret and school each (SandboxTenant or
    # "APP_ID:SECRET:SEED[:LESSONS_PER_DAY]"); the first institution is app_id/secret/seed above
    tenants: tuple[SandboxTenant, ...] = ()

    def __post_init__(self) -> None:
        self.fault_kinds = parse_fault_kinds(self.fault_kinds)
        self.tenants = tuple(SandboxTenant.parse(t) for t in self.tenants)
        ids = [self.app_id, *(t.app_id for t in self.tenants)]
        if len(set(ids)) != len(ids):
            raise ValueError(f"tenants: an applicationID is used twice ({', '.join(ids)})")
        self.readings = parse_readings(self.readings)
        if self.header_timeout < 0:
            raise ValueError("header_timeout must not be negative")
        if not self.rate_limit >= 0 or self.rate_limit == float("inf"):
            raise ValueError("rate_limit must be a finite number >= 0 (0: no limit)")
        if self.rate_limit_burst < 0:
            raise ValueError("rate_limit_burst must not be negative (0: the default)")
        if not 0 <= self.late_hours < 720:
            raise ValueError("late_hours must be in [0, 720)")
        if not 0 <= self.late_share <= 1:
            raise ValueError("late_share must be in [0, 1]")

    def cli_args(self) -> list[str]:
        """The ``liveclass sandbox`` flags reproducing this config."""
        args = ["--host", self.host, "--port", str(self.port), "--seed", str(self.seed), "--app-id", self.app_id,
                "--secret", self.secret, "--lessons-per-day", str(self.lessons_per_day), "--latency-ms",
                str(self.latency_ms), "--fault-rate", str(self.fault_rate), "--slow-seconds", str(self.slow_seconds),
                "--retry-after", str(self.retry_after), "--convert-seconds", str(self.convert_seconds),
                "--header-timeout", str(self.header_timeout), "--log-level", self.log_level]
        if self.fault_kinds:
            args += ["--fault-kinds", ",".join(self.fault_kinds)]
        if self.now is not None:
            args += ["--now", self.now.strftime("%Y-%m-%d %H:%M:%S")]
        mode = normalize_mode(self.drift)
        if mode:
            args += ["--drift", mode]
        for key, value in self.readings.items():
            args += ["--reading", f"{key}={value}"]
        if self.rate_limit:
            args += ["--rate-limit", repr(float(self.rate_limit))]
            if self.rate_limit_burst:
                args += ["--rate-limit-burst", str(self.rate_limit_burst)]
        if self.late_hours:
            args += ["--late-hours", repr(float(self.late_hours)), "--late-share", repr(float(self.late_share))]
        for tenant in self.tenants:
            args += ["--tenant", tenant.arg()]
        return args
