"""Dashboard feeds: values equal the marts, manifest matches the files, atomic swaps, no personal data."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from assets.publish import feeds as F
from assets.publish.feeds import (
    FEED_ORDER,
    FEEDS_SCHEMA_VERSION,
    MOBILE_RE,
    PersonalDataError,
    assert_no_personal_data,
    read_manifest,
    write_feeds,
)
from pipeline.core.layout import DataDir
from tests.warehouse.lakegen import write_lake
from warehouse.build import build_warehouse, connect_readonly

MARTS = tuple(FEED_ORDER)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A data directory with a warehouse built from a small synthetic lake, and its feeds."""
    root = tmp_path_factory.mktemp("data")
    write_lake(root / "lake", days=8, lessons_per_day=10, students_per_lesson=20, seed=3)
    build_warehouse(root / "lake", root / "warehouse.duckdb")
    write_feeds(root / "warehouse.duckdb", root)
    return root


def _expected(root: Path, mart: str) -> pa.Table:
    con = connect_readonly(root / "warehouse.duckdb")
    try:
        return con.sql(f'SELECT * FROM "{mart}" ORDER BY {FEED_ORDER[mart]}').arrow().read_all()
    finally:
        con.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(path: Path, schema: pa.Schema) -> pa.Table:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    opts = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(raw[3:]), convert_options=opts)


def test_feed_files_hold_exactly_the_mart_rows(root):
    feeds = root / "feeds"
    assert feeds.is_symlink() and feeds.is_dir()
    for mart in MARTS:
        expected = _expected(root, mart)
        assert expected.num_rows > 0, mart
        # Parquet: identical schema and values
        assert pq.read_table(feeds / f"{mart}.parquet").equals(expected), mart
        # CSV (BOM, header, floats rounded to DECIMALS places): identical values once typed
        got = _read_csv(feeds / f"{mart}.csv", expected.schema)
        assert got.column_names == expected.column_names
        assert got.equals(F.rounded(expected)), mart
        # JSON: array of row objects; dates as ISO strings, floats rounded the same way
        rows = json.loads((feeds / f"{mart}.json").read_text(encoding="utf-8"))
        want = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                for r in F.rounded(expected).to_pylist()]
        assert rows == want, mart
        exact = [v for r in expected.to_pylist() for v in r.values() if isinstance(v, float)]
        shown = [v for r in want for v in r.values() if isinstance(v, float)]
        assert all(abs(a - b) <= 0.5e-4 + 1e-12 for a, b in zip(exact, shown)), mart


def test_one_grain_per_feed_and_rates_rounded(root):
    d, m = read_manifest(root / "feeds")
    assert m["decimals"] == F.DECIMALS == 4
    for mart, feed in m["feeds"].items():
        names = [c["name"] for c in feed["columns"]]
        assert "period" not in names, mart  # no file mixes day and month rows
        key = [k.strip() for k in feed["order_by"].split(",")]
        table = pq.read_table(d / feed["files"]["parquet"]["path"], columns=key)
        assert len(set(zip(*[table.column(k).to_pylist() for k in key]))) == table.num_rows, mart
    text = (d / "mart_daily_overview.csv").read_text(encoding="utf-8-sig")
    rates = [line.split(",")[9] for line in text.splitlines()[1:]]
    assert all(len(r.split(".")[-1]) <= 4 for r in rates) and any("." in r for r in rates)


def test_chinese_feeds_for_excel(root, tmp_path):
    import shutil

    from assets.publish.labels import ZH_HEADERS

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(root / "warehouse.duckdb", data / "warehouse.duckdb")
    r = write_feeds(data / "warehouse.duckdb", data, lang="zh")
    d, m = read_manifest(r.path)
    lines = (d / "mart_lesson_attendance.zh.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith('"课节ID","日期"')
    assert "已结束" in (d / "mart_lesson_attendance.zh.csv").read_text(encoding="utf-8-sig")
    assert m["feeds"]["mart_lesson_attendance"]["files"]["csv_zh"]["path"] == "mart_lesson_attendance.zh.csv"
    # every column of every mart has a Chinese header
    missing = {c["name"] for f in m["feeds"].values() for c in f["columns"]} - set(ZH_HEADERS)
    assert missing == set()
    with pytest.raises(ValueError, match="not one of en, zh"):
        write_feeds(data / "warehouse.duckdb", data, lang="fr")


def test_csv_opens_as_text_with_chinese_names(root):
    text = (root / "feeds" / "mart_lesson_attendance.csv").read_text(encoding="utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith('"lesson_id","lesson_date"')
    assert "班级" in text and "老师" in text


def test_manifest_describes_the_files(root):
    d, m = read_manifest(root / "feeds")
    assert m["schema_version"] == FEEDS_SCHEMA_VERSION
    assert m["generation"] == d.name
    assert set(m["feeds"]) == set(MARTS)
    con = connect_readonly(root / "warehouse.duckdb")
    try:
        lo, hi = con.execute("SELECT min(lesson_date)::VARCHAR, max(lesson_date)::VARCHAR "
                             "FROM mart_lesson_attendance").fetchall()[0]
        rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in MARTS}
    finally:
        con.close()
    assert m["data_window"]["min_lesson_date"] == lo and m["data_window"]["max_lesson_date"] == hi
    listed = {"manifest.json"}
    for mart, feed in m["feeds"].items():
        assert feed["rows"] == rows[mart]
        names = [c["name"] for c in feed["columns"]]
        pq_schema = pq.read_schema(d / feed["files"]["parquet"]["path"])
        assert names == pq_schema.names
        assert [c["arrow_type"] for c in feed["columns"]] == [str(t) for t in pq_schema.types]
        assert all(c["type"] and c["description"] for c in feed["columns"])
        assert pq.read_metadata(d / feed["files"]["parquet"]["path"]).num_rows == rows[mart]
        csv_lines = (d / feed["files"]["csv"]["path"]).read_text(encoding="utf-8-sig").splitlines()
        assert csv_lines[0] == ",".join(f'"{n}"' for n in names)
        js = json.loads((d / feed["files"]["json"]["path"]).read_bytes())
        assert len(js) == rows[mart] and list(js[0]) == names
        for fmt, f in feed["files"].items():
            p = d / f["path"]
            listed.add(f["path"])
            assert p.stat().st_size == f["bytes"], (mart, fmt)
            assert _sha(p) == f["sha256"], (mart, fmt)
    assert {p.name for p in d.iterdir()} == listed, "feeds hold exactly the files the manifest lists"


def _scan_for_mobiles(d: Path) -> list[str]:
    hits = []
    for p in d.iterdir():
        if p.suffix in (".csv", ".json"):
            text = p.read_text(encoding="utf-8-sig")
            if p.name == "manifest.json":
                text = re.sub(r'"sha256": "[0-9a-f]+"', "", text)
            hits += [f"{p.name}: {h}" for h in MOBILE_RE.findall(text)]
        elif p.suffix == ".parquet":
            t = pq.read_table(p)
            for name in t.column_names:
                hits += [f"{p.name}.{name}: {v}" for v in t.column(name).to_pylist() if MOBILE_RE.search(str(v))]
    return hits


def test_no_mobile_numbers_in_feeds(root):
    d, m = read_manifest(root / "feeds")
    assert _scan_for_mobiles(d) == []
    for feed in m["feeds"].values():
        assert not any(re.search("mobile|phone", c["name"], re.I) for c in feed["columns"])


def test_personal_data_guard():
    assert MOBILE_RE.search("call 13912345678 now") and MOBILE_RE.search("13912345678")
    assert not MOBILE_RE.search("0.13912345678") and not MOBILE_RE.search("139123456789")
    assert not MOBILE_RE.search("12912345678")
    with pytest.raises(PersonalDataError):
        assert_no_personal_data("m", pa.table({"student_mobile": [1]}))
    with pytest.raises(PersonalDataError):
        assert_no_personal_data("m", pa.table({"note": ["张三 15800001111"]}))
    assert_no_personal_data("m", pa.table({"class_name": ["班级1"], "user_id": [15800001111]}))


def test_failed_generation_leaves_published_feeds_untouched(root, monkeypatch):
    before = os.readlink(root / "feeds")

    def boom(table):
        raise RuntimeError("disk full")

    monkeypatch.setitem(F.ENCODERS, "json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_feeds(root / "warehouse.duckdb", root)
    assert os.readlink(root / "feeds") == before
    assert not [p for p in (DataDir(root).feeds_generations).iterdir() if p.name.startswith(".")], "staging removed"
    d, m = read_manifest(root / "feeds")
    assert all(_sha(d / f["path"]) == f["sha256"] for feed in m["feeds"].values() for f in feed["files"].values())


def test_readers_never_see_a_partial_or_mismatched_feed(tmp_path):
    root = tmp_path
    write_lake(root / "lake", days=3, lessons_per_day=6, students_per_lesson=12, seed=5)
    build_warehouse(root / "lake", root / "warehouse.duckdb")
    write_feeds(root / "warehouse.duckdb", root)
    stop = threading.Event()
    errors: list[str] = []
    checks = [0]

    def reader():
        while not stop.is_set():
            try:
                # consistent protocol: resolve the link once, read manifest and files from there
                d, m = read_manifest(root / "feeds")
                for feed in m["feeds"].values():
                    for f in feed["files"].values():
                        data = (d / f["path"]).read_bytes()
                        if len(data) != f["bytes"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
                            errors.append(f"mismatch {d.name}/{f['path']}")
                # naive reads by path: the link always exists and every file is whole
                json.loads((root / "feeds" / "manifest.json").read_bytes())
                pq.read_table(root / "feeds" / "mart_lesson_attendance.parquet")
                json.loads((root / "feeds" / "mart_daily_overview.json").read_bytes())
                checks[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is a finding
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    generations = set()
    try:
        for _ in range(8):
            generations.add(write_feeds(root / "warehouse.duckdb", root).generation)
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert checks[0] > 10 and len(generations) == 8
    kept = [p.name for p in (DataDir(root).feeds_generations).iterdir()]
    assert len(kept) == 1 + F.KEEP_PREVIOUS and os.path.basename(os.readlink(root / "feeds")) in kept


def test_legacy_plain_feeds_directory_is_replaced(tmp_path):
    write_lake(tmp_path / "lake", days=2, lessons_per_day=4, students_per_lesson=5, seed=2)
    build_warehouse(tmp_path / "lake", tmp_path / "warehouse.duckdb")
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "old.csv").write_text("x")
    write_feeds(tmp_path / "warehouse.duckdb", tmp_path)
    assert (tmp_path / "feeds").is_symlink() and not (tmp_path / "feeds" / "old.csv").exists()


def test_cli_and_asset_write_feeds(root, monkeypatch):
    from dagster import materialize

    from assets.publish.assets import feeds_files
    from assets.resources import DataDirResource
    from pipeline.cli import main

    monkeypatch.setenv("LIVECLASS_DATA_DIR", str(root))
    before = os.readlink(root / "feeds")
    res = CliRunner().invoke(main, ["feeds"])
    assert res.exit_code == 0, res.output
    assert "mart_student_engagement" in res.output and str(root / "feeds") in res.output
    assert os.readlink(root / "feeds") != before

    result = materialize([feeds_files], resources={"data_dir": DataDirResource(path=str(root))})
    assert result.success
    md = result.asset_materializations_for_node("feeds__files")[0].metadata
    assert md["rows"].value["mart_daily_overview"] == 8
    _, m = read_manifest(root / "feeds")
    assert m["generation"] == md["generation"].value

    monkeypatch.setenv("LIVECLASS_DATA_DIR", str(root / "nowhere"))
    res = CliRunner().invoke(main, ["feeds"])
    assert res.exit_code == 2 and "no warehouse" in res.output
