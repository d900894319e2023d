"""Lake layer of the roster: the roster files joined with the resolved user ids (``lake/roster``).

Writes the four snapshot tables of :data:`pipeline.core.schemas.ROSTER_TABLES`
(``lake/roster_<name>/snapshot.parquet``, atomically, explicit schemas) keyed on platform user ids:
no mobile reaches them (the problems name a row by file, row number and masked mobile).

- A roster file present (even one that cannot be read): all four tables are written, with what could
  be used and one ``roster_problems`` row per problem.
- No roster file at all: the four files are removed (a stale roster must not outlive its files), and
  the warehouse stages empty tables of the schemas, as it does when they were never written.

Person rows are used when API 20 resolved their mobile (see ``assets/raw/roster.py``); a role that
contradicts the file is reported (``role_mismatch``) but the row is still used, because the document
does not describe API 20's ``role`` and a misread role must not silently empty the roster.

:func:`refresh_roster` does read + resolve + write in one call (``liveclass run``); the assets
``raw/roster`` and ``lake/roster`` run the same two halves.
"""

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from pipeline.core import schemas
from pipeline.core.layout import DataDir
from pipeline.core.roster import (
    DUPLICATE_USER,
    NOT_RESOLVED,
    ROLE_MISMATCH,
    UNKNOWN_MOBILE,
    Problem,
    Roster,
    StudentRow,
    TeacherRow,
    read_roster,
)

from ..raw.roster import (
    MAX_AGE_DAYS,
    RAW_ROSTER_KEY,
    ROLE_KIND,
    ROSTER,
    build_raw_roster,
    read_user_ids,
    resolve_user_ids,
)
from ..resources import DataDirResource
from .store import write_table

LAKE_ROSTER_KEY = AssetKey(["lake", ROSTER])
_SINGULAR = {"students": "student", "teachers": "teacher"}


@dataclass(frozen=True)
class RosterSummary:
    """What a roster refresh did; no mobile in it (the problems carry masked values only)."""

    found: bool
    folder: str
    fingerprint: str | None = None
    files: dict[str, str] = field(default_factory=dict)   # kind -> file used
    rows: dict[str, int] = field(default_factory=dict)    # lake table -> rows written
    matched: int = 0      # person rows resolved to a platform user (in the lake)
    unmatched: int = 0    # person rows whose mobile the platform does not know (or not resolved yet)
    problems: tuple[Problem, ...] = ()
    asked: int = 0        # mobiles API 20 was asked about (refresh_roster only)
    api_calls: int = 0

    @property
    def problems_by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in self.problems).items()))

    def headline(self) -> str:
        if not self.found:
            return f"roster: no roster in {self.folder}"
        by_code = ", ".join(f"{c} {n}" for c, n in self.problems_by_code.items())
        return (f"roster: {self.rows.get('roster_students', 0)} students, {self.rows.get('roster_teachers', 0)} "
                f"teachers, {self.rows.get('roster_courses', 0)} courses from {', '.join(self.files.values())}; "
                f"{self.matched} matched, {self.unmatched} unmatched; {len(self.problems)} problems"
                + (f" ({by_code})" if by_code else ""))

    def lines(self) -> list[str]:
        """The problems, one line each, then the headline."""
        return [p.line() for p in self.problems] + [self.headline()]

    def metadata(self) -> dict[str, Any]:
        """Plain JSON-able values (Dagster metadata, run summaries)."""
        return {"roster": "found" if self.found else "no roster", "folder": self.folder,
                "fingerprint": self.fingerprint or "", "files": dict(self.files), "rows": dict(self.rows),
                "matched": self.matched, "unmatched": self.unmatched, "problems": len(self.problems),
                "problems_by_code": self.problems_by_code, "asked": self.asked, "api_calls": self.api_calls}


# -- the join ---------------------------------------------------------------------------------------

def _roles(entry: Mapping[str, Any]) -> list[int]:
    roles = entry.get("roles") or ([entry["role"]] if entry.get("role") is not None else [])
    return [r for r in roles if isinstance(r, int)]


def _people(kind: str, rows: Sequence[StudentRow | TeacherRow], cache: Mapping[str, Mapping[str, Any]],
            column: str, problems: list[Problem]) -> tuple[list[dict], int, int]:
    records: list[dict] = []
    matched = unmatched = 0
    first: dict[int, int] = {}
    for r in rows:
        entry = cache.get(r.mobile)
        if entry is None:
            problems.append(Problem(r.file, r.row, column, NOT_RESOLVED,
                                    "not resolved to a platform user yet (the file changed after raw/roster ran, "
                                    "or API 20's answer was unusable); materialize raw/roster again", r.masked))
            unmatched += 1
            continue
        uid = entry.get("uid")
        if uid is None:
            problems.append(Problem(r.file, r.row, column, UNKNOWN_MOBILE,
                                    "the platform has no user with this mobile (API 20); this row is not used",
                                    r.masked))
            unmatched += 1
            continue
        if uid in first:
            problems.append(Problem(r.file, r.row, column, DUPLICATE_USER,
                                    f"the same platform user as row {first[uid]}; this row is skipped", r.masked))
            continue
        roles = _roles(entry)
        kinds = {ROLE_KIND.get(x) for x in roles}
        if roles and None not in kinds and kind not in kinds:
            other = _SINGULAR[sorted(kinds)[0]]
            problems.append(Problem(r.file, r.row, column, ROLE_MISMATCH,
                                    f"the platform has this mobile as a {other} (API 20 role "
                                    f"{'/'.join(map(str, roles))}); used as a {_SINGULAR[kind]} anyway", r.masked))
        first[uid] = r.row
        matched += 1
        if isinstance(r, StudentRow):
            records.append({"user_id": uid, "name": r.name, "student_number": r.student_number,
                            "class_name": r.class_name, "grade": r.grade})
        else:
            records.append({"user_id": uid, "name": r.name, "subject": r.subject})
    return records, matched, unmatched


def roster_tables(roster: Roster, cache: Mapping[str, Mapping[str, Any]]
                  ) -> tuple[dict[str, pa.Table], tuple[Problem, ...], int, int]:
    """The four lake tables of ``roster`` with the user ids of ``cache`` (mobile -> entry), every problem
    (the files' and the resolution's, by file and row), and the matched / unmatched person rows."""
    problems = list(roster.problems)
    students, m1, u1 = _people("students", roster.students, cache,
                               roster.columns.get("students", {}).get("mobile", "mobile"), problems)
    teachers, m2, u2 = _people("teachers", roster.teachers, cache,
                               roster.columns.get("teachers", {}).get("mobile", "mobile"), problems)
    courses = [{"class_id": c.class_id, "class_name": c.class_name, "subject": c.subject, "grade": c.grade,
                "term": c.term} for c in roster.courses]
    order = {name: i for i, name in enumerate(roster.files.values())}
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.file, p.row or 0))
    tables = {
        "roster_students": pa.Table.from_pylist(students, schema=schemas.ROSTER_STUDENTS),
        "roster_teachers": pa.Table.from_pylist(teachers, schema=schemas.ROSTER_TEACHERS),
        "roster_courses": pa.Table.from_pylist(courses, schema=schemas.ROSTER_COURSES),
        "roster_problems": pa.Table.from_pylist([p.record() for p in problems], schema=schemas.ROSTER_PROBLEMS),
    }
    return tables, tuple(problems), m1 + m2, u1 + u2


def write_roster_lake(data_dir: DataDir, roster: Roster, cache: Mapping[str, Mapping[str, Any]] | None = None,
                      *, echo: Callable[[str], Any] | None = None) -> RosterSummary:
    """Write (or, without a roster, remove) the roster's lake tables; ``echo`` gets one line per problem.
    ``cache`` defaults to the resolved user ids on disk (``raw/roster/user_ids.json``)."""
    if not roster.found:
        for name in schemas.ROSTER_TABLES:
            data_dir.lake_snapshot(name).unlink(missing_ok=True)
        return RosterSummary(found=False, folder=str(roster.folder))
    if cache is None:
        cache = read_user_ids(data_dir.roster_user_ids())
    tables, problems, matched, unmatched = roster_tables(roster, cache)
    for name, table in tables.items():
        write_table(table, data_dir.lake_snapshot(name))
    if echo is not None:
        for p in problems:
            echo(p.line())
    return RosterSummary(found=True, folder=str(roster.folder), fingerprint=roster.fingerprint,
                         files=dict(roster.files), rows={n: t.num_rows for n, t in tables.items()},
                         matched=matched, unmatched=unmatched, problems=problems)


def refresh_roster(client, data_dir: DataDir, roster_folder: str | Path, echo: Callable[[str], Any] = print, *,
                   max_age_days: float = MAX_AGE_DAYS, now: datetime | None = None) -> RosterSummary:
    """Read the roster folder, resolve its mobiles with API 20 (cached; ``client`` is not used when
    nothing needs asking and may then be None), write the lake tables; ``echo`` gets one line per
    problem and a last summary line.  Bad roster input never raises; an API that fails after the
    client's retries raises :class:`~assets.raw.roster.RosterResolveError` (no mobile in its text)."""
    roster = read_roster(roster_folder)
    res = resolve_user_ids(client, data_dir, roster, max_age_days=max_age_days, now=now)
    summary = write_roster_lake(data_dir, roster, res.cache, echo=echo)
    summary = replace(summary, asked=res.asked, api_calls=res.api_calls)
    echo(summary.headline())
    return summary


# -- the asset ----------------------------------------------------------------------------------------

def build_lake_roster(roster_folder: str | Path | None = None, *, group: str = ROSTER) -> AssetsDefinition:
    """The ``lake/roster`` asset reading ``roster_folder`` (None: the data directory's ``roster/``)."""

    @asset(
        key=LAKE_ROSTER_KEY,
        group_name=group,
        kinds={"python", "parquet"},
        deps=[RAW_ROSTER_KEY],
        description="The roster's snapshot tables roster_students, roster_teachers, roster_courses and "
                    "roster_problems (keyed on platform user ids, no mobiles); removed without roster files.",
        metadata={"tables": MetadataValue.md("\n".join(f"- `{n}`" for n in schemas.ROSTER_TABLES))},
    )
    def lake_roster(context: AssetExecutionContext, data_dir: DataDirResource) -> MaterializeResult:
        t0 = time.monotonic()
        dirs = data_dir.dirs
        folder = Path(roster_folder) if roster_folder is not None else dirs.roster_dir
        summary = write_roster_lake(dirs, read_roster(folder), echo=context.log.warning)
        context.log.info(summary.headline())
        plain = summary.metadata()
        meta: dict[str, Any] = {
            "roster": MetadataValue.text(plain["roster"]),
            "folder": MetadataValue.path(plain["folder"]),
            "fingerprint": MetadataValue.text(plain["fingerprint"]),
            "files": MetadataValue.json(plain["files"]),
            "matched": MetadataValue.int(summary.matched),
            "unmatched": MetadataValue.int(summary.unmatched),
            "problems": MetadataValue.int(len(summary.problems)),
            "problems_by_code": MetadataValue.json(summary.problems_by_code),
            "duration_s": MetadataValue.float(round(time.monotonic() - t0, 3)),
        }
        for name in schemas.ROSTER_TABLES:
            meta[f"rows_{name}"] = MetadataValue.int(summary.rows.get(name, 0))
        return MaterializeResult(metadata=meta)

    return lake_roster


def roster_assets(roster_folder: str | Path | None = None, *, group: str = ROSTER) -> list[AssetsDefinition]:
    """``raw/roster`` and ``lake/roster`` reading ``roster_folder`` (``Settings.roster_folder``)."""
    return [build_raw_roster(roster_folder, group=group), build_lake_roster(roster_folder, group=group)]

