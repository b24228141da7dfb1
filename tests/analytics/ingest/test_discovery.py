"""Which table a file holds, from its name and its columns, with the reason the user is shown."""

import pandas as pd
import pytest

from analytics.ingest.discovery import TableGuess, identify_file, identify_table
from analytics.ingest.mapping import ColumnMapping

X = ["x"]  # headers that tell nothing


@pytest.mark.parametrize(
    ("file", "table", "reason"),
    [
        # the tester's clinic export
        ("Visits_Export_2025.csv", "sessions", "named like a visits file"),
        ("PCL5_Scores.csv", "assessments", "named like a PCL-5 file"),
        ("Adverse_Events.csv", "side_effects", "named like an adverse events file"),
        ("Patient_Demographics.csv", "patients", "named like a patients file"),
        # sessions
        ("session_log.csv", "sessions", "named like a sessions file"),
        ("Treatment History.csv", "sessions", "named like a treatments file"),
        ("infusions.csv", "sessions", "named like an infusions file"),
        ("dosing-2025.csv", "sessions", "named like a dosing file"),
        # assessments
        ("phq9.csv", "assessments", "named like a PHQ-9 file"),
        ("Outcome Measures.csv", "assessments", "named like an outcomes file"),
        ("assessment_export.csv", "assessments", "named like an assessments file"),
        ("measures.csv", "assessments", "named like a measures file"),
        ("monthly survey.csv", "assessments", "named like a survey file"),
        ("patient_scores.csv", "assessments", "named like a scores file"),
        # side effects
        ("SideEffects.csv", "side_effects", "named after the side effects table"),
        ("side effect log.csv", "side_effects", "named like a side effects file"),
        ("ae_log.csv", "side_effects", "named like an adverse events file"),
        ("treatment_adverse_events.csv", "side_effects", "named like an adverse events file"),
        # patients
        ("intake_forms.csv", "patients", "named like an intake file"),
        ("enrolment.csv", "patients", "named like an enrolment file"),
        ("Demographics.csv", "patients", "named like a demographics file"),
        # a table's own name
        ("sessions.csv", "sessions", "named after the sessions table"),
        ("clinic_a_side_effects.csv", "side_effects", "named after the side effects table"),
        # nothing
        ("export.csv", None, "neither its name nor its columns say which table it holds"),
    ],
)
def test_table_by_file_name(file, table, reason):
    assert identify_file(file, X) == TableGuess(table, reason)


@pytest.mark.parametrize(
    ("headers", "table", "reason"),
    [
        (
            ["Patient ID", "Medication", "Dose (mg)"],
            "sessions",
            'has a route column ("Medication") and a dose column ("Dose (mg)")',
        ),
        (["Patient ID", "Route of Administration"], "sessions", 'has a route column ("Route of Administration")'),
        (["patient_id", "day", "dose_mg"], "sessions", 'has a dose column ("dose_mg")'),
        (["patient_id", "Adverse event"], "side_effects", 'has an effect column ("Adverse event")'),
        (["patient_id", "PCL-5 Total"], "assessments", 'has a questionnaire total column ("PCL-5 Total")'),
        (["patient_id", "day", "Total score"], "assessments", 'has a total column ("Total score")'),
        (["patient_id", "day", "Instrument"], "assessments", 'has an instrument column ("Instrument")'),
        (["record_id", "pcl5_1"], "assessments", "has questionnaire item columns"),
        (["patient_id", "item_1"], "assessments", "has questionnaire item columns"),
        (["Patient ID", "Sex", "Age Group"], "patients", "has a patient id column and no date or day column"),
        # a date says it is not one row per patient; a lone id says nothing
        (["Patient ID", "Visit Date", "Notes"], None, "neither its name nor its columns say which table it holds"),
        (["Patient ID"], None, "neither its name nor its columns say which table it holds"),
        (["a", "b"], None, "neither its name nor its columns say which table it holds"),
    ],
)  # fmt: skip
def test_table_by_columns(headers, table, reason):
    assert identify_file("export.csv", headers) == TableGuess(table, reason)


@pytest.mark.parametrize(
    ("file", "headers", "table", "reason"),
    [
        (
            "Visits_Export_2025.csv",
            ["Patient ID", "Medication", "Dose (mg)"],
            "sessions",
            'named like a visits file, and has a route column ("Medication") and a dose '
            'column ("Dose (mg)")',
        ),
        # the columns clearly hold another table: they win, and the reason says so
        (
            "Visits.csv",
            ["Patient ID", "PCL-5 Total"],
            "assessments",
            'named like a visits file, but has a questionnaire total column ("PCL-5 Total"), '
            "so it holds assessments",
        ),
        # "no date column" is weak: the name wins over it
        ("Visits.csv", ["Patient ID", "Clinician"], "sessions", "named like a visits file"),
        # a table's own name always wins
        ("patients.csv", ["patient_id", "route"], "patients", "named after the patients table"),
    ],
)
def test_name_checked_against_columns(file, headers, table, reason):
    assert identify_file(file, headers) == TableGuess(table, reason)


def test_one_row_per_patient_is_read_from_the_rows():
    once = pd.DataFrame({"Patient ID": ["A", "B"], "Sex": ["F", "M"]})
    twice = pd.DataFrame({"Patient ID": ["A", "A"], "Sex": ["F", "F"]})
    assert identify_file("export.csv", once) == TableGuess(
        "patients", "has one row per patient and no date or day column"
    )
    assert identify_file("export.csv", twice).table is None
    # named like patients, with a route column: still patients when one row per patient
    routed = once.assign(Route=["IV", "IM"])
    assert identify_file("Patient_Demographics.csv", routed) == TableGuess(
        "patients", "named like a patients file, with one row per patient"
    )


def test_a_saved_mapping_fixes_the_table_for_every_export_of_the_file():
    mapping = ColumnMapping(tables={"visitsexport": "assessments"})
    for file in ("Visits_Export_2025.csv", "visits-export-2026.csv"):
        assert identify_file(file, X, mapping) == TableGuess(
            "assessments", "chosen for files named like this one"
        )
    assert identify_file("Visits.csv", X, mapping).table == "sessions"


def test_mapping_columns_are_used_to_read_the_headers():
    mapping = ColumnMapping(columns={"sessions": {"Tx": "route"}})
    assert identify_table("export.csv", ["Pt", "Tx"], mapping) == "sessions"
    assert identify_table("export.csv", ["Pt", "Tx"]) is None
