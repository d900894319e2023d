"""What one HTTP answer of the openAPI means: the success body, or a failure.

:func:`classify` is a pure function of (path, HTTP status, headers, body bytes):
no I/O, no clock, no state.  A failure is a :class:`Failure`: its ``kind`` for
the stats and logs, and the :class:`~.errors.ApiError` to raise or retry
(``error.transient`` says which)::

    HTTP 200, JSON object, status == 1, error_code/code in (10000, absent)   success
      ... but without the ``data`` the endpoint's success carries           transient ("no_data")
    error_code 2000x                                                          AuthError, fatal
    error_code 3000x / 4000x                                                  fatal, server's msg
    error_code 50000, HTTP 5xx / 429, body not JSON or not a JSON object     transient
    any other HTTP status (4xx ...), status 0, a code Table 4 does not list  fatal

Exception texts are built from the path, codes and the server's ``msg``;
response bodies are never echoed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http.client import responses as _REASONS
from typing import Any, NamedTuple

from .catalog import BY_PATH
from .errors import SUCCESS, ApiError, TransientError, error_for_code

__all__ = ["Failure", "classify"]

_MSG_LIMIT = 300  # characters of the server's msg kept in exceptions


class Failure(NamedTuple):
    """One failed attempt: ``kind`` (``http_503``, ``bad_json``, ``auth``, ``timeout`` ...) and the error."""

    kind: str
    error: ApiError


def classify(path: str, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | Failure:
    """The decoded body of a successful answer, or the :class:`Failure` it is.

    ``headers`` are looked up without regard to case.
    """
    if status == 429 or status >= 500:
        return Failure(f"http_{status}", TransientError(
            _http_text(status), path=path, http_status=status,
            retry_after=_retry_after(_header(headers, "retry-after"))))
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if not 200 <= status < 300:
        code = _code(doc) if isinstance(doc, dict) else None
        if code is not None and 20000 <= code < 50000:
            err = error_for_code(code, _server_msg(doc), path, status)
        else:
            err = ApiError(_http_text(status), error_code=code, path=path, http_status=status)
        return Failure(f"http_{status}", err)
    if not isinstance(doc, dict):
        what = "not valid JSON" if doc is None else "JSON but not an object"
        ctype = (_header(headers, "content-type") or "").split(";", 1)[0].strip().lower()[:60]
        err = TransientError(f"response body is {what} ({len(body)} bytes{', ' + ctype if ctype else ''})",
                             path=path, http_status=status)
        err.content_type = ctype  # lets a preflight tell "a web page answered" from a flaky server
        return Failure("bad_json", err)
    code = _code(doc)
    state = _as_int(doc.get("status"))
    if state == 1 and code in (None, SUCCESS):
        endpoint = BY_PATH.get(path)
        if endpoint is not None and endpoint.answers_data and doc.get("data") is None:
            # "success" with nothing in it: a platform or proxy fault, never an honest empty answer
            # (that is [] or {} or a count of 0); read as "nothing happened" it would drop data
            return Failure("no_data", TransientError(
                f"answered success (status 1) without its data ({'null' if 'data' in doc else 'missing'})",
                path=path, http_status=status))
        return doc
    if code is not None and code != SUCCESS:
        kind = "auth" if 20000 <= code < 30000 else f"error_{code}"
        return Failure(kind, error_for_code(code, _server_msg(doc) or "error", path, status))
    if state is None:
        return Failure("bad_body", TransientError("response has no status field", path=path, http_status=status))
    return Failure("status_0", ApiError(_server_msg(doc) or f"status={doc.get('status')!r}", error_code=code,
                                        path=path, http_status=status))


def _http_text(status: int) -> str:
    return f"HTTP {status} {_REASONS.get(status, '')}".rstrip()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: look the name up without regard to case
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # HTTP-date form: ignored, the normal backoff applies
    return seconds if seconds >= 0 else None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _code(doc: Mapping[str, Any]) -> int | None:
    """``error_code``, or ``code`` (API 34 answers with ``code``)."""
    return _as_int(doc.get("error_code", doc.get("code")))


def _server_msg(doc: Mapping[str, Any]) -> str:
    msg = doc.get("msg")
    if msg is None:
        return ""
    text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)[:_MSG_LIMIT]
    return text[:_MSG_LIMIT]
