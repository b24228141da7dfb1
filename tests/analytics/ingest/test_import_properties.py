"""The whole import on random uploads: whatever the bytes, every problem is a named Problem.

``import_files`` is run with ``raise_unexpected=True``, so an internal exception (a ValueError of
numpy, a TypeError of pandas, an OutOfBoundsDatetime) escapes and fails the test instead of
becoming the catch-all "could not be read". Uploads are drawn three ways: random bytes; random
CSV text whose headers come from the contract's names, their synonyms and junk; and a sessions
file with an assessments file whose headers are right and whose cells are hostile, so the import
gets past the headers into coercion and assembly.

Inputs that once raised are kept in :data:`ONCE_RAISED` and run on every test run.
"""

import csv
import datetime
import io
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics.core.contract import (
    ASSESSMENT_COLUMNS,
    PATIENT_BASE_COLUMNS,
    SESSION_COLUMNS,
    SIDE_EFFECT_COLUMNS,
)
from analytics.core.problems import Problem
from analytics.ingest.importer import import_files
from analytics.ingest.mapping import SYNONYMS
from analytics.ingest.options import ImportOptions

OPTIONS = ImportOptions(raise_unexpected=True)
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CONTRACT_NAMES = sorted(
    {
        *ASSESSMENT_COLUMNS,
        *PATIENT_BASE_COLUMNS,
        *SESSION_COLUMNS,
        *SIDE_EFFECT_COLUMNS,
        "session_date",
        "assessment_date",
        *(name for table in SYNONYMS.values() for names in table.values() for name in names),
    }
)
JUNK_HEADERS = [
    "",
    " ",
    "dob",
    "date of birth",
    "name",
    "phone",
    "mrn",
    "_row",
    "=HYPERLINK(1)",
    "\ufeffpatient_id",
    "patient_id\u200b",
    "Patient ID",
    "PATIENT_ID",
    "item_0",
    "item_99",
    "pcl5_total",
    "PHQ-9 total",
    "x" * 1_001,
]
HOSTILE_CELLS = [
    "",
    " ",
    "\ufeff",
    "\x00",
    "\u200b",
    "\u00a0",
    "NA",
    "n/a",
    "-",
    "0",
    "-0",
    "1",
    "-1",
    "07",
    "1.5",
    "1,5",
    "1e308",
    "-1e308",
    "1e309",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "9" * 40,
    "-" + "9" * 40,
    "9223372036854775808",
    "-9223372036854775809",
    "2025-01-06",
    "2025-02-30",
    "0001-01-01",
    "1677-09-21",
    "2262-04-12",
    "9999-12-31",
    "99999-01-01",
    "1900-01-01",
    "2100-01-01",
    "03/04/2025",
    "13/13/2025",
    "31/12/2025",
    "12/31/2025",
    "2025-01-06T10:00:00",
    "2025-01-06 25:00",
    "2025",
    "1e308-01-01",
    "142/85",
    "999/999",
    "1e308/1e308",
    "/",
    "PCL-5",
    "PHQ-9",
    "GAD-7",
    "BDI-II",
    "MADRS",
    "unknown scale",
    "IV ketamine",
    "Spravato",
    "esketamine",
    "nausea",
    "dissociation",
    "mild",
    "severe",
    "yes",
    "no",
    "Y",
    "true",
    "induction",
    "maintenance",
    "=1+1",
    "+1",
    "@x",
    "+1 555 123 4567",
    '"',
    '""',
    ",",
    ";",
    "\t",
    "\n",
    "\r",
    "é",
    "Ｐ００１",
    "P001",
    "p001",
    "P001\u200b",
    "🙂",
    "\ud7ff",
    "x" * 1_001,
]
FILE_NAMES = [
    "sessions.csv",
    "assessments.csv",
    "side_effects.csv",
    "patients.csv",
    "export.csv",
    "SESSIONS.CSV",
]
SEPARATORS = [",", ";", "\t"]
LINE_ENDS = ["\n", "\r\n", "\r"]

headers = st.one_of(
    st.sampled_from(CONTRACT_NAMES),
    st.sampled_from(JUNK_HEADERS),
    st.text(max_size=12),
)
cells = st.one_of(
    st.sampled_from(HOSTILE_CELLS),
    st.text(max_size=10),
    st.text(alphabet=string.digits + "-./:eE+ ", max_size=12),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


# Inputs that raised inside the importer once (a year too big for an integer).
ONCE_RAISED = [
    {"patients.csv": b"patient_id,first_session_year\nA,1e308\n"},
    {"patients.csv": b"patient_id,first_session_year\nA,99999999999999999999\n"},
    {"patients.csv": b"patient_id,first_session_month\nA,9223372036854775808\n"},
    # a 20-digit number among a descriptive column's labels
    {
        "patients.csv": b"patient_id,first_session_year,site\n,,\n,,\xef\xbb\xbf\n"
        b",,9223372036854775808\n"
    },
]


def check(files: dict[str, bytes]) -> None:
    """Import ``files``; no exception may escape and every problem must be a Problem."""
    result = import_files(files, options=OPTIONS)
    assert all(isinstance(p, Problem) for p in result.problems)
    assert all(isinstance(p.rule, str) and p.rule for p in result.problems)
    if result.data is None:
        assert result.problems, "nothing imported and no problem said why"


@st.composite
def csv_text(draw, header_pool=headers, min_columns=1) -> bytes:
    """A CSV file: header, rows of cells, any separator, line end, quoting and encoding."""
    columns = draw(st.lists(header_pool, min_size=min_columns, max_size=8))
    width = len(columns)
    rows = draw(
        st.lists(
            st.lists(cells, min_size=0, max_size=width + 2),
            max_size=8,
        )
    )
    separator = draw(st.sampled_from(SEPARATORS))
    line_end = draw(st.sampled_from(LINE_ENDS))
    quoted = draw(st.booleans())
    if quoted:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=separator, lineterminator=line_end)
        writer.writerow(columns)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        text = line_end.join(separator.join(row) for row in [columns, *rows]) + line_end
    if draw(st.booleans()):
        # empty lines and stray byte-order marks between lines
        lines = text.split(line_end)
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(lines)))
            lines.insert(at, draw(st.sampled_from(["", "\ufeff", " ", separator * width])))
        text = line_end.join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, errors="surrogatepass")


def right_headers(table: str) -> st.SearchStrategy:
    names = {
        "sessions": ["patient_id", "session_date", "route", *SESSION_COLUMNS[3:]],
        "assessments": ["patient_id", "assessment_date", "instrument", "total", "item_1"],
        "side_effects": ["patient_id", "session_date", "effect", "severity", "serious"],
        "patients": ["patient_id", "first_session_year", "first_session_month", "site"],
    }[table]
    return st.sampled_from(names)


@st.composite
def structured_upload(draw) -> dict[str, bytes]:
    """Sessions and assessments (and maybe side effects, patients) with the right headers
    and hostile cells, so the import reaches coercion and assembly."""
    files = {}
    required = {
        "sessions": ["patient_id", "session_date", "route"],
        "assessments": ["patient_id", "assessment_date", "instrument", "total"],
        "side_effects": ["patient_id", "session_date", "effect"],
        "patients": ["patient_id", "first_session_year"],
    }
    tables = ["sessions", "assessments"] + draw(
        st.lists(st.sampled_from(["side_effects", "patients"]), unique=True)
    )
    for table in tables:
        extra = draw(st.lists(right_headers(table), max_size=4, unique=True))
        columns = list(dict.fromkeys([*required[table], *extra]))
        rows = draw(
            st.lists(st.lists(cells, min_size=len(columns), max_size=len(columns)), max_size=6)
        )
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([columns, *rows])
        files[f"{table}.csv"] = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    return files


def _dates() -> st.SearchStrategy:
    days = st.dates(min_value=datetime.date(2023, 1, 1), max_value=datetime.date(2025, 12, 31))
    return st.one_of(
        days.map(str),
        days.map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
        days.map(lambda d: f"{d.month}/{d.day}/{d.year}"),
        days.map(lambda d: f"{d}T09:30:00"),
    )


# What a right cell looks like in each column; a hostile cell takes its place now and then.
GOOD_CELLS = {
    "patient_id": st.sampled_from(["P001", "P002", "p001", "P001\u200b", "007", "7"]),
    "session_date": _dates(),
    "assessment_date": _dates(),
    "day": st.integers(-30, 400).map(str),
    "session_number": st.integers(1, 40).map(str),
    "route": st.sampled_from(["IV ketamine", "Spravato", "im_ketamine", "oral", "esketamine"]),
    "dose_mg": st.floats(0, 200).map(lambda x: f"{x:.1f}"),
    "dose_mg_per_kg": st.floats(0, 2).map(lambda x: f"{x:.2f}"),
    "bp_systolic_pre": st.integers(80, 200).map(str),
    "bp_diastolic_pre": st.integers(40, 120).map(str),
    "bp_systolic_peak": st.integers(80, 220).map(str),
    "bp_diastolic_peak": st.integers(40, 130).map(str),
    "bp_pre": st.sampled_from(["120/80", "142/85", "180/110"]),
    "dissociation_cadss": st.integers(0, 92).map(str),
    "sedation": st.sampled_from(["yes", "no", "Y", "N"]),
    "dissociation": st.sampled_from(["yes", "no"]),
    "clinician": st.sampled_from(["Dr A", "Dr B"]),
    "site": st.sampled_from(["North", "South"]),
    "phase": st.sampled_from(["induction", "maintenance"]),
    "instrument": st.sampled_from(["PCL-5", "PHQ-9", "GAD-7", "BDI-II", "MADRS"]),
    "total": st.integers(0, 80).map(str),
    "item_1": st.integers(0, 4).map(str),
    "item_2": st.integers(0, 4).map(str),
    "effect": st.sampled_from(["nausea", "dissociation", "headache", "dizziness"]),
    "severity": st.sampled_from(["mild", "moderate", "severe"]),
    "serious": st.sampled_from(["yes", "no"]),
    "first_session_year": st.integers(2020, 2026).map(str),
    "first_session_month": st.integers(1, 12).map(str),
}
MOSTLY_GOOD_COLUMNS = {
    "sessions": ["patient_id", "session_date", "route"],
    "assessments": ["patient_id", "assessment_date", "instrument", "total"],
    "side_effects": ["patient_id", "session_date", "effect"],
    "patients": ["patient_id", "first_session_year"],
}
OPTIONAL_COLUMNS = {
    "sessions": [c for c in SESSION_COLUMNS if c in GOOD_CELLS and c != "patient_id"] + ["bp_pre"],
    "assessments": ["day", "item_1", "item_2"],
    "side_effects": ["day", "session_number", "severity", "serious"],
    "patients": ["first_session_month", "site"],
}


@st.composite
def mostly_good_upload(draw) -> dict[str, bytes]:
    """Files whose cells are right but for one now and then, so the import reaches
    day arithmetic, matching and validation."""
    files = {}
    tables = ["sessions"] + draw(
        st.lists(st.sampled_from(["assessments", "side_effects", "patients"]), unique=True)
    )
    for table in tables:
        columns = list(MOSTLY_GOOD_COLUMNS[table])
        if draw(st.booleans()) and "session_date" in columns:
            columns[columns.index("session_date")] = "day"
        if draw(st.booleans()) and "assessment_date" in columns:
            columns[columns.index("assessment_date")] = "day"
        extra = draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS[table]), max_size=4, unique=True))
        columns = list(dict.fromkeys([*columns, *extra]))
        rows = draw(
            st.lists(
                st.tuples(
                    *(
                        st.one_of(GOOD_CELLS[c], GOOD_CELLS[c], GOOD_CELLS[c], cells)
                        for c in columns
                    )
                ),
                min_size=1,
                max_size=8,
            )
        )
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([columns, *rows])
        files[f"{table}.csv"] = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    return files


@PROPERTY
@given(files=mostly_good_upload())
def test_mostly_right_uploads_give_problems_not_exceptions(files):
    check(files)


@PROPERTY
@given(name=st.sampled_from(FILE_NAMES), data=st.binary(max_size=400))
def test_random_bytes_give_problems_not_exceptions(name, data):
    check({name: data})


@PROPERTY
@given(name=st.sampled_from(FILE_NAMES), data=csv_text())
@example(name="sessions.csv", data=b"patient_id,session_date,route\n\xef\xbb\xbf")
@example(name="sessions.csv", data=b"patient_id,dob\n\xef\xbb\xbf\n")
@example(name="SESSIONS.CSV", data=b"patient_id,dob\n1,2\n")
# dates beyond pandas' nanosecond range once raised OutOfBoundsDatetime
@example(
    name="sessions.csv",
    data=b"patient_id,session_date,route\nA,1677-09-21,iv ketamine\nA,x,iv ketamine\n",
)
@example(
    name="sessions.csv",
    data=b"patient_id,session_date,route\nA,0001-01-01,iv ketamine\nA,03/04/2025,iv\n",
)
@example(name="sessions.csv", data=b"patient_id,session_date,route\nA,9999-12-31,iv\nA,x,iv\n")
def test_random_csv_text_gives_problems_not_exceptions(name, data):
    check({name: data})


@PROPERTY
@given(files=structured_upload())
@example(
    files={
        "sessions.csv": b"patient_id,session_date,route\nA," + b"x" * 5_000 + b",iv\n",
        "assessments.csv": b"patient_id,assessment_date,instrument,total\nA,2025-01-06,PCL-5,1\n",
    }
)
def test_hostile_cells_under_the_right_headers_give_problems_not_exceptions(files):
    check(files)


@pytest.mark.parametrize("files", ONCE_RAISED)
def test_inputs_that_once_raised_give_problems(files):
    result = import_files(files, options=OPTIONS)
    assert not result.ok
    assert all(isinstance(p, Problem) for p in result.problems)
