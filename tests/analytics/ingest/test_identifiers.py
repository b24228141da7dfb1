"""The identifier guard's headers, file names and interface: identifying headers are refused,
headers that are themselves identifiers are never echoed, the shipped clinics raise nothing.

Identifier categories from HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i):
https://www.ecfr.gov/current/title-45/section-164.514
"""

from pathlib import Path

import pandas as pd
import pytest

from analytics.core.problems import ERROR, Problem
from analytics.ingest.columns import rename_columns
from analytics.ingest.identifiers import (
    PHI_RULE_PREFIX,
    check_identifiers,
    column_label,
    file_name_reason,
    header_reason,
    header_value_reason,
    header_words,
    is_phi_problem,
)
from analytics.ingest.mapping import SYNONYMS
from analytics.ingest.reader import read_table
from tests.conftest import ROOT, SAMPLE

NAME = "a person's name"
RELATIVE = "a relative's or contact's name or details"
DOB = "a date of birth"
PLACE = "an address or a place smaller than a state"
PHONE = "a phone or fax number"
EMAIL = "an e-mail address"
SSN = "a social security or other national id number"
MRN = "a medical record number"
PLAN = "a health plan, insurance or account number"
LICENCE = "a licence, passport or certificate number"
SERIAL = "a vehicle or device serial number"
WEB = "a web or IP address"
BIOMETRIC = "a photo or biometric"


def frame_of(**columns) -> pd.DataFrame:
    frame = pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})
    frame["_row"] = range(2, len(frame) + 2)
    return frame


def check_one(header: str, cells=("a",), table: str = "sessions", canonical=None):
    frame = frame_of(x=list(cells))
    return check_identifiers(
        frame, file="f.csv", headers=[header], table=table, canonical=canonical or {}
    )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        # names, (b)(2)(i)(A)
        ("name", NAME),
        ("Name", NAME),
        ("first name", NAME),
        ("First-Name", NAME),
        ("firstName", NAME),
        ("lastname", NAME),
        ("full_name", NAME),
        ("surname", NAME),
        ("PatientName", NAME),
        ("patientfirstname", NAME),
        ("Name (Last, First)", NAME),
        ("Name of patient", NAME),
        ("Pt Nm", NAME),
        ("Nombre", NAME),
        ("nombre_completo", NAME),
        ("Apellido", NAME),
        ("apellidos", NAME),
        ("Initials", NAME),
        ("pt_initials", NAME),
        ("caregiver name", NAME),
        # relatives, household and contacts
        ("Emergency contact name", RELATIVE),
        ("emergency_contact", RELATIVE),
        ("guardian", RELATIVE),
        ("Legal Guardian", RELATIVE),
        ("next of kin", RELATIVE),
        ("NextOfKin", RELATIVE),
        ("spouse", RELATIVE),
        # dates of birth, (b)(2)(i)(C)
        ("date of birth", DOB),
        ("DateOfBirth", DOB),
        ("dob", DOB),
        ("D.O.B.", DOB),
        ("patientDOB", DOB),
        ("ptdob", DOB),
        ("birthdate", DOB),
        ("birth_year", DOB),
        ("born", DOB),
        ("year_born", DOB),
        ("YOB", DOB),
        ("Fecha de nacimiento", DOB),
        ("fecha_nacimiento", DOB),
        # places smaller than a state, (b)(2)(i)(B)
        ("address", PLACE),
        ("street_address", PLACE),
        ("city", PLACE),
        ("ZIPCode", PLACE),
        ("postcode", PLACE),
        ("postal_code", PLACE),
        ("Dirección", PLACE),
        ("latitude", PLACE),
        # phone and fax, (b)(2)(i)(D)-(E)
        ("phone", PHONE),
        ("Home Phone", PHONE),
        ("tel", PHONE),
        ("mobile", PHONE),
        ("cell", PHONE),
        ("fax", PHONE),
        ("fax number", PHONE),
        ("teléfono", PHONE),
        # e-mail, (b)(2)(i)(F)
        ("email", EMAIL),
        ("e-mail", EMAIL),
        ("E_Mail", EMAIL),
        ("emailAddress", EMAIL),
        ("correo", EMAIL),
        # social security and other national numbers, (b)(2)(i)(G)
        ("ssn", SSN),
        ("Social Security #", SSN),
        ("social_security_number", SSN),
        ("national id", SSN),
        # medical record numbers, (b)(2)(i)(H)
        ("mrn", MRN),
        ("MRN", MRN),
        ("medical_record", MRN),
        ("chart number", MRN),
        ("hospital number", MRN),
        # health plan and account numbers, (b)(2)(i)(I)-(J)
        ("Account Number", PLAN),
        ("acct", PLAN),
        ("Insurance ID", PLAN),
        ("policy_number", PLAN),
        ("member id", PLAN),
        ("Beneficiary", PLAN),
        ("medicaid_id", PLAN),
        # licences and certificates, (b)(2)(i)(K)
        ("licence number", LICENCE),
        ("License", LICENCE),
        ("passport", LICENCE),
        ("driver's licence", LICENCE),
        # vehicles and devices, (b)(2)(i)(L)-(M)
        ("vehicle id", SERIAL),
        ("licence plate", LICENCE),
        ("device serial", SERIAL),
        ("serial_number", SERIAL),
        # web and network, (b)(2)(i)(N)-(O)
        ("URL", WEB),
        ("website", WEB),
        ("web", WEB),
        ("IP", WEB),
        ("ip_address", WEB),
        ("username", WEB),
        # biometrics and photos, (b)(2)(i)(P)-(Q)
        ("photo", BIOMETRIC),
        ("Picture", BIOMETRIC),
        ("biometric", BIOMETRIC),
        ("fingerprint", BIOMETRIC),
    ],
)
def test_flagged_by_header(header, reason):
    assert header_reason(header) == reason
    result = check_one(header)
    (problem,) = result.problems
    assert problem.severity == ERROR
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "f.csv",
        None,
        header,
        None,
    )
    assert problem.rule == (
        f"{PHI_RULE_PREFIX}its header suggests {reason}. Remove the column before uploading, "
        "or choose to drop it on import"
    )
    assert result.droppable == ["x"]


_CONTRACT_HEADERS = sorted(
    {name for table in SYNONYMS.values() for canonical, names in table.items() for name in names}
    | {canonical for table in SYNONYMS.values() for canonical in table}
)


@pytest.mark.parametrize(
    "header",
    [
        *_CONTRACT_HEADERS,
        "clinician_name",  # staff, not patients: allowed
        "site_name",
        "clinic name",
        "instrument name",
        "drug name",
        "age_band",
        "sex",
        "arm",
        "concurrent_therapy",
        "prior_antidepressant_trials",
        "primary_diagnosis",
        # REDCap exports
        "redcap_event_name",
        "redcap_repeat_instrument",
        "scr_id",
        "pcl5_1",
        "item_20",
        "bdi_1_sadness",
        "phq9_9",
        "madrs_total",
        "dosage",
        "initial_phq9",
        "ethnicity",
        "Visit Code",
        "ref",
        "created",
    ],
)
def test_not_flagged_by_header(header):
    assert header_reason(header) is None
    assert header_value_reason(header) is None
    assert check_one(header, ["P001", "P002"]).problems == []


@pytest.mark.parametrize(
    ("header", "holds"),
    [
        ("jane.doe@example.org", "what looks like e-mail addresses"),
        ("555-123-4567", "what looks like phone numbers"),
        ("Smith 123-45-6789", "what looks like social security numbers"),
        ("1961-04-01", "what looks like dates"),
        ("John Smith", NAME),
        ("Smith, John", NAME),
        ("Maria Garcia Lopez", NAME),
    ],
)
def test_a_header_that_identifies_is_named_by_position(header, holds):
    frame = frame_of(patient_id=["P1"], route=["IV"], x=["1"])
    headers = ["patient_id", "route", header]
    result = check_identifiers(
        frame,
        file="f.csv",
        headers=headers,
        table="sessions",
        canonical={"patient_id": "patient_id", "route": "route"},
    )
    (problem,) = result.problems
    assert problem.column == "column 3"
    assert problem.rule.startswith(f"{PHI_RULE_PREFIX}its header itself holds {holds}")
    assert header not in str(problem)
    assert result.droppable == ["x"]
    assert column_label(header, 3) == "column 3"


@pytest.mark.parametrize("header", ["Patient Name", "First Name", "Visit Code", "Dose Mg"])
def test_column_label_keeps_ordinary_headers(header):
    assert column_label(header, 2) == header


@pytest.mark.parametrize(
    ("contract", "fix"),
    [
        ("patient_id", "Replace the ids with pseudonyms (for example P0001) before uploading"),
        ("session_date", "Remove these values from the column and upload the file again"),
    ],
)
def test_contract_columns_with_identifying_headers_are_not_droppable(contract, fix):
    result = check_one("DOB", ["P1"], canonical={"x": contract})
    assert result.droppable == []
    assert result.problems[0].rule.endswith(fix)


def test_clinician_and_site_headers_are_allowed_whatever_their_words():
    for contract in ("clinician", "site"):
        assert check_one("Provider Name", ["Dr. Patel"], canonical={"x": contract}).problems == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("john_smith_1961-04-01.csv", "it holds a date next to what looks like a name"),
        ("Smith_John_04-01-1961.csv", "it holds a date next to what looks like a name"),
        ("john_smith.csv", "it holds what looks like a name"),
        ("sessions_jane_doe.csv", "it holds what looks like a name"),
        ("jane.doe@example.org.csv", "it holds what look like e-mail addresses"),
        ("sessions 555-123-4567.csv", "it holds what look like phone numbers"),
        ("123-45-6789.csv", "it holds what look like social security numbers"),
        ("MRN12345678.csv", "it holds what look like medical record, account or plan numbers"),
        ("patient_dob.csv", "it suggests a date of birth"),
        ("birthdays.csv", "it suggests a date of birth"),
    ],
)
def test_file_names_that_identify(name, reason):
    assert file_name_reason(name) == reason


@pytest.mark.parametrize(
    "name",
    [
        "sessions.csv",
        "assessments.csv",
        "side_effects.csv",
        "patients.csv",
        "Visits_Export_2025.csv",
        "PCL5_Scores.csv",
        "Adverse_Events.csv",
        "Patient_Demographics.csv",
        # an export date next to known words is not a date of birth
        "export-2025-03-01.csv",
        "sessions_2025-03-01.csv",
        "redcap_export_v2.csv",
        "ketamine clinic north.csv",
        "data/sample/sessions.csv",
    ],
)
def test_file_names_that_pass(name):
    assert file_name_reason(name) is None


_SHIPPED = sorted([*SAMPLE.glob("*.csv"), *(ROOT / "data" / "examples").glob("*.csv")])


@pytest.mark.parametrize("path", _SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_clinics_raise_nothing(path: Path):
    table = path.stem
    read = read_table(path.name, path.read_bytes())
    columns = [c for c in read.frame.columns if c != "_row"]
    canonical = rename_columns(columns, table, None)
    result = check_identifiers(
        read.frame, file=path.name, headers=read.headers, table=table, canonical=canonical
    )
    assert result.problems == []
    assert result.frame is read.frame
    assert file_name_reason(path.name) is None


def test_shipped_clinics_were_found():
    assert len(_SHIPPED) == 8


def test_from_reader_with_original_headers_and_drop():
    result = read_table("p.csv", b"Patient ID,First Name,Site,E-mail\nP1,Ann,A,x@y.org\n")
    check = check_identifiers(
        result.frame,
        file="p.csv",
        headers=result.headers,
        table="patients",
        canonical={"patient id": "patient_id"},
    )
    assert [p.column for p in check.problems] == ["First Name", "E-mail"]
    assert check.droppable == ["first name", "e-mail"]
    kept = result.frame.drop(columns=check.droppable)
    assert list(kept.columns) == ["patient id", "site", "_row"]


def test_other_problems_are_not_identifier_problems():
    other = Problem(file="f.csv", row=None, column="a", value=None, rule="something else")
    assert not is_phi_problem(other)


def test_one_problem_per_column_in_column_order():
    frame = frame_of(
        dob=["1980-01-01", "1975-05-05"],
        patient_id=["P1", "P2"],
        contact=["a@b.org", "555-123-4567"],
    )
    result = check_identifiers(
        frame,
        file="f.csv",
        headers=["dob", "patient_id", "contact"],
        table="sessions",
        canonical={"patient_id": "patient_id"},
    )
    assert [p.column for p in result.problems] == ["dob", "contact"]
    assert "e-mail addresses and phone numbers" in result.problems[1].rule


def test_headers_must_match_columns():
    with pytest.raises(ValueError, match=r"^headers has 1 names but the frame has 2 columns$"):
        check_identifiers(
            frame_of(a=["1"], b=["2"]), file="f.csv", headers=["a"], table="sessions", canonical={}
        )


def test_table_must_be_known():
    with pytest.raises(ValueError, match=r"^unknown table 'visits'; one of sessions, "):
        check_identifiers(
            frame_of(a=["1"]), file="f.csv", headers=["a"], table="visits", canonical={}
        )


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("patientDOB", ["patient", "dob"]),
        ("ZIPCode", ["zip", "code"]),
        ("E-Mail_Address", ["e", "mail", "address"]),
        ("redcap_event_name", ["redcap", "event", "name"]),
        ("D.O.B.", ["dob"]),
        ("Dirección", ["direccion"]),
        ("Name (Last, First)", ["name", "last", "first"]),
    ],
)
def test_header_words(header, words):
    assert header_words(header) == words
