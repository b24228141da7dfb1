"""Each patient's follow-up: from day 0 to the data cutoff, worked out at import."""

import datetime

import pandas as pd
import pytest

from analytics.ingest.importer import import_files
from analytics.ingest.options import ImportOptions

SESSIONS = "patient_id,session_date,route\nA,2025-01-01,IV\nA,2025-01-03,IV\nB,2025-03-01,IV\n"
# B's week-1 form on 2025-03-08 is the latest date anywhere in the upload.
ASSESSMENTS = (
    "patient_id,assessment_date,instrument,total\n"
    "A,2025-01-01,PCL-5,50\n"
    "B,2025-03-01,PCL-5,50\n"
    "B,2025-03-08,PCL-5,40\n"
)


def _follow_up(files, **options) -> dict:
    result = import_files(files, options=ImportOptions(today=datetime.date(2026, 1, 1), **options))
    assert result.ok, result.problems
    p = result.data.patients
    return dict(zip(p["patient_id"], p["follow_up_days"].astype("object"), strict=True))


@pytest.mark.parametrize(
    ("extract_date", "expected"),
    [
        # The latest date, 2025-03-08: A day 0 2025-01-01 -> 66 days; B day 0 2025-03-01 -> 7.
        (None, {"A": 66, "B": 7}),
        # An extract date: 2025-03-31 -> 89 and 30 days.
        (datetime.date(2025, 3, 31), {"A": 89, "B": 30}),
        # An extract date before B's last record: never less than the patient's own latest day.
        (datetime.date(2025, 3, 5), {"A": 63, "B": 7}),
    ],
)
def test_follow_up_runs_from_day_0_to_the_cutoff(extract_date, expected):
    files = {"sessions.csv": SESSIONS.encode(), "assessments.csv": ASSESSMENTS.encode()}
    assert _follow_up(files, extract_date=extract_date) == expected


def test_day_only_export_takes_follow_up_from_patients_csv():
    files = {
        "assessments.csv": b"patient_id,day,instrument,total\nA,0,PCL-5,50\nB,0,PCL-5,40\n",
        "patients.csv": b"patient_id,Follow up days\nA,200\nB,\n",
    }
    got = _follow_up(files)
    assert got["A"] == 200 and got["B"] is pd.NA


@pytest.mark.parametrize("value", ["-3", "2.5", "99999"])
def test_follow_up_days_must_be_whole_days_in_range(value):
    files = {
        "assessments.csv": b"patient_id,day,instrument,total\nA,0,PCL-5,50\n",
        "patients.csv": f"patient_id,follow_up_days\nA,{value}\n".encode(),
    }
    result = import_files(files)
    assert not result.ok
    assert any(
        "must be a whole number of days from 0 to 36,600" in p.rule and p.row == 2
        for p in result.problems
    )


def test_an_extract_date_after_the_import_day_is_refused():
    with pytest.raises(ValueError, match="an export cannot be taken in the future"):
        ImportOptions(today=datetime.date(2026, 1, 1), extract_date=datetime.date(2026, 1, 2))
