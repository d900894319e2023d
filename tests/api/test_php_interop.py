"""Property tests against real PHP: both directions of the signMsg codec.

One long-lived ``php`` process (tests/fixtures/php_codec_peer.php) answers a
JSON line per generated payload, so hundreds of payloads take a few seconds.
Without ``php`` on PATH these tests skip, unless ``CI=true``: then they fail.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.api import phpserial
from pipeline.api.signing import decode_sign_msg, encode_sign_msg
from tests.api.phpvalues import from_typed, strict

pytestmark = pytest.mark.php

FIXTURES = Path(__file__).parents[1] / "fixtures"
EXAMPLES = 500


def php_binary() -> str:
    php = shutil.which("php")
    if php is None:
        if os.environ.get("CI") == "true":
            pytest.fail("php is not on PATH but CI=true: install php-cli")
        pytest.skip("php is not on PATH")
    return php


class PhpPeer:
    def __init__(self, php: str):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [php, "-d", "display_errors=stderr", "-d", "error_reporting=-1", str(FIXTURES / "php_codec_peer.php")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise AssertionError(f"php peer died: {self.stderr.read().decode(errors='replace')}")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.stderr.seek(0)
        errors = self.stderr.read().decode(errors="replace")
        self.stderr.close()
        assert not errors.strip(), errors


@pytest.fixture(scope="module")
def php_peer():
    peer = PhpPeer(php_binary())
    yield peer
    peer.close()


# --------------------------------------------------------------------------
# Values and what PHP makes of them


def typed(v):
    if isinstance(v, dict):
        return {"a": [[k, typed(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return {"a": [[i, typed(x)] for i, x in enumerate(v)]}
    return v


def php_key(k):
    """PHP's array-key cast, written independently of phpserial."""
    if isinstance(k, str) and re.fullmatch(r"0|-?[1-9][0-9]*", k) and -(2**63) <= int(k) < 2**63:
        return int(k)
    return k


def has_collision(v) -> bool:
    """Two keys PHP would merge ("5" and 5): not a valid input, dumps refuses it."""
    if isinstance(v, dict):
        return len({php_key(k) for k in v}) != len(v) or any(has_collision(x) for x in v.values())
    if isinstance(v, list):
        return any(has_collision(x) for x in v)
    return False


INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="张一二三老师学生课程直播云教室，。", max_size=8),
    st.sampled_from(["", "张一", "😀", 'a";b', '";i:1;}', "\0", "\\/", "13521600960", "-0", "05"]),
)
JSON_STRING = st.lists(st.integers(1, 10**9), max_size=5).map(lambda ids: json.dumps(ids, separators=(",", ":")))
SCALAR = st.one_of(st.none(), st.booleans(), INT64, st.integers(-1000, 1000), TEXT, JSON_STRING)
KEY = st.one_of(
    TEXT,
    st.sampled_from(["lessonId", "lesson_id", "studentId", "5", "-3", "9223372036854775807", "9223372036854775808"]),
    st.integers(-5, 20),
    INT64,
)
# Id lists (they take the int-list fast paths); built from three draws, as
# drawing 100 separate integers would make generation the slow part.
ID_LIST = st.one_of(
    st.builds(
        lambda start, n, step: [start + i * step for i in range(n)],
        st.integers(-(2**62), 2**62),
        st.integers(8, 120),
        st.integers(-(2**40), 2**40),
    ),
    st.lists(st.sampled_from([2**63 - 1, -(2**63), 0, -1, 1, 10001]), min_size=8, max_size=12),
)
VALUE = st.recursive(
    SCALAR,
    lambda kids: st.one_of(st.lists(kids, max_size=5), ID_LIST, st.dictionaries(KEY, kids, max_size=5)),
    max_leaves=12,
)
PARAMS = st.dictionaries(KEY, VALUE, max_size=6)
SECRET = st.one_of(
    st.sampled_from(["32bf27979cf0dba95d80f500f553ed53", "short", "32bf27979cf0dba95d80f500f553ed53-longer-than-32"]),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    st.text(min_size=1, max_size=40),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(params=PARAMS, secret=SECRET)
def test_php_and_python_agree(php_peer, params, secret):
    assume(not has_collision(params))
    ours = encode_sign_msg(params, secret)
    answer = php_peer.ask({"secret": secret, "params": typed(params), "sign_msg": ours})
    assert "error" not in answer, answer.get("error")
    expected = from_typed(answer["input"])  # what PHP made of params
    if isinstance(expected, list):
        expected = dict(enumerate(expected))

    # serialize(): byte for byte
    assert phpserial.dumps(params) == base64.b64decode(answer["serialized_b64"])
    # (1) PHP decodes Python's signMsg to the same map
    php_view = from_typed(answer["decoded"])
    if isinstance(php_view, list):
        php_view = dict(enumerate(php_view))
    assert strict(php_view) == strict(expected)
    # (2) Python decodes the document's getSignMsg output (random IV) to the same map
    assert strict(decode_sign_msg(answer["sign_msg"], secret)) == strict(expected)


def test_committed_vectors_are_what_php_produces():
    php = php_binary()
    out = subprocess.run(
        [php, str(FIXTURES / "make_php_vectors.php")], capture_output=True, text=True, timeout=60, check=True
    )
    assert not out.stderr
    fresh = json.loads(out.stdout)
    committed = json.loads((FIXTURES / "php_sign_vectors.json").read_text("utf-8"))
    fresh.pop("php_version")
    committed.pop("php_version")
    assert fresh == committed
