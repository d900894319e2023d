"""A request body's form fields, read as PHP fills ``$_POST``: urlencoded and multipart/form-data.

* ``application/x-www-form-urlencoded`` (any parameters, e.g. ``; charset=...``), or no
  Content-Type at all: ``name=value&...``, percent-decoded, ``+`` as a space;
* ``multipart/form-data; boundary=B`` (what PHP's curl sends for an array of fields, and what
  ``requests`` sends with ``files=``): the parts' ``Content-Disposition: form-data; name="..."``
  values, raw bytes.  A part with a ``filename`` is a file upload (PHP's ``$_FILES``, not
  ``$_POST``) and is skipped, as are parts without a name; a missing boundary, a missing closing
  delimiter or a malformed part ends the form where PHP's parser gives up (the fields read so
  far are kept);
* any other Content-Type: no fields (PHP leaves ``$_POST`` empty).

Field values are decoded as UTF-8 (invalid bytes replaced: the two fields the protocol reads,
``applicationID`` and ``signMsg``, are ASCII when valid).  The last of repeated fields wins, as
in PHP.  More than ``max_fields`` fields: ``None`` (the server answers 40003).  Imports nothing.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

__all__ = ["parse_form"]

_URLENCODED = b"application/x-www-form-urlencoded"
_MULTIPART = b"multipart/form-data"
_PARAM = re.compile(rb'(?:^|;)\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _params(header_value: bytes) -> dict[bytes, bytes]:
    """``type; a=1; b="x y"`` -> {b"a": b"1", b"b": b"x y"} (keys lower-cased, quotes and escapes undone)."""
    _, _, rest = header_value.partition(b";")
    out: dict[bytes, bytes] = {}
    for m in _PARAM.finditer(b";" + rest):
        key = m.group(1).lower()
        if m.group(2) is not None:
            out.setdefault(key, re.sub(rb"\\(.)", rb"\1", m.group(2)))
        else:
            out.setdefault(key, m.group(3).strip())
    return out


def parse_form(content_type: bytes, body: bytes, max_fields: int) -> dict[str, str] | None:
    """The form fields of ``body`` (see the module docstring); None when there are more than ``max_fields``."""
    mime = content_type.split(b";", 1)[0].strip().lower() if content_type else _URLENCODED
    if mime == _URLENCODED:
        return _urlencoded(body, max_fields)
    if mime == _MULTIPART:
        boundary = _params(content_type).get(b"boundary", b"")
        return _multipart(boundary, body, max_fields) if boundary else {}
    return {}


def _urlencoded(body: bytes, max_fields: int) -> dict[str, str] | None:
    if not body:
        return {}
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace",
                          max_num_fields=max_fields)
    except ValueError:
        return None
    return dict(pairs)


def _multipart(boundary: bytes, body: bytes, max_fields: int) -> dict[str, str] | None:
    delim = b"--" + boundary
    if body.startswith(delim):
        pos = 0
    else:  # a preamble before the first delimiter is ignored
        pos = body.find(b"\r\n" + delim)
        if pos < 0:
            return {}
        pos += 2
    fields: dict[str, str] = {}
    count = 0
    while True:
        pos += len(delim)
        if body.startswith(b"--", pos):  # the closing delimiter
            break
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):  # only transport padding may follow a delimiter
            break
        start = eol + 2
        nxt = body.find(b"\r\n" + delim, start)
        if nxt < 0:  # an unterminated part
            break
        head, sep, value = body[start:nxt].partition(b"\r\n\r\n")
        name, is_file = _disposition(head) if sep else (None, False)
        if name is not None and not is_file:
            count += 1
            if count > max_fields:
                return None
            fields[name] = value.decode("utf-8", "replace")
        pos = nxt + 2
    return fields


def _disposition(head: bytes) -> tuple[str | None, bool]:
    """(the part's field name, whether it is a file) from its headers."""
    for line in head.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == b"content-disposition":
            params = _params(value.strip())
            name = params.get(b"name")
            return (None if name is None else name.decode("utf-8", "replace")), b"filename" in params
    return None, False
