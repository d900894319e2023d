"""One HTTP POST of a form, inside a deadline and a body-size limit.

``requests``' (connect, read) timeouts bound each connect and each socket read,
not the exchange: a server that trickles its answer, every few bytes within the
read timeout, keeps ``response.content`` reading for as long as it likes.  So
both timeouts are cut to the time left before the call's deadline, and the body
is streamed (``stream=True``) one socket read at a time (urllib3 2's
``read1``), each read's timeout cut again to the time left; at the deadline the
attempt fails with kind ``deadline``.  Outside this control, and small: urllib3
grants the (cut) connect timeout to each resolved address in turn, and the
status line and headers are read under the timeout cut when the request left.

The body is refused once it exceeds ``max_body_bytes`` (a declared
``Content-Length`` above the limit is refused before reading): a protocol
error, not retried (kind ``too_large``).  A connection whose answer was not
read to the end is closed, never returned to the pool.

Failures come back as :class:`~.classify.Failure` values, built from the
exception's text (it names the URL at most, never a body), so no exception
chain leads back to the request that holds the signMsg.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

import requests
import urllib3.exceptions as u3
from requests.adapters import HTTPAdapter

from .classify import Failure
from .errors import ApiError, TransientError

__all__ = ["Answer", "Transport"]

_CHUNK = 64 * 1024
_MIN_TIMEOUT = 0.05  # seconds an attempt gets even when it starts just before the deadline


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport:
    """POSTs forms on one pooled ``requests.Session`` (its own unless one is given)."""

    def __init__(self, timeout: tuple[float, float], max_body_bytes: int, *, pool_size: int = 10,
                 session: requests.Session | None = None):
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be >= 1")
        self.connect_timeout, self.read_timeout = (float(t) for t in timeout)
        self.max_body_bytes = int(max_body_bytes)
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 10), max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def post(self, url: str, path: str, form: Mapping[str, str], deadline: float) -> Answer | Failure:
        """POST ``form`` to ``url``; the answer, or the failure, by the monotonic ``deadline``
        (an attempt started just before it still gets ``_MIN_TIMEOUT``)."""
        now = time.monotonic()
        deadline = max(deadline, now + _MIN_TIMEOUT)
        left = deadline - now
        timeout = (min(self.connect_timeout, left), min(self.read_timeout, left))
        try:
            resp = self.session.post(url, data=form, timeout=timeout, allow_redirects=False, stream=True)
        except requests.Timeout as exc:
            if isinstance(exc, requests.ConnectTimeout):
                return Failure("connect_timeout", TransientError(f"connect timeout: {_text(exc)}", path=path))
            if left < self.read_timeout:
                return _late(path, None, "no answer")
            return Failure("timeout", TransientError(f"timeout: {_text(exc)}", path=path))
        except requests.ConnectionError as exc:
            kind = "connect_failed" if _never_sent(exc) else "connection"
            return Failure(kind, TransientError(f"connection error: {_text(exc)}", path=path))
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            return Failure("config", ApiError(f"bad URL: {_text(exc)}", path=path))
        except requests.RequestException as exc:
            return Failure("transport", TransientError(f"transport error: {_text(exc)}", path=path))
        body = self._read(resp, path, deadline)
        if isinstance(body, Failure):
            resp.close()  # unread bytes on the socket: never back to the pool
            return body
        return Answer(resp.status_code, resp.headers, body)

    def _read(self, resp: requests.Response, path: str, deadline: float) -> bytes | Failure:
        limit = self.max_body_bytes
        status = resp.status_code
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return _too_large(path, status, limit, f"Content-Length {declared}")
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _late(path, status, f"the answer was still arriving ({size} bytes read)")
            sock = getattr(raw.connection, "sock", None)
            if sock is not None:  # this read, too, ends by the deadline
                sock.settimeout(min(self.read_timeout, left))
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except u3.ReadTimeoutError as exc:
                if left < self.read_timeout:
                    return _late(path, status, f"the answer was still arriving ({size} bytes read)")
                return Failure("timeout", TransientError(f"timeout: {_text(exc)}", path=path, http_status=status))
            except (u3.ProtocolError, u3.DecodeError) as exc:
                return Failure("truncated", TransientError(f"incomplete response: {_text(exc)}", path=path,
                                                           http_status=status))
            except (u3.HTTPError, OSError) as exc:
                return Failure("transport", TransientError(f"transport error: {_text(exc)}", path=path,
                                                           http_status=status))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                return _too_large(path, status, limit, f"more than {limit} bytes arrived")
            chunks.append(chunk)


def _late(path: str, status: int | None, what: str) -> Failure:
    return Failure("deadline", TransientError(f"{what} at the call's deadline", path=path, http_status=status))


def _too_large(path: str, status: int, limit: int, why: str) -> Failure:
    return Failure("too_large", ApiError(
        f"response body of {path} exceeds the limit of {limit} bytes (max_body_bytes; {why})",
        path=path, http_status=status))


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection itself could not be made (refused, unreachable, name not found)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError, u3.NameResolutionError))


def _text(exc: BaseException) -> str:
    """An exception as text: names the URL at most, never a request or response body."""
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
