"""The identifier guard, case by case: values that identify are found in every kind of column,
values that do not are let through, and nothing found is ever shown.

Identifier categories from HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i):
https://www.ecfr.gov/current/title-45/section-164.514
"""

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest.identifiers import (
    PHI_RULE_PREFIX,
    check_identifiers,
    looks_identifying,
)

CONTRACT = {
    "sessions": {"patient_id", "session_date", "route", "dose_mg", "clinician", "site"},
    "assessments": {"patient_id", "assessment_date", "instrument", "total"},
    "side_effects": {"patient_id", "session_date", "effect"},
    "patients": {"patient_id", "first_session_year", "first_session_month"},
}
FILLER = {
    "patient_id": "P0001",
    "clinician": "DR-A",
    "site": "North",
    "route": "IV",
    "dose_mg": "40",
    "session_date": "2025-03-01",
    "visit_code": "V1",
    "ref": "R-17",
    "created": "yes",
    "notes": "tolerated well",
    "contact": "none",
    "sex": "F",
}


def text(values) -> pd.Series:
    """A column as the reader makes it: Arrow-backed text in two chunks."""
    values = list(values)
    half = len(values) // 2
    chunks = [
        pa.array(values[:half], pa.large_string()),
        pa.array(values[half:], pa.large_string()),
    ]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))


def check(table: str, **columns):
    n = max(len(v) for v in columns.values())
    frame = pd.DataFrame({name: text(cells) for name, cells in columns.items()})
    frame["_row"] = range(2, n + 2)
    canonical = {c: c for c in columns if c in CONTRACT[table]}
    return check_identifiers(
        frame, file="f.csv", headers=list(columns), table=table, canonical=canonical
    )


def planted(column: str, cell: str, n: int = 60, at: int = 37) -> list[str]:
    """``n`` filled cells of innocent filler with ``cell`` in one place."""
    cells = [FILLER[column]] * n
    cells[at] = cell
    return cells


@pytest.mark.parametrize(
    ("table", "column", "cell", "found"),
    [
        # social security numbers in every layout, (b)(2)(i)(G)
        ("sessions", "notes", "123-45-6789", "social security numbers"),
        ("sessions", "notes", "123 45 6789", "social security numbers"),
        ("sessions", "notes", "123.45.6789", "social security numbers"),
        ("sessions", "notes", "123456789", "social security numbers"),
        ("sessions", "notes", "SSN 123456789 on file", "social security numbers"),
        # e-mail addresses, plain and written out, (b)(2)(i)(F)
        ("sessions", "notes", "jane.doe@example.org", "e-mail addresses"),
        ("sessions", "notes", "jsmithers at example dot com", "e-mail addresses"),
        ("sessions", "notes", "j.smith(at)mail(dot)org", "e-mail addresses"),
        ("sessions", "notes", "j.smith [at] mail [dot] org", "e-mail addresses"),
        ("sessions", "notes", "write to j.smith at mail.org", "e-mail addresses"),
        # phone and fax numbers, US and international, (b)(2)(i)(D)-(E)
        ("sessions", "notes", "(555) 123-4567", "phone numbers"),
        ("sessions", "notes", "555-123-4567", "phone numbers"),
        ("sessions", "notes", "555.123.4567", "phone numbers"),
        ("sessions", "notes", "555 123 4567", "phone numbers"),
        ("sessions", "notes", "+1 555 123 4567", "phone numbers"),
        ("sessions", "notes", "5551234567", "phone numbers"),
        ("sessions", "notes", "called back on 555-123-4567", "phone numbers"),
        ("sessions", "notes", "+44 20 7946 0958", "phone numbers"),
        ("sessions", "notes", "+33 1 23 45 67 89", "phone numbers"),
        ("sessions", "notes", "+49 (30) 123456", "phone numbers"),
        ("sessions", "notes", "+447946095800", "phone numbers"),
        ("sessions", "notes", "0044 20 7946 0958", "phone numbers"),
        ("sessions", "notes", "020 7946 0958", "phone numbers"),
        ("sessions", "notes", "06 12 34 56 78", "phone numbers"),
        # street addresses, (b)(2)(i)(B)
        ("sessions", "notes", "12 Main Street", "street addresses"),
        ("sessions", "notes", "400 Elm Ave", "street addresses"),
        ("sessions", "notes", "1600 N Pennsylvania Ave", "street addresses"),
        ("sessions", "notes", "lives at 22B Baker St.", "street addresses"),
        ("sessions", "notes", "PO Box 1234", "street addresses"),
        # dates of birth (any full date) under innocent headers, (b)(2)(i)(C)
        ("sessions", "visit_code", "1961-04-01", "dates"),
        ("sessions", "ref", "04/01/1961", "dates"),
        ("sessions", "created", "1.4.1961", "dates"),
        ("sessions", "created", "April 1, 1961", "dates"),
        ("sessions", "ref", "01-Apr-1961", "dates"),
        ("sessions", "ref", "1 April 61", "dates"),
        ("sessions", "created", "2025-03-01T10:22:00", "dates"),
        # record, account and plan numbers, (b)(2)(i)(H)-(J)
        ("sessions", "ref", "MRN12345000", "medical record, account or plan numbers"),
        ("sessions", "ref", "MRN: 0012345", "medical record, account or plan numbers"),
        ("sessions", "ref", "Acct# 99881", "medical record, account or plan numbers"),
        ("sessions", "ref", "chart 1234", "medical record, account or plan numbers"),
        ("sessions", "ref", "policy no. 55667788", "medical record, account or plan numbers"),
        # web and IP addresses, (b)(2)(i)(N)-(O)
        ("sessions", "notes", "https://example.org/jsmith", "web or IP addresses"),
        ("sessions", "notes", "www.jsmith.me", "web or IP addresses"),
        ("sessions", "ref", "192.168.10.4", "web or IP addresses"),
        # patient ids that identify
        ("sessions", "patient_id", "Smithers0, John", "people's names"),
        ("sessions", "patient_id", "John Smithers0", "people's names"),
        ("sessions", "patient_id", "J. Smith", "people's names"),
        ("sessions", "patient_id", "Smith J", "people's names"),
        ("sessions", "patient_id", "MRN12345000", "medical record, account or plan numbers"),
        ("sessions", "patient_id", "555 12 3400", "social security numbers"),
        ("sessions", "patient_id", "123456789", "social security numbers"),
        ("sessions", "patient_id", "1961-04-01", "dates"),
        ("sessions", "patient_id", "000123456789", "long numbers"),
        ("sessions", "patient_id", "jsmith@example.org", "e-mail addresses"),
        ("patients", "patient_id", "Smithers0, John", "people's names"),
        ("assessments", "patient_id", "John Smithers0", "people's names"),
        ("side_effects", "patient_id", "555-12-3400", "social security numbers"),
        # clinician and site: the strong patterns
        ("sessions", "clinician", "dr.patel@clinic.org", "e-mail addresses"),
        ("sessions", "clinician", "555-123-4567", "phone numbers"),
        ("sessions", "clinician", "123-45-6789", "social security numbers"),
        ("sessions", "site", "12 Main Street", "street addresses"),
        ("sessions", "site", "1961-04-01", "dates"),
        ("sessions", "site", "MRN12345000", "medical record, account or plan numbers"),
        # contract number and code columns: the strong patterns
        ("sessions", "dose_mg", "555-123-4567", "phone numbers"),
        ("sessions", "route", "jane@example.org", "e-mail addresses"),
        ("sessions", "session_date", "123-45-6789", "social security numbers"),
    ],
)
def test_one_identifier_among_60_cells_is_found(table, column, cell, found):
    result = check(table, **{column: planted(column, cell)})
    (problem,) = result.problems
    assert problem.rule.startswith(f"{PHI_RULE_PREFIX}it contains what look like {found}")
    assert (problem.row, problem.column, problem.value) == (None, column, None)
    assert cell not in str(problem)


@pytest.mark.parametrize(
    ("column", "fix", "droppable"),
    [
        ("patient_id", "Replace the ids with pseudonyms (for example P0001) before uploading", []),
        ("clinician", "Keep only staff names or codes in this column", []),
        ("site", "Keep only site names or codes in this column", []),
        ("dose_mg", "Remove these values from the column and upload the file again", []),
        ("notes", "Remove the column before uploading, or choose to drop it on import", ["notes"]),
    ],
)
def test_contract_columns_are_fixed_not_dropped(column, fix, droppable):
    result = check("sessions", **{column: planted(column, "123-45-6789")})
    assert fix in result.problems[0].rule
    assert result.droppable == droppable


@pytest.mark.parametrize(
    ("table", "column", "cells"),
    [
        # pseudonymous ids
        ("sessions", "patient_id", ["P0001", "KET-017", "pt_0042", "A1B2C3", "017"]),
        ("sessions", "patient_id", ["site2-0042", "PT 0042", "P-0001", "KPE1293", "12345678"]),
        ("sessions", "patient_id", ["S01-003", "2024-017", "PT A12", "x7", "P123456789"]),
        ("patients", "patient_id", ["P0001", "KET-017", "pt_0042", "A1B2C3", "017"]),
        # staff and sites
        ("sessions", "clinician", ["Dr. Patel", "DR-B", "Nurse Kim", "J. Alvarez, NP", "Smith"]),
        ("sessions", "site", ["Main clinic", "North", "Site 2", "Clinic B (Downtown)"]),
        # the contract's own values
        ("sessions", "session_date", ["2025-03-01", "03/01/2025", "1 March 2025"]),
        ("sessions", "route", ["IV infusion", "iv_ketamine", "Intranasal (Spravato)", "IM"]),
        ("sessions", "dose_mg", ["0.5", "41", "56 mg", "84", "123456789"]),
        ("sessions", "notes", ["56 mg", "84 mg", "0.5 mg/kg", "120/80", "145/95 then 130/85"]),
        ("sessions", "notes", ["-3", "+2", "4.0", "mild", "moderate", "2 of 3 doses"]),
        ("sessions", "notes", ["Week 4", "PHQ-9 = 12", "v1.2.3", "12:30", "score 2024"]),
        ("sessions", "notes", ["see Dr. Patel", "seen at noon. Then home", "3 PCL items"]),
        ("sessions", "notes", [None, None]),
        ("assessments", "instrument", ["PCL-5", "PHQ-9", "GAD-7"]),
        ("side_effects", "effect", ["Headache", "nausea", "dissociation"]),
    ],
)
def test_clinical_values_pass(table, column, cells):
    assert check(table, **{column: cells}).problems == []


@pytest.mark.parametrize(
    ("header", "cells", "found"),
    [
        # categories are kept
        ("sex", ["F", "M"] * 30, None),
        ("primary_diagnosis", ["PTSD", "MDD", "PTSD+MDD", "GAD"] * 15, None),
        ("age_band", ["18-29", "30-44", "45-64", "65+"] * 15, None),
        ("arm", ["standard"] * 60, None),
        ("concurrent_therapy", ["yes", "no", None] * 20, None),
        ("site", ["North", "South"] * 30, None),
        # small whole numbers with a meaning
        ("age", [str(18 + i) for i in range(60)], None),
        ("age_years", ["34"] * 60, None),
        ("prior_antidepressant_trials", [str(i % 12) for i in range(60)], None),
        ("prior_episodes", [str(i % 40) for i in range(60)], None),
        # refused
        ("notes", [f"visit note number {i}" for i in range(60)], "free text or many"),
        ("nickname", [f"Kid{i}" for i in range(30)] * 2, "free text or many"),
        ("code", [f"C{i}" for i in range(12)] + ["C0"] * 48, None),
        ("rare", [f"x{i}" for i in range(5)] + [None] * 55, "free text or many"),
        ("comment", ["x" * 41, "short"] * 30, "labels longer than 40 characters"),
        ("enrolled", ["2024-03", "2024-04"] * 30, "dates or months"),
        ("enrolled", ["03/2024", "04/2024"] * 30, "dates or months"),
        ("year", ["1931", "1950"] * 30, "numbers other than small whole numbers"),
        ("cohort", ["1931", "unknown"] * 30, "numbers other than small whole numbers"),
        ("ref_number", ["12345", "67890"] * 30, "numbers other than small whole numbers"),
        ("weight", ["82.5", "70.1"] * 30, "numbers other than small whole numbers"),
        ("count", ["-1", "3"] * 30, "numbers other than small whole numbers"),
        ("ref", ["1961-04-01"] + ["a"] * 59, "it contains what look like dates"),
    ],
)
def test_patients_allow_list(header, cells, found):
    ids = [f"P{i:04d}" for i in range(len(cells))]
    result = check("patients", patient_id=ids, **{header: cells})
    if found is None:
        assert result.problems == []
        assert result.droppable == []
        return
    (problem,) = result.problems
    assert found in problem.rule
    assert problem.rule.endswith(
        "Remove the column before uploading, or choose to drop it on import"
    )
    assert result.droppable == [header]
    for cell in cells:
        if cell and len(cell) > 5:
            assert cell not in problem.rule


def test_a_small_patients_file_keeps_its_categories():
    # Two patients: every label is one patient's, as in data/examples/patients.csv.
    result = check("patients", patient_id=["P001", "P002"], sex=["F", "M"], arm=["a", "b"])
    assert result.problems == []


@pytest.mark.parametrize(
    ("table", "header", "cells", "banded"),
    [
        ("patients", "age", ["34", "95", "89", "90", None], ["34", "90+", "89", "90+", None]),
        ("patients", "patient_age", ["95", "40"], ["90+", "40"]),
        ("patients", "Age at intake", ["91 years", "40"], ["90+", "40"]),
        ("patients", "edad", ["100", "40"], ["90+", "40"]),
        ("sessions", "age", ["95", "40"], ["90+", "40"]),
    ],
)
def test_ages_over_89_are_banded(table, header, cells, banded):
    ids = [f"P{i}" for i in range(len(cells))]
    result = check(table, patient_id=ids, **{header: cells})
    assert result.problems == []
    assert result.banded == [header]
    assert result.frame[header].tolist() == [pd.NA if b is None else b for b in banded]


def test_ages_within_range_leave_the_frame_alone():
    result = check("patients", patient_id=["P1", "P2"], age=["34", "89"])
    assert result.banded == []
    assert result.frame["age"].tolist() == ["34", "89"]


def test_a_refused_age_column_is_not_banded():
    result = check("patients", patient_id=["P1", "P2"], age=["95", "555-123-4567"])
    assert result.banded == []
    assert "phone numbers" in result.problems[0].rule


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("555-123-4567", True),
        ("123456789", True),
        ("jsmithers at example dot com", True),
        ("1961-04-01", True),
        ("12 Main Street", True),
        ("MRN12345", True),
        ("oral", False),
        ("0.5", False),
        ("P0001", False),
        ("Dr. Patel", False),
        (None, False),
    ],
)
def test_looks_identifying(cell, expected):
    assert looks_identifying(pd.Series(["IV", cell, "IV"], dtype="string")).tolist() == [
        False,
        expected,
        False,
    ]


def test_looks_identifying_can_leave_dates_alone():
    cells = pd.Series(["2025-13-45", "2025-02-30", "555-123-4567"])
    assert looks_identifying(cells, dates=False).tolist() == [False, False, True]


# An identifier in any layout, for the property below.
_DIGIT = st.sampled_from("0123456789")


@st.composite
def _ssn(draw):
    area, group, serial = (draw(st.text(_DIGIT, min_size=k, max_size=k)) for k in (3, 2, 4))
    sep = draw(st.sampled_from(["-", " ", ".", ""]))
    return f"{area}{sep}{group}{sep}{serial}"


@st.composite
def _phone(draw):
    area = draw(st.sampled_from("23456789")) + draw(st.text(_DIGIT, min_size=2, max_size=2))
    exchange = draw(st.sampled_from("23456789")) + draw(st.text(_DIGIT, min_size=2, max_size=2))
    line = draw(st.text(_DIGIT, min_size=4, max_size=4))
    layout = draw(
        st.sampled_from(
            ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "+1 {a} {e} {l}"]
            + ["{a}{e}{l}", "1-{a}-{e}-{l}", "+1{a}{e}{l}", "{a}-{e}{l}"]
        )
    )
    return layout.format(a=area, e=exchange, l=line)


_WORD = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def _email(draw):
    user, domain = draw(_WORD), draw(_WORD)
    tld = draw(st.sampled_from(["com", "org", "net", "edu", "io"]))
    at, dot = draw(
        st.sampled_from(
            [
                ("@", "."),
                (" at ", " dot "),
                ("(at)", "(dot)"),
                (" [at] ", " [dot] "),
                ("@", " dot "),
            ]
        )
    )
    return f"{user}{at}{domain}{dot}{tld}"


_IDENTIFIER = st.one_of(_ssn(), _phone(), _email())
_INNOCENT = st.sampled_from(["P0001", "North", "41", "0.5", "mild", "IV infusion", "yes", ""])
_TEXT_COLUMNS = {
    "sessions": ["patient_id", "clinician", "site", "notes", "ref"],
    "assessments": ["patient_id", "comment"],
    "side_effects": ["patient_id", "details"],
    "patients": ["patient_id", "notes", "contact"],
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    table=st.sampled_from(sorted(_TEXT_COLUMNS)),
    n_rows=st.integers(1, 80),
    identifier=_IDENTIFIER,
    wrapped=st.sampled_from(["{}", "call {} today", "{}.", "({})"]),
)
def test_an_identifier_planted_in_any_text_cell_is_found(data, table, n_rows, identifier, wrapped):
    columns = {
        name: [data.draw(_INNOCENT) or None for _ in range(n_rows)] for name in _TEXT_COLUMNS[table]
    }
    column = data.draw(st.sampled_from(_TEXT_COLUMNS[table]))
    row = data.draw(st.integers(0, n_rows - 1))
    columns[column][row] = wrapped.format(identifier)
    result = check(table, **columns)
    assert column in [p.column for p in result.problems]
    for problem in result.problems:
        assert problem.value is None
        assert identifier not in str(problem)
    cells = pd.Series(columns[column], dtype="string")
    assert looks_identifying(cells)[row]


def test_date_columns_named_by_the_caller_may_hold_dates():
    frame = pd.DataFrame({"visit": text(["2025-03-01", "1961-04-01"]), "_row": [2, 3]})
    kwargs = {"file": "f.csv", "headers": ["Visit"], "table": "sessions", "canonical": {}}
    assert check_identifiers(frame, date_columns=frozenset({"visit"}), **kwargs).problems == []
    (problem,) = check_identifiers(frame, **kwargs).problems
    assert "dates" in problem.rule
