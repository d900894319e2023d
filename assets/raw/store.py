"""Raw pages: the exact API answers of one endpoint group and day.

One gzip JSON-lines file per group and day, a line per successful call:
``{"path": ..., "params": {...}, "body": {...}}``.  Params are what was signed
(never the secret or the signMsg).  Lines are sorted by path and params and the
gzip header carries no timestamp, so the same answers give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.crash import crash_point
from pipeline.core.files import atomic_write_bytes


class Recorder:
    """Collects (path, params, body) from the client's ``on_response`` hook, thread-safely.

    One record per request: when the same request is asked again (a re-check after an answer
    that did not fit its request), the newest answer replaces the older one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, path: str, params: dict, body: dict) -> None:
        rec = {"path": path, "params": params, "body": body}
        with self._lock:
            self._records[_sort_key(rec)] = rec
        crash_point("raw.response")

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records.values())


def _sort_key(rec: dict[str, Any]) -> tuple[str, str]:
    return rec["path"], json.dumps(rec["params"], sort_keys=True, ensure_ascii=False)


def _line(rec: dict[str, Any]) -> bytes:
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in an answer: kept exactly, as a JSON escape
        return json.dumps(rec, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode("ascii")


def write_raw(path: Path, records: Iterable[dict[str, Any]]) -> int:
    recs = sorted(records, key=_sort_key)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz:
        for rec in recs:
            gz.write(_line(rec))
            gz.write(b"\n")
    atomic_write_bytes(path, buf.getvalue())
    return len(recs)


def read_raw(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise FileNotFoundError(f"raw pages missing: {path} (materialize the raw asset for this day first)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class SnapshotAges:
    """When the course-progress snapshot was last refreshed, and which classes it could not refresh."""

    checked_at: str | None = None
    fetched_at: dict[int, str] = field(default_factory=dict)  # class id -> ISO time of its answer
    missing: list[int] = field(default_factory=list)  # classes seen but never answered
    unavailable: str | None = None  # why the platform cannot answer course progress at all

    @property
    def kept(self) -> dict[int, str]:
        """Classes whose answer is older than the last refresh (their call failed then)."""
        return {c: t for c, t in sorted(self.fetched_at.items()) if self.checked_at and t < self.checked_at}

    def notes(self) -> list[str]:
        """One line per problem, for the run summary and the report."""
        out = [self.unavailable] if self.unavailable else []
        if self.kept:
            since = min(self.kept.values())[:16].replace("T", " ")
            out.append(f"course progress of {len(self.kept)} class(es) kept from an earlier snapshot (oldest {since}), "
                       f"API 26 failed for them: {', '.join(map(str, list(self.kept)[:10]))}"
                       + (" ..." if len(self.kept) > 10 else ""))
        if self.missing:
            out.append(f"course progress missing for {len(self.missing)} class(es) API 26 never answered: "
                       + ", ".join(map(str, self.missing[:10])) + (" ..." if len(self.missing) > 10 else ""))
        return out

    @classmethod
    def read(cls, path: Path) -> SnapshotAges:
        if not path.exists():
            return cls()
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(doc.get("checked_at"), {int(k): v for k, v in doc.get("fetched_at", {}).items()},
                   [int(c) for c in doc.get("missing", [])], doc.get("unavailable"))

    def write(self, path: Path) -> None:
        doc = {"checked_at": self.checked_at, "fetched_at": {str(k): v for k, v in sorted(self.fetched_at.items())},
               "missing": self.missing, "unavailable": self.unavailable}
        atomic_write_bytes(path, json.dumps(doc, indent=1).encode("utf-8"))
