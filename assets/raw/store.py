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
from pathlib import Path
from typing import Any

from pipeline.core.crash import crash_point
from pipeline.core.files import atomic_write_bytes


class Recorder:
    """Collects (path, params, body) from the client's ``on_response`` hook, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []

    def __call__(self, path: str, params: dict, body: dict) -> None:
        with self._lock:
            self.records.append({"path": path, "params": params, "body": body})
        crash_point("raw.response")


def _sort_key(rec: dict[str, Any]) -> tuple[str, str]:
    return rec["path"], json.dumps(rec["params"], sort_keys=True, ensure_ascii=False)


def write_raw(path: Path, records: Iterable[dict[str, Any]]) -> int:
    recs = sorted(records, key=_sort_key)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz:
        for rec in recs:
            gz.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8"))
            gz.write(b"\n")
    atomic_write_bytes(path, buf.getvalue())
    return len(recs)


def read_raw(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise FileNotFoundError(f"raw pages missing: {path} (materialize the raw asset for this day first)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
