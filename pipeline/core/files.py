"""Atomic files and locks on a local file system.

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
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .crash import crash_point

TMP_PREFIX = ".tmp-"


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
