"""The per-patient export's rows, summary sheet and definitions, on the sample and by hand.

The full recomputation of every headline rate from the exported file is in
``tests/cli/test_patient_export.py``; here: one cohort's threshold, blank flags, stable
headers, and the summary and definitions sheets, suppressed or not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.patient_export import (
    PATIENT,
    SUMMARY_COLUMNS,
    TIMEPOINT_COLUMNS,
    effect_header,
    export_definitions,
    patient_export_of,
    patient_export_sheets,
    reliable_change_threshold_of,
    summary_rows,
    timepoint_header,
)
from analytics.report.patients import patient_table
from analytics.report.summary import summary_of
from analytics.report.suppression import SUPPRESSED, suppress_summary
from tests.conftest import SAMPLE

PCL = OutcomeDefinitions()


@pytest.fixture(scope="module")
def sample():
    data = import_folder(SAMPLE).data
    return data, patient_table(data, PCL)


@pytest.fixture(scope="module")
def iv(sample):
    """The IV ketamine cohort: its keep, summary and export."""
    data, table = sample
    keep = table.keep(data.patients.loc[data.patients["route"] == "iv_ketamine", "patient_id"])
    summary = summary_of(table, keep, PCL)
    return keep, summary, patient_export_of(table, keep, PCL, summary=summary)


@pytest.fixture(scope="module")
def tiny():
    """Three patients by hand: a, remission-eligible, responds at week 4; b, baseline below the
    remission cut, never scored again; c, no baseline; d, no response by week 4."""
    sessions = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "day": 0, "route": "iv_ketamine"})
    assessments = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "c", "d", "d"],
            "day": [0, 28, 0, 28, 0, 28],
            "instrument": "PCL-5",
            "total": [50.0, 20.0, 25.0, 40.0, 50.0, 45.0],
        }
    )
    clinic = clinic_from_frames(sessions=sessions, assessments=assessments)
    table = patient_table(clinic, PCL)
    return table, patient_export_of(table, table.keep(), PCL).set_index(PATIENT)


def test_one_row_per_patient_of_the_cohort_in_order(sample, iv):
    data, table = sample
    keep, summary, rows = iv
    assert rows[PATIENT].tolist() == table.patients.loc[keep, "patient_id"].astype(str).tolist()
    assert len(rows) == summary["counts"]["patients"] == 147
    assert set(rows["Route (first session)"]) == {"IV ketamine"}


def test_the_cohorts_own_reliable_change_threshold(sample, iv):
    """The IV cohort's baseline SD gives its own threshold: its flags agree with its summary."""
    _, table = sample
    keep, summary, rows = iv
    whole = summary_of(table, table.keep(), PCL)
    assert reliable_change_threshold_of(summary) != reliable_change_threshold_of(whole)
    for tp in summary["timepoints"]:
        scored = rows[rows[timepoint_header(tp["label"], "Scored")] == 1]
        improved = scored[timepoint_header(tp["label"], "Reliable improvement")] == 1
        assert int(improved.sum()) == tp["reliable_change"]["improved"], tp["label"]


def test_a_summary_of_another_cohort_is_refused(sample, iv):
    _, table = sample
    keep, _, _ = iv
    whole = summary_of(table, table.keep(), PCL)
    with pytest.raises(ValueError, match="the summary is of another cohort or other definitions"):
        patient_export_of(table, keep, PCL, summary=whole)


def test_every_window_has_its_columns_even_when_nobody_was_scored_there(tiny):
    table, rows = tiny
    for window in table.meta["outcome_timepoints"]:
        for words, _, _ in TIMEPOINT_COLUMNS:
            assert timepoint_header(window["label"], words) in rows
    assert (rows["week 52: Scored"] == 0).all() and rows["week 52: Responder"].isna().all()


@pytest.mark.parametrize(
    ("patient", "column", "value"),
    [
        ("a", "week 4: Scored", 1),
        ("a", "week 4: Due", 1),
        ("a", "week 4: Responder", 1),
        ("a", "week 4: Remission eligible", 1),
        ("a", "week 4: Remitter", 1),
        ("a", "week 4: Change", -30.0),
        ("a", "week 4: Change (%)", -60.0),
        ("a", "In intention-to-treat population", 1),
        ("b", "week 4: Scored", 0),
        ("b", "week 4: Responder", None),  # not scored: does not apply
        ("b", "week 4: Remission eligible", 0),
        ("b", "week 4: Remitter", None),
        ("c", "Baseline PCL-5", None),
        ("c", "week 4: Scored", 0),  # scored, but no baseline to change from
        ("c", "week 4: Due", 0),
        ("c", "week 4: Remission eligible", None),
        ("c", "In intention-to-treat population", 0),
        ("a", "Time to response (days)", 28.0),
        ("a", "Time to response: responded", 1),
        ("d", "Time to response: responded", 0),  # censored at the last score
        ("d", "week 4: Responder", 0),
        ("d", "week 4: Remitter", 0),
        ("c", "Time to response: responded", None),  # not in the analysis
    ],
)
def test_flags_are_one_zero_or_blank_where_they_do_not_apply(tiny, patient, column, value):
    _, rows = tiny
    found = rows.loc[patient, column]
    if value is None:
        assert pd.isna(found)
    else:
        assert found == value


def test_side_effects_are_sessions_per_patient(sample):
    _, table = sample
    rows = patient_export_of(table, table.keep(), PCL)
    effects = [c for c in rows if c.startswith("Side effect: ")]
    assert effect_header("nausea") == "Side effect: Nausea (sessions)" in effects
    assert all(
        rows[c].dtype == np.int64 and (rows[c] <= rows["Session rows"]).all() for c in effects
    )


def test_the_summary_sheet_of_a_suppressed_summary(iv):
    _, summary, _ = iv
    shown = summary_rows(suppress_summary(summary))
    assert list(shown.columns) == SUMMARY_COLUMNS
    hidden = shown[shown["k"].astype(str) == SUPPRESSED]
    assert len(hidden) > 0 and hidden["Rate"].isna().all() and hidden["95% CI low"].isna().all()
    plain = summary_rows(summary)
    assert SUPPRESSED not in set(plain["k"].astype(str)) | set(plain["n"].astype(str))
    response = plain[(plain["Measure"] == "Response") & (plain["Timepoint"] == "week 4")]
    observed = summary["timepoints"][[t["label"] for t in summary["timepoints"]].index("week 4")]
    assert response[["k", "n"]].values.tolist() == [
        [observed["response"]["k"], observed["response"]["n"]],
        [observed["response_itt"]["k"], observed["response_itt"]["n"]],
    ]


def test_every_header_is_explained(iv):
    _, summary, rows = iv
    definitions = export_definitions(rows, summary, cohort="IV ketamine")
    meaning = dict(zip(definitions["Column or definition"], definitions["Meaning"]))
    attributes = {"Follow-up (days)", "Site", "Clinician", "Sex", "Age band"}
    attributes |= {"Concurrent therapy", "Prior antidepressant trials", "Primary diagnosis"}
    for header in rows.columns:
        assert meaning[header], header
        if header not in attributes:
            assert meaning[header] != "a column of patients.csv, as uploaded", header
    assert meaning["Cohort"] == "IV ketamine"
    threshold = reliable_change_threshold_of(summary)
    assert f"{threshold:.4f} points" in meaning["Reliable change threshold (this cohort)"]
    assert "Not applied" in meaning["Small-cell suppression"]
    assert "data use agreement" in meaning["Small-cell suppression"]


@pytest.mark.parametrize("suppress", [True, False])
def test_suppression_covers_the_summary_sheet_never_the_rows(sample, iv, suppress):
    _, table = sample
    keep, _, rows = iv
    export = patient_export_sheets(table, keep, PCL, suppress=suppress, cohort="IV ketamine")
    assert list(export.sheets()) == ["Patients", "Summary", "Definitions"]
    assert export.suppression["applied"] is suppress
    pd.testing.assert_frame_equal(export.patients, rows)
    in_summary = set(export.summary["k"].astype(str))
    assert (SUPPRESSED in in_summary) is suppress
    said = export.definitions.set_index("Column or definition")["Meaning"]
    assert said["Small-cell suppression"].startswith(
        "Applied to the Summary sheet" if suppress else "Not applied"
    )
