"""The CSV reader: hostile uploads are refused with a plain message, good ones read exactly."""

import csv
import io
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analytics.ingest.reader as reader_module
from analytics.core.problems import ERROR, WARNING
from analytics.ingest.reader import (
    MAX_LISTED,
    MAX_UPLOAD_BYTES,
    ROW_COLUMN,
    normalise_header,
    read_table,
)


def only_error(result) -> str:
    assert result.frame is None
    errors = [p for p in result.problems if p.severity == ERROR]
    assert len(errors) == 1, [str(p) for p in result.problems]
    return errors[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # nothing to read
        (b"", r"^is empty$"),
        (b"\xef\xbb\xbf", r"^is empty$"),
        (b" \r\n\n\t\n", r"^is empty$"),
        (b"patient_id,day\n", r"^has a header but no data rows$"),
        (b"patient_id,day\r\n\r\n\r\n", r"^has a header but no data rows$"),
        (b"patient_id,day\n,\n , \n", r"^has a header but no data rows$"),
        # a header, then a lone byte-order mark (two exports pasted one after the other)
        (b"patient_id,dob\n\xef\xbb\xbf", r"^has a header but no data rows$"),
        (b"patient_id,dob\n\xef\xbb\xbf\n", r"^has a header but no data rows$"),
        (b"patient_id,dob\r\n\xef\xbb\xbf\r\n\r\n", r"^has a header but no data rows$"),
        (b"\xef\xbb\xbfpatient_id\n\xef\xbb\xbf", r"^has a header but no data rows$"),
        (b'patient_id,"dob"\n\xef\xbb\xbf', r"^has a header but no data rows$"),
        # not text
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"^is not a text CSV file \(it looks like a PNG"),
        (b"PK\x03\x04\x14\x00\x06\x00", r"^is not a text CSV file \(it looks like an Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", r"^is not a text CSV file \(it looks like an old"),
        (b"%PDF-1.7\n", r"^is not a text CSV file \(it looks like a PDF"),
        (b"a,b\n1,\x002\n", r"^is not a text CSV file; save it as 'CSV UTF-8'"),
        (b"\x01\x02\x03\x04\x05\x06a,b\n", r"^is not a text CSV file \(it is mostly control"),
        # not UTF-8: the byte, its offset and its line
        (
            b"patient_id\nJos\xe9\n",
            r"^is not saved as UTF-8 text: the byte 0xE9 at byte offset 14 \(line 2\) is not "
            r"UTF-8; in Excel use Save As > 'CSV UTF-8', then upload that file$",
        ),
        (b"\xef\xbb\xbfa\r\nb\r\n\x93q\x94\r\n", r"byte 0x93 at byte offset 9 \(line 3\)"),
        # header
        (b"a,b,A\n1,2,3\n", r"^columns 1 and 3 have the same header once case and spaces are"),
        (b"Patient  ID,patient id\n1,2\n", r"^columns 1 and 2 have the same header"),
        (b"a,,b\n1,2,3\n", r"^column 2 \(B\) has values but no header; give it a header or"),
        (b"_row,b\n1,2\n", r"^'_row' is reserved for row numbers; rename the column$"),
        (b"=HYPERLINK(1),b\n1,2\n", r"^the header of column 1 looks like a spreadsheet formula"),
        # quotes
        (b'a,b\n"1,2\n3,4\n', r"^has a cell that opens a double quote"),
    ],
)
def test_refused_with_plain_message(data, message):
    problem = only_error(read_table("upload.csv", data))
    assert problem.file == "upload.csv"
    assert re.search(message, problem.rule), problem.rule


def test_non_utf8_names_row():
    problem = only_error(read_table("p.csv", b"patient_id\nJos\xe9\n"))
    assert problem.row == 2 and problem.value is None


@pytest.fixture
def no_parsing(monkeypatch):
    """Fail the test if the reader decodes or parses: a refusal must come from the size alone."""

    def refuse(*args, **kwargs):
        raise AssertionError("the upload was parsed before being refused")

    monkeypatch.setattr(reader_module, "_decode", refuse)
    monkeypatch.setattr(reader_module, "_read_csv", refuse)


def test_too_large_is_refused_before_parsing(no_parsing):
    data = b"a,b\n" + b"1,2\n" * 250_000
    problem = only_error(read_table("big.csv", data, max_bytes=1024))
    assert problem.rule == "is 976.6 KB, over the 1.0 KB limit for one upload"


def test_200_mb_upload_refused_before_parsing(no_parsing):
    data = bytes(200 * 1024 * 1024)  # zeros: would be "not text" if it were ever looked at
    problem = only_error(read_table("huge.csv", data))
    assert problem.rule == "is 200.0 MB, over the 100.0 MB limit for one upload"
    assert MAX_UPLOAD_BYTES == 100 * 1024 * 1024


def test_ten_thousand_columns_refused_on_the_header(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the body was parsed before the refusal")

    monkeypatch.setattr(reader_module, "_read_csv", refuse)
    header = ",".join(f"c{i}" for i in range(10_000))
    data = (header + "\n" + ",".join(["1"] * 10_000) + "\n").encode() * 1
    result = read_table("wide.csv", data)
    assert only_error(result).rule == "has 10,000 columns; at most 500 are allowed"
    assert only_error(read_table("w.csv", b"a,b,c\n1,2,3\n", max_columns=2)).rule == (
        "has 3 columns; at most 2 are allowed"
    )


@pytest.mark.parametrize(
    ("file", "data"),
    [
        (1, b"a\n1\n"),
        ("f.csv", "a\n1\n"),
        ("f.csv", None),
    ],
)
def test_programmer_misuse_raises_type_error(file, data):
    with pytest.raises(TypeError, match=r"must be"):
        read_table(file, data)


def test_bad_limit_raises_value_error():
    with pytest.raises(ValueError, match=r"^max_bytes must be a positive int, got 0$"):
        read_table("f.csv", b"a\n1\n", max_bytes=0)


# ---- separators, encodings, line ends --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "separator"),
    [
        (b"patient_id,day,total\nP1,0,40\n", ","),
        (b"patient_id;day;total\nP1;0;40,5\n", ";"),
        (b"patient_id\tday\ttotal\nP1\t0\t40\n", "\t"),
        (b"\xef\xbb\xbfpatient_id,day,total\r\nP1,0,40\r\n", ","),
        (b"patient_id;day;total\rP1;0;40\r", ";"),
        # a header with commas inside quotes is still semicolon-separated
        (b'"patient_id";"day, from first";total\nP1;0;40\n', ";"),
        # a tie (one field each way) goes to comma
        (b"patient_id\nP1\n", ","),
        ("patient_id\tday\ttotal\nP1\t0\t40\n".encode("utf-16"), "\t"),
    ],
)
def test_separators_and_encodings(data, separator):
    result = read_table("f.csv", data)
    assert result.problems == []
    assert result.separator == separator
    assert result.frame.loc[0, "patient_id"] == "P1"
    assert result.frame[ROW_COLUMN].tolist() == [2]


def test_cells_stripped_blank_is_na_all_string():
    data = b"Patient ID , Day  Number,Notes\n  P1 ,  0 ,   \n P2,,x \n"
    result = read_table("f.csv", data)
    frame = result.frame
    assert result.headers == ["Patient ID", "Day  Number", "Notes"]
    assert list(frame.columns) == ["patient id", "day number", "notes", ROW_COLUMN]
    assert frame["patient id"].tolist() == ["P1", "P2"]
    assert frame["day number"].isna().tolist() == [False, True]
    assert frame["notes"].isna().tolist() == [True, False]
    assert all(isinstance(frame[c].dtype, pd.StringDtype) for c in frame.columns[:-1])
    assert frame[ROW_COLUMN].dtype == np.int64


def test_no_type_inference():
    frame = read_table("f.csv", b"id,v\n007,NA\n008,nan\n").frame
    assert frame["id"].tolist() == ["007", "008"]
    assert frame["v"].tolist() == ["NA", "nan"]


# ---- row numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"a,b\n1,2\n3,4\n", [2, 3]),
        # blank lines are skipped but still counted
        (b"a,b\n\n1,2\n\n\n3,4\n", [3, 6]),
        # blank lines before the header too
        (b"\n\na,b\n1,2\n", [4]),
        # a quoted cell over three lines moves later rows down
        (b'a,b\n"x\n\ny",1\n2,3\n', [2, 5]),
        (b'a,b\r\n"x\r\ny",1\r\n2,3\r\n', [2, 4]),
        # a row of separators only is blank
        (b"a,b\n1,2\n,\n3,4\n", [2, 4]),
    ],
)
def test_row_numbers_are_physical_lines(data, rows):
    assert read_table("f.csv", data).frame[ROW_COLUMN].tolist() == rows


def test_multiline_cell_kept():
    frame = read_table("f.csv", b'a,b\n"line one\r\nline two",1\n').frame
    assert frame.loc[0, "a"] == "line one\nline two"


# ---- ragged rows -----------------------------------------------------------------------------


def test_short_rows_padded():
    frame = read_table("f.csv", b"a,b,c\n1\n2,3\n").frame
    assert frame["c"].isna().all()
    assert frame["b"].tolist()[1] == "3"


def test_extra_blank_cells_allowed():
    result = read_table("f.csv", b"a,b\n1,2,,\n3,4\n")
    assert result.problems == []
    assert list(result.frame.columns) == ["a", "b", ROW_COLUMN]


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"a,b\n1,2,3\n4,5\n", [2]),
        (b"a,b\n1,2\n4,5,6\n7,8\n9,10,11,12\n", [3, 5]),
        (b'a,b\n"x\ny",1\n4,5,6\n', [4]),
    ],
)
def test_too_many_cells_is_error_per_row(data, rows):
    result = read_table("f.csv", data)
    assert result.frame is None
    assert [p.row for p in result.problems] == rows
    assert re.match(r"^has \d cells but the header has 2; a separator", result.problems[0].rule)


def test_too_many_cells_capped_with_summary():
    data = b"a,b\n" + b"1,2,3\n" * 120
    problems = read_table("f.csv", data).problems
    assert len(problems) == MAX_LISTED + 1
    assert problems[0].row == 2 and problems[MAX_LISTED - 1].row == MAX_LISTED + 1
    assert problems[-1].rule == (
        "has 70 more rows with more cells than the header (the first 50 are listed)"
    )


# ---- headers ---------------------------------------------------------------------------------


def test_blank_header_empty_column_dropped_with_warning():
    result = read_table("f.csv", b"a,b,,\n1,2,,\n")
    assert [p.severity for p in result.problems] == [WARNING, WARNING]
    assert result.problems[0].rule == "column 3 (C) has no header and no values; it was left out"
    assert result.headers == ["a", "b"]


def test_saved_index_column_dropped_with_warning():
    result = read_table("f.csv", b",scr_id,pcl_total\n1,K1,30\n4,K2,31\n")
    assert result.problems[0].severity == WARNING
    assert "holds only row numbers (a saved index)" in result.problems[0].rule
    assert list(result.frame.columns) == ["scr_id", "pcl_total", ROW_COLUMN]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("  Patient   ID ", "patient id"),
        ("PCL_1", "pcl_1"),
        ("Day\tNumber", "day number"),
    ],
)
def test_normalise_header(header, name):
    assert normalise_header(header) == name


# ---- length of cells and headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        # a cell over the limit is named by row and column, never repeated
        (
            b"a,b\nP1," + b"x" * 1_001 + b"\n",
            (2, "b"),
            "this cell has 1,001 characters; at most 1,000",
        ),
        (b"a,b\n\n\nP1," + b"x" * 5_000 + b"\n", (4, "b"), "this cell has 5,000 characters"),
        # characters are counted, not bytes: 1,001 two-byte letters are too many
        ("a,b\nP1,{}\n".format("é" * 1_001).encode(), (2, "b"), "this cell has 1,001 characters"),
        (b'a,b\nP1,"' + b"x\n" * 600 + b'"\n', (2, "b"), "this cell has 1,199 characters"),
        (b"a;b\nP1;" + b"x" * 1_001 + b"\n", (2, "b"), "this cell has 1,001 characters"),
        # a cell longer than Python's csv module accepts (131,072 characters) too
        (b"a,b\nP1," + b"x" * 200_000 + b"\n", (2, "b"), "this cell has 200,000 characters"),
        # a too-long formula is one problem, about its length
        (b"a,b\nP1,=" + b"x" * 1_000 + b"\n", (2, "b"), "this cell has 1,001 characters"),
        # a too-long header is named by its position: it may be anything
        (b"a," + b"h" * 1_001 + b"\n1,2\n", (1, None), "the header of column 2 (B) has 1,001 char"),
        (b"a," + b"h" * 200_000 + b"\n1,2\n", (1, None), "the header of column 2 (B) has 200,000"),
        (b"\n\n" + b"h" * 1_001 + b"\n1\n", (3, None), "the header of column 1 (A) has 1,001"),
    ],
)
def test_too_long_cells_and_headers_are_refused_without_echo(data, where, message):
    result = read_table("long.csv", data)
    problem = only_error(result)
    assert (problem.row, problem.column, problem.value) == (*where, None)
    assert message in problem.rule
    assert "xxx" not in str(problem) and "hhh" not in str(problem) and "ééé" not in str(problem)
    assert all(len(header) <= 1_000 for header in result.headers)


def test_cell_of_exactly_the_limit_is_read():
    result = read_table("long.csv", b"a,b\nP1," + b"x" * 1_000 + b"\n")
    assert result.problems == []
    assert result.frame["b"].str.len().tolist() == [1_000]


def test_too_long_cells_listed_up_to_the_cap_then_counted():
    data = b"a,b\n" + (b"P1," + b"x" * 1_001 + b"\n") * (MAX_LISTED + 7)
    problems = read_table("long.csv", data).problems
    assert [p.row for p in problems[:MAX_LISTED]] == list(range(2, MAX_LISTED + 2))
    assert problems[-1].rule == (
        "has 7 more cells longer than 1,000 characters (the first 50 are listed)"
    )


def test_cell_limit_is_a_parameter():
    problem = only_error(read_table("long.csv", b"a,b\nP1,abcdef\n", max_cell_chars=5))
    assert problem.rule == "this cell has 6 characters; at most 5 are allowed in one cell"


# ---- formula injection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "refused"),
    [
        # cells as written in the file; OWASP "CSV Injection" examples
        ("=cmd|' /C calc'!A0", True),
        ('"=HYPERLINK(""http://x.example"",""click"")"', True),
        ("@SUM(1)", True),
        ("+A1", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ('"\t=1+1"', True),
        (" =1", True),
        # plain numbers and placeholders are fine
        ("-3", False),
        ("-0.5", False),
        ("+2", False),
        ("-1e-3", False),
        ('"-0,5"', False),
        ("-", False),
        ("--", False),
        # signed digits and punctuation only, like a phone number: arithmetic at worst, and the
        # PHI guard (not this check) must see it so it can be dropped without being echoed
        ("+1 555 123 4567", False),
        ("+44 (0)20 7946 0958", False),
        ("+1-1", False),
        ("+1 555 CALL NOW", True),
        ("a=b", False),
        ("mild", False),
    ],
)
def test_formula_cells(cell, refused):
    result = read_table("f.csv", f"a,b\nP1,{cell}\n".encode())
    if refused:
        problem = only_error(result)
        assert problem.rule == (
            "this cell looks like a spreadsheet formula; refused so it cannot run when the "
            "data is exported again"
        )
        assert (problem.row, problem.column) == (2, "b")
    else:
        assert result.problems == []


def test_formula_cells_capped_and_ordered_by_row():
    data = b"a,b\n" + b"@x,=y\n" * 40
    problems = read_table("f.csv", data).problems
    assert len(problems) == MAX_LISTED + 1
    assert [(p.row, p.column) for p in problems[:3]] == [(2, "a"), (2, "b"), (3, "a")]
    assert problems[-1].rule.startswith("has 30 more cells that look like spreadsheet formulas")


# ---- properties ------------------------------------------------------------------------------

_CELL = st.text(
    alphabet=st.characters(
        categories=("L", "N", "P", "S", "Zs"),
        exclude_characters="=+-@",
    )
    | st.sampled_from([",", ";", "\t", '"', "\n", " "]),
    max_size=12,
)


def _expected(cell: str):
    # The reader turns \r\n and \r into \n, strips, and blanks become NA.
    value = cell.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value if value else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 5),
    data=st.data(),
    separator=st.sampled_from([",", ";", "\t"]),
    bom=st.booleans(),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_round_trip_of_csv_writer(width, data, separator, bom, line_end):
    if width == 1:
        # One column has no separator in its header to sniff, so the file is read as
        # comma-separated; a ';' file with a comma in a cell is genuinely ambiguous.
        separator = ","
    headers = [f"col {i}" for i in range(width)]
    rows = data.draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=8))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator=line_end)
    writer.writerow(headers)
    writer.writerows(rows)
    raw = ("\ufeff" if bom else "") + buffer.getvalue()
    result = read_table("f.csv", raw.encode("utf-8"))
    expected = [[_expected(c) for c in row] for row in rows]
    expected = [row for row in expected if any(c is not None for c in row)]
    if not expected:
        assert only_error(result).rule == "has a header but no data rows"
        return
    assert result.problems == [], [str(p) for p in result.problems]
    assert result.separator == separator
    frame = result.frame.drop(columns=ROW_COLUMN)
    got = [[None if pd.isna(c) else c for c in row] for row in frame.itertuples(index=False)]
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    result = read_table("f.csv", data)
    assert (result.frame is None) == any(p.severity == ERROR for p in result.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab,;\t"\r\n =-@1 '), max_size=60))
def test_arbitrary_csv_like_text_never_raises(text):
    result = read_table("f.csv", text.encode())
    if result.frame is not None:
        assert result.frame[ROW_COLUMN].is_monotonic_increasing


def test_many_rows():
    # Speed is measured by `make bench`, never asserted here; this checks the bulk path is exact.
    rng = np.random.default_rng(1)
    n = 100_000
    frame = pd.DataFrame({f"c{i}": rng.integers(-500, 500, n).astype(str) for i in range(20)})
    data = frame.to_csv(index=False).encode()
    result = read_table("big.csv", data)
    assert result.problems == []
    assert len(result.frame) == n
    assert result.frame["c7"].tolist() == frame["c7"].tolist()
