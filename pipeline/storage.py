"""Atomic file publishing and the data-directory layout.

Every file a reader may look at (raw pages, lake partitions, the warehouse,
feeds, the report) is written to a temporary file in the same directory and
then renamed over its final name, so a reader sees the old file or the new
one, never half of one; a crash leaves at most a ``.tmp-*`` file that the next
write of that path removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

TMP_PREFIX = ".tmp-"

#: ``LIVECLASS_CRASH_AT=<point>[@<n>]``: SIGKILL this process the n-th time (default 1) it reaches
#: ``crash_point(<point>)``.  For crash tests only; unset, a crash point costs one dict lookup.
CRASH_ENV = "LIVECLASS_CRASH_AT"
#: Every named crash point in the code, in the order a run reaches them.
CRASH_POINTS = (
    "raw.response",            # an API answer recorded, mid-extraction (raw/ page not yet written)
    "raw.before_write",        # a raw asset's calls all done, its pages not yet written
    "file.before_rename",      # any atomic file (raw page, lake Parquet, report) written + fsynced, not renamed
    "lake.after_write",        # a lake partition renamed into place, Dagster not yet told
    "warehouse.mid_build",     # the SQL models ran in the temporary database file
    "warehouse.before_publish",  # the new build closed and fsynced, not yet renamed over warehouse.duckdb
    "warehouse.after_publish",   # warehouse.duckdb replaced, Dagster not yet told, feeds not yet written
    "feeds.before_swap",       # a complete feeds generation on disk, the feeds link not yet swapped
)
_crash_hits: Counter[str] = Counter()
_crash_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) when ``$LIVECLASS_CRASH_AT`` names this point."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    with _crash_lock:
        _crash_hits[name] += 1
        hit = _crash_hits[name]
    if hit >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync and rename it over ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{final.name}.{os.getpid()}.", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        crash_point("file.before_rename")
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(final: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def remove_stale_temps(final: Path) -> None:
    """Remove temporary files a crashed writer of ``final`` left behind.

    A temp file carries its writer's pid (``.tmp-<name>.<pid>.<random>``); one whose
    writer is still alive belongs to a concurrent write and is left alone.
    """
    for stale in final.parent.glob(f"{TMP_PREFIX}{final.name}.*"):
        pid = stale.name[len(TMP_PREFIX) + len(final.name) + 1:].split(".", 1)[0]
        if pid.isdigit() and pid_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            stale.unlink()


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, blocking: bool = True,
              on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """An exclusive advisory lock on ``path`` (created if needed).

    Yields True when held.  With ``blocking=False`` yields False at once when
    another process holds it; with ``blocking=True`` calls ``on_wait`` (if
    given) before waiting.  The kernel releases it if the holder dies.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not blocking:
                yield False
                return
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)


class DataDir:
    """Where everything lives under ``$LIVECLASS_DATA_DIR``."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()

    def raw_file(self, endpoint_group: str, day: str) -> Path:
        return self.root / "raw" / endpoint_group / f"date={day}" / "pages.jsonl.gz"

    def lake_dir(self) -> Path:
        return self.root / "lake"

    def lake_file(self, table: str, day: str) -> Path:
        return self.root / "lake" / table / f"date={day}" / "part-0.parquet"

    def lake_snapshot(self, table: str) -> Path:
        return self.root / "lake" / table / "snapshot.parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def warehouse_lock(self) -> Path:
        return self.root / ".warehouse.lock"

    @property
    def rate_limit_file(self) -> Path:
        return self.root / ".ratelimit"

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    @property
    def report(self) -> Path:
        return self.root / "report" / "index.html"
