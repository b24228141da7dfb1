"""A clinic's own export imports as it is: its file names, headers, US dates, brand and
adjective spellings and "142/85" blood pressures (``tests/data/clinic_export``, written by
``tests/data/make_clinic_export.py`` from the sample clinic)."""

from pathlib import Path

import pandas as pd
import pytest

from analytics.ingest.importer import import_folder
from tests.conftest import SAMPLE

EXPORT = Path(__file__).resolve().parents[2] / "data" / "clinic_export"


@pytest.fixture(scope="module")
def imported():
    result = import_folder(EXPORT)
    assert result.ok, "\n".join(str(p) for p in result.problems)
    return result


def test_every_file_is_told_by_its_own_name(imported):
    assert imported.table_of_files == {
        "Adverse_Events.csv": "side_effects",
        "PCL5_Scores.csv": "assessments",
        "Patient_Demographics.csv": "patients",
        "Visits_Export_2025.csv": "sessions",
    }


def test_nothing_is_refused_or_dropped(imported):
    assert [str(p) for p in imported.problems] == []


def test_every_row_is_imported(imported):
    # PCL5_Scores.csv has 281 rows; 2 have no total (P0031 on 7/18/2025, P0035 on 3/25/2024),
    # and a form with nothing on it is not an assessment (see analytics.ingest.scoring)
    assert imported.summary() == {
        "patients": 60,
        "sessions": 536,
        "assessments": 279,
        "side_effects": 169,
    }


def test_us_dates_give_the_sample_clinic_s_days(imported):
    """Month-first dates ("8/25/2025 9:30 AM") land on the same days as the sample's ISO ones."""
    sample = pd.read_csv(SAMPLE / "sessions.csv", usecols=["patient_id", "session_date"])
    sample = sample[sample["patient_id"].isin(imported.data.patients["patient_id"])]
    dates = pd.to_datetime(sample["session_date"])
    expected = (dates - dates.groupby(sample["patient_id"]).transform("min")).dt.days
    got = imported.data.sessions.sort_values(["patient_id", "day"])["day"].to_numpy()
    assert sorted(got.tolist()) == sorted(expected.tolist())


def test_brand_and_dose_spellings_become_route_codes(imported):
    assert set(imported.data.sessions["route"]) == {"esketamine_nasal", "iv_ketamine"}


def test_adjective_spellings_become_effect_codes(imported):
    assert {"dizziness", "nausea", "sedation"} <= set(imported.data.side_effects["effect"])


def test_one_cell_blood_pressure_is_split(imported):
    sessions = imported.data.sessions
    first = sessions[(sessions["patient_id"] == "P0001") & (sessions["day"] == 0)].iloc[0]
    # Visits_Export_2025.csv row 2: BP Pre "120/77", Peak BP "135/83"
    assert (first["bp_systolic_pre"], first["bp_diastolic_pre"]) == (120, 77)
    assert (first["bp_systolic_peak"], first["bp_diastolic_peak"]) == (135, 83)
    assert sessions["bp_systolic_pre"].notna().mean() > 0.9
