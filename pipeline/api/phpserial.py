"""PHP ``serialize()`` / ``unserialize()`` for the signMsg codec.

Why our own and not the ``phpserialize`` package: ``phpserialize.dumps`` is
fine, but its ``loads`` accepts ``b:2;``, ignores trailing bytes and has no
bound on nesting or declared lengths.  A server decodes attacker-controlled
bytes here (after the MAC check, but a leaked secret must not become a remote
code path), so the unserializer is a small strict parser that only knows the
scalar and array types the API uses: ``N; b: i: d: s: a:``.  Objects,
references and custom classes (``O: C: r: R: E:``) are refused.

Strictness of :func:`loads` (tighter than PHP, which is lenient):

* only the canonical forms PHP's ``serialize()`` writes: ``b:0;``/``b:1;``,
  integers without ``+``, leading zeros or ``-0``, 64-bit range;
* declared string lengths and array counts are bounded (``max_length`` and the
  bytes actually left), nesting depth is bounded (``max_depth``);
* strings must be valid UTF-8; duplicate array keys are refused;
* nothing may follow the value.

Arrays whose keys are exactly ``0..n-1`` in order decode to lists; decimal
integer string keys become int keys, as PHP does (``"5"`` -> ``5``).

Both directions have fast paths for what the API sends most (flat maps with
short ASCII keys, lists of ints); every fast path falls back to the general
code on anything it does not fully recognise, so it never changes a result.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_LENGTH = 8 * 1024 * 1024  # declared string length / array count bound

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1


class PhpSerializeError(ValueError):
    """Input that is not a PHP serialization this codec accepts."""


# --------------------------------------------------------------------------
# serialize()


def dumps(value: Any) -> bytes:
    """Serialize like PHP 7/8 ``serialize()``; lengths are UTF-8 byte counts.

    Python lists and tuples become PHP arrays keyed ``0..n-1``; decimal integer
    string keys become int keys (PHP casts them).  Arrays may nest at most
    :data:`MAX_DEPTH` deep, the same bound :func:`loads` enforces.
    """
    try:
        parts: list[str] = []
        _fast(value, parts, 0)
        return "".join(parts).encode("utf-8")
    except _Fallback:
        pass
    except UnicodeEncodeError:
        raise PhpSerializeError("a string is not encodable as UTF-8 (lone surrogate)") from None
    out: list[bytes] = []
    _dump(value, out, 0)
    return b"".join(out)


class _Fallback(Exception):
    """Raised by the fast serializer for anything it leaves to :func:`_dump`."""


_LIST_TEMPLATES: dict[int, str] = {}


def _list_template(n: int) -> str:
    t = _LIST_TEMPLATES.get(n)
    if t is None:
        t = "".join(f"i:{i};i:%d;" for i in range(n))
        if n <= 4096 and len(_LIST_TEMPLATES) < 512:
            _LIST_TEMPLATES[n] = t
    return t


def _fast(value: Any, out: list[str], depth: int) -> None:
    """Serialize common shapes into ``str`` parts; raise _Fallback otherwise.

    ASCII-only strings have ``len() ==`` their UTF-8 byte length (other text
    is encoded once more to count).  Anything else (bytes, floats,
    numeric-looking or non-str keys, big ints, other types) goes to the
    general serializer.
    """
    if depth >= MAX_DEPTH:
        raise _Fallback
    tv = type(value)
    if tv is dict:
        append = out.append
        append(f"a:{len(value)}:{{")
        for k, v in value.items():
            if type(k) is not str or not k or k[0] in "-0123456789":
                raise _Fallback
            append(f's:{len(k) if k.isascii() else len(k.encode("utf-8"))}:"{k}";')
            tv = type(v)
            if tv is int:
                if not _INT_MIN <= v <= _INT_MAX:
                    raise _Fallback
                append(f"i:{v};")
            elif tv is str:
                append(f's:{len(v) if v.isascii() else len(v.encode("utf-8"))}:"{v}";')
            elif v is None:
                append("N;")
            elif tv is bool:
                append("b:1;" if v else "b:0;")
            else:
                _fast(v, out, depth + 1)
        out.append("}")
    elif tv is list or tv is tuple:
        n = len(value)
        if n and set(map(type, value)) == {int}:
            if min(value) < _INT_MIN or max(value) > _INT_MAX:
                raise _Fallback
            out.append(f"a:{n}:{{{_list_template(n) % tuple(value)}}}")
            return
        out.append(f"a:{n}:{{")
        for i, v in enumerate(value):
            out.append(f"i:{i};")
            _fast(v, out, depth + 1)
        out.append("}")
    elif tv is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise _Fallback
        out.append(f"i:{value};")
    elif tv is str:
        n = len(value) if value.isascii() else len(value.encode("utf-8"))
        out.append(f's:{n}:"{value}";')
    elif value is None:
        out.append("N;")
    elif tv is bool:
        out.append("b:1;" if value else "b:0;")
    else:
        raise _Fallback


def _dump(value: Any, out: list[bytes], depth: int) -> None:
    if value is None:
        out.append(b"N;")
    elif value is True:
        out.append(b"b:1;")
    elif value is False:
        out.append(b"b:0;")
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise PhpSerializeError("integer out of PHP's 64-bit range")
        out.append(b"i:%d;" % value)
    elif isinstance(value, float):
        out.append(b"d:" + _php_float(value).encode("ascii") + b";")
    elif isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise PhpSerializeError("a string is not encodable as UTF-8 (lone surrogate)") from None
        out.append(b's:%d:"%s";' % (len(raw), raw))
    elif isinstance(value, (bytes, bytearray)):
        out.append(b's:%d:"%s";' % (len(value), bytes(value)))
    elif isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            raise PhpSerializeError("arrays nested too deeply to serialize")
        out.append(b"a:%d:{" % len(value))
        seen: set[bytes] = set()
        for k, v in value.items():
            key = _dump_key(k)
            if key in seen:  # e.g. "5" and 5: PHP would keep only one
                raise PhpSerializeError("two keys become the same PHP array key")
            seen.add(key)
            out.append(key)
            _dump(v, out, depth + 1)
        out.append(b"}")
    elif isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise PhpSerializeError("arrays nested too deeply to serialize")
        out.append(b"a:%d:{" % len(value))
        for i, v in enumerate(value):
            out.append(b"i:%d;" % i)
            _dump(v, out, depth + 1)
        out.append(b"}")
    else:
        raise PhpSerializeError(f"cannot serialize a value of type {type(value).__name__}")


_INT_KEY = re.compile(r"0|-?[1-9][0-9]*")


def _php_int_key(key: str) -> int | None:
    """The int PHP casts a string array key to, or None if it stays a string."""
    if _INT_KEY.fullmatch(key):  # fullmatch: "5\n" stays a string key, as in PHP
        k = int(key)
        if _INT_MIN <= k <= _INT_MAX:
            return k
    return None


def _dump_key(key: Any) -> bytes:
    # PHP casts decimal-integer string keys to int keys ("5" -> i:5;), bools to 0/1.
    if isinstance(key, bool):
        return b"i:%d;" % int(key)
    if isinstance(key, int):
        if not _INT_MIN <= key <= _INT_MAX:
            raise PhpSerializeError("integer key out of PHP's 64-bit range")
        return b"i:%d;" % key
    if isinstance(key, str):
        k = _php_int_key(key) if key[:1] in _NUM_START_STR and key else None
        if k is not None:
            return b"i:%d;" % k
        try:
            raw = key.encode("utf-8")
        except UnicodeEncodeError:
            raise PhpSerializeError("a key is not encodable as UTF-8 (lone surrogate)") from None
        return b's:%d:"%s";' % (len(raw), raw)
    raise PhpSerializeError(f"cannot use a key of type {type(key).__name__}")


_NUM_START_STR = "-0123456789"


def _php_float(x: float) -> str:
    """PHP >= 7.1 ``serialize()`` of a float (serialize_precision = -1).

    The shortest round-trip digits (what ``repr`` finds), laid out like PHP's
    ``zend_gcvt(value, 17, '.', 'E')``: exponential when the decimal exponent
    is below -4 or above 16, with at least one digit after the point.
    """
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    stripped = digits.lstrip("0")
    decpt = len(ip) + (int(exp) if exp else 0) - (len(digits) - len(stripped))
    digits = stripped.rstrip("0") or "0"
    if decpt < -3 or decpt > 17:
        e = decpt - 1
        return f"{sign}{digits[0]}.{digits[1:] or '0'}E{'+' if e >= 0 else '-'}{abs(e)}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    if len(digits) <= decpt:
        return sign + digits + "0" * (decpt - len(digits))
    return f"{sign}{digits[:decpt]}.{digits[decpt:]}"


# --------------------------------------------------------------------------
# Strict unserializer

_FORBIDDEN = frozenset(b"OCrRE")
_UINT = rb"(0|[1-9][0-9]{0,18})"
_SINT = rb"(0|-?[1-9][0-9]{0,18})"
_FLOAT = rb"(-?(?:[0-9]+(?:\.[0-9]+)?(?:E[+-][0-9]+)?)|-?INF|NAN)"
# One token per alternative; group numbers are the token kinds used below.
_VALUE = re.compile(
    rb"i:" + _SINT + rb";"  # 1 int
    rb'|s:' + _UINT + rb':"([^"]*)";'  # 2 length, 3 content (no '"' inside: fast)
    rb'|s:' + _UINT + rb':"'  # 4 length (content to be cut by length)
    rb"|a:" + _UINT + rb":\{"  # 5 count
    rb"|b:([01]);"  # 6 bool
    rb"|d:" + _FLOAT + rb";"  # 7 float
    rb"|N(;)"  # 8 null
)
_KEY_TOKEN = re.compile(
    rb"i:" + _SINT + rb";"  # 1 int key
    rb'|s:' + _UINT + rb':"([^"]*)";'  # 2, 3 string key
    rb'|s:' + _UINT + rb':"'  # 4 string key with '"' inside
)
# The most common array entry in one match: a quote-free string key with an
# int or quote-free string value.
_ENTRY = re.compile(
    rb's:' + _UINT + rb':"([^"]*)";'  # 1 key length, 2 key bytes
    rb"(?:i:" + _SINT + rb";"  # 3 int value
    rb'|s:' + _UINT + rb':"([^"]*)";)'  # 4 length, 5 string value
)
_NUM_START = frozenset(b"-0123456789")  # a key starting so may be PHP-numeric
_INT_LIST_MIN = 8  # arrays at least this long try the int-list fast path


def _no_match(buf: bytes, pos: int) -> None:
    return None


def loads(data: bytes, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH) -> Any:
    """Parse one PHP serialized value, refusing anything outside the safe subset.

    Arrays whose keys are exactly 0..n-1 in order become lists; other arrays
    become dicts with int or str keys.  Strings are decoded as UTF-8.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise PhpSerializeError("input must be bytes")
        data = bytes(data)
    value, pos = _Parser(data, max_depth, max_length).value(0, 0)
    if pos != len(data):
        raise PhpSerializeError(f"trailing bytes after the value at offset {pos}")
    return value


class _Parser:
    __slots__ = ("buf", "n", "max_depth", "max_length", "quick")

    def __init__(self, buf: bytes, max_depth: int, max_length: int):
        self.buf = buf
        self.n = len(buf)
        self.max_depth = max_depth
        self.max_length = max_length
        # Strings taken without a length check cannot exceed max_length if the
        # whole input does not; otherwise every string goes through _string().
        self.quick = self.n <= max_length

    def _fail(self, why: str, pos: int) -> PhpSerializeError:
        return PhpSerializeError(f"{why} at offset {pos}")

    def _explain(self, pos: int, what: str) -> PhpSerializeError:
        """Why no token matched at ``pos`` (the slow, error-only path)."""
        buf = self.buf
        if pos >= self.n:
            return self._fail("unexpected end of input", pos)
        t = buf[pos]
        if t in _FORBIDDEN:
            return self._fail(f"refused PHP type {chr(t)!r} (objects and references are not accepted)", pos)
        if what == "key" and t not in b"is":
            return self._fail("array key must be an int or a string", pos)
        if t == 0x62 and buf[pos + 1 : pos + 2] == b":":
            return self._fail("boolean must be 0 or 1", pos)
        if t in b"isadbN":
            return self._fail(f"malformed {chr(t)!r} value (only PHP's canonical serialize() form is accepted)", pos)
        return self._fail(f"unknown type {chr(t)!r}", pos)

    def _string(self, length_digits: bytes, pos: int) -> tuple[str, int]:
        """Cut a string of the declared length starting at ``pos`` (after the quote)."""
        length = int(length_digits)
        if length > self.max_length:
            raise self._fail("declared string length out of bounds", pos)
        end = pos + length
        if end + 2 > self.n or self.buf[end : end + 2] != b'";':
            raise self._fail("string length does not match its content", pos)
        try:
            return self.buf[pos:end].decode("utf-8"), end + 2
        except UnicodeDecodeError:
            raise self._fail("string is not valid UTF-8", pos) from None

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        m = _VALUE.match(self.buf, pos)
        if m is None:
            raise self._explain(pos, "value")
        kind = m.lastindex
        if kind == 1:
            v = int(m.group(1))
            if not _INT_MIN <= v <= _INT_MAX:
                raise self._fail("integer out of 64-bit range", pos)
            return v, m.end()
        if kind == 3:
            raw = m.group(3)
            if len(raw) == int(m.group(2)) and self.quick:
                try:
                    return raw.decode("utf-8"), m.end()
                except UnicodeDecodeError:
                    raise self._fail("string is not valid UTF-8", pos) from None
            return self._string(m.group(2), m.start(3))
        if kind == 4:
            return self._string(m.group(4), m.end())
        if kind == 5:
            return self.array(int(m.group(5)), m.end(), depth)
        if kind == 6:
            return m.group(6) == b"1", m.end()
        if kind == 7:
            return float(m.group(7).replace(b"NAN", b"nan").replace(b"INF", b"inf")), m.end()
        return None, m.end()  # kind 8: N;

    def array(self, count: int, pos: int, depth: int) -> tuple[Any, int]:
        if depth >= self.max_depth:
            raise self._fail("arrays nested too deeply", pos)
        buf = self.buf
        # Each element needs at least 6 bytes ("i:0;N;").
        if count > self.max_length or count > (self.n - pos) // 6:
            raise self._fail("declared array size out of bounds", pos)
        if count >= _INT_LIST_MIN and buf.startswith(b"i:0;i:", pos):
            fast = self._int_list(count, pos)
            if fast is not None:
                return fast
        out: dict[Any, Any] = {}
        is_list = True
        entry_match = _ENTRY.match if self.quick else _no_match
        key_match = _KEY_TOKEN.match
        value_match = _VALUE.match
        for i in range(count):
            m = entry_match(buf, pos)
            if m is not None:
                klen, kraw, ival, slen, sraw = m.groups()
                if (
                    len(kraw) == int(klen)
                    and kraw
                    and kraw[0] not in _NUM_START
                    and (ival is not None or len(sraw) == int(slen))
                ):
                    try:
                        key: Any = kraw.decode("utf-8")
                        v: Any = int(ival) if ival is not None else sraw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise self._fail("string is not valid UTF-8", pos) from None
                    if ival is not None and not _INT_MIN <= v <= _INT_MAX:
                        raise self._fail("integer out of 64-bit range", pos)
                    if key in out:
                        raise self._fail("duplicate array key", pos)
                    out[key] = v
                    is_list = False
                    pos = m.end()
                    continue
            # General entry: any key token, then any value.
            m = key_match(buf, pos)
            if m is None:
                raise self._explain(pos, "key")
            kind = m.lastindex
            if kind == 1:
                key = int(m.group(1))
                if not _INT_MIN <= key <= _INT_MAX:
                    raise self._fail("integer key out of 64-bit range", pos)
                npos = m.end()
                if is_list and key != i:
                    is_list = False
            else:
                if kind == 3 and len(m.group(3)) == int(m.group(2)) and self.quick:
                    try:
                        key, npos = m.group(3).decode("utf-8"), m.end()
                    except UnicodeDecodeError:
                        raise self._fail("string is not valid UTF-8", pos) from None
                else:
                    key, npos = self._string(m.group(2) or m.group(4), m.start(3) if kind == 3 else m.end())
                if key and key[0] in "-0123456789":
                    as_int = _php_int_key(key)
                    if as_int is not None:
                        key = as_int  # PHP makes "5" the int key 5
                is_list = is_list and key == i and type(key) is int
            if key in out:
                raise self._fail("duplicate array key", pos)
            pos = npos
            # Inline the common scalar values; arrays and odd strings recurse.
            m = value_match(buf, pos)
            if m is None:
                raise self._explain(pos, "value")
            kind = m.lastindex
            if kind == 1:
                v = int(m.group(1))
                if not _INT_MIN <= v <= _INT_MAX:
                    raise self._fail("integer out of 64-bit range", pos)
                pos = m.end()
            elif kind == 3 and len(m.group(3)) == int(m.group(2)) and self.quick:
                try:
                    v = m.group(3).decode("utf-8")
                except UnicodeDecodeError:
                    raise self._fail("string is not valid UTF-8", pos) from None
                pos = m.end()
            elif kind == 4:
                v, pos = self._string(m.group(4), m.end())
            elif kind == 5:
                v, pos = self.array(int(m.group(5)), m.end(), depth + 1)
            else:
                v, pos = self.value(pos, depth + 1)
            out[key] = v
        if buf[pos : pos + 1] != b"}":
            raise self._fail("expected '}'", pos)
        return (list(out.values()) if is_list else out), pos + 1

    def _int_list(self, count: int, pos: int) -> tuple[list[int], int] | None:
        """``i:0;i:V0;i:1;i:V1;...}`` in bulk, or None to use the general loop.

        The chunk up to the first ``}`` may hold only digits and ``i:;-``;
        turning every ``;i:`` into ``,`` must then give a JSON array of ints
        (so every separator was exactly ``;i:``), its even items must be
        ``0..n-1`` and its odd items 64-bit; ``-0`` (the only non-canonical
        integer JSON accepts) is refused.  Anything else falls back to the
        general parser and its precise errors.
        """
        buf = self.buf
        end = buf.find(b"}", pos)
        if end < 0:
            return None
        chunk = buf[pos:end]
        if chunk.translate(None, b"0123456789i:;-") or not chunk.endswith(b";") or b"-0" in chunk:
            return None
        try:
            nums = json.loads(b"[" + chunk[2:-1].replace(b";i:", b",") + b"]")
        except ValueError:
            return None
        if len(nums) != 2 * count or nums[0::2] != _index_list(count):
            return None
        vals = nums[1::2]
        if min(vals) < _INT_MIN or max(vals) > _INT_MAX:
            return None
        return vals, end + 1


_INDEX_LISTS: dict[int, list[int]] = {}


def _index_list(n: int) -> list[int]:
    r = _INDEX_LISTS.get(n)
    if r is None:
        r = list(range(n))
        if n <= 4096 and len(_INDEX_LISTS) < 512:
            _INDEX_LISTS[n] = r
    return r
