"""PHP serialize()/unserialize(): vectors from real PHP, strictness, fast paths."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path

import phpserialize
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.api import phpserial
from pipeline.api.phpserial import PhpSerializeError, dumps, loads
from tests.api.phpvalues import from_typed, strict

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "php_sign_vectors.json").read_text("utf-8"))
INT64 = st.integers(-(2**63), 2**63 - 1)


# --------------------------------------------------------------------------
# Vectors produced by PHP (tests/fixtures/make_php_vectors.php)


@pytest.mark.parametrize("case", VECTORS["sign"], ids=lambda c: f"{c['name']}/{c['iv_hex'][:4]}")
def test_serialize_matches_php(case):
    value = from_typed(case["params"])
    php = base64.b64decode(case["serialized_b64"])
    assert dumps(value) == php
    assert strict(loads(php)) == strict(value)


@pytest.mark.parametrize("case", VECTORS["floats"], ids=lambda c: c["serialized"])
def test_float_format_matches_php(case):
    x = struct.unpack(">d", bytes.fromhex(case["hex"]))[0]
    assert dumps(x).decode() == case["serialized"]
    back = loads(case["serialized"].encode())
    if math.isnan(x):
        assert math.isnan(back)
    else:
        assert back == x and math.copysign(1, back) == math.copysign(1, x)


def test_document_examples():
    assert dumps({"lessonId": 10384374, "diskId": 356}) == b'a:2:{s:8:"lessonId";i:10384374;s:6:"diskId";i:356;}'
    assert dumps("张一") == 's:6:"张一";'.encode()
    assert dumps({"lesson_id": [10001, 10002]}) == b'a:1:{s:9:"lesson_id";a:2:{i:0;i:10001;i:1;i:10002;}}'
    assert dumps({"studentId": "[1234,3456]"}) == b'a:1:{s:9:"studentId";s:11:"[1234,3456]";}'
    assert dumps("1") == b's:1:"1";' and dumps(1) == b"i:1;"
    assert dumps(None) == b"N;" and dumps(True) == b"b:1;" and dumps(False) == b"b:0;"


# --------------------------------------------------------------------------
# serialize()


@pytest.mark.parametrize(
    "key, expected",
    [
        ("5", b"i:5;"),
        ("-3", b"i:-3;"),
        ("0", b"i:0;"),
        ("05", b's:2:"05";'),
        ("-0", b's:2:"-0";'),
        ("5\n", b's:2:"5\n";'),
        (" 5", b's:2:" 5";'),
        ("+5", b's:2:"+5";'),
        ("9223372036854775807", b"i:9223372036854775807;"),
        ("9223372036854775808", b's:19:"9223372036854775808";'),
        ("-9223372036854775808", b"i:-9223372036854775808;"),
        ("-9223372036854775809", b's:20:"-9223372036854775809";'),
        ("", b's:0:"";'),
        (True, b"i:1;"),
        (7, b"i:7;"),
    ],
)
def test_keys_are_cast_like_php(key, expected):
    assert dumps({key: None}) == b"a:1:{" + expected + b"N;}"


def test_lists_tuples_and_mappings():
    assert dumps([]) == b"a:0:{}" == dumps({})
    assert dumps((1, "a")) == b'a:2:{i:0;i:1;i:1;s:1:"a";}'
    assert dumps(list(range(3))) == b"a:3:{i:0;i:0;i:1;i:1;i:2;i:2;}"
    from collections import OrderedDict

    assert dumps(OrderedDict(b=1, a=2)) == b'a:2:{s:1:"b";i:1;s:1:"a";i:2;}'
    assert dumps(b"\xff") == b's:1:"\xff";'


@pytest.mark.parametrize(
    "value, why",
    [
        (2**63, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        ([2**63] * 10, "64-bit"),
        ({2**64: 1}, "64-bit"),
        ({"k": 2**63}, "64-bit"),
        ({"5": 1, 5: 2}, "same PHP array key"),
        ({"x": object()}, "cannot serialize"),
        ({1.5: 1}, "key of type float"),
        ({"x": "\ud800"}, "surrogate"),
        ({"\udfff": 1}, "surrogate"),
        ({"x": {1, 2}}, "cannot serialize"),
    ],
)
def test_dumps_refuses(value, why):
    with pytest.raises(PhpSerializeError, match=why):
        dumps(value)


def test_nesting_bound_is_the_same_both_ways():
    def nest(n):
        v = None
        for _ in range(n):
            v = [v]
        return v

    ok = nest(phpserial.MAX_DEPTH)
    assert loads(dumps(ok)) == ok
    with pytest.raises(PhpSerializeError, match="nested too deeply"):
        dumps(nest(phpserial.MAX_DEPTH + 1))
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(PhpSerializeError, match="nested too deeply"):
        dumps(cyclic)


# --------------------------------------------------------------------------
# unserialize(): accepted forms


def test_loads_shapes():
    assert loads(b'a:2:{i:0;s:1:"a";i:1;i:2;}') == ["a", 2]
    assert loads(b"a:2:{i:1;s:1:\"a\";i:0;i:2;}") == {1: "a", 0: 2}  # order matters for lists
    assert loads(b"a:1:{i:1;N;}") == {1: None}
    assert loads(b"a:0:{}") == []
    assert loads(b'a:1:{s:1:"5";i:1;}') == {5: 1}  # PHP makes "5" an int key
    assert loads(b'a:1:{s:1:"0";i:1;}') == [1]
    assert loads(b'a:1:{s:2:"05";i:1;}') == {"05": 1}
    assert loads(b"d:0.5;") == 0.5 and loads(b"d:-INF;") == -math.inf
    assert loads(bytearray(b"i:1;")) == 1 and loads(memoryview(b"b:0;")) is False


@pytest.mark.parametrize(
    "text",
    ['a";b', '";', 'x";s:1:"y', "\"", '"}', "a:1:{", "{}", '\n"\0', "张\"一", '";i:1;'],
)
def test_strings_with_quotes_round_trip(text):
    for value in (text, {"k": text}, {text: text}, [text] * 9, {"a": [text, {"b": text}]}):
        assert loads(dumps(value)) == value


# --------------------------------------------------------------------------
# unserialize(): strictness

BAD = [
    # refused types, also inside arrays
    (b'O:8:"stdClass":0:{}', "refused PHP type 'O'"),
    (b'a:1:{i:0;O:8:"stdClass":0:{}}', "refused PHP type 'O'"),
    (b'a:1:{s:1:"k";O:8:"stdClass":0:{}}', "refused PHP type 'O'"),
    (b'C:11:"ArrayObject":21:{x:i:0;a:0:{};m:a:0:{}}', "refused PHP type 'C'"),
    (b"a:2:{i:0;i:1;i:1;r:2;}", "refused PHP type 'r'"),
    (b"a:2:{i:0;i:1;i:1;R:2;}", "refused PHP type 'R'"),
    (b'E:7:"Foo:Bar";', "refused PHP type 'E'"),
    (b'a:1:{O:8:"stdClass":0:{}i:1;}', "refused PHP type 'O'"),
    # booleans, ints, floats only in PHP's canonical form
    (b"b:2;", "boolean must be 0 or 1"),
    (b"b:01;", "boolean"),
    (b"b:;", "boolean"),
    (b"i:+5;", "malformed 'i'"),
    (b"i:007;", "malformed 'i'"),
    (b"i:-0;", "malformed 'i'"),
    (b"i:;", "malformed 'i'"),
    (b"i:1", "malformed 'i'"),
    (b"i:9223372036854775808;", "64-bit"),
    (b"i:-9223372036854775809;", "64-bit"),
    (b"i:123456789012345678901234567890;", "malformed 'i'"),
    (b"d:1e5;", "malformed 'd'"),
    (b"d:;", "malformed 'd'"),
    (b"n;", "unknown type 'n'"),
    (b"S:1:\"\\61\";", "unknown type 'S'"),
    (b"N", "unexpected end|malformed"),
    (b"", "unexpected end"),
    # trailing bytes
    (b"i:1;i:2;", "trailing bytes"),
    (b"N;\n", "trailing bytes"),
    (b'a:0:{}}', "trailing bytes"),
    (b'i:1;\x00', "trailing bytes"),
    # declared lengths
    (b's:99999999999:"a";', "declared string length out of bounds"),
    (b's:9999999999999999999:"a";', "declared string length out of bounds"),
    (b's:99999999999999999999:"a";', "malformed 's'"),
    (b's:100000:"a";', "string length does not match"),
    (b's:5:"a";', "string length does not match"),
    (b's:1:"ab";', "string length does not match"),
    (b's:-1:"";', "malformed 's'"),
    (b's:01:"a";', "malformed 's'"),
    (b'a:999999999:{}', "declared array size out of bounds"),
    (b'a:9999999999999999999:{}', "declared array size out of bounds"),
    (b"a:3:{i:0;N;}", "declared array size out of bounds|expected"),
    (b"a:2:{i:0;N;i:1;N;i:2;N;}", "expected '}'"),
    (b"a:1:{i:0;N;", "expected '}'"),
    (b"a:1:{i:0;N;i:1;N;}", "expected '}'"),
    (b"a:1:[i:0;N;]", "malformed 'a'"),
    # keys
    (b"a:1:{N;i:1;}", "array key must be an int or a string"),
    (b"a:1:{b:1;i:1;}", "array key must be an int or a string"),
    (b"a:1:{d:1.5;i:1;}", "array key must be an int or a string"),
    (b"a:1:{a:0:{}i:1;}", "array key must be an int or a string"),
    (b"a:2:{i:0;i:1;i:0;i:2;}", "duplicate array key"),
    (b'a:2:{s:1:"5";i:1;i:5;i:2;}', "duplicate array key"),
    (b'a:2:{s:1:"k";i:1;s:1:"k";i:2;}', "duplicate array key"),
    # invalid UTF-8 in values and keys
    (b's:2:"\xff\xfe";', "not valid UTF-8"),
    (b's:2:"\xc0\x80";', "not valid UTF-8"),  # overlong NUL
    (b's:3:"\xed\xa0\x80";', "not valid UTF-8"),  # UTF-16 surrogate
    (b's:4:"\xf4\x90\x80\x80";', "not valid UTF-8"),  # above U+10FFFF
    (b'a:1:{s:1:"\x80";i:1;}', "not valid UTF-8"),
    (b'a:1:{s:1:"k";s:1:"\x80";}', "not valid UTF-8"),
    (b'a:1:{s:2:"\x80"";i:1;}', "not valid UTF-8"),
]


@pytest.mark.parametrize("data, why", BAD, ids=lambda x: repr(x)[:40] if isinstance(x, bytes) else "")
def test_loads_refuses(data, why):
    with pytest.raises(PhpSerializeError, match=why):
        loads(data)


def test_loads_refuses_deep_nesting():
    depth = phpserial.MAX_DEPTH
    ok = b"a:1:{i:0;" * depth + b"N;" + b"}" * depth
    assert loads(ok) is not None
    too_deep = b"a:1:{i:0;" * (depth + 1) + b"N;" + b"}" * (depth + 1)
    with pytest.raises(PhpSerializeError, match="nested too deeply"):
        loads(too_deep)
    hostile = b"a:1:{i:0;" * 100_000  # must not hit Python's recursion limit
    with pytest.raises(PhpSerializeError, match="nested too deeply"):
        loads(hostile)
    with pytest.raises(PhpSerializeError, match="nested too deeply"):
        loads(b"a:1:{i:0;" * 3 + b"N;" + b"}" * 3, max_depth=2)


def test_loads_limits_are_parameters():
    with pytest.raises(PhpSerializeError, match="declared string length out of bounds"):
        loads(b's:5:"abcde";', max_length=4)
    assert loads(b's:4:"abcd";', max_length=4) == "abcd"


def test_loads_refuses_non_bytes():
    with pytest.raises(PhpSerializeError, match="bytes"):
        loads("i:1;")  # type: ignore[arg-type]


def test_phpserialize_package_is_too_lenient():
    """Why phpserial exists (see its module docstring); if this starts failing,
    re-evaluate the package."""
    assert phpserialize.loads(b"b:2;") is True
    assert phpserialize.loads(b"i:1;garbage") == 1


# --------------------------------------------------------------------------
# Fast paths give exactly what the general code gives

key_st = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["5", "-3", "05", "0", "a", "lessonId", "-", "9223372036854775808"]),
    INT64,
    st.integers(0, 5),
)
scalar_st = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.integers(-5, 5),
    st.text(max_size=8),
    st.sampled_from(['a";b', "张一", '";i:1;']),
    st.floats(allow_nan=False),
)
value_st = st.recursive(
    scalar_st,
    lambda kids: st.one_of(
        st.lists(kids, max_size=10),
        st.lists(INT64, min_size=8, max_size=30),
        st.dictionaries(key_st, kids, max_size=5),
    ),
    max_leaves=30,
)


def _general_dumps(value) -> bytes:
    out: list[bytes] = []
    phpserial._dump(value, out, 0)
    return b"".join(out)


def _php_normal(v):
    """What PHP (and loads) makes of a Python value after serialize()."""
    if isinstance(v, (dict, list, tuple)):
        items = v.items() if isinstance(v, dict) else enumerate(v)
        d = {}
        for k, x in items:
            if isinstance(k, str):
                ik = phpserial._php_int_key(k)
                k = ik if ik is not None else k
            d[int(k) if isinstance(k, bool) else k] = _php_normal(x)
        return list(d.values()) if list(d) == list(range(len(d))) else d
    return v


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(value_st)
def test_fast_paths_agree_with_general_code(value):
    try:
        general = _general_dumps(value)
    except PhpSerializeError:
        with pytest.raises(PhpSerializeError):
            dumps(value)
        return
    assert dumps(value) == general
    decoded = loads(general)
    assert strict(decoded) == strict(_php_normal(value))
    # the int-list fast path switched off gives the same value
    saved = phpserial._INT_LIST_MIN
    phpserial._INT_LIST_MIN = 10**9
    try:
        assert strict(loads(general)) == strict(decoded)
    finally:
        phpserial._INT_LIST_MIN = saved
    # the package agrees wherever PHP does not cast keys
    if b"d:" not in general and all(not isinstance(k, str) or phpserial._php_int_key(k) is None for k in _keys(value)):
        assert phpserialize.dumps(value) == general


def _keys(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from _keys(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from _keys(x)


@pytest.mark.parametrize(
    "head",
    [
        b"i:0;i:1;i:1;i:-0;",
        b"i:0;i:01;i:1;i:1;",
        b"i:0;i:1;i:2;i:1;",  # index gap (then a duplicate key 2)
        b"i:0;i:1;i:1; i:1;",
        b"i:0;i:9223372036854775808;i:1;i:1;",
        b"i:0;i:1;i:1;i:1e5;",
        b'i:0;i:1;i:1;s:1:"x";',
        b"i:0;i:1;i:1;b:1;",
        b"i:0;i:1;i:1;i:i:1;",
        b"i:0;i:-9223372036854775808;i:1;i:9223372036854775807;",  # valid
    ],
)
def test_int_list_fast_path_falls_back_on_anything_odd(head):
    data = b"a:10:{" + head + b"".join(b"i:%d;i:7;" % i for i in range(2, 10)) + b"}"
    saved = phpserial._INT_LIST_MIN
    results = []
    try:
        for threshold in (1, 10**9):  # fast path on / off
            phpserial._INT_LIST_MIN = threshold
            try:
                results.append(("ok", strict(loads(data))))
            except PhpSerializeError as exc:
                results.append(("error", str(exc)))
    finally:
        phpserial._INT_LIST_MIN = saved
    assert results[0] == results[1]
