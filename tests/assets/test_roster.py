"""The roster against the real sandbox on loopback: mobiles resolved to the school's user ids by API 20,
the cache asked only about what it cannot answer, the lake tables keyed on user ids with no mobile in them,
and the Dagster assets raw/roster and lake/roster (quiet without a roster, never failing on bad input)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, materialize

from assets.lake.roster import refresh_roster, roster_assets, write_roster_lake
from assets.raw.roster import API20, RosterResolveError, pending_mobiles, read_user_ids, resolve_user_ids
from assets.resources import DataDirResource
from pipeline.core import roster as R
from pipeline.core import schemas
from pipeline.core.layout import DataDir
from pipeline.core.roster import read_roster
from pipeline.sandbox.school import School
from tests.conftest import SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED, api_resource

pytestmark = pytest.mark.xdist_group("sandbox")

FULL_MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
N_STUDENTS = 150  # two API 20 calls of 100 mobiles with the teachers and the unknown one


@pytest.fixture(scope="module")
def school():
    return School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)


def unknown_mobile(school, start: int = 13000000000) -> int:
    m = start
    while school.person_by_mobile(m) is not None:
        m += 1
    return m


class Asked:
    """Records the mobiles of every API 20 call the client made (the client's on_response hook)."""

    def __init__(self):
        self.calls: list[list[int]] = []

    def __call__(self, path, params, body):
        if path == API20:
            self.calls.append(list(params["mobile"]))

    @property
    def mobiles(self) -> list[int]:
        return sorted(m for call in self.calls for m in call)


def make_roster(folder: Path, school, *, extra_students: int = 0) -> dict:
    """students.csv (N_STUDENTS real students, an unknown mobile, a teacher listed as a student),
    teachers.xlsx (numeric mobiles), courses.csv; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    students = list(school.students()[:N_STUDENTS + extra_students])
    teachers = list(school.teachers()[:3])
    unknown = unknown_mobile(school)
    lines = ["手机号,姓名,学号,班级,年级"]
    lines += [f"{p.mobile},{p.name},S{p.id},一班,七年级" for p in students]
    lines.append(f"{unknown},查无此人,,,")
    lines.append(f"{teachers[0].mobile},{teachers[0].name},,,")   # a teacher in the students file
    (folder / "students.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Mobile", "Name", "Subject"])
    for p in teachers:
        ws.append([p.mobile, p.name, "数学"])
    wb.save(folder / "teachers.xlsx")
    (folder / "courses.csv").write_text("班级ID,班级名称,科目\n20000001,数学一班,数学\n,语文二班,语文\n", encoding="utf-8")
    return {"students": students, "teachers": teachers, "unknown": unknown,
            "unknown_row": len(students) + 2, "mismatch_row": len(students) + 3}


def lake(data_dir: Path, name: str):
    return pq.read_table(DataDir(data_dir).lake_snapshot(name))


def all_values(data_dir: Path) -> list:
    out = []
    for name in schemas.ROSTER_TABLES:
        for row in lake(data_dir, name).to_pylist():
            out.extend(row.values())
    return out


def assert_no_mobile(values, mobiles: set[int]) -> None:
    texts = {m: str(m) for m in mobiles}
    for v in values:
        if isinstance(v, int):
            assert v not in mobiles
        elif isinstance(v, str):
            assert not FULL_MOBILE.search(v), v
            assert not any(t in v for t in texts.values()), v


# -- resolution against the sandbox --------------------------------------------------------------------

def test_refresh_resolves_the_schools_user_ids_and_caches(sandbox, school, tmp_path):
    folder, data = tmp_path / "roster", tmp_path / "data"
    made = make_roster(folder, school)
    asked = Asked()
    client = api_resource(sandbox).get_client(on_response=asked)
    echoed: list[str] = []
    summary = refresh_roster(client, DataDir(data), folder, echo=echoed.append)

    students, teachers = made["students"], made["teachers"]
    all_mobiles = {p.mobile for p in students + teachers} | {made["unknown"]}
    # every mobile asked once, in ceil(n / 100) calls
    assert asked.mobiles == sorted(all_mobiles)
    assert len(asked.calls) == 2 and summary.api_calls == 2 and summary.asked == len(all_mobiles)

    st = {r["user_id"]: r for r in lake(data, "roster_students").to_pylist()}
    expected_students = {p.id: p.name for p in students} | {teachers[0].id: teachers[0].name}
    assert {uid: r["name"] for uid, r in st.items()} == expected_students
    assert st[students[0].id]["student_number"] == f"S{students[0].id}" and st[students[0].id]["class_name"] == "一班"
    te = lake(data, "roster_teachers").to_pylist()
    assert [(r["user_id"], r["name"], r["subject"]) for r in te] == [(p.id, p.name, "数学") for p in teachers]
    courses = lake(data, "roster_courses").to_pylist()
    assert [(c["class_id"], c["class_name"]) for c in courses] == [(20000001, "数学一班"), (None, "语文二班")]

    problems = lake(data, "roster_problems").to_pylist()
    assert [(p["file"], p["row"], p["problem"]) for p in problems] == [
        ("students.csv", made["unknown_row"], R.UNKNOWN_MOBILE), ("students.csv", made["mismatch_row"], R.ROLE_MISMATCH)]
    masked = R.mask(str(made["unknown"]))
    assert problems[0]["message"] == (f"students.csv row {made['unknown_row']} column 手机号: the platform has no user "
                                      f"with this mobile (API 20); this row is not used ({masked})")
    assert "as a teacher (API 20 role 2); used as a student anyway" in problems[1]["message"]
    assert summary.matched == len(students) + 1 + len(teachers) and summary.unmatched == 1
    assert summary.problems_by_code == {R.ROLE_MISMATCH: 1, R.UNKNOWN_MOBILE: 1}
    assert echoed[:2] == [p["message"] for p in problems] and echoed[-1] == summary.headline()

    for name, schema in schemas.ROSTER_TABLES.items():
        assert lake(data, name).schema == schema, name
    assert_no_mobile(all_values(data), all_mobiles)
    assert_no_mobile(echoed + [json.dumps(summary.metadata(), ensure_ascii=False)], all_mobiles)

    cache = json.loads(DataDir(data).roster_user_ids().read_text(encoding="utf-8"))
    assert cache[str(students[0].mobile)]["uid"] == students[0].id and cache[str(students[0].mobile)]["role"] == 3
    assert cache[str(teachers[1].mobile)]["role"] == 2
    assert cache[str(made["unknown"])]["uid"] is None
    assert set(cache) == {str(m) for m in all_mobiles}

    # the second run: everything from the cache, no API call, the same tables
    before = lake(data, "roster_students")
    calls = client.stats.snapshot()["calls_by_path"].get(API20, 0)
    again = refresh_roster(client, DataDir(data), folder, echo=lambda line: None)
    assert again.asked == 0 and again.api_calls == 0 and len(asked.calls) == 2
    assert client.stats.snapshot()["calls_by_path"].get(API20, 0) == calls
    assert lake(data, "roster_students").equals(before)
    assert again.fingerprint == summary.fingerprint

    # a new student row: exactly its mobile is asked
    newcomer = school.students()[N_STUDENTS]
    made2 = make_roster(folder, school, extra_students=1)
    assert made2["students"][-1] == newcomer
    third = refresh_roster(client, DataDir(data), folder, echo=lambda line: None)
    assert asked.calls[2:] == [[newcomer.mobile]]
    assert third.asked == 1 and third.api_calls == 1 and third.fingerprint != summary.fingerprint
    assert newcomer.id in lake(data, "roster_students")["user_id"].to_pylist()
    client.close()


def test_stale_entries_are_asked_again(sandbox, school, tmp_path):
    folder, data = tmp_path / "roster", tmp_path / "data"
    made = make_roster(folder, school)
    roster = read_roster(folder)
    client = api_resource(sandbox).get_client()
    first = resolve_user_ids(client, DataDir(data), roster, now=SANDBOX_NOW)
    assert first.asked == len(roster.mobiles()) and first.unknown == 1
    # two days on: only the unknown mobile (asked again after a day) ...
    asked = Asked()
    client2 = api_resource(sandbox).get_client(on_response=asked)
    later = resolve_user_ids(client2, DataDir(data), roster, now=SANDBOX_NOW + timedelta(days=2))
    assert asked.mobiles == [made["unknown"]] and later.asked == 1
    # ... 31 days on: the known ones too (older than 30 days); the unknown was asked 29 days before
    asked.calls.clear()
    resolve_user_ids(client2, DataDir(data), roster, now=SANDBOX_NOW + timedelta(days=31))
    known = {p.mobile for p in made["students"] + made["teachers"]}
    assert set(asked.mobiles) == known | {made["unknown"]}
    client.close()
    client2.close()


def test_pending_mobiles_by_age():
    now = SANDBOX_NOW
    at = lambda days: (now - timedelta(days=days)).isoformat()
    cache = {"13800000001": {"uid": 1, "role": 3, "resolved_at": at(29)},
             "13800000002": {"uid": 2, "role": 3, "resolved_at": at(30)},
             "13800000003": {"uid": None, "role": None, "resolved_at": at(0.5)},
             "13800000004": {"uid": None, "role": None, "resolved_at": at(1)},
             "13800000005": {"uid": 5, "role": 3, "resolved_at": "yesterday"}}
    mobiles = [f"1380000000{i}" for i in range(1, 7)]
    assert pending_mobiles(mobiles, cache, now=now) == ["13800000002", "13800000004", "13800000005", "13800000006"]
    assert pending_mobiles(mobiles, cache, now=now, max_age_days=10) == [
        "13800000001", "13800000002", "13800000004", "13800000005", "13800000006"]


def test_a_damaged_cache_is_asked_again_and_pruned(sandbox, school, tmp_path):
    folder, data = tmp_path / "roster", tmp_path / "data"
    dirs = DataDir(data)
    students = school.students()[:3]
    folder.mkdir()
    (folder / "students.csv").write_text("mobile,name\n" + "".join(f"{p.mobile},{p.name}\n" for p in students))
    dirs.roster_user_ids().parent.mkdir(parents=True)
    dirs.roster_user_ids().write_text('{"13800000009": {"uid": 9, "role": 3, "resolved_at": "2026-03-01T00:00:00"}, '
                                      f'"{students[0].mobile}": "garbage"}}')
    client = api_resource(sandbox).get_client()
    res = resolve_user_ids(client, dirs, read_roster(folder), now=SANDBOX_NOW)
    client.close()
    assert res.asked == 3
    assert read_user_ids(dirs.roster_user_ids()) == {
        str(p.mobile): {"uid": p.id, "role": 3, "resolved_at": SANDBOX_NOW.isoformat(timespec="seconds")}
        for p in students}  # the mobile no longer in the roster is gone


def test_an_api_that_refuses_raises_without_a_mobile(sandbox, school, tmp_path):
    folder, data = tmp_path / "roster", tmp_path / "data"
    make_roster(folder, school)
    client = api_resource(sandbox, secret="0" * 32, max_attempts=1).get_client()
    with pytest.raises(RosterResolveError) as err:
        refresh_roster(client, DataDir(data), folder, echo=lambda line: None)
    client.close()
    assert "API 20" in str(err.value) and not FULL_MOBILE.search(str(err.value))
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert not DataDir(data).lake_snapshot("roster_students").exists()


def test_without_a_roster_the_tables_and_cache_are_removed(tmp_path):
    data = tmp_path / "data"
    dirs = DataDir(data)
    folder = tmp_path / "roster"
    folder.mkdir()
    (folder / "teachers.csv").write_text("手机号,姓名\n", encoding="utf-8")  # a roster with no person in it
    summary = refresh_roster(None, dirs, folder, echo=lambda line: None)  # nothing to ask: no client needed
    assert summary.found and summary.api_calls == 0 and summary.rows == dict.fromkeys(schemas.ROSTER_TABLES, 0)
    assert all(dirs.lake_snapshot(n).exists() for n in schemas.ROSTER_TABLES)
    assert dirs.roster_user_ids().read_text() == "{}\n"
    (folder / "teachers.csv").unlink()
    out: list[str] = []
    gone = refresh_roster(None, dirs, folder, echo=out.append)
    assert not gone.found and out == [f"roster: no roster in {folder}"]
    assert not any(dirs.lake_snapshot(n).exists() for n in schemas.ROSTER_TABLES)
    assert not dirs.roster_user_ids().exists()


def test_a_file_changed_after_resolution_is_not_resolved(tmp_path):
    folder = tmp_path / "roster"
    folder.mkdir()
    (folder / "students.csv").write_text("手机号,姓名\n13812345678,张三\n", encoding="utf-8")
    summary = write_roster_lake(DataDir(tmp_path / "data"), read_roster(folder), cache={})
    assert [p.code for p in summary.problems] == [R.NOT_RESOLVED] and summary.unmatched == 1
    assert summary.problems[0].line().startswith("students.csv row 2 column 手机号: not resolved")
    assert "138****5678" in summary.problems[0].line()


def test_two_rows_for_one_user_keep_the_first(tmp_path):
    folder = tmp_path / "roster"
    folder.mkdir()
    (folder / "teachers.csv").write_text("mobile,name\n13812345678,甲\n13912345678,乙\n", encoding="utf-8")
    at = SANDBOX_NOW.isoformat()
    cache = {"13812345678": {"uid": 7, "role": 2, "resolved_at": at},
             "13912345678": {"uid": 7, "role": 2, "resolved_at": at}}
    data = tmp_path / "data"
    summary = write_roster_lake(DataDir(data), read_roster(folder), cache=cache)
    assert lake(data, "roster_teachers").to_pylist() == [{"user_id": 7, "name": "甲", "subject": None}]
    assert [(p.code, p.row) for p in summary.problems] == [(R.DUPLICATE_USER, 3)]


# -- the Dagster assets --------------------------------------------------------------------------------

def _materialize(sb, data: Path, folder: Path, **api):
    instance = DagsterInstance.ephemeral()
    res = materialize(roster_assets(folder), instance=instance, raise_on_error=True,
                      resources={"api": api_resource(sb, **api), "data_dir": DataDirResource(path=str(data))})
    assert res.success
    meta = {m.asset_key.path[0]: m.metadata for m in
            (e.event_specific_data.materialization for e in res.get_asset_materialization_events())}
    logs = [e.user_message for e in instance.all_logs(res.run_id)]
    return meta, logs


def test_assets_without_a_roster_succeed_quietly_without_api_calls(tmp_path):
    class Down:  # any API call would fail: nothing listens there
        base_url, app_id, secret = "http://127.0.0.1:9", "app", "secret"

    data = tmp_path / "data"
    meta, _ = _materialize(Down, data, tmp_path / "no-roster", max_attempts=1)
    assert meta["raw"]["roster"].value == "no roster" and meta["raw"]["api_calls"].value == 0
    assert meta["lake"]["roster"].value == "no roster" and meta["lake"]["problems"].value == 0
    assert not (data / "lake").exists() or not any((data / "lake").rglob("*.parquet"))


def test_assets_resolve_report_and_never_fail_on_bad_input(sandbox, school, tmp_path):
    folder, data = tmp_path / "roster", tmp_path / "data"
    made = make_roster(folder, school)
    (folder / "courses.csv").write_bytes("班级ID,班级名称\n1,数学班\n".encode("gbk"))  # a bad file among good ones
    meta, logs = _materialize(sandbox, data, folder)
    raw, lk = meta["raw"], meta["lake"]
    n = N_STUDENTS + 1 + 3 + 1  # students + the teacher among them + teachers (one repeated) + unknown
    assert raw["roster"].value == "found" and raw["mobiles"].value == n - 1 and raw["asked"].value == n - 1
    assert raw["api_calls"].value == 2 and raw["unknown"].value == 1
    assert lk["matched"].value == N_STUDENTS + 1 + 3 and lk["unmatched"].value == 1
    assert lk["problems_by_code"].value == {R.NOT_UTF8: 1, R.ROLE_MISMATCH: 1, R.UNKNOWN_MOBILE: 1}
    assert lk["rows_roster_courses"].value == 0 and lk["rows_roster_problems"].value == 3
    assert "courses.csv: not UTF-8 (byte 0xb0 at offset 0); save it as 'CSV UTF-8'" in logs
    mobiles = {p.mobile for p in made["students"] + made["teachers"]} | {made["unknown"]}
    assert_no_mobile([str(v.value) for m in meta.values() for v in m.values()] + logs, mobiles)
    assert_no_mobile(all_values(data), mobiles)
    # materialized again: the cache answers, no API call
    meta2, _ = _materialize(sandbox, data, folder)
    assert meta2["raw"]["api_calls"].value == 0 and meta2["raw"]["cached"].value == n - 1
