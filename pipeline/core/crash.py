"""Named crash points, for the crash tests only.

``LIVECLASS_CRASH_AT=<point>[@<n>]`` (read by :mod:`pipeline.core.settings`) makes
this process SIGKILL itself the n-th time (default 1) it reaches
``crash_point(<point>)``.  Unset, a crash point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

from .settings import crash_spec

#: Every named crash point in the code, in the order a run reaches them.
CRASH_POINTS = (
    "raw.response",            # an API answer recorded, mid-extraction (raw/ page not yet written)
    "raw.before_write",        # a raw asset's calls all done, its pages not yet written
    "file.before_rename",      # any atomic file (raw page, lake Parquet, report) written + fsynced, not renamed
    "lake.after_write",        # a lake partition renamed into place, Dagster not yet told
    "commit.before_commit",    # s3:// data dir: a day's lake tables uploaded to object storage, not committed
    "warehouse.mid_build",     # the SQL models ran in the temporary database file
    "warehouse.before_publish",  # the new build closed and fsynced, not yet renamed over warehouse.duckdb
    "warehouse.after_publish",   # warehouse.duckdb replaced, Dagster not yet told, feeds not yet written
    "feeds.before_swap",       # a complete feeds generation on disk, the feeds link not yet swapped
)
_hits: Counter[str] = Counter()
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) when ``$LIVECLASS_CRASH_AT`` names this point."""
    spec = crash_spec()
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if hit >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
