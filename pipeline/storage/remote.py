"""The data directory on object storage: what is committed there, and the local working copy of it.

With ``LIVECLASS_DATA_DIR=s3://bucket/prefix`` every host works in a local working copy (the same
layout as a local data directory, ``LIVECLASS_WORK_DIR``) and object storage holds the master copy:

::

    raw/<group>/date=D/pages-<sha16>.jsonl.gz   a raw page file (and meta-<sha16>.json), content-addressed
    lake/<table>/date=D/part-0-<sha16>.parquet  a lake partition, content-addressed (one PUT)
    lake/_commits/date=D/<n:08d>.json           a day's committed set of tables (If-None-Match: *)
    <kind>/generations/<id>/<file>             an immutable published generation (warehouse, feeds, report)
    <kind>/LATEST                              which generation readers use (If-Match on swap)

The working copy also holds ``.committed/lake/``: exactly the committed lake (``pull_lake``), which the
warehouse build reads, so that a pull never touches files a run on this host has written and not yet
committed.

* **Days are committed whole.** A run uploads a day's lake partitions (and the raw pages they were
  built from) under new keys and then writes the day's next commit; a reader trusts only committed
  days and only the objects their last commit names, so a run killed half way leaves uploaded
  objects nobody reads, never half a day.  Two committers of one day both succeed, in order: the
  commit numbers are created with ``If-None-Match: *``, so the later one is the next number.
* **Publishing is a pointer swap.** A warehouse (or feeds, or report) is uploaded as a new generation
  and ``LATEST`` is replaced only if it is still the one the build started from (``If-Match``); of two
  racing publishers one wins and the other's generation is removed and it fails with :class:`Conflict`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.crash import crash_point
from pipeline.core.files import atomic_path, atomic_write_bytes
from pipeline.core.layout import DataDir, partition_dir

from .objects import Conflict, ObjectStore, sha256_file

COMMITS = "lake/_commits"
#: what is published as generations, each with its LATEST
WAREHOUSE_KIND, FEEDS_KIND, REPORT_KIND = "warehouse", "feeds", "report"
LATEST = "LATEST"
KEEP_GENERATIONS = 3  # LATEST and the two before it, for readers still downloading an older one
COMMIT_ATTEMPTS = 8
COMMITTED = ".committed"  # in a working copy: the committed lake, as the warehouse build reads it
MIRROR_INDEX = ".mirror.json"  # rel path -> [sha256, size, mtime_ns] of a working-copy file as committed or fetched
_SEQ = re.compile(r"^(\d{8})\.json$")


@dataclass(frozen=True)
class Commit:
    day: str
    seq: int
    tables: dict  # table -> {"key", "sha256", "size"}
    raw: dict  # group -> {name: {"key", "sha256", "size"}}


def _sha_key(rel_dir: str, name: str, sha: str) -> str:
    stem, dot, ext = name.partition(".")
    return f"{rel_dir}/{stem}-{sha[:16]}{dot}{ext}"


class Remote:
    """The object storage of one data directory (``store``) and its local working copy (``dirs``)."""

    def __init__(self, store: ObjectStore, dirs: DataDir):
        self.store = store
        self.dirs = dirs
        #: the committed lake, exactly (``pull_lake``), beside the working copy's own files: a pull never
        #: touches what a run on this host is writing and has not committed yet
        self.committed = DataDir(dirs.root / COMMITTED)

    # -- the working copy's index ---------------------------------------------------
    def _index_path(self) -> Path:
        return self.dirs.root / MIRROR_INDEX

    def _index(self) -> dict[str, list]:
        try:
            return json.loads(self._index_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_index(self, index: Mapping[str, list]) -> None:
        atomic_write_bytes(self._index_path(), json.dumps(dict(sorted(index.items())), indent=0).encode())

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.dirs.root).as_posix() if path.is_relative_to(self.dirs.root) else str(path)

    @staticmethod
    def _stamp(path: Path, sha: str) -> list:
        st = path.stat()
        return [sha, st.st_size, st.st_mtime_ns]

    def _holds(self, index: Mapping[str, list], path: Path, sha: str) -> bool:
        """The working copy's file is the one with ``sha`` (as recorded, and not touched since)."""
        try:
            return index.get(self._rel(path)) == self._stamp(path, sha)
        except OSError:
            return False

    # -- day commits ----------------------------------------------------------------
    def commits(self, day: str | None = None) -> dict[str, Commit]:
        """The last commit of every committed day (or of ``day``)."""
        prefix = f"{COMMITS}/{partition_dir(day)}/" if day else f"{COMMITS}/"
        last: dict[str, int] = {}
        for o in self.store.list(prefix):
            parts = o.key.split("/")
            m = _SEQ.match(parts[-1])
            if m and parts[-2].startswith("date="):
                d = parts[-2].removeprefix("date=")
                last[d] = max(last.get(d, -1), int(m.group(1)))
        out = {}
        for d, seq in sorted(last.items()):
            body, _ = self.store.get(f"{COMMITS}/{partition_dir(d)}/{seq:08d}.json")
            if body is not None:
                doc = json.loads(body)
                out[d] = Commit(d, seq, doc.get("tables", {}), doc.get("raw", {}))
        return out

    def commit_day(self, day: str, tables: Iterable[str], raw_groups: Iterable[str], *, run_id: str = "") -> Commit:
        """Upload the working copy's lake partitions of ``day`` (and the raw files they were built from),
        then commit them as the day's next commit.  Tables or groups with no local file keep what the
        previous commit had."""
        entries: dict[str, dict] = {}
        for table in tables:
            path = self.dirs.lake_file(table, day)
            if path.exists():
                entries[table] = self._upload(path)
        raw: dict[str, dict] = {}
        for group in raw_groups:
            files = {p.name: p for p in (self.dirs.raw_file(group, day), self.dirs.raw_meta(group, day)) if p.exists()}
            if files:
                raw[group] = {name: self._upload(p) for name, p in files.items()}
        crash_point("commit.before_commit")
        for _attempt in range(COMMIT_ATTEMPTS):
            previous = self.commits(day).get(day)
            seq = previous.seq + 1 if previous else 0
            doc = {"day": day, "tables": {**(previous.tables if previous else {}), **entries},
                   "raw": {**(previous.raw if previous else {}), **raw},
                   "run_id": run_id, "host": socket.gethostname(), "committed_at": time.time()}
            try:
                self.store.put(f"{COMMITS}/{partition_dir(day)}/{seq:08d}.json",
                               json.dumps(doc, sort_keys=True).encode(), create=True)
            except Conflict:
                continue  # another committer took this number: read its commit and take the next
            index = self._index()
            for table, e in entries.items():
                path = self.dirs.lake_file(table, day)
                index[self._rel(path)] = self._stamp(path, e["sha256"])
            for group, files in raw.items():
                for name, e in files.items():
                    path = self.dirs.raw_file(group, day).with_name(name)
                    index[self._rel(path)] = self._stamp(path, e["sha256"])
            self._save_index(index)
            return Commit(day, seq, doc["tables"], doc["raw"])
        raise Conflict(f"{self.store.url}: day {day} could not be committed after {COMMIT_ATTEMPTS} attempts")

    def _upload(self, path: Path) -> dict:
        sha = sha256_file(path)
        rel_dir = self._rel(path.parent)
        key = _sha_key(rel_dir, path.name, sha)
        self.store.put(key, path)  # same content, same key: a repeated upload changes nothing
        return {"key": key, "sha256": sha, "size": path.stat().st_size}

    def committed_urls(self, table: str, commits: Mapping[str, Commit] | None = None) -> list[str]:
        """The ``s3://`` URLs of ``table``'s committed partitions, oldest day first: what DuckDB reads in
        place through fsspec (``con.register_filesystem(store.filesystem())``, then ``read_parquet``)."""
        commits = self.commits() if commits is None else commits
        return [self.store.url_of(c.tables[table]["key"]) for _d, c in sorted(commits.items()) if table in c.tables]

    # -- pulling committed days into the working copy -------------------------------
    def fill_day(self, day: str, group: str) -> int:
        """Give the working copy what the last commit of ``day`` has and it lacks: ``group``'s raw files and
        the day's lake partitions (what a re-extraction compares with, raw/settle.py); files it holds are
        left alone (this run may have just written them).  Files downloaded."""
        commit = self.commits(day).get(day)
        if commit is None:
            return 0
        wanted = {self.dirs.lake_file(t, day): e for t, e in commit.tables.items()}
        wanted |= {self.dirs.raw_file(group, day).with_name(n): e for n, e in commit.raw.get(group, {}).items()}
        missing = {p: e for p, e in wanted.items() if not p.exists()}
        index = self._index()
        for path, e in sorted(missing.items()):
            self.store.download(e["key"], path, sha256=e["sha256"])
            index[self._rel(path)] = self._stamp(path, e["sha256"])
        if missing:
            self._save_index(index)
        return len(missing)

    def pull_lake(self, tables: Iterable[str]) -> tuple[int, dict[str, str]]:
        """Make :attr:`committed`'s daily lake partitions exactly the committed ones (downloading what
        differs, removing what no commit names) and give it the working copy's snapshot tables (course
        progress, the roster: not day data); (files downloaded, local path -> sha256 of every committed
        file, what the warehouse build compares by)."""
        commits = self.commits()
        tables = list(tables)
        mirror = self.committed
        index = self._index()
        wanted = {mirror.lake_file(t, day): e for day, c in commits.items() for t, e in c.tables.items()}
        n = 0
        for path, e in sorted(wanted.items()):
            if self._holds(index, path, e["sha256"]):
                continue
            self.store.download(e["key"], path, sha256=e["sha256"])
            index[self._rel(path)] = self._stamp(path, e["sha256"])
            n += 1
        for table in tables:  # a day or table no commit names any more
            for path in mirror.lake_files(table):
                if path not in wanted:
                    path.unlink()
                    index.pop(self._rel(path), None)
        self._save_index(index)
        for snap in self.dirs.lake_dir().glob(f"*/{self.dirs.lake_snapshot('x').name}"):
            dest = mirror.lake_snapshot(snap.parent.name)
            st = snap.stat()
            if not dest.exists() or (dest.stat().st_size, dest.stat().st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                with atomic_path(dest) as tmp:
                    shutil.copy2(snap, tmp)
        for dest in mirror.lake_dir().glob(f"*/{self.dirs.lake_snapshot('x').name}"):
            if not self.dirs.lake_snapshot(dest.parent.name).exists():
                dest.unlink()
        return n, {str(p): e["sha256"] for p, e in wanted.items()}

    # -- generations ----------------------------------------------------------------
    def latest(self, kind: str) -> tuple[dict | None, str | None]:
        """The ``LATEST`` pointer of ``kind`` and its ETag, or (None, None)."""
        body, etag = self.store.get(f"{kind}/{LATEST}")
        return (json.loads(body), etag) if body is not None else (None, None)

    def pull_generation(self, kind: str, dest: Mapping[str, Path], pointer: dict | None = None) -> dict | None:
        """Download the files of ``kind``'s LATEST generation (``dest``: file name -> local path) unless the
        working copy already holds them; the pointer, or None when nothing is published."""
        if pointer is None:
            pointer, _ = self.latest(kind)
        if pointer is None:
            return None
        index = self._index()
        for name, e in pointer["files"].items():
            path = dest.get(name)
            if path is None:
                continue
            if self._holds(index, path, e["sha256"]):
                continue
            self.store.download(f"{kind}/generations/{pointer['generation']}/{name}", path, sha256=e["sha256"])
            index[self._rel(path)] = self._stamp(path, e["sha256"])
        self._save_index(index)
        return pointer

    def publish(self, kind: str, files: Mapping[str, Path], *, base_etag: str | None) -> str:
        """Upload ``files`` (name -> local path) as a new generation of ``kind`` and point ``LATEST`` at it,
        if ``LATEST`` is still ``base_etag`` (None: if there is none yet); the generation's id.  A lost race
        removes this generation and raises :class:`Conflict`."""
        gen = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        described = {}
        for name, path in sorted(files.items()):
            self.store.put(f"{kind}/generations/{gen}/{name}", path)
            described[name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        pointer = {"generation": gen, "files": described, "published_at": time.time(), "host": socket.gethostname()}
        try:
            self.store.put(f"{kind}/{LATEST}", json.dumps(pointer, sort_keys=True).encode(),
                           create=base_etag is None, replace=base_etag)
        except Conflict:
            for name in described:
                with contextlib.suppress(Exception):
                    self.store.delete(f"{kind}/generations/{gen}/{name}")
            raise Conflict(f"{self.store.url_of(kind + '/' + LATEST)}: another publisher replaced it first; "
                           f"this {kind} (generation {gen}) is discarded and the published one stays") from None
        index = self._index()
        for name, path in files.items():
            index[self._rel(path)] = self._stamp(path, described[name]["sha256"])
        self._save_index(index)
        self._prune_generations(kind, keep=gen)
        return gen

    def _prune_generations(self, kind: str, keep: str) -> None:
        gens: dict[str, list[str]] = {}
        for o in self.store.list(f"{kind}/generations/"):
            gens.setdefault(o.key.split("/")[2], []).append(o.key)
        older = sorted(g for g in gens if g < keep)[:-(KEEP_GENERATIONS - 1) or None]
        for g in older:
            for key in gens[g]:
                with contextlib.suppress(Exception):
                    self.store.delete(key)


def remote_for(url: str | None, dirs: DataDir) -> Remote | None:
    """The remote of a data directory URL, or None for a local data directory."""
    if not url:
        return None
    return Remote(ObjectStore(url), dirs)


def default_work_dir(url: str, cache_home: str | os.PathLike[str]) -> Path:
    """Where a host keeps its working copy of ``url`` when ``LIVECLASS_WORK_DIR`` is not set."""
    from .objects import split_url

    bucket, prefix = split_url(url)
    return Path(cache_home) / "liveclass" / bucket / prefix
