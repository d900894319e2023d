"""The object-storage protocol against a real S3 server (SeaweedFS ``weed mini`` on loopback): conditional
PUTs, day commits that other working copies trust whole, and generations that racing publishers cannot
tear."""

from __future__ import annotations

import hashlib
import threading
import uuid

import pytest

from pipeline.core.layout import DataDir
from pipeline.storage.objects import Conflict, ObjectStore
from pipeline.storage.remote import COMMITS, Remote

TABLES = ("lessons", "attendance")


@pytest.fixture
def store(seaweed_server, monkeypatch):
    for k, v in seaweed_server.env.items():
        monkeypatch.setenv(k, v)
    return ObjectStore(seaweed_server.url(f"t-{uuid.uuid4().hex[:8]}"))


def _write(dirs: DataDir, table: str, day: str, data: bytes) -> None:
    path = dirs.lake_file(table, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_conditional_puts_refuse_to_overwrite(store):
    etag = store.put("x.json", b"1", create=True)
    with pytest.raises(Conflict):
        store.put("x.json", b"2", create=True)
    new = store.put("x.json", b"3", replace=etag)
    with pytest.raises(Conflict):
        store.put("x.json", b"4", replace=etag)  # changed since it was read
    assert store.get("x.json") == (b"3", new)
    assert store.get("absent") == (None, None)


def test_a_committed_day_reaches_another_working_copy_and_an_uncommitted_one_never_does(store, tmp_path):
    a, b = DataDir(tmp_path / "host-a"), DataDir(tmp_path / "host-b")
    ra, rb = Remote(store, a), Remote(store, b)
    for t in TABLES:
        _write(a, t, "2026-03-09", f"{t} v1".encode())
    ra.commit_day("2026-03-09", TABLES, [])
    # host A writes a new version of one table and dies before the commit: its bytes even reach the store
    _write(a, "lessons", "2026-03-09", b"lessons v2, never committed")
    ra._upload(a.lake_file("lessons", "2026-03-09"))
    # and a day it never commits at all
    _write(a, "lessons", "2026-03-10", b"half a day")
    ra._upload(a.lake_file("lessons", "2026-03-10"))

    fetched, versions = rb.pull_lake(TABLES)
    seen = rb.committed  # what the warehouse build of host B reads
    committed = {str(seen.lake_file(t, "2026-03-09")): hashlib.sha256(f"{t} v1".encode()).hexdigest()
                 for t in TABLES}
    assert (fetched, versions) == (2, committed)
    assert {t: seen.lake_file(t, "2026-03-09").read_bytes() for t in TABLES} == {t: f"{t} v1".encode() for t in TABLES}
    assert not seen.lake_file("lessons", "2026-03-10").exists()
    assert rb.pull_lake(TABLES) == (0, committed)  # nothing changed: nothing fetched

    # host A's build reads the committed state too, and its working files (a run may be writing them) stay
    ra.pull_lake(TABLES)
    assert ra.committed.lake_file("lessons", "2026-03-09").read_bytes() == b"lessons v1"
    assert not ra.committed.lake_file("lessons", "2026-03-10").exists()
    assert a.lake_file("lessons", "2026-03-09").read_bytes() == b"lessons v2, never committed"

    # a second commit of the day (one table) keeps the other table's committed file
    _write(b, "attendance", "2026-03-09", b"attendance v2")
    assert rb.commit_day("2026-03-09", ["attendance"], []).seq == 1
    ra.pull_lake(TABLES)
    assert ra.committed.lake_file("attendance", "2026-03-09").read_bytes() == b"attendance v2"
    assert ra.committed.lake_file("lessons", "2026-03-09").read_bytes() == b"lessons v1"
    assert [o.key for o in store.list(COMMITS)] == [f"{COMMITS}/date=2026-03-09/{n:08d}.json" for n in (0, 1)]

    # a day whose tables another host re-extracted and committed is replaced in the committed lake;
    # a snapshot table of the working copy is given to it as it is
    snap = a.lake_snapshot("course_progress")
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.write_bytes(b"snapshot")
    ra.pull_lake(TABLES)
    assert ra.committed.lake_snapshot("course_progress").read_bytes() == b"snapshot"


def test_two_committers_of_one_day_both_land_in_order(store, tmp_path):
    dirs = [DataDir(tmp_path / f"h{i}") for i in range(4)]
    for i, d in enumerate(dirs):
        _write(d, "lessons", "2026-03-11", f"from {i}".encode())
    barrier = threading.Barrier(len(dirs))
    seqs = []

    def commit(d: DataDir) -> None:
        barrier.wait()
        seqs.append(Remote(store, d).commit_day("2026-03-11", ["lessons"], []).seq)

    threads = [threading.Thread(target=commit, args=(d,)) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == [0, 1, 2, 3]


def test_racing_publishers_leave_one_consistent_generation(store, tmp_path):
    root = DataDir(tmp_path / "base")
    first = tmp_path / "w0.duckdb"
    first.write_bytes(b"generation zero")
    Remote(store, root).publish("warehouse", {"warehouse.duckdb": first}, base_etag=None)
    _pointer, base = Remote(store, root).latest("warehouse")
    n = 4
    barrier = threading.Barrier(n)
    won, lost = [], []

    def publish(i: int) -> None:
        d = DataDir(tmp_path / f"p{i}")
        f = tmp_path / f"w{i + 1}.duckdb"
        f.write_bytes(f"build of publisher {i}".encode() * 1000)
        barrier.wait()
        try:
            won.append((i, Remote(store, d).publish("warehouse", {"warehouse.duckdb": f}, base_etag=base)))
        except Conflict as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == n - 1, (won, lost)
    assert all("another publisher replaced it first" in m for m in lost)
    winner, gen = won[0]
    reader = Remote(store, DataDir(tmp_path / "reader"))
    pointer, _ = reader.latest("warehouse")
    assert pointer["generation"] == gen
    out = tmp_path / "reader" / "warehouse.duckdb"
    reader.pull_generation("warehouse", {"warehouse.duckdb": out})
    assert out.read_bytes() == f"build of publisher {winner}".encode() * 1000
    # the losers' generations are gone; the winner's and the one before it stay
    gens = {o.key.split("/")[2] for o in store.list("warehouse/generations/")}
    assert gen in gens and len(gens) == 2


def test_no_secret_reaches_a_key_or_an_object(store, tmp_path, seaweed_server):
    d = DataDir(tmp_path / "h")
    _write(d, "lessons", "2026-03-09", b"x")
    Remote(store, d).commit_day("2026-03-09", ["lessons"], [])
    secret = seaweed_server.env["AWS_SECRET_ACCESS_KEY"]
    for o in store.list(""):
        body, _ = store.get(o.key)
        assert secret not in o.key and secret.encode() not in body


def test_duckdb_reads_the_committed_lake_in_place_through_fsspec(store, tmp_path):
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = DataDir(tmp_path / "h")
    for day, n in (("2026-03-09", 3), ("2026-03-10", 4)):
        path = d.lake_file("lessons", day)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"lesson_id": list(range(n)), "day": [day] * n}), path)
        Remote(store, d).commit_day(day, ["lessons"], [])
    # an uploaded, uncommitted partition is not among the URLs
    stray = d.lake_file("lessons", "2026-03-11")
    stray.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"lesson_id": [9], "day": ["2026-03-11"]}), stray)
    Remote(store, d)._upload(stray)
    urls = Remote(store, DataDir(tmp_path / "reader")).committed_urls("lessons")
    assert len(urls) == 2 and all(u.startswith(f"s3://{store.bucket}/{store.prefix}/lake/lessons/") for u in urls)
    con = duckdb.connect()
    con.register_filesystem(store.filesystem())
    listed = "[" + ", ".join(f"'{u}'" for u in urls) + "]"
    assert con.execute(f"SELECT day, count(*) FROM read_parquet({listed}) GROUP BY day ORDER BY day").fetchall() == [
        ("2026-03-09", 3), ("2026-03-10", 4)]
