"""The opt-in faults that answer wrongly (swap, nodata, implausible, oversized) and the header deadline.

Each runs a real sandbox on loopback and signed requests; a fault changes what the API says, never what
happened: with the rate set back to 0 the answers are an unfaulted sandbox's, and the ground truth is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from click.testing import CliRunner

from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.cli import _config, sandbox, serve
from pipeline.sandbox.faults import (
    ALL_FAULT_KINDS,
    ANSWER_FAULT_KINDS,
    FAULT_KINDS,
    OVERSIZED_BYTES,
    FaultPlan,
    oversized_parts,
    parse_fault_kinds,
)
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ, School
from pipeline.sandbox.truth import TRUTH_SCHEMAS, write_truth

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
SCHOOL = School(seed=7, now=NOW)
LESSONS = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2 and len(x.student_ids) >= 2]
IO, INOUT, CLASS = "/lesson/io/info", "/v2/data/teacher/inout", "/lesson/getClassInfo"


def post(sb, path, params, **kw):
    data = {"applicationID": sb.app_id, "signMsg": encode_sign_msg(params, sb.secret)}
    return requests.post(sb.base_url + path, data=data, timeout=kw.pop("timeout", 30), **kw)


def body(sb, path, params) -> dict:
    r = post(sb, path, params)
    assert r.status_code == 200
    return r.json()


def faulted(kinds, rate=1.0, **kw):
    return start_sandbox(SandboxConfig(now=NOW, fault_rate=rate, fault_kinds=kinds, **kw))


@pytest.fixture(scope="module")
def clean():
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        yield sb


def assert_truth_unchanged(sb, tmp_path):
    """The sandbox's school still writes the ground truth of an untouched school, and nothing was written."""
    assert sb.platform.version == 0
    out = Path(tempfile.mkdtemp(dir=tmp_path))
    write_truth(sb.platform.school, PAST, PAST, out / "after")
    write_truth(School(seed=7, now=NOW), PAST, PAST, out / "fresh")
    for name in TRUTH_SCHEMAS:
        assert pq.read_table(out / "after" / f"{name}.parquet").equals(
            pq.read_table(out / "fresh" / f"{name}.parquet")), name


def assert_cleared(sb, clean, reqs):
    """``rate = 0`` on the running sandbox clears the fault: the answers are the unfaulted ones."""
    sb.app.faults.rate = 0
    for path, params in reqs:
        assert post(sb, path, params).content == post(clean, path, params).content, (path, params)


# ---------------------------------------------------------------------------- selection


def test_kinds_are_opt_in_and_the_default_mix_is_unchanged():
    assert set(ANSWER_FAULT_KINDS) == {"swap", "nodata", "implausible", "oversized"}
    assert not set(ANSWER_FAULT_KINDS) & set(FAULT_KINDS)
    assert SandboxConfig().fault_kinds == () and FaultPlan().kinds == FAULT_KINDS
    assert parse_fault_kinds("swap, nodata,swap") == ("swap", "nodata")
    assert parse_fault_kinds("default,oversized") == (*FAULT_KINDS, "oversized")
    assert parse_fault_kinds(["all"]) == ALL_FAULT_KINDS
    assert SandboxConfig(fault_kinds="implausible").fault_kinds == ("implausible",)
    with pytest.raises(ValueError):
        SandboxConfig(fault_kinds="swap,bogus")
    # the default plan draws exactly the decisions it drew before the opt-in kinds existed
    plan = FaultPlan(seed=11, fault_rate=0.4)
    rng = random.Random("sandbox-faults-11")
    before = [FAULT_KINDS[rng.randrange(8)] if rng.random() < 0.4 else None for _ in range(2000)]
    assert [plan.decide() for _ in range(2000)] == before
    assert all(plan.counts[k] == 0 for k in ANSWER_FAULT_KINDS)


def test_cli_round_trip_and_runtime_rate():
    for cfg in (SandboxConfig(now=NOW, fault_rate=0.25, fault_kinds=("swap", "oversized"), header_timeout=4.5,
                              drift="harmless", seed=3),
                SandboxConfig(port=8765)):
        ctx = serve.make_context("serve", cfg.cli_args())
        assert _config(ctx.params) == cfg
    assert "--fault-kinds" not in SandboxConfig(port=8765).cli_args()
    result = CliRunner().invoke(sandbox, ["serve", "--fault-kinds", "swap,bogus"])
    assert result.exit_code == 2 and "bogus" in result.output
    plan = FaultPlan(fault_rate=0.5)
    plan.rate = 0
    assert plan.fault_rate == 0 and plan.decide() is None
    with pytest.raises(ValueError):
        plan.rate = 1.5


# ---------------------------------------------------------------------------- swap


def test_swap_serves_another_requests_answer(clean, tmp_path):
    lessons = LESSONS[:6]
    reqs = [(path, {"lessonId": x.id}) for path in (IO, INOUT, CLASS) for x in lessons]
    reqs += [(IO, {"lessonId": x.id, "page": 2}) for x in lessons[:2]]
    truths = {(p, json.dumps(q, sort_keys=True)): post(clean, p, q).content for p, q in reqs}
    with faulted(("swap",), rate=0.0) as sb:
        for p, q in reqs:  # fill the buffer with real answers
            assert post(sb, p, q).content == truths[(p, json.dumps(q, sort_keys=True))]
        sb.app.faults.rate = 1.0
        swapped = 0
        for p, q in reqs:
            got = post(sb, p, q).content
            mine = truths[(p, json.dumps(q, sort_keys=True))]
            others = {v for (path, key), v in truths.items() if path == p and v != mine}
            if others:
                assert got != mine and got in others, (p, q)  # another request's answer, well-formed
                swapped += 1
            json.loads(got)
        plan = sb.app.faults
        assert plan.counts["swap"] == swapped == len(reqs)
        # a path without another answer yet is answered normally
        first = post(sb, "/lesson/info", {"lessonId": [lessons[0].id]}).content
        assert first == post(clean, "/lesson/info", {"lessonId": [lessons[0].id]}).content
        assert plan.skipped["swap"] >= 1
        # the buffer is bounded
        assert all(len(v) <= plan.swap_depth for v in plan._recent.values())
        assert_cleared(sb, clean, reqs)
        assert_truth_unchanged(sb, tmp_path)


def test_swap_covers_the_other_reporting_paths(clean):
    a, b = LESSONS[0], LESSONS[1]
    lesson, uid, kind = _event()
    awarded = _awarded()
    pairs = [
        ("/lesson/get_help_info", {"start_time": "2024-5-29 00:00", "end_time": "2024-5-30 00:00"},
         {"start_time": "2024-5-30 00:00", "end_time": "2024-5-31 00:00"}),
        ("/lesson/get_class_info", {"start_time": "2024-5-29 00:00", "end_time": "2024-5-30 00:00"},
         {"start_time": "2024-5-30 00:00", "end_time": "2024-5-31 00:00"}),
        ("/lesson/get_lesson_status", {"lesson_id": [a.id]}, {"lesson_id": [b.id]}),
        ("/lesson/info", {"lessonId": [a.id]}, {"lessonId": [b.id]}),
        ("/lesson/student/award", {"lessonIds": [awarded.id]}, {"lessonIds": [a.id, b.id, awarded.id]}),
        ("/lessonData/query", {"lid": lesson.id, "event_type": kind}, {"lid": a.id, "event_type": "reward_all"}),
        ("/lessonData/user/query", {"lid": lesson.id, "event_type": kind, "uid": uid},
         {"lid": lesson.id, "event_type": kind, "uid": lesson.teacher_id}),
    ]
    with faulted(("swap",), rate=0.0) as sb:
        for path, p1, p2 in pairs:
            r1, r2 = post(sb, path, p1).content, post(sb, path, p2).content
            assert r1 != r2, path
            sb.app.faults.rate = 1.0
            assert post(sb, path, p1).content == r2, path
            assert post(sb, path, p2).content == r1, path
            sb.app.faults.rate = 0.0
        assert sb.app.faults.counts["swap"] == 2 * len(pairs)


# ---------------------------------------------------------------------------- nodata


def test_nodata_is_a_success_without_data(clean, tmp_path):
    lesson = LESSONS[0]
    reqs = [(IO, {"lessonId": lesson.id}), (INOUT, {"lessonId": lesson.id}), (CLASS, {"lessonId": lesson.id}),
            ("/lesson/finish", {"classroomId": lesson.classroom_id}), ("/lesson/info", {"lessonId": [lesson.id]}),
            ("/lesson/student/award", {"lessonIds": [lesson.id]})]
    with faulted(("nodata",)) as sb:
        shapes = []
        for path, params in reqs * 2:
            got = body(sb, path, params)
            real = body(clean, path, params)
            assert got["status"] == 1 and got["msg"] == real["msg"]
            assert got.get("code" if path == INOUT else "error_code") == 10000
            assert "data" in real and got.get("data") is None
            shapes.append("data" in got)
        assert shapes == [i % 2 == 0 for i in range(len(shapes))]  # null and missing alternate
        # API 21 has no data: answered normally; a write is never faulted
        uid = lesson.student_ids[0]
        record = {"lesson_id": lesson.id, "user_id": uid}
        assert post(sb, "/lesson/service/record", record).content == post(clean, "/lesson/service/record",
                                                                           record).content
        plan = sb.app.faults
        assert plan.counts["nodata"] == len(shapes) and plan.skipped["nodata"] == 1
        assert_cleared(sb, clean, reqs)
        assert_truth_unchanged(sb, tmp_path)


def test_answer_faults_never_touch_writes():
    for kind in ANSWER_FAULT_KINDS:
        with faulted((kind,)) as sb:
            r = body(sb, "/user/create", {"userData": [{"userPhone": "13800138000", "userName": "张一",
                                                        "userType": 1, "userGender": 1}]})
            assert r["status"] == 1 and r["data"][0]["uid"], (kind, r)
            assert sb.platform.version == 1
            assert sb.app.faults.counts[kind] == 0 and sb.app.faults.skipped[kind] == 1


# ---------------------------------------------------------------------------- implausible


def _awarded():
    return next(x for x in LESSONS if SCHOOL.activity(x).awards)


def _event():
    for x in LESSONS:
        for (uid, kind), times in sorted(SCHOOL.activity(x).events.items()):
            if times and uid in x.student_ids:
                return x, uid, kind
    raise AssertionError("no event")


def test_implausible_values(clean, tmp_path):
    lesson, uid, kind = _event()
    awarded = _awarded()
    with faulted(("implausible",)) as sb:
        seen = set()
        for x in LESSONS[:12]:  # API 23: one row changed into an impossible one, the rest as it was
            real, got = body(clean, IO, {"lessonId": x.id}), body(sb, IO, {"lessonId": x.id})
            assert {k: v for k, v in got["data"].items() if k != "data"} == {
                k: v for k, v in real["data"].items() if k != "data"}
            diffs = [(a, b) for a, b in zip(real["data"]["data"], got["data"]["data"], strict=True) if a != b]
            assert len(diffs) == 1
            a, b = diffs[0]
            assert set(a) == set(b)
            changed = {k for k in a if a[k] != b[k]}
            assert len(changed) == 1
            (field,) = changed
            if field == "listen_time" and b[field] == 100000:
                seen.add("listen_time=100000")
            else:
                assert field in ("listen_time", "u_late") and b[field] < 0
                seen.add(f"{field}<0")
        assert seen == {"listen_time<0", "listen_time=100000", "u_late<0"}

        for x in LESSONS[:6]:  # API 34
            d = body(sb, INOUT, {"lessonId": x.id})["data"]
            assert d["u_late"] < 0 or d["listen_time"] == 100000

        rows = body(sb, "/lesson/student/award", {"lessonIds": [awarded.id]})["data"]
        assert sum(r["award_num"] < 0 for r in rows) == 1

        d = body(sb, "/lesson/finish", {"classroomId": lesson.classroom_id})["data"]
        assert d["finish"] + d["lessonNotStart"] + d["lessonOnClass"] + d["lessonExpired"] != d["total"]

        counts = body(sb, "/lessonData/query", {"lid": lesson.id, "event_type": kind})["data"]
        assert sum(v < 0 for v in counts.values()) == 1

        params = {"lid": lesson.id, "event_type": kind, "uid": uid}
        got, real = body(sb, "/lessonData/user/query", params)["data"], body(clean, "/lessonData/user/query",
                                                                              params)["data"]
        assert len(got) == len(real)
        start = lesson.start.replace(tzinfo=None)
        away = [r for r in got if abs((datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S") - start).days) >= 2]
        assert len(away) == 1

        # no implausible variant (API 19), or nothing to change (an empty API 27): answered normally
        plan = sb.app.faults
        injected = plan.counts["implausible"]
        assert post(sb, "/lesson/info", {"lessonId": [lesson.id]}).content == post(
            clean, "/lesson/info", {"lessonId": [lesson.id]}).content
        assert plan.counts["implausible"] == injected and plan.skipped["implausible"] == 1
        assert_cleared(sb, clean, [(IO, {"lessonId": x.id}) for x in LESSONS[:12]])
        assert_truth_unchanged(sb, tmp_path)


# ---------------------------------------------------------------------------- oversized


def test_oversized_parts_are_valid_json():
    answer = {"status": 1, "error_code": 10000, "msg": "ok", "data": {"page": 1, "data": [{"a": 1}, {"a": "é"}]}}
    prefix, chunk, repeats, suffix = oversized_parts(json.loads(json.dumps(answer)), 300_000)
    assert len(chunk) <= 300 * 1024
    text = prefix + chunk * repeats + suffix
    assert len(text) >= 300_000
    rows = json.loads(text)["data"]["data"]
    assert rows[:2] == answer["data"]["data"] and len(rows) > 1000 and set(map(repr, rows)) == {"{'a': 1}",
                                                                                                 "{'a': 'é'}"}
    empty = {"status": 1, "code": 10000, "msg": "", "data": {"x": 1}}
    prefix, chunk, repeats, suffix = oversized_parts(dict(empty), 100_000)
    got = json.loads(prefix + chunk * repeats + suffix)
    assert got["data"] == {"x": 1} and got["msg"].strip() == "" and len(got["msg"]) > 90_000


def test_oversized_body(clean, tmp_path):
    lesson = max(LESSONS, key=lambda x: len(x.student_ids))
    window = {"start_time": "2024-5-29 00:00", "end_time": "2024-5-31 00:00"}
    with faulted(("oversized",)) as sb:
        for path, params in ((IO, {"lessonId": lesson.id}), ("/lesson/get_help_info", window)):
            real = body(clean, path, params)
            r = post(sb, path, params, stream=True)
            size = int(r.headers["content-length"])
            assert size > 20_000_000 and size >= OVERSIZED_BYTES
            raw = r.raw.read()
            assert len(raw) == size
            got = json.loads(raw)
            rows = got["data"]["data"] if path == IO else got["data"]
            real_rows = real["data"]["data"] if path == IO else real["data"]
            assert real_rows and rows[: len(real_rows)] == real_rows and len(rows) > 10 * len(real_rows)
        # a client that gives up after 1 MB (a body size limit) does not hurt the server
        r = post(sb, IO, {"lessonId": lesson.id}, stream=True)
        assert len(r.raw.read(1024 * 1024)) == 1024 * 1024
        r.close()
        assert sb.app.faults.counts["oversized"] == 3
        assert_cleared(sb, clean, [(IO, {"lessonId": lesson.id}), ("/lesson/get_help_info", window)])
        assert_truth_unchanged(sb, tmp_path)


# ---------------------------------------------------------------------------- the mix


def _mixed_requests():
    reqs = []
    for x in LESSONS[:8]:
        reqs += [(IO, {"lessonId": x.id}), (INOUT, {"lessonId": x.id}), (CLASS, {"lessonId": x.id}),
                 ("/lesson/student/award", {"lessonIds": [x.id]}), ("/lesson/finish", {"classroomId": x.classroom_id})]
    return reqs


def test_every_opt_in_kind_fires_deterministically(clean, tmp_path):
    reqs = _mixed_requests()

    def run():
        with faulted(ANSWER_FAULT_KINDS, rate=0.5) as sb:
            digests = [hashlib.sha256(post(sb, p, q).content).hexdigest() for p, q in reqs]
            counts = dict(sb.app.faults.counts)
            assert_cleared(sb, clean, reqs)
            assert_truth_unchanged(sb, tmp_path)
        return digests, counts

    (a, counts), (b, again) = run(), run()
    assert a == b and counts == again
    assert all(counts[k] > 0 for k in ANSWER_FAULT_KINDS), counts
    assert all(counts[k] == 0 for k in FAULT_KINDS), counts


# ---------------------------------------------------------------------------- slow request headers


def test_slow_request_headers_are_cut_off():
    """A client trickling one header byte a second is disconnected after the 10 s header deadline."""
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        assert sb.config.header_timeout == 10.0
        request = b"POST /lesson/io/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
        received = b""
        closed_after = None
        with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as s:
            s.settimeout(1.0)
            start = time.monotonic()
            for byte in request:
                if time.monotonic() - start > 16:
                    break
                try:
                    s.sendall(bytes([byte]))
                    chunk = s.recv(4096)  # waits up to 1 s: the trickle's pace
                except TimeoutError:
                    continue
                except OSError:
                    closed_after = time.monotonic() - start
                    break
                received += chunk
                if not chunk:
                    closed_after = time.monotonic() - start
                    break
        assert closed_after is not None, "the slow client was not cut off"
        assert 9.0 <= closed_after <= 13.0, closed_after
        assert received == b"" or received.startswith(b"HTTP/1.1 408 "), received
        # the server is fine, and a normal request is not affected
        r = post(sb, "/lesson/info", {"lessonId": [LESSONS[0].id]})
        assert r.json()["status"] == 1


def test_header_timeout_is_configurable():
    with start_sandbox(SandboxConfig(now=NOW, header_timeout=1.0)) as sb:
        with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as s:
            s.sendall(b"POST /lesson/info HTTP/1.1\r\nHost: x\r\n")
            start = time.monotonic()
            s.settimeout(5)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 3
        # a kept-alive connection with pauses between requests is fine
        with requests.Session() as session:
            for _ in range(2):
                data = {"applicationID": sb.app_id,
                        "signMsg": encode_sign_msg({"lessonId": [LESSONS[0].id]}, sb.secret)}
                assert session.post(sb.base_url + "/lesson/info", data=data, timeout=5).json()["status"] == 1
                time.sleep(1.5)
    with start_sandbox(SandboxConfig(now=NOW, header_timeout=0)) as sb:  # 0: no deadline (uvicorn's own behaviour)
        with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as s:
            s.sendall(b"POST /lesson/info HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(1.5)
            with pytest.raises(TimeoutError):
                s.recv(4096)
