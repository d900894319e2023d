"""Thousands of malformed requests: only documented error envelopes, the server stays up, RSS stays flat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import socket
import time
from datetime import datetime

import pytest
import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pipeline.api.errors import ERROR_MESSAGES
from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.handlers import ROUTES
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
N_REQUESTS = int(os.environ.get("SANDBOX_FUZZ_N", "3000"))
TIME_BUDGET = 25.0  # seconds for the whole loop
PATHS = sorted(ROUTES)
PARAM_NAMES = sorted({
    "lessonId", "lesson_id", "lessonIds", "lid", "uid", "userId", "user_id", "classroomId", "studentId", "diskId",
    "teacherId", "start_time", "end_time", "startTime", "endTime", "day", "event_type", "page", "pageSize",
    "mobile", "newMobile", "oldMobile", "userData", "dataInfo", "genre", "category", "className", "filename",
    "filesize", "coursewareUrl", "type", "coursewareIds", "newName", "userType", "userName", "gender",
})


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # pragma: no cover


def sign_raw(plain: bytes, secret: str) -> str:
    """A signMsg with a valid MAC over arbitrary (possibly hostile) plaintext."""
    key = secret.encode()
    iv = os.urandom(16)
    pad = 16 - len(plain) % 16
    enc = Cipher(algorithms.AES(key[:32].ljust(32, b"\0")), modes.CBC(iv)).encryptor()
    value = base64.b64encode(enc.update(plain + bytes((pad,)) * pad) + enc.finalize()).decode()
    ivb = base64.b64encode(iv).decode()
    mac = hmac.new(key, (ivb + value).encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(json.dumps({"iv": ivb, "value": value, "mac": mac}).encode()).decode()


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 1:
        return rng.randint(-5, 2_000_000_000)
    if kind == 2:
        return rng.random() * 1e6
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 20)))
    if kind == 5:
        return rng.choice(["2024-5-30 00:00", "2024-05-31 00:00:00", "9999-99-99 99:99", "2024-02-30 10:00",
                           "handup", "reward_all", "", "[]", "[1,2", "[100000000]", '{"a":1}', "1e5", "-1", "0"])
    if kind == 6:
        return str(rng.randint(0, 10**12))
    if kind == 7:
        return json.dumps([rng.randint(100_000_000, 104_000_000) for _ in range(rng.randrange(0, 4))])
    if kind in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(PARAM_NAMES + ["x", "0"]): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def make_request(rng: random.Random, sb) -> tuple[str, str, dict, bytes | dict | None, bool]:
    """(method, path, headers, body, success_allowed)."""
    path = rng.choice(PATHS) if rng.random() < 0.9 else rng.choice(["/", "/lesson", "/x/../lesson/info", "/%ff"])
    form = {"content-type": "application/x-www-form-urlencoded"}
    kind = rng.randrange(14)
    app = sb.app_id
    if kind == 0:  # random bytes
        return "POST", path, form, os.urandom(rng.randrange(0, 400)), False
    if kind == 1:  # random form fields
        return "POST", path, form, {rng.choice(["applicationID", "signMsg", "x"]): os.urandom(8).hex()
                                     for _ in range(3)}, False
    if kind == 2:  # random base64 signMsg
        return "POST", path, form, {"applicationID": app, "signMsg": base64.b64encode(os.urandom(
            rng.randrange(1, 300))).decode()}, False
    if kind == 3:  # truncated valid signMsg
        s = encode_sign_msg({"lessonId": 1}, sb.secret)
        return "POST", path, form, {"applicationID": app, "signMsg": s[: rng.randrange(1, len(s))]}, False
    if kind == 4:  # valid MAC over hostile PHP payloads
        payload = rng.choice([
            b'O:8:"stdClass":0:{}', b'a:1:{s:1:"a";O:8:"stdClass":0:{}}', b'C:3:"Foo":0:{}', b'a:1:{i:0;r:1;}',
            b's:999999999:"x";', b'a:999999999:{}', b"a:1:{i:0;" * 500 + b"N;" + b"}" * 500, b"i:5;",
            b's:3:"\xff\xfe\xfd";', b'a:1:{s:2:"\xc3\x28";i:1;}', b"", b"N;", b"b:2;", b"a:-1:{}", b"d:1e999999;",
            b'a:2:{s:8:"lessonId";i:1;s:8:"lessonId";i:2;}', os.urandom(rng.randrange(1, 64)),
        ])
        return "POST", path, form, {"applicationID": app, "signMsg": sign_raw(payload, sb.secret)}, False
    if kind == 5:  # wrong secret
        return "POST", path, form, {"applicationID": app, "signMsg": encode_sign_msg({"a": 1}, "wrong")}, False
    if kind == 6:  # oversized body
        return "POST", path, form, b"signMsg=" + b"A" * (1024 * 1024 + rng.randrange(1, 1000)), False
    if kind == 7:  # wrong content type
        ct = rng.choice(["application/json", "text/plain", "multipart/form-data; boundary=x", "",
                         "application/x-www-form-urlencoded; charset=gbk"])
        return "POST", path, {"content-type": ct}, json.dumps({"applicationID": app}).encode(), False
    if kind == 8:  # other methods
        return rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]), path, form, b"applicationID=x", False
    if kind == 9:  # invalid UTF-8 and odd encodings in the form
        return "POST", path, form, b"applicationID=%ff%fe&signMsg=%c3%28" + os.urandom(8).hex().encode(), False
    if kind == 10:  # deeply nested JSON in a signMsg
        return "POST", path, form, {"applicationID": app, "signMsg": base64.b64encode(
            b"[" * 100_000 + b"]" * 100_000).decode()}, False
    # kinds 11-13: properly signed, random parameters (may succeed)
    params = {rng.choice(PARAM_NAMES): random_value(rng) for _ in range(rng.randrange(0, 6))}
    try:
        sign = encode_sign_msg(params, sb.secret)
    except Exception:
        sign = encode_sign_msg({}, sb.secret)
    return "POST", path, form, {"applicationID": app, "signMsg": sign}, True


def raw_huge_content_length(sb) -> bytes:
    host, port = sb.base_url.rsplit("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /lesson/info HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 99999999999\r\n\r\nsignMsg=abc")
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 10:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_fuzz_requests_get_documented_errors_only():
    rng = random.Random(20240601)
    codes = set(ERROR_MESSAGES) - {10000}
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        session = requests.Session()
        # warm-up so the RSS baseline includes generated days and caches
        for _ in range(200):
            method, path, headers, body, _ok = make_request(rng, sb)
            session.request(method, sb.base_url + path, headers=headers, data=body, timeout=10)
        rss_before = rss_kb()
        started = time.monotonic()
        seen = set()
        n = 0
        for n in range(1, N_REQUESTS + 1):  # noqa: B007 (n is read after the loop)
            method, path, headers, body, success_allowed = make_request(rng, sb)
            r = session.request(method, sb.base_url + path, headers=headers, data=body, timeout=10)
            assert r.status_code == 200, (method, path, r.status_code, r.text[:200])
            assert r.headers["content-type"] == "application/json; charset=utf-8"
            doc = r.json()
            code = doc.get("error_code", doc.get("code"))
            if doc["status"] == 1:
                assert success_allowed and code == 10000, doc
            else:
                assert doc["status"] == 0 and code in codes and code != 50000, (path, body, doc)
                assert doc["data"] is None and doc["msg"].startswith(ERROR_MESSAGES[code])
                assert "Traceback" not in doc["msg"]
            seen.add(code)
            if r.headers.get("connection") == "close":
                session.close()
                session = requests.Session()
            if time.monotonic() - started > TIME_BUDGET:
                break
        session.close()
        assert n >= min(N_REQUESTS, 1000)
        assert {20001, 20003, 20005, 30001, 30002, 40003} <= seen, seen
        # a declared Content-Length far beyond the cap is refused without reading the body
        raw = raw_huge_content_length(sb)
        assert raw.startswith(b"HTTP/1.1 200") and b'"error_code":40003' in raw
        # still up and correct
        lesson = requests.post(sb.base_url + "/lesson/io/info", data={
            "applicationID": sb.app_id, "signMsg": encode_sign_msg({"lessonId": 103437003}, sb.secret)}).json()
        assert lesson["status"] == 1
        growth_mb = (rss_kb() - rss_before) / 1024
        assert growth_mb < 60, f"RSS grew by {growth_mb:.1f} MB"


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_non_post_methods(method):
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        r = requests.request(method, sb.base_url + "/lesson/info", timeout=5)
        assert r.status_code == 200
        if method != "HEAD":
            assert r.json()["error_code"] == 30002
