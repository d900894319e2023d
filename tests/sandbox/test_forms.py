"""As lenient as PHP where PHP is: multipart/form-data bodies read like urlencoded ones ($_POST reads both);
a parameter that is not valid UTF-8 is 40003, not 20005; the int, time and padding forms accepted."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import requests

from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.forms import parse_form
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ, School
from tests.sandbox.test_fuzz_server import sign_raw

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
SCHOOL = School(seed=7, now=NOW)
LESSON = next(x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2)


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(SandboxConfig(now=NOW)) as s:
        yield s


def code_of(body) -> int:
    return body.get("error_code", body.get("code"))


# ---------------------------------------------------------------------------- multipart


def test_multipart_answers_like_urlencoded(sb):
    requests_ = [
        ("/lesson/io/info", {"lessonId": LESSON.id}),
        ("/lesson/info", {"lessonId": [LESSON.id]}),
        ("/v2/data/teacher/inout", {"lessonId": LESSON.id}),
        ("/lesson/get_class_info", {"start_time": "2024-5-30 00:00", "end_time": "2024-5-31 00:00"}),
        ("/lesson/io/info", {"lessonId": "x"}),  # an error answers the same too
    ]
    for path, params in requests_:
        fields = {"applicationID": sb.app_id, "signMsg": encode_sign_msg(params, sb.secret)}
        url = requests.post(sb.base_url + path, data=fields, timeout=10)
        multi = requests.post(sb.base_url + path, files={k: (None, v) for k, v in fields.items()}, timeout=10)
        assert multi.request.headers["content-type"].startswith("multipart/form-data; boundary=")
        assert multi.status_code == 200 and multi.content == url.content, path
    assert requests.post(sb.base_url + "/lesson/io/info", files={"applicationID": (None, "nope"), "signMsg": (
        None, "x")}, timeout=10).json()["error_code"] == 20003


def _multipart(parts: list[tuple[str, bytes, str | None]], boundary: bytes = b"XyZ") -> bytes:
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n"
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def test_multipart_parsing_rules(sb):
    ct = b"multipart/form-data; boundary=XyZ"
    assert parse_form(ct, _multipart([("a", b"1", None), ("b", b"x=y&z", None)]), 64) == {"a": "1", "b": "x=y&z"}
    assert parse_form(ct, _multipart([("a", b"1", None), ("a", b"2", None)]), 64) == {"a": "2"}  # last wins
    assert parse_form(ct, _multipart([("f", b"data", "f.txt"), ("a", b"1", None)]), 64) == {"a": "1"}  # a file
    assert parse_form(b'Multipart/Form-Data; charset=utf-8; boundary="XyZ"', _multipart([("a", b"1", None)]),
                      64) == {"a": "1"}
    assert parse_form(ct, b"preamble\r\n" + _multipart([("a", b"1", None)]) + b"epilogue", 64) == {"a": "1"}
    assert parse_form(ct, _multipart([("a", b"line1\r\nline2", None)]), 64) == {"a": "line1\r\nline2"}
    assert parse_form(b"multipart/form-data", _multipart([("a", b"1", None)]), 64) == {}  # no boundary
    assert parse_form(ct, b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1", 64) == {}  # unterminated
    assert parse_form(ct, b'{"applicationID": "x"}', 64) == {}
    assert parse_form(ct, _multipart([(f"f{i}", b"1", None) for i in range(65)]), 64) is None
    assert parse_form(b"text/plain", b"a=1", 64) == {} and parse_form(b"", b"a=1", 64) == {"a": "1"}
    # over HTTP: a signMsg sent as a file is not a form field (PHP's $_FILES), too many fields is 40003
    sign = encode_sign_msg({"lessonId": LESSON.id}, sb.secret).encode()
    as_file = _multipart([("applicationID", sb.app_id.encode(), None), ("signMsg", sign, "sign.txt")])
    r = requests.post(sb.base_url + "/lesson/io/info", data=as_file, headers={"content-type": ct.decode()})
    assert r.json()["error_code"] == 20002
    many = _multipart([("applicationID", sb.app_id.encode(), None), ("signMsg", sign, None)]
                      + [(f"f{i}", b"1", None) for i in range(63)])
    r = requests.post(sb.base_url + "/lesson/io/info", data=many, headers={"content-type": ct.decode()})
    assert r.json()["error_code"] == 40003
    ok = _multipart([("applicationID", sb.app_id.encode(), None), ("signMsg", sign, None)])
    r = requests.post(sb.base_url + "/lesson/io/info", data=ok, headers={"content-type": ct.decode()})
    assert r.json()["status"] == 1


# ---------------------------------------------------------------------------- UTF-8


def test_a_parameter_that_is_not_utf8_is_40003(sb):
    def send(path, plain: bytes):
        return requests.post(sb.base_url + path, data={"applicationID": sb.app_id,
                                                       "signMsg": sign_raw(plain, sb.secret)}, timeout=10).json()

    for plain in (b'a:1:{s:8:"lessonId";s:2:"\xff\xfe";}',  # a value
                  b'a:2:{s:8:"lessonId";i:1;s:4:"page";s:3:"\xed\xa0\x80";}',  # a surrogate
                  b'a:1:{s:8:"lessonId";a:1:{i:0;s:1:"\x80";}}',  # inside an array
                  b'a:1:{s:2:"\xc3\x28";i:1;}'):  # a key
        body = send("/lesson/io/info", plain)
        assert body["status"] == 0 and body["error_code"] == 40003 and "UTF-8" in body["msg"], (plain, body)
    assert send("/v2/data/teacher/inout", b'a:1:{s:8:"lessonId";s:1:"\xff";}')["code"] == 40003
    # the signature's own failures stay 20005
    assert send("/lesson/io/info", b'a:1:{s:8:"lessonId";O:8:"stdClass":0:{}}')["error_code"] == 20005
    bad_mac = encode_sign_msg({"lessonId": "\u00ff"}, "another-secret")
    assert requests.post(sb.base_url + "/lesson/io/info", data={"applicationID": sb.app_id, "signMsg": bad_mac},
                         timeout=10).json()["error_code"] == 20005
    # valid UTF-8 anywhere is fine
    assert send("/lesson/io/info", b'a:1:{s:8:"lessonId";s:9:"' + str(LESSON.id).encode() + b'";}')["status"] == 1


# ---------------------------------------------------------------------------- ints, times, padding


def _code(sb, path, params) -> int:
    body = requests.post(sb.base_url + path, data={"applicationID": sb.app_id,
                                                   "signMsg": encode_sign_msg(params, sb.secret)}, timeout=10).json()
    return 10000 if body["status"] == 1 else code_of(body)


def test_accepted_int_forms(sb):
    lid = LESSON.id
    accepted = [lid, str(lid), "0" + str(lid), "000" + str(lid)]
    wrong_type = [f"+{lid}", f" {lid}", f"{lid} ", f"{lid}.0", "1e3", True, float(lid), "١٠٣", [lid], "", "0x1"]
    for v in accepted:
        assert _code(sb, "/lesson/io/info", {"lessonId": v}) == 10000, v
    for v in wrong_type:
        assert _code(sb, "/lesson/io/info", {"lessonId": v}) == (40001 if v == "" else 40002), v
    assert _code(sb, "/lesson/io/info", {"lessonId": "-1"}) == 40003  # a number, but no such lesson
    assert _code(sb, "/lesson/io/info", {"lessonId": "9" * 20}) == 40002  # more than 19 digits


def test_accepted_time_forms(sb):
    def window(start):
        return _code(sb, "/lesson/get_help_info", {"start_time": start, "end_time": "2024-05-31 12:00"})

    for v in ("2024-05-30 00:00", "2024-05-30 00:00:00", "2024-5-30 0:00", "2024-5-3 8:5:7", "2024-05-30T00:00",
              " 2024-05-30  00:00 "):
        assert window(v) == 10000, v
    for v in ("2024-05-30", "2024/05/30 00:00", "24-05-30 00:00", "2024-005-30 00:00", "2024-05-30 00:00:00.5",
              "2024-05-30 00:00 +08:00", "1717000000", 1717000000):
        assert window(v) == 40002, v
    for v in ("2024-05-30 24:00", "2024-02-30 00:00", "2024-05-30 00:00:60", "2014-12-31 00:00"):
        assert window(v) == 40003, v
