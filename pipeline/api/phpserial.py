"""PHP ``serialize()`` / ``unserialize()`` for the signMsg codec.

Why our own and not the ``phpserialize`` package: ``phpserialize.dumps`` is
fine, but its ``loads`` accepts ``b:2;``, ignores trailing bytes and has no
bound on nesting or declared lengths.  A server decodes attacker-controlled
bytes here (after the MAC check, but a leaked secret must not become a remote
code path), so the unserializer is a small strict recursive-descent parser
that only knows the scalar and array types the API uses: ``N; b: i: d: s: a:``.
Objects, references and custom classes (``O: C: r: R: E:``) are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_LENGTH = 8 * 1024 * 1024  # declared string length / array count bound


class PhpSerializeError(ValueError):
    """Input that is not a PHP serialization this codec accepts."""


def dumps(value: Any) -> bytes:
    """Serialize like PHP 7/8 ``serialize()``; lengths are UTF-8 byte counts."""
    out: list[bytes] = []
    _dump(value, out, 0)
    return b"".join(out)


def _dump(value: Any, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PhpSerializeError("nesting too deep to serialize")
    if value is None:
        out.append(b"N;")
    elif value is True:
        out.append(b"b:1;")
    elif value is False:
        out.append(b"b:0;")
    elif isinstance(value, int):
        out.append(b"i:%d;" % value)
    elif isinstance(value, float):
        out.append(b"d:" + _php_float(value).encode() + b";")
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out.append(b's:%d:"%s";' % (len(raw), raw))
    elif isinstance(value, bytes):
        out.append(b's:%d:"%s";' % (len(value), value))
    elif isinstance(value, Mapping):
        out.append(b"a:%d:{" % len(value))
        for k, v in value.items():
            _dump_key(k, out)
            _dump(v, out, depth + 1)
        out.append(b"}")
    elif isinstance(value, (list, tuple)):
        out.append(b"a:%d:{" % len(value))
        for i, v in enumerate(value):
            out.append(b"i:%d;" % i)
            _dump(v, out, depth + 1)
        out.append(b"}")
    else:
        raise PhpSerializeError(f"cannot serialize a value of type {type(value).__name__}")


_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")


def _dump_key(key: Any, out: list[bytes]) -> None:
    # PHP casts decimal-integer string keys to int keys ("5" -> i:5;), bools to 0/1.
    if isinstance(key, bool):
        out.append(b"i:%d;" % int(key))
    elif isinstance(key, int):
        out.append(b"i:%d;" % key)
    elif isinstance(key, str):
        if _INT_KEY.match(key) and -(2**63) <= int(key) < 2**63:
            out.append(b"i:%d;" % int(key))
        else:
            raw = key.encode("utf-8")
            out.append(b's:%d:"%s";' % (len(raw), raw))
    else:
        raise PhpSerializeError(f"cannot use a key of type {type(key).__name__}")


def _php_float(x: float) -> str:
    # PHP >= 7.1 uses serialize_precision=-1: the shortest round-trip repr.
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    r = repr(x)
    if "e" in r:
        mant, exp = r.split("e")
        sign = "-" if exp.startswith("-") else "+"
        r = f"{mant}E{sign}{int(exp.lstrip('+-'))}"
    return r


# --------------------------------------------------------------------------
# Strict unserializer


_FORBIDDEN = frozenset(b"OCrRE")
_NUM = re.compile(rb"-?[0-9]+")
_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-?INF|NAN")


def loads(data: bytes, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH) -> Any:
    """Parse one PHP serialized value, refusing anything outside the safe subset.

    Arrays whose keys are exactly 0..n-1 in order become lists; other arrays
    become dicts with int or str keys.  Strings are decoded as UTF-8.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PhpSerializeError("input must be bytes")
    buf = bytes(data)
    value, pos = _Parser(buf, max_depth, max_length).value(0, 0)
    if pos != len(buf):
        raise PhpSerializeError(f"trailing bytes after the value at offset {pos}")
    return value


class _Parser:
    __slots__ = ("buf", "n", "max_depth", "max_length")

    def __init__(self, buf: bytes, max_depth: int, max_length: int):
        self.buf = buf
        self.n = len(buf)
        self.max_depth = max_depth
        self.max_length = max_length

    def _fail(self, why: str, pos: int) -> PhpSerializeError:
        return PhpSerializeError(f"{why} at offset {pos}")

    def _int_until(self, pos: int, end: bytes) -> tuple[int, int]:
        m = _NUM.match(self.buf, pos)
        if not m or self.buf[m.end() : m.end() + 1] != end:
            raise self._fail("bad integer", pos)
        digits = m.group()
        if len(digits) > 20:
            raise self._fail("integer too long", pos)
        return int(digits), m.end() + 1

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        buf = self.buf
        if pos + 1 >= self.n:
            raise self._fail("unexpected end of input", pos)
        t = buf[pos]
        if t in _FORBIDDEN:
            raise self._fail(f"refused PHP type {chr(t)!r} (objects and references are not accepted)", pos)
        if t == 0x4E:  # N
            if buf[pos + 1 : pos + 2] != b";":
                raise self._fail("bad null", pos)
            return None, pos + 2
        if buf[pos + 1] != 0x3A:  # ':'
            raise self._fail("expected ':'", pos + 1)
        pos += 2
        if t == 0x69:  # i
            v, pos = self._int_until(pos, b";")
            if not -(2**63) <= v < 2**63:
                raise self._fail("integer out of 64-bit range", pos)
            return v, pos
        if t == 0x62:  # b
            flag = buf[pos : pos + 2]
            if flag == b"0;":
                return False, pos + 2
            if flag == b"1;":
                return True, pos + 2
            raise self._fail("boolean must be 0 or 1", pos)
        if t == 0x64:  # d
            m = _FLOAT.match(buf, pos)
            if not m or buf[m.end() : m.end() + 1] != b";":
                raise self._fail("bad float", pos)
            return float(m.group().replace(b"NAN", b"nan").replace(b"INF", b"inf")), m.end() + 1
        if t == 0x73:  # s
            length, pos = self._int_until(pos, b":")
            if length < 0 or length > self.max_length:
                raise self._fail("declared string length out of bounds", pos)
            end = pos + 1 + length
            if buf[pos : pos + 1] != b'"' or end + 2 > self.n or buf[end : end + 2] != b'";':
                raise self._fail("string length does not match its content", pos)
            try:
                return buf[pos + 1 : end].decode("utf-8"), end + 2
            except UnicodeDecodeError:
                raise self._fail("string is not valid UTF-8", pos) from None
        if t == 0x61:  # a
            if depth >= self.max_depth:
                raise self._fail("arrays nested too deeply", pos)
            count, pos = self._int_until(pos, b":")
            if count < 0 or count > self.max_length or count > (self.n - pos) // 4:
                raise self._fail("declared array size out of bounds", pos)
            if buf[pos : pos + 1] != b"{":
                raise self._fail("expected '{'", pos)
            pos += 1
            out: dict[Any, Any] = {}
            is_list = True
            for i in range(count):
                kt = buf[pos : pos + 1]
                if kt == b"i":
                    key, pos = self.value(pos, depth + 1)
                elif kt == b"s":
                    key, pos = self.value(pos, depth + 1)
                else:
                    raise self._fail("array key must be an int or a string", pos)
                if key in out:
                    raise self._fail("duplicate array key", pos)
                if is_list and key != i or type(key) is not int:
                    is_list = False
                out[key], pos = self.value(pos, depth + 1)
            if buf[pos : pos + 1] != b"}":
                raise self._fail("expected '}'", pos)
            return (list(out.values()) if is_list else out), pos + 1
        raise self._fail(f"unknown type {chr(t)!r}", pos - 2)
