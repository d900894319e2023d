"""Requests signed by the document's own PHP getSignMsg (Appendix 1) get correct answers from the sandbox.

All signMsgs are produced in ONE php run: the script reads a JSON list of
parameter maps on stdin and prints one signMsg a line.  The HTTP requests are
sent from Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, datetime

import pytest
import requests

from pipeline.sandbox.runner import INACTIVE_APP_ID, SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ, School

pytestmark = pytest.mark.php

PHP = shutil.which("php")
if PHP is None and os.environ.get("CI") != "true":
    pytest.skip("php is not installed (Debian package php-cli)", allow_module_level=True)

# The appendix function, verbatim (only the surrounding driver is ours).
PHP_SCRIPT = r"""<?php
function getSignMsg($data,$key) { //生成 signMsg 函数
$iv = random_bytes(16);
$cipher = 'AES-256-CBC';
$value = openssl_encrypt(serialize($data), $cipher, $key,0,$iv);
$mac = hash_hmac('sha256',($iv = base64_encode($iv)).$value, $key);
$json = json_encode(compact('iv', 'value', 'mac'));
return base64_encode($json);
}
$in = json_decode(stream_get_contents(STDIN), true);
foreach ($in['requests'] as $data) {
    echo getSignMsg($data, $in['key']), "\n";
}
"""

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
SCHOOL = School(seed=7, now=NOW)


def php_sign(requests_params: list[dict], key: str, tmp_path) -> list[str]:
    script = tmp_path / "sign.php"
    script.write_text(PHP_SCRIPT, encoding="utf-8")
    out = subprocess.run([PHP or "php", str(script)], input=json.dumps({"key": key, "requests": requests_params}),
                         capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.split()
    assert len(lines) == len(requests_params), out.stderr
    return lines


def test_php_signed_requests(tmp_path):
    held = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2]
    # one page of API 23 (at most 40 students) holds every row compared below
    lesson = next(x for x in held if 3 <= len(x.student_ids) <= 40 and SCHOOL.activity(x).awards)
    act = SCHOOL.activity(lesson)
    (ev_user, ev_type), ev_times = next(iter(act.events.items()))
    ids = [x.id for x in held[:5]]
    good = [
        ("/lesson/get_help_info", {"start_time": "2024-5-30 00:00:00", "end_time": "2024-5-31 00:00:00"}),
        ("/lesson/get_class_info", {"start_time": "2024-5-30 00:00:00", "end_time": "2024-5-31 00:00:00"}),
        ("/lesson/get_lesson_status", {"lesson_id": ids}),
        ("/lesson/info", {"lessonId": ids}),
        ("/lesson/info", {"lessonId": json.dumps(ids)}),  # JSON-string form, section 4 (b)
        ("/user/id", {"mobile": [SCHOOL.teachers()[0].mobile]}),
        ("/lesson/io/info", {"lessonId": lesson.id, "page": 1}),
        ("/lesson/replay/url", {"lessonId": str(lesson.id)}),
        ("/lesson/student/award", {"lessonIds": [lesson.id]}),
        ("/lesson/finish", {"classroomId": lesson.classroom_id}),
        ("/lessonData/query", {"lid": lesson.id, "event_type": ev_type}),
        ("/lessonData/user/query", {"lid": lesson.id, "event_type": ev_type, "uid": ev_user}),
        ("/lessonData/status", {"day": "2024-05-30", "uid": lesson.teacher_id}),
        ("/lesson/getClassInfo", {"lessonId": lesson.id}),
        ("/lesson/byUser", {"userId": lesson.teacher_id, "startTime": "2024-05-30 00:00:00",
                            "endTime": "2024-05-31 00:00:00"}),
        ("/v2/data/teacher/inout", {"lessonId": lesson.id}),
        ("/lesson/service/record", {"lesson_id": lesson.id, "user_id": lesson.teacher_id}),
        ("/courseware/list", {"page": "1", "pageSize": "20"}),
        # the appendix's own example map (API 11's parameters) with strings as PHP would send them
        ("/lesson/io/info", {"lessonId": str(lesson.id)}),
    ]
    bad = [
        ("/lesson/info", {"lesson_id": ids}, 40001),
        ("/lesson/io/info", {"lessonId": "abc"}, 40002),
        ("/lesson/io/info", {"lessonId": 1}, 40003),
        ("/lesson/info", {"lessonId": list(range(100_000_000, 100_000_101))}, 40004),
        ("/lessonData/query", {"lid": lesson.id, "event_type": "dance"}, 40003),
        ("/v2/data/teacher/inout", {}, 40001),
    ]
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        all_params = [p for _, p in good] + [p for _, p, _ in bad] + [{"lessonId": lesson.id}] * 2
        signs = php_sign(all_params, sb.secret, tmp_path)
        wrong_key = php_sign([{"lessonId": lesson.id}], "32bf27979cf0dba95d80f500f553ed53", tmp_path)[0]
        s = requests.Session()

        def send(path, sign, app=sb.app_id):
            return s.post(sb.base_url + path, data={"applicationID": app, "signMsg": sign}, timeout=10).json()

        answers = {}
        for (path, params), sign in zip(good, signs):
            body = send(path, sign)
            assert body["status"] == 1, (path, params, body)
            answers.setdefault(path, []).append(body)
        for (path, _params, code), sign in zip(bad, signs[len(good):]):
            body = send(path, sign)
            assert body["status"] == 0 and body.get("error_code", body.get("code")) == code, (path, body)
        assert send("/lesson/io/info", signs[-1], app=INACTIVE_APP_ID)["error_code"] == 20004
        assert send("/lesson/io/info", signs[-2], app="nope")["error_code"] == 20003
        assert send("/lesson/io/info", wrong_key)["error_code"] == 20005

    # the answers are the school's truth
    assert answers["/lesson/info"][0]["data"] == answers["/lesson/info"][1]["data"]
    assert [d["zby_lid"] for d in answers["/lesson/info"][0]["data"]] == ids
    io = answers["/lesson/io/info"][0]["data"]
    assert io["count"] == len(lesson.student_ids)
    assert answers["/lesson/io/info"][1] == answers["/lesson/io/info"][0]
    assert {r["user_id"]: r["listen_time"] for r in io["data"]} == {r.user_id: r.listen_minutes for r in act.attendance}
    awards = {d["user_id"]: d["award_num"] for d in answers["/lesson/student/award"][0]["data"]}
    assert awards == dict(act.awards)
    counts = answers["/lessonData/query"][0]["data"]
    assert counts[str(ev_user)] == len(ev_times)
    times = [d["event_time"] for d in answers["/lessonData/user/query"][0]["data"]]
    assert times == [t.strftime("%Y-%m-%d %H:%M:%S") for t in ev_times]
    assert answers["/v2/data/teacher/inout"][0]["code"] == 10000
    assert answers["/v2/data/teacher/inout"][0]["data"]["teacher_id"] == lesson.teacher_id
    assert answers["/lesson/getClassInfo"][0]["data"]["id"] == lesson.classroom_id
    assert lesson.id in [d["lesson_id"] for d in answers["/lesson/byUser"][0]["data"]]
    class_ids = [d["lesson_id"] for d in answers["/lesson/get_class_info"][0]["data"]]
    assert class_ids == [str(x.id) for x in SCHOOL.lessons_on(PAST)]


# PHP's curl, driven as a PHP platform client would: an array of fields is sent as multipart/form-data,
# http_build_query() of it as urlencoded; the sandbox (like PHP's $_POST) must read both the same.
PHP_CURL_SCRIPT = PHP_SCRIPT.split("$in = json_decode", 1)[0] + r"""
$in = json_decode(stream_get_contents(STDIN), true);
$out = [];
foreach ($in['requests'] as $r) {
    $fields = ['applicationID' => $in['app'], 'signMsg' => getSignMsg($r['params'], $in['key'])];
    $row = [];
    foreach (['multipart' => $fields, 'urlencoded' => http_build_query($fields)] as $form => $body) {
        $ch = curl_init($in['base'] . $r['path']);
        curl_setopt($ch, CURLOPT_POST, true);
        curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
        curl_setopt($ch, CURLINFO_HEADER_OUT, true);
        $answer = curl_exec($ch);
        $row[$form] = ['answer' => $answer, 'sent' => curl_getinfo($ch, CURLINFO_HEADER_OUT),
                       'http' => curl_getinfo($ch, CURLINFO_HTTP_CODE)];
        curl_close($ch);
    }
    $out[] = $row;
}
echo json_encode($out);
"""


def _php_has_curl() -> bool:
    out = subprocess.run([PHP or "php", "-r", "echo extension_loaded('curl') ? 1 : 0;"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip() == "1"


def test_php_curl_multipart_and_urlencoded_answer_alike(tmp_path):
    if not _php_has_curl():
        pytest.skip("php has no curl extension (Debian package php-curl)")
    held = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2]
    lesson = held[0]
    reqs = [
        ("/lesson/io/info", {"lessonId": lesson.id}),
        ("/lesson/info", {"lessonId": [x.id for x in held[:3]]}),
        ("/v2/data/teacher/inout", {"lessonId": lesson.id}),
        ("/lesson/get_class_info", {"start_time": "2024-5-30 00:00:00", "end_time": "2024-5-31 00:00:00"}),
        ("/lesson/io/info", {"lessonId": "abc"}),
    ]
    script = tmp_path / "curl.php"
    script.write_text(PHP_CURL_SCRIPT, encoding="utf-8")
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        doc = {"app": sb.app_id, "key": sb.secret, "base": sb.base_url,
               "requests": [{"path": p, "params": q} for p, q in reqs]}
        out = subprocess.run([PHP or "php", str(script)], input=json.dumps(doc), capture_output=True, text=True,
                             timeout=60, check=True)
        rows = json.loads(out.stdout)
        # the same request from Python (urlencoded) for reference
        expected = [requests.post(sb.base_url + p, data={"applicationID": sb.app_id, "signMsg": sign}, timeout=10)
                    .content for (p, _), sign in zip(reqs, php_sign([q for _, q in reqs], sb.secret, tmp_path))]
    assert len(rows) == len(reqs)
    for (path, _), row, reference in zip(reqs, rows, expected):
        multi, url = row["multipart"], row["urlencoded"]
        assert "content-type: multipart/form-data; boundary=" in multi["sent"].lower(), multi["sent"]
        assert "content-type: application/x-www-form-urlencoded" in url["sent"].lower(), url["sent"]
        assert multi["http"] == url["http"] == 200
        assert multi["answer"] == url["answer"] == reference.decode("utf-8"), path
    assert json.loads(rows[0]["multipart"]["answer"])["data"]["count"] == len(lesson.student_ids)
    assert json.loads(rows[-1]["multipart"]["answer"])["error_code"] == 40002
