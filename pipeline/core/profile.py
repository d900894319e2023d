"""The platform profile: which reading of the document the platform follows, decided by `liveclass probe`.

Each ambiguous point of openapi.md (section 4 and the APIs' quirks) is a *reading* with a
few plausible values; the first value of each is the project's default (the reading the
document suggests).  ``docs/platform-readings.md`` says what each means, what the probe looks
at and what the pipeline does with each value.  The profile is written as
``platform.json`` in the data directory; without one, the defaults apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: reading -> its plausible values, the default first.
READINGS: dict[str, tuple[str, ...]] = {
    "listen_time": ("minutes", "seconds"),  # unit of listen_time / u_late / u_leave (APIs 23, 34)
    "attendance_rows": ("students", "students_and_teacher"),  # does API 23 list the teacher too
    "class_window": ("scheduled_start", "actual_start"),  # which start API 17's window selects on
    "class_is_course": ("yes", "no"),  # is API 30's class id a course id API 26 takes
    "arrays": ("native", "json_string"),  # form of the array parameters of APIs 18, 19, 20, 25
    "json_arrays": ("json_string", "native"),  # form of the JSON-string parameters of APIs 3, 4, 8.1, 10, 12
    "unknown_ids": ("reject", "omit"),  # an unknown id in an API 18/19/25 batch
    "empty": ("object", "list"),  # an empty keyed answer (API 27): {} or []
}
DEFAULTS: dict[str, str] = {k: v[0] for k, v in READINGS.items()}


class ProfileError(ValueError):
    """A reading key or value that does not exist; one line."""


def check_reading(key: str, value: str) -> None:
    if key not in READINGS:
        raise ProfileError(f"unknown reading {key!r}; readings: {', '.join(READINGS)}")
    if value not in READINGS[key]:
        raise ProfileError(f"reading {key} has no value {value!r}; values: {'|'.join(READINGS[key])}")


@dataclass(frozen=True)
class Finding:
    """What the probe concluded about one reading: ``decided`` from evidence, or ``default`` kept."""

    key: str
    value: str
    evidence: str
    confidence: str = "decided"  # "decided" | "default"

    def line(self) -> str:
        how = "" if self.confidence == "decided" else " (default kept)"
        return f"{self.key}={self.value}{how}: {self.evidence}"


@dataclass(frozen=True)
class PlatformProfile:
    readings: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    findings: tuple[Finding, ...] = ()
    probed_at: str | None = None

    def __post_init__(self):
        for k, v in self.readings.items():
            check_reading(k, v)

    def get(self, key: str) -> str:
        return self.readings.get(key, DEFAULTS[key])

    @classmethod
    def from_findings(cls, findings: list[Finding], probed_at: str) -> PlatformProfile:
        return cls({**DEFAULTS, **{f.key: f.value for f in findings}}, tuple(findings), probed_at)

    def to_json(self) -> str:
        return json.dumps({"readings": dict(self.readings), "probed_at": self.probed_at,
                           "findings": [f.__dict__ for f in self.findings]}, indent=1, ensure_ascii=False)

    @classmethod
    def read(cls, path: Path) -> PlatformProfile | None:
        """The profile at ``path``, or None when there is none."""
        if not path.exists():
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls({**DEFAULTS, **doc.get("readings", {})}, tuple(Finding(**f) for f in doc.get("findings", [])),
                   doc.get("probed_at"))


def parse_readings(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["listen_time=seconds", ...]`` -> a readings mapping, checked."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ProfileError(f"expected KEY=VALUE, got {pair!r}")
        check_reading(key.strip(), value.strip())
        out[key.strip()] = value.strip()
    return out
