"""Atomic writes: concurrent writers of one path never delete each other's temporary file."""

import os
import subprocess
import sys
import threading

from pipeline.core.files import TMP_PREFIX, atomic_path, atomic_write_bytes


def test_concurrent_writers_of_one_path_both_succeed(tmp_path):
    target = tmp_path / "report" / "index.html"
    first_has_temp, second_done = threading.Event(), threading.Event()
    errors = []

    def slow_writer():
        try:
            with atomic_path(target) as tmp:
                tmp.write_bytes(b"first")
                first_has_temp.set()
                second_done.wait(5)  # the second writer starts and finishes meanwhile
        except Exception as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)

    t = threading.Thread(target=slow_writer)
    t.start()
    assert first_has_temp.wait(5)
    atomic_write_bytes(target, b"second")
    second_done.set()
    t.join()
    assert errors == []
    assert target.read_bytes() == b"first"  # last rename wins, both complete
    assert not list(target.parent.glob(f"{TMP_PREFIX}*"))


def test_a_dead_writers_temp_file_is_removed(tmp_path):
    target = tmp_path / "part-0.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{TMP_PREFIX}{target.name}.{dead.stdout.strip()}.abc123"
    stale.write_bytes(b"half a file")
    live = tmp_path / f"{TMP_PREFIX}{target.name}.{os.getppid()}.def456"  # a live process's write
    live.write_bytes(b"in progress")
    atomic_write_bytes(target, b"new")
    assert not stale.exists() and live.exists() and target.read_bytes() == b"new"
