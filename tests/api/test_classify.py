"""classify: one HTTP answer -> the success body or a Failure, without any I/O."""

from __future__ import annotations

import json

import pytest

from pipeline.api.classify import Failure, classify
from pipeline.api.errors import ApiError, AuthError, ParameterError, TransientError


def body(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def test_success_is_the_decoded_body():
    doc = {"status": 1, "code": 10000, "msg": "", "data": [1]}
    assert classify("/v2/data/teacher/inout", 200, {}, body(doc)) == doc


@pytest.mark.parametrize("status,headers,raw,kind,cls,transient", [
    (503, {"retry-after": "2"}, b"<html>", "http_503", TransientError, True),
    (429, {}, b"", "http_429", TransientError, True),
    (404, {}, b"not found", "http_404", ApiError, False),
    (401, {}, body({"status": 0, "error_code": 20005, "msg": "授权验证异常"}), "http_401", AuthError, False),
    (200, {"Content-Type": "text/html; charset=utf-8"}, b"<html></html>", "bad_json", TransientError, True),
    (200, {}, b"[1, 2]", "bad_json", TransientError, True),
    (200, {}, body({"status": 0, "error_code": 40001, "msg": "缺少参数"}), "error_40001", ParameterError, False),
    (200, {}, body({"status": 0, "error_code": 20003, "msg": "x"}), "auth", AuthError, False),
    (200, {}, body({"status": 0, "error_code": 50000, "msg": "x"}), "error_50000", TransientError, True),
    (200, {}, body({"msg": "no status"}), "bad_body", TransientError, True),
    (200, {}, body({"status": 0, "msg": "失败"}), "status_0", ApiError, False),
])
def test_failures(status, headers, raw, kind, cls, transient):
    out = classify("/lesson/info", status, headers, raw)
    assert isinstance(out, Failure) and out.kind == kind
    assert type(out.error) is cls and out.error.transient is transient
    assert out.error.path == "/lesson/info" and out.error.http_status == status


def test_headers_in_any_case():
    assert classify("/x", 503, {"Retry-After": "2.5"}, b"").error.retry_after == 2.5
    assert classify("/x", 503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"").error.retry_after is None
    err = classify("/x", 200, {"CONTENT-TYPE": "Text/HTML"}, b"<p>").error
    assert err.content_type == "text/html" and "not valid JSON (3 bytes, text/html)" in err.msg


def test_the_body_is_never_echoed():
    secretish = "signMsg=eyJpdiI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9PSIs"
    for status in (200, 404, 503):
        out = classify("/x", status, {}, secretish.encode())
        assert secretish not in str(out.error) and secretish[10:40] not in repr(vars(out.error))


@pytest.mark.parametrize("body", [b'{"status":1,"error_code":10000,"msg":"ok","data":null}',
                                  b'{"status":1,"error_code":10000,"msg":"ok"}'])
def test_success_without_its_data_is_a_transient_failure_naming_the_endpoint(body):
    out = classify("/lesson/io/info", 200, {}, body)
    assert isinstance(out, Failure) and out.kind == "no_data" and out.error.transient
    assert "/lesson/io/info" in str(out.error) and "without its data" in str(out.error)


@pytest.mark.parametrize("data", [b"[]", b"{}", b'{"page":1,"sumpage":0,"count":0,"data":[]}'])
def test_honest_empty_answers_stay_valid(data):
    out = classify("/lessonData/query", 200, {}, b'{"status":1,"error_code":10000,"data":' + data + b"}")
    assert isinstance(out, dict)


def test_endpoints_without_data_are_not_asked_for_it():
    out = classify("/classroom/create", 200, {}, b'{"status":1,"error_code":10000,"classroomId":5}')
    assert isinstance(out, dict) and out["classroomId"] == 5
