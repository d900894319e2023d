"""Which limiter a client uses: :func:`make_limiter`, chosen by a path or URL.

Its own module so that :mod:`.ratelimit` (the buckets) and :mod:`.ratelimit_redis`
(the Redis limiter, built on them; ``redis`` is optional and imported only for a
``redis://`` URL) import no circle.
"""

from __future__ import annotations

import os

from .ratelimit import FileBucket, TokenBucket

__all__ = ["make_limiter"]


def make_limiter(rate_per_second: float | None, where: str | os.PathLike | None = None, burst: int = 1, *,
                 key: str = ""):
    """The limiter a client uses, chosen by ``where``:

    * nothing: a thread bucket (:class:`TokenBucket`) if there is a rate, else None (no limit);
    * a path, or a ``file:///path`` URL: a :class:`FileBucket` there (its folder created), shared by
      every process of the host;
    * ``redis://host:port/db`` (or ``rediss://``; ``?burst=N`` sets the burst): a
      :class:`~.ratelimit_redis.RedisLimiter` keyed by ``key`` (the applicationID), shared by every process
      of every host (``redis`` is imported only then).

    A shared bucket already serialises the threads of its own process, so it is used alone (it is the
    stricter of the two).
    """
    if where:
        if not rate_per_second:
            raise ValueError("a shared rate limit (rate_limit_file or rate_limit_url) needs rate_limit_per_second")
        where = os.fspath(where)
        scheme, sep, rest = where.partition("://")
        scheme = scheme.lower() if sep else ""
        if scheme in ("redis", "rediss"):
            from .ratelimit_redis import RedisLimiter, split_burst

            where, burst = split_burst(where, burst)
            return RedisLimiter(where, key, rate_per_second, burst)
        if scheme == "file":
            from urllib.parse import unquote, urlsplit

            parts = urlsplit(where)
            if parts.netloc not in ("", "localhost"):
                raise ValueError(f"a file:// rate limit is on this host: file:///path, not {where!r}")
            where = unquote(parts.path)
        elif scheme:
            raise ValueError(f"rate limit URL {scheme}://...: expected a path, file:///path or redis://host:port/db")
        return FileBucket(where, rate_per_second, burst)
    if rate_per_second:
        return TokenBucket(rate_per_second, burst)
    return None
