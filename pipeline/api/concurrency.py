"""map_concurrent: ``[fn(x) for x in items]`` on a bounded thread pool, first failure stops the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["map_concurrent"]

T = TypeVar("T")
R = TypeVar("R")

_pool_thread = threading.local()  # .active is True in map_concurrent worker threads


class _Cancelled(Exception):
    """A map_concurrent item skipped because an earlier one failed."""


def map_concurrent(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]`` on a pool of ``workers`` threads.

    Results keep the input order.  Called from inside a worker (a batched or
    paginated method mapped over many ids) it runs sequentially in that worker,
    so concurrency stays bounded by the outermost pool.  The first exception
    cancels the items not yet started, waits for the running ones, and is
    re-raised.
    """
    items = list(items)
    workers = max(1, min(int(workers), len(items) or 1))
    if workers == 1 or len(items) <= 1 or getattr(_pool_thread, "active", False):
        # Nested (e.g. attendance pages inside a map over lessons): run in the calling
        # worker, so the total stays bounded by the outer pool instead of multiplying.
        return [fn(x) for x in items]
    stop = threading.Event()

    def run(x: T) -> R:
        if stop.is_set():
            raise _Cancelled()
        _pool_thread.active = True
        return fn(x)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="liveclass-api")
    try:
        futures = [pool.submit(run, x) for x in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if pending:  # an exception happened: stop the rest
            stop.set()
            for f in pending:
                f.cancel()
        first: BaseException | None = None
        for f in futures:
            if f.done() and not f.cancelled():
                exc = f.exception()
                if exc is not None and not isinstance(exc, _Cancelled):
                    first = exc
                    break
        if first is None and not pending:
            return [f.result() for f in futures]
        if first is None:  # pragma: no cover - only _Cancelled seen
            wait(futures)
            for f in futures:
                if not f.cancelled() and f.exception() is not None and not isinstance(f.exception(), _Cancelled):
                    first = f.exception()
                    break
        raise first  # type: ignore[misc]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
