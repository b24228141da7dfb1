"""The PHI guard: identifying columns are refused by header or by sampled values, never shown.

Identifier categories from HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i):
https://www.ecfr.gov/current/title-45/section-164.514
"""

import pandas as pd
import pytest

from analytics.core.problems import ERROR, Problem
from analytics.ingest.identifiers import (
    PHI_RULE_PREFIX,
    drop_columns,
    find_phi,
    header_words,
    is_phi_problem,
)
from analytics.ingest.reader import read_table


def frame_of(**columns) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        # names, (b)(2)(i)(A)
        ("name", "a person's name"),
        ("Name", "a person's name"),
        ("first name", "a person's name"),
        ("first_name", "a person's name"),
        ("First-Name", "a person's name"),
        ("firstName", "a person's name"),
        ("lastname", "a person's name"),
        ("Last Name", "a person's name"),
        ("full_name", "a person's name"),
        ("surname", "a person's name"),
        ("patient name", "a person's name"),
        ("PatientName", "a person's name"),
        ("patientfirstname", "a person's name"),
        # dates of birth, (b)(2)(i)(C)
        ("date of birth", "a date of birth"),
        ("date_of_birth", "a date of birth"),
        ("DateOfBirth", "a date of birth"),
        ("dob", "a date of birth"),
        ("DOB", "a date of birth"),
        ("patientDOB", "a date of birth"),
        ("birth date", "a date of birth"),
        ("birthdate", "a date of birth"),
        ("birth_year", "a date of birth"),
        # geography smaller than a state, (b)(2)(i)(B)
        ("address", "an address or a place smaller than a state"),
        ("street", "an address or a place smaller than a state"),
        ("street_address", "an address or a place smaller than a state"),
        ("city", "an address or a place smaller than a state"),
        ("zip", "an address or a place smaller than a state"),
        ("zip code", "an address or a place smaller than a state"),
        ("ZIPCode", "an address or a place smaller than a state"),
        ("postcode", "an address or a place smaller than a state"),
        ("postal_code", "an address or a place smaller than a state"),
        # phone and fax, (b)(2)(i)(D)-(E)
        ("phone", "a phone or fax number"),
        ("telephone", "a phone or fax number"),
        ("Home Phone", "a phone or fax number"),
        ("mobile", "a phone or fax number"),
        ("cell", "a phone or fax number"),
        ("fax", "a phone or fax number"),
        # e-mail, (b)(2)(i)(F)
        ("email", "an e-mail address"),
        ("e-mail", "an e-mail address"),
        ("E_Mail", "an e-mail address"),
        ("emailAddress", "an e-mail address"),
        # social security and medical record numbers, (b)(2)(i)(G)-(H)
        ("ssn", "a social security number"),
        ("Social Security #", "a social security number"),
        ("social_security_number", "a social security number"),
        ("mrn", "a medical record number"),
        ("MRN", "a medical record number"),
        ("medical record number", "a medical record number"),
        ("medical_record", "a medical record number"),
    ],
)
def test_flagged_by_header(header, reason):
    frame = frame_of(x=["a"])
    (problem,) = find_phi(frame, file="patients.csv", headers=[header])
    assert problem.severity == ERROR
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "patients.csv",
        None,
        header,
        None,
    )
    assert problem.rule == (
        f"{PHI_RULE_PREFIX}its header suggests {reason}. Remove the column before uploading, "
        "or choose to drop it on import"
    )


@pytest.mark.parametrize(
    "header",
    [
        # the columns of the data contract
        "patient_id",
        "site",
        "clinician",  # staff, not patients: allowed
        "clinician_name",
        "instrument",
        "age_band",
        "route",
        "session_date",
        "assessment_date",
        "phase",
        "effect",
        "sex",
        "arm",
        "concurrent_therapy",
        "dose_mg",
        "dose_mg_per_kg",
        "bp_systolic_pre",
        "bp_diastolic_peak",
        "severity",
        "serious",
        "dissociation_cadss",
        "first_session_year",
        # REDCap exports
        "redcap_event_name",
        "record_id",
        "scr_id",
        "site_name",
        "pcl5_1",
        "item_20",
        "bdi_1_sadness",
        "phq9_9",
        "madrs_total",
    ],
)
def test_not_flagged_by_header(header):
    frame = frame_of(x=["P001", "P002"])
    assert find_phi(frame, file="f.csv", headers=[header]) == []


@pytest.mark.parametrize(
    ("cells", "found"),
    [
        # one is enough for e-mail and SSN
        (["ok"] * 99 + ["jane.doe@example.org"], "e-mail addresses"),
        (["ok"] * 99 + ["123-45-6789"], "social security numbers"),
        # phone numbers in the usual US spellings
        (["(555) 123-4567"], "phone numbers"),
        (["555-123-4567"], "phone numbers"),
        (["+1 555 123 4567"], "phone numbers"),
        (["555.123.4567", "x"], "phone numbers"),
        (["called back on 555-123-4567"], "phone numbers"),
        # street addresses
        (["12 Main Street"], "street addresses"),
        (["400 Elm Ave"], "street addresses"),
        (["1600 N Pennsylvania Ave"], "street addresses"),
        # two kinds in one column
        (["a@b.org", "123-45-6789"], "social security numbers and e-mail addresses"),
    ],
)
def test_flagged_by_values(cells, found):
    (problem,) = find_phi(frame_of(notes=cells), file="f.csv")
    assert problem.value is None
    assert problem.column == "notes"
    assert problem.rule.startswith(f"{PHI_RULE_PREFIX}it contains what look like {found}.")


@pytest.mark.parametrize(
    "cells",
    [
        # clinical values that must pass
        ["56 mg", "84 mg", "0.5 mg/kg"],
        ["120/80", "145/95"],
        ["2024-01-15", "2024-02-01"],
        ["-3", "+2", "4.0"],
        ["KPE1293", "P-0001", "5551234567"],
        ["mild", "moderate"],
        # a phone-like string in 1 of 100 cells is under the 2% share
        ["ok"] * 99 + ["555-123-4567"],
        [None, None],
    ],
)
def test_not_flagged_by_values(cells):
    assert find_phi(frame_of(notes=cells), file="f.csv") == []


def test_values_beyond_the_first_sample_are_seen():
    # 5,000 cells: the sample takes 500 from the start and 500 spread across the rest.
    cells = ["ok"] * 5000
    cells[-1] = "someone@example.org"
    assert len(find_phi(frame_of(notes=cells), file="f.csv")) == 1


@pytest.mark.parametrize(
    ("header", "ages", "flagged"),
    [
        ("age", ["45", "91"], True),
        ("Age (years)", ["90"], True),
        ("age_at_first_session", ["95"], True),
        ("age", ["45", "89", "90+"], False),
        ("age_band", ["90+"], False),
    ],
)
def test_ages_over_89(header, ages, flagged):
    problems = find_phi(frame_of(x=ages), file="f.csv", headers=[header])
    assert bool(problems) is flagged
    if flagged:
        assert "ages over 89 (group them as 90 or older)" in problems[0].rule


def test_one_problem_per_column_and_values_never_shown():
    frame = frame_of(
        patient_id=["P1", "P2"],
        dob=["1980-01-01", "1975-05-05"],
        contact=["a@b.org", "555-123-4567"],
    )
    problems = find_phi(frame, file="f.csv")
    assert [p.column for p in problems] == ["dob", "contact"]
    for problem in problems:
        assert problem.value is None
        for cell in ("1980-01-01", "a@b.org", "555-123-4567"):
            assert cell not in str(problem)


def test_from_reader_with_original_headers_and_drop():
    result = read_table("p.csv", b"Patient ID,First Name,Site,E-mail\nP1,Ann,A,x@y.org\n")
    problems = find_phi(result.frame, file="p.csv", headers=result.headers)
    assert [p.column for p in problems] == ["First Name", "E-mail"]
    kept = drop_columns(result.frame, problems)
    assert list(kept.columns) == ["patient id", "site", "_row"]
    assert list(result.frame.columns) == ["patient id", "first name", "site", "e-mail", "_row"]


def test_drop_columns_ignores_other_problems():
    frame = frame_of(a=["1"], b=["2"])
    other = Problem(file="f.csv", row=None, column="a", value=None, rule="something else")
    assert list(drop_columns(frame, [other]).columns) == ["a", "b"]
    assert not is_phi_problem(other)


def test_headers_must_match_columns():
    with pytest.raises(ValueError, match=r"^headers has 1 names but the frame has 2 columns$"):
        find_phi(frame_of(a=["1"], b=["2"]), file="f.csv", headers=["a"])


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("patientDOB", ["patient", "dob"]),
        ("ZIPCode", ["zip", "code"]),
        ("E-Mail_Address", ["e", "mail", "address"]),
        ("redcap_event_name", ["redcap", "event", "name"]),
    ],
)
def test_header_words(header, words):
    assert header_words(header) == words
