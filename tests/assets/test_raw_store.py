"""Raw pages: one record per request (the newest answer wins), and the course-progress snapshot's ages."""

from assets.raw.store import Recorder, SnapshotAges


def test_the_newest_answer_of_a_request_replaces_the_older():
    r = Recorder()
    r("/lesson/getClassInfo", {"lessonId": 1}, {"data": {"id": 9}})
    r("/lesson/getClassInfo", {"lessonId": 2}, {"data": {"id": 8}})
    r("/lesson/getClassInfo", {"lessonId": 1}, {"data": {"id": 7}})
    assert sorted((x["params"]["lessonId"], x["body"]["data"]["id"]) for x in r.records) == [(1, 7), (2, 8)]


def test_snapshot_ages_say_which_classes_were_kept_and_since_when(tmp_path):
    ages = SnapshotAges("2026-12-01T03:00:00+08:00", {5: "2026-12-01T03:00:00+08:00", 6: "2026-11-28T03:00:05+08:00"},
                        [7])
    path = tmp_path / "fetched_at.json"
    ages.write(path)
    back = SnapshotAges.read(path)
    assert back == ages and back.kept == {6: "2026-11-28T03:00:05+08:00"}
    kept, missing = back.notes()
    assert "1 class(es) kept from an earlier snapshot (oldest 2026-11-28 03:00)" in kept and kept.endswith(": 6")
    assert "missing for 1 class(es)" in missing and missing.endswith(": 7")
    assert SnapshotAges.read(tmp_path / "none.json").notes() == []
