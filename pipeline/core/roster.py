"""The school's roster files: read and validated, nothing resolved (no Dagster, no HTTP).

The roster folder (``Settings.roster_folder``, default ``<data dir>/roster/``) may hold up to three
files, each ``.csv`` (UTF-8, with or without BOM) or ``.xlsx`` (first sheet), with a header row:

=========  ==================================================================================
file       columns (Chinese or English, case, spaces and underscores ignored; * = required)
=========  ==================================================================================
students   手机号|mobile*, 姓名|name*, 学号|student_number, 班级|class, 年级|grade
teachers   手机号|mobile*, 姓名|name*, 科目|subject
courses    班级ID|class_id, 班级名称|class_name (at least one of the two), 科目|subject,
           年级|grade, 学期|term
=========  ==================================================================================

:func:`read_roster` returns a :class:`Roster`: the valid rows (each with its file and the row
number a spreadsheet shows, header = row 1) and one :class:`Problem` per thing wrong.  Bad input is
never an exception: a file that cannot be read is one problem and is skipped, a bad row is one
problem and is skipped, the rest is used.

Mobiles are personal data and stop at the raw layer: every problem text and every ``repr`` shows
them masked (``138****5678``, :func:`mask`); the lake tables key on platform user ids instead
(resolved by API 20 in ``assets/raw/roster.py``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

KINDS = ("students", "teachers", "courses")
SUFFIXES = (".csv", ".xlsx")

# -- problem codes ------------------------------------------------------------------------------
INVALID_MOBILE = "invalid_mobile"      # not 11 digits starting with 1 (after removing spaces, dashes, +86)
DUPLICATE_MOBILE = "duplicate_mobile"  # the same mobile again in one file: the first row is kept
MISSING_NAME = "missing_name"          # a person row without a name
MISSING_COLUMN = "missing_column"      # a required column absent from the header: the whole file is skipped
DUPLICATE_COLUMN = "duplicate_column"  # two header cells mean the same column: the first is used
NOT_UTF8 = "not_utf8"                  # a CSV file that is not UTF-8: the whole file is skipped
UNREADABLE = "unreadable"              # a file that cannot be read (bad xlsx, .xls, bad CSV): skipped
TWO_FILES = "two_files"                # students.csv and students.xlsx: the newer is used, the other ignored
INVALID_CLASS_ID = "invalid_class_id"  # courses: a class id that is not a whole number
MISSING_CLASS = "missing_class"        # courses: a row with neither class id nor class name
DUPLICATE_CLASS = "duplicate_class"    # courses: the same class id (or, without one, name) again
# added by the resolution (assets/raw/roster.py, assets/lake/roster.py):
UNKNOWN_MOBILE = "unknown_mobile"      # API 20 does not know the mobile: the row is not in the lake
NOT_RESOLVED = "not_resolved"          # the mobile was never asked (the file changed after raw/roster ran)
ROLE_MISMATCH = "role_mismatch"        # API 20's role contradicts the file (still used, see docs/roster.md)
DUPLICATE_USER = "duplicate_user"      # two rows of one file resolve to the same platform user: the first is kept

PROBLEM_CODES = (INVALID_MOBILE, DUPLICATE_MOBILE, MISSING_NAME, MISSING_COLUMN, DUPLICATE_COLUMN, NOT_UTF8,
                 UNREADABLE, TWO_FILES, INVALID_CLASS_ID, MISSING_CLASS, DUPLICATE_CLASS, UNKNOWN_MOBILE,
                 NOT_RESOLVED, ROLE_MISMATCH, DUPLICATE_USER)


@dataclass(frozen=True)
class Column:
    field: str
    names: tuple[str, ...]  # accepted header texts, the Chinese one first
    required: bool = False

    @property
    def label(self) -> str:
        return "|".join(self.names)


#: kind -> its columns.  ``courses`` needs class_id or class_name (checked separately).
COLUMNS: dict[str, tuple[Column, ...]] = {
    "students": (Column("mobile", ("手机号", "mobile"), True), Column("name", ("姓名", "name"), True),
                 Column("student_number", ("学号", "student_number")), Column("class_name", ("班级", "class")),
                 Column("grade", ("年级", "grade"))),
    "teachers": (Column("mobile", ("手机号", "mobile"), True), Column("name", ("姓名", "name"), True),
                 Column("subject", ("科目", "subject"))),
    "courses": (Column("class_id", ("班级ID", "class_id")), Column("class_name", ("班级名称", "class_name")),
                Column("subject", ("科目", "subject")), Column("grade", ("年级", "grade")),
                Column("term", ("学期", "term"))),
}


# -- masking and mobiles ----------------------------------------------------------------------------

def mask(text: str) -> str:
    """A value shown without the digits that identify a person: ``138****5678`` for a mobile;
    anything shorter than 8 characters keeps only its last two."""
    text = str(text).strip()
    if len(text) >= 8:
        return f"{text[:3]}****{text[-4:]}"
    if len(text) > 2:
        return "*" * (len(text) - 2) + text[-2:]
    return "*" * len(text)


_MOBILE = re.compile(r"1\d{10}")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u00a0\u3000]+")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?e\+?\d+", re.I)


def normalize_mobile(value: Any) -> str | None:
    """The 11-digit mobile in a cell (``int``/``float`` from a spreadsheet, or text with spaces, dashes and
    a ``+86``/``0086`` prefix), or None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    text = _SEPARATORS.sub("", str(value))
    for prefix in ("+86", "0086", "(+86)", "（+86）"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if len(text) == 13 and text.startswith("86"):
            text = text[2:]
    return text if _MOBILE.fullmatch(text) else None


# -- what read_roster returns -----------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong in the roster; :meth:`line` is what the user sees.

    ``value`` is already masked.  ``row`` None: the whole file; ``column`` None: the whole row.
    """

    file: str
    row: int | None
    column: str | None
    code: str
    what: str
    value: str | None = None

    def line(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f" column {self.column}"
        return f"{where}: {self.what}" + (f" ({self.value})" if self.value else "")

    def record(self) -> dict[str, Any]:
        """A row of the lake table ``roster_problems``."""
        return {"file": self.file, "row": self.row, "column": self.column, "problem": self.code,
                "message": self.line()}


@dataclass(frozen=True)
class StudentRow:
    file: str
    row: int
    mobile: str = field(repr=False)
    name: str
    student_number: str | None = None
    class_name: str | None = None
    grade: str | None = None

    @property
    def masked(self) -> str:
        return mask(self.mobile)

    def __repr__(self) -> str:
        return (f"StudentRow({self.file} row {self.row}, mobile={self.masked}, name={self.name!r}, "
                f"student_number={self.student_number!r}, class_name={self.class_name!r}, grade={self.grade!r})")


@dataclass(frozen=True)
class TeacherRow:
    file: str
    row: int
    mobile: str = field(repr=False)
    name: str
    subject: str | None = None

    @property
    def masked(self) -> str:
        return mask(self.mobile)

    def __repr__(self) -> str:
        return f"TeacherRow({self.file} row {self.row}, mobile={self.masked}, name={self.name!r}, subject={self.subject!r})"


@dataclass(frozen=True)
class CourseRow:
    file: str
    row: int
    class_id: int | None
    class_name: str | None
    subject: str | None = None
    grade: str | None = None
    term: str | None = None


@dataclass(frozen=True)
class Roster:
    """The roster folder, read: valid rows per kind, the problems, and which files were used."""

    folder: Path
    files: dict[str, str] = field(default_factory=dict)  # kind -> the file name used
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> field -> its header as spelled
    students: tuple[StudentRow, ...] = ()
    teachers: tuple[TeacherRow, ...] = ()
    courses: tuple[CourseRow, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def found(self) -> bool:
        """Is there a roster at all (any roster file, even one that could not be read)?"""
        return bool(self.files or self.problems)

    def mobiles(self) -> list[str]:
        """Every distinct mobile of the valid person rows, in file order."""
        return list(dict.fromkeys([r.mobile for r in self.students] + [r.mobile for r in self.teachers]))

    @property
    def fingerprint(self) -> str:
        """A digest of the roster's content (rows and problems, not file bytes or times): equal for
        equal rosters, whatever the format; changes when any value does."""
        content = {
            "files": self.files,
            "students": [[r.file, r.row, r.mobile, r.name, r.student_number, r.class_name, r.grade]
                         for r in self.students],
            "teachers": [[r.file, r.row, r.mobile, r.name, r.subject] for r in self.teachers],
            "courses": [[r.file, r.row, r.class_id, r.class_name, r.subject, r.grade, r.term] for r in self.courses],
            "problems": [p.line() for p in self.problems],
        }
        text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return (f"Roster({str(self.folder)!r}, files={self.files}, students={len(self.students)}, "
                f"teachers={len(self.teachers)}, courses={len(self.courses)}, problems={len(self.problems)})")


# -- reading ----------------------------------------------------------------------------------------

def read_roster(folder: str | Path) -> Roster:
    """Read and validate the roster folder.  A folder that does not exist (or holds no roster file) is
    an empty roster (``found`` False); bad input is reported in ``problems``, never raised."""
    folder = Path(folder)
    problems: list[Problem] = []
    chosen = _choose_files(folder, problems)
    files: dict[str, str] = {}
    columns: dict[str, dict[str, str]] = {}
    rows: dict[str, list] = {k: [] for k in KINDS}
    for kind, path in chosen.items():
        files[kind] = path.name
        table = _read_cells(path, problems)
        if table is not None:
            columns[kind] = {}
            rows[kind] = _validate(kind, path.name, table, problems, columns[kind])
    return Roster(folder, files, columns, tuple(rows["students"]), tuple(rows["teachers"]), tuple(rows["courses"]),
                  tuple(problems))


def _choose_files(folder: Path, problems: list[Problem]) -> dict[str, Path]:
    """kind -> the file to read.  Names match case-insensitively; with both a .csv and an .xlsx of one
    kind the newer (modification time; a tie: the .xlsx) is used and the other reported."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    except OSError as exc:
        problems.append(Problem(folder.name or str(folder), None, None, UNREADABLE,
                                f"the roster folder cannot be read ({exc.strerror})"))
        return {}
    found: dict[str, list[Path]] = {}
    for path in entries:
        stem, suffix = path.stem.casefold(), path.suffix.casefold()
        if stem not in KINDS:
            continue
        if suffix == ".xls":
            problems.append(Problem(path.name, None, None, UNREADABLE,
                                    "the old .xls format is not read; save it as .xlsx or as 'CSV UTF-8'"))
        elif suffix in SUFFIXES:
            found.setdefault(stem, []).append(path)
    chosen: dict[str, Path] = {}
    for kind in KINDS:
        paths = found.get(kind, [])
        if not paths:
            continue
        paths.sort(key=lambda p: (_mtime(p), p.suffix.casefold() == ".xlsx"), reverse=True)
        chosen[kind] = paths[0]
        for other in paths[1:]:
            problems.append(Problem(other.name, None, None, TWO_FILES,
                                    f"ignored: {paths[0].name} is the newer {kind} file and is used; "
                                    "keep only one of them"))
    return chosen


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_cells(path: Path, problems: list[Problem]) -> list[list[Any]] | None:
    """The file's rows of cells (row 1 first), or None with one problem when it cannot be read."""
    if path.suffix.casefold() == ".csv":
        return _read_csv(path, problems)
    return _read_xlsx(path, problems)


def _read_csv(path: Path, problems: list[Problem]) -> list[list[Any]] | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(path.name, None, None, UNREADABLE, f"cannot be read ({exc.strerror})"))
        return None
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(path.name, None, None, NOT_UTF8,
                                f"not UTF-8 (byte 0x{data[bom + exc.start]:02x} at offset {bom + exc.start}); "
                                "save it as 'CSV UTF-8'"))
        return None
    first = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = "\t" if "\t" in first else ";" if ";" in first else ","
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        problems.append(Problem(path.name, None, None, UNREADABLE, f"not a readable CSV file ({exc})"))
        return None


def _read_xlsx(path: Path, problems: list[Problem]) -> list[list[Any]] | None:
    import openpyxl  # only needed for .xlsx files (a missing package is an installation error, not bad input)

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, XML and value errors: openpyxl raises many kinds for a bad file
        problems.append(Problem(path.name, None, None, UNREADABLE,
                                f"not a readable .xlsx file ({_short(exc)}); save it again from Excel as .xlsx"))
        return None
    try:
        if not wb.worksheets:
            problems.append(Problem(path.name, None, None, UNREADABLE, "the workbook has no worksheet"))
            return None
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    except Exception as exc:  # a damaged sheet inside a valid zip
        problems.append(Problem(path.name, None, None, UNREADABLE,
                                f"not a readable .xlsx file ({_short(exc)}); save it again from Excel as .xlsx"))
        return None
    finally:
        wb.close()


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = mask_digits(text)
    return text if len(text) <= 120 else text[:117] + "..."


_DIGIT_RUN = re.compile(r"\d{8,}")


def mask_digits(text: str) -> str:
    """``text`` with every run of 8 or more digits masked (a mobile inside another message)."""
    return _DIGIT_RUN.sub(lambda m: mask(m.group(0)), text)


def _header_key(text: str) -> str:
    return re.sub(r"[\s_]+", "", text.replace("\ufeff", "")).casefold()


def _cell(value: Any) -> str | None:
    """A cell as stripped text (None when empty); spreadsheet numbers without a spurious ``.0``."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.strip()
    return text or None


def _validate(kind: str, file: str, table: list[list[Any]], problems: list[Problem], shown: dict[str, str]) -> list:
    """The valid rows of one file; fills ``shown`` (field -> the header text as the file spells it)."""
    header = table[0] if table else []
    columns = COLUMNS[kind]
    by_key = {_header_key(n): c for c in columns for n in c.names}
    index: dict[str, int] = {}   # field -> position in the row
    for i, cell in enumerate(header):
        text = _cell(cell)
        col = by_key.get(_header_key(text)) if text else None
        if col is None:
            continue
        if col.field in index:
            problems.append(Problem(file, 1, text, DUPLICATE_COLUMN,
                                    f"a second {col.label} column; the first one ({shown[col.field]}) is used"))
            continue
        index[col.field], shown[col.field] = i, text
    missing = [c for c in columns if c.required and c.field not in index]
    if kind == "courses" and "class_id" not in index and "class_name" not in index:
        missing = [c for c in columns if c.field in ("class_id", "class_name")]
    if missing:
        for c in missing:
            problems.append(Problem(file, None, c.label, MISSING_COLUMN,
                                    ("no class id or class name column in the header (row 1)" if kind == "courses"
                                     else "required column not in the header (row 1)") + "; the file is skipped"))
        return []
    validate_rows = _course_rows if kind == "courses" else _person_rows
    return list(validate_rows(kind, file, table, index, shown, problems))


def _rows(table: list[list[Any]], index: dict[str, int]) -> Iterator[tuple[int, dict[str, str | None], dict]]:
    """(spreadsheet row number, field -> text, field -> raw cell) for every non-empty data row."""
    for n, cells in enumerate(table[1:], start=2):
        raw = {f: (cells[i] if i < len(cells) else None) for f, i in index.items()}
        values = {f: _cell(v) for f, v in raw.items()}
        if any(v is not None for v in values.values()):
            yield n, values, raw


def _person_rows(kind: str, file: str, table: list[list[Any]], index: dict[str, int], shown: dict[str, str],
                 problems: list[Problem]) -> Iterable[StudentRow | TeacherRow]:
    first_row: dict[str, int] = {}
    for n, values, raw in _rows(table, index):
        text = values["mobile"]
        mobile = normalize_mobile(raw["mobile"])
        if mobile is None:
            if text is None:
                what = "mobile is empty"
            elif _SCIENTIFIC.fullmatch(text.replace(" ", "")):
                what = "mobile in scientific notation (digits lost); format the column as text and enter it again"
            else:
                what = "not a mobile number: 11 digits starting with 1 expected"
            problems.append(Problem(file, n, shown["mobile"], INVALID_MOBILE, what, mask(text) if text else None))
            continue
        if values["name"] is None:
            problems.append(Problem(file, n, shown["name"], MISSING_NAME, "name is empty; this row is skipped",
                                    mask(mobile)))
            continue
        if mobile in first_row:
            problems.append(Problem(file, n, shown["mobile"], DUPLICATE_MOBILE,
                                    f"the same mobile as row {first_row[mobile]}; this row is skipped", mask(mobile)))
            continue
        first_row[mobile] = n
        if kind == "students":
            yield StudentRow(file, n, mobile, values["name"], values.get("student_number"), values.get("class_name"),
                             values.get("grade"))
        else:
            yield TeacherRow(file, n, mobile, values["name"], values.get("subject"))


def _course_rows(kind: str, file: str, table: list[list[Any]], index: dict[str, int], shown: dict[str, str],
                 problems: list[Problem]) -> Iterable[CourseRow]:
    first_row: dict[tuple, int] = {}
    for n, values, raw in _rows(table, index):
        id_text, name = values.get("class_id"), values.get("class_name")
        class_id = None
        if id_text is not None:
            class_id = _whole_number(raw["class_id"])
            if class_id is None:
                problems.append(Problem(file, n, shown["class_id"], INVALID_CLASS_ID,
                                        "class id is not a whole number; this row is skipped", mask_digits(id_text)))
                continue
        elif name is None:
            problems.append(Problem(file, n, None, MISSING_CLASS,
                                    "neither class id nor class name; this row is skipped"))
            continue
        key = ("id", class_id) if class_id is not None else ("name", name)
        if key in first_row:
            col = shown["class_id"] if class_id is not None else shown["class_name"]
            problems.append(Problem(file, n, col, DUPLICATE_CLASS,
                                    f"the same class as row {first_row[key]}; this row is skipped"))
            continue
        first_row[key] = n
        yield CourseRow(file, n, class_id, name, values.get("subject"), values.get("grade"), values.get("term"))


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isascii() and text.isdigit() else None
