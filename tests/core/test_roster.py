"""The roster files, read and validated: encodings, xlsx cells, header aliases, the problems and their
one-line messages (mobiles masked everywhere), the content fingerprint."""

from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl
import pytest

from pipeline.core import roster as R
from pipeline.core.roster import Problem, mask, normalize_mobile, read_roster

FULL_MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def write(folder: Path, name: str, text: str, *, bom: bool = False, newline: str = "\n") -> Path:
    path = folder / name
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def xlsx(folder: Path, name: str, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for i, row in enumerate(rows, 1):
        for j, value in enumerate(row, 1):
            if value is not None:
                ws.cell(row=i, column=j, value=value)
    path = folder / name
    wb.save(path)
    return path


def lines(roster) -> list[str]:
    return [p.line() for p in roster.problems]


STUDENTS = "手机号,姓名,学号,班级,年级\n13812345678,张三,S001,一班,七年级\n13912345678,李四,,,\n"


# -- mobiles and masking -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("13812345678", "13812345678"),
    (" 138 1234 5678 ", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+86 138-1234-5678", "13812345678"),
    ("+8613812345678", "13812345678"),
    ("8613812345678", "13812345678"),
    (13812345678, "13812345678"),
    (13812345678.0, "13812345678"),
    ("1381234567", None),        # 10 digits
    ("138123456789", None),      # 12 digits
    ("23812345678", None),       # does not start with 1
    ("1381234567a", None),
    (1.5, None),
    (True, None),
    (None, None),
    ("", None),
])
def test_normalize_mobile(value, expected):
    assert normalize_mobile(value) == expected


def test_mask_keeps_three_and_four_digits_of_a_mobile():
    assert mask("13812345678") == "138****5678"
    assert mask("12345") == "***45"
    assert mask("ab") == "**"


# -- encodings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bom, newline", [(False, "\n"), (True, "\n"), (True, "\r\n"), (False, "\r\n")])
def test_utf8_with_or_without_bom_reads_the_same_rows(tmp_path, bom, newline):
    write(tmp_path, "students.csv", STUDENTS, bom=bom, newline=newline)
    roster = read_roster(tmp_path)
    assert roster.problems == ()
    assert [(r.row, r.mobile, r.name, r.student_number, r.class_name, r.grade) for r in roster.students] == [
        (2, "13812345678", "张三", "S001", "一班", "七年级"), (3, "13912345678", "李四", None, None, None)]
    assert roster.columns["students"]["mobile"] == "手机号"  # the BOM is not part of the first header


def test_fingerprint_is_the_content_not_the_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    write(a, "students.csv", STUDENTS)
    write(b, "students.csv", STUDENTS, bom=True, newline="\r\n")
    write(c, "students.csv", STUDENTS.replace("李四", "李五"))
    fa, fb, fc = (read_roster(d).fingerprint for d in (a, b, c))
    assert fa == fb
    assert fa != fc
    assert re.fullmatch(r"[0-9a-f]{64}", fa)


def test_gbk_csv_is_one_not_utf8_line_and_the_others_are_still_read(tmp_path):
    (tmp_path / "students.csv").write_bytes("mobile,name\n13812345678,张三\n".encode("gbk"))
    write(tmp_path, "teachers.csv", "手机号,姓名,科目\n13612345678,王老师,数学\n")
    roster = read_roster(tmp_path)
    assert lines(roster) == ["students.csv: not UTF-8 (byte 0xd5 at offset 24); save it as 'CSV UTF-8'"]
    assert roster.problems[0].code == R.NOT_UTF8 and roster.problems[0].row is None
    assert roster.students == ()
    assert [(t.mobile, t.name, t.subject) for t in roster.teachers] == [("13612345678", "王老师", "数学")]
    assert roster.found


def test_gbk_offset_counts_the_bom(tmp_path):
    (tmp_path / "teachers.csv").write_bytes(b"\xef\xbb\xbf" + "手机号".encode("gbk"))
    assert lines(read_roster(tmp_path)) == ["teachers.csv: not UTF-8 (byte 0xca at offset 3); save it as 'CSV UTF-8'"]


# -- xlsx --------------------------------------------------------------------------------------------

def test_xlsx_numeric_mobiles_and_english_headers(tmp_path):
    xlsx(tmp_path, "students.xlsx", [
        [" Mobile ", "NAME", "Student_Number", "Class", "grade", "notes"],
        [13812345678, "张三", 1001, "一班", 7, "ignored column"],
        [13912345678.0, "李四", None, None, None, None],
        [None, None, None, None, None, None],           # an empty row keeps its number
        ["137 1234 5678", " 王五 ", "S-3", "二班", "8年级", None],
    ])
    roster = read_roster(tmp_path)
    assert roster.problems == ()
    assert roster.files == {"students": "students.xlsx"}
    assert [(r.row, r.mobile, r.name, r.student_number, r.class_name, r.grade) for r in roster.students] == [
        (2, "13812345678", "张三", "1001", "一班", "7"),
        (3, "13912345678", "李四", None, None, None),
        (5, "13712345678", "王五", "S-3", "二班", "8年级"),
    ]


def test_xlsx_problems_have_spreadsheet_row_numbers(tmp_path):
    xlsx(tmp_path, "teachers.xlsx", [["手机号", "姓名"], [13812345678, "甲"], [1381234567, "乙"], [13812345678, "丙"]])
    roster = read_roster(tmp_path)
    assert lines(roster) == [
        "teachers.xlsx row 3 column 手机号: not a mobile number: 11 digits starting with 1 expected (138****4567)",
        "teachers.xlsx row 4 column 手机号: the same mobile as row 2; this row is skipped (138****5678)",
    ]
    assert [t.name for t in roster.teachers] == ["甲"]


def test_a_damaged_xlsx_is_unreadable_and_skipped(tmp_path):
    (tmp_path / "students.xlsx").write_bytes(b"PK\x03\x04 not really a zip 13812345678")
    write(tmp_path, "courses.csv", "班级ID,班级名称\n20000001,数学一班\n")
    roster = read_roster(tmp_path)
    assert [p.code for p in roster.problems] == [R.UNREADABLE]
    assert roster.problems[0].line().startswith("students.xlsx: not a readable .xlsx file (")
    assert roster.students == () and len(roster.courses) == 1


def test_an_old_xls_file_is_named_not_read(tmp_path):
    (tmp_path / "Students.XLS").write_bytes(b"\xd0\xcf\x11\xe0")
    roster = read_roster(tmp_path)
    assert lines(roster) == ["Students.XLS: the old .xls format is not read; save it as .xlsx or as 'CSV UTF-8'"]


# -- validation --------------------------------------------------------------------------------------

def test_duplicates_missing_names_and_invalid_mobiles(tmp_path):
    write(tmp_path, "students.csv", "\n".join([
        "mobile,name",
        "13812345678,张三",       # 2
        "13812345678,张三二",     # 3 duplicate
        "13712345678,",           # 4 missing name
        "13712345678,李四",       # 5 the first *usable* row of this mobile
        "abc,王五",               # 6 invalid
        ",赵六",                  # 7 empty mobile
        "1.38123E+10,钱七",       # 8 scientific notation
        "",                       # 9 empty: skipped quietly
        "+86 136-1234-5678,孙八",  # 10
    ]) + "\n")
    roster = read_roster(tmp_path)
    assert [(r.row, r.name) for r in roster.students] == [(2, "张三"), (5, "李四"), (10, "孙八")]
    assert [(p.code, p.row, p.column) for p in roster.problems] == [
        (R.DUPLICATE_MOBILE, 3, "mobile"), (R.MISSING_NAME, 4, "name"), (R.INVALID_MOBILE, 6, "mobile"),
        (R.INVALID_MOBILE, 7, "mobile"), (R.INVALID_MOBILE, 8, "mobile")]
    assert lines(roster) == [
        "students.csv row 3 column mobile: the same mobile as row 2; this row is skipped (138****5678)",
        "students.csv row 4 column name: name is empty; this row is skipped (137****5678)",
        "students.csv row 6 column mobile: not a mobile number: 11 digits starting with 1 expected (*bc)",
        "students.csv row 7 column mobile: mobile is empty",
        "students.csv row 8 column mobile: mobile in scientific notation (digits lost); format the column as text "
        "and enter it again (1.3****E+10)",
    ]
    assert roster.mobiles() == ["13812345678", "13712345678", "13612345678"]


def test_missing_required_column_skips_the_whole_file(tmp_path):
    write(tmp_path, "students.csv", "姓名,班级\n张三,一班\n")
    write(tmp_path, "courses.csv", "科目,学期\n数学,2026春\n")
    write(tmp_path, "teachers.csv", "手机号,姓名\n13612345678,王老师\n")
    roster = read_roster(tmp_path)
    assert roster.students == () and roster.courses == () and len(roster.teachers) == 1
    assert [(p.code, p.file, p.row) for p in roster.problems] == [
        (R.MISSING_COLUMN, "students.csv", None), (R.MISSING_COLUMN, "courses.csv", None),
        (R.MISSING_COLUMN, "courses.csv", None)]
    assert lines(roster)[0] == ("students.csv column 手机号|mobile: required column not in the header (row 1); "
                                "the file is skipped")
    assert lines(roster)[1] == ("courses.csv column 班级ID|class_id: no class id or class name column in the header "
                                "(row 1); the file is skipped")


def test_an_empty_file_misses_its_columns(tmp_path):
    write(tmp_path, "teachers.csv", "")
    roster = read_roster(tmp_path)
    assert [p.column for p in roster.problems] == ["手机号|mobile", "姓名|name"]
    assert all(p.code == R.MISSING_COLUMN for p in roster.problems)


def test_a_repeated_header_uses_the_first_column(tmp_path):
    write(tmp_path, "teachers.csv", "手机号,姓名,Name\n13612345678,王老师,Wang\n")
    roster = read_roster(tmp_path)
    assert [t.name for t in roster.teachers] == ["王老师"]
    assert lines(roster) == ["teachers.csv row 1 column Name: a second 姓名|name column; the first one (姓名) is used"]


def test_courses_by_id_or_name(tmp_path):
    write(tmp_path, "courses.csv", "\n".join([
        "Class_ID,班级名称,科目,年级,学期",
        "20000001,数学一班,数学,七年级,2026春",   # 2
        ",语文二班,语文,,",                       # 3 by name only
        "20000003,,,,",                           # 4 by id only
        "2.5e3x,英语班,,,",                       # 5 bad id
        ",,物理,,",                               # 6 neither
        "20000001,数学一班(重复),,,",             # 7 duplicate id
        ",语文二班,,,",                           # 8 duplicate name
    ]) + "\n")
    roster = read_roster(tmp_path)
    assert [(c.row, c.class_id, c.class_name, c.subject, c.grade, c.term) for c in roster.courses] == [
        (2, 20000001, "数学一班", "数学", "七年级", "2026春"), (3, None, "语文二班", "语文", None, None),
        (4, 20000003, None, None, None, None)]
    assert [(p.code, p.row) for p in roster.problems] == [
        (R.INVALID_CLASS_ID, 5), (R.MISSING_CLASS, 6), (R.DUPLICATE_CLASS, 7), (R.DUPLICATE_CLASS, 8)]


def test_two_files_for_one_kind_use_the_newer(tmp_path):
    old = write(tmp_path, "students.csv", "手机号,姓名\n13812345678,旧\n")
    new = xlsx(tmp_path, "students.xlsx", [["手机号", "姓名"], [13812345678, "新"]])
    os.utime(old, (1_000_000_000, 1_000_000_000))
    os.utime(new, (1_100_000_000, 1_100_000_000))
    roster = read_roster(tmp_path)
    assert roster.files == {"students": "students.xlsx"}
    assert [s.name for s in roster.students] == ["新"]
    assert lines(roster) == ["students.csv: ignored: students.xlsx is the newer students file and is used; "
                             "keep only one of them"]
    assert roster.problems[0].code == R.TWO_FILES
    os.utime(old, (1_200_000_000, 1_200_000_000))
    again = read_roster(tmp_path)
    assert again.files == {"students": "students.csv"} and [s.name for s in again.students] == ["旧"]


def test_no_folder_or_no_roster_file_is_no_roster(tmp_path):
    assert not read_roster(tmp_path / "absent").found
    write(tmp_path, "readme.txt", "not a roster")
    write(tmp_path, "学生.csv", "手机号,姓名\n13812345678,张三\n")
    empty = read_roster(tmp_path)
    assert not empty.found and empty.mobiles() == [] and empty.problems == ()


def test_no_full_mobile_in_any_message_or_repr(tmp_path):
    write(tmp_path, "students.csv", "\n".join([
        "手机号,姓名", "13812345678,张三", "13812345678,张三", "13912345678,", "139123456789,李四",
        "13712345678 13612345678,两个号码"]) + "\n")
    xlsx(tmp_path, "teachers.xlsx", [["手机号", "姓名"], [13512345678, "王"], [13512345678, "王"]])
    roster = read_roster(tmp_path)
    assert len(roster.problems) == 5
    shown = "\n".join(lines(roster)) + repr(roster) + repr(list(roster.students)) + repr(list(roster.teachers))
    shown += repr(list(roster.problems))
    assert not FULL_MOBILE.search(shown), shown
    assert "138****5678" in shown  # the masked form identifies the row


def test_problem_line_format():
    assert Problem("students.csv", 5, "手机号", R.INVALID_MOBILE, "bad", "138****5678").line() == \
        "students.csv row 5 column 手机号: bad (138****5678)"
    assert Problem("students.csv", None, None, R.NOT_UTF8, "not UTF-8").line() == "students.csv: not UTF-8"
    assert Problem("x.csv", 3, None, R.MISSING_CLASS, "neither").record() == {
        "file": "x.csv", "row": 3, "column": None, "problem": "missing_class", "message": "x.csv row 3: neither"}
