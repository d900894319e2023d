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
    lesson = next(x for x in held if len(x.student_ids) >= 3 and SCHOOL.activity(x).awards)
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
