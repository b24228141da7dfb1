"""Dates and days become days since each patient's first treatment session (day 0)."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.ingest.importer import ImportOptions, import_files

OPTIONS = ImportOptions(raise_unexpected=True)

SESSIONS_DATED = """patient_id,session_date,route
A,2025-03-03,iv
A,2025-03-05,iv
B,2025-04-14T09:30:00,iv
B,2025-04-17 23:59,iv
"""
SESSIONS_DAYS = """patient_id,day,route
A,3,iv
A,5,iv
B,0,iv
"""


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def _days(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(frame["patient_id"].tolist(), frame["day"].tolist()))


@pytest.mark.parametrize(
    ("sessions", "assessments", "expected_sessions", "expected_assessments"),
    [
        # Dates: first session is day 0; an assessment 3 days before it is day -3.
        (
            SESSIONS_DATED,
            "patient_id,assessment_date,total\nA,2025-02-28,50\nA,2025-03-31,20\n",
            [("A", 0), ("A", 2), ("B", 0), ("B", 3)],
            [("A", -3), ("A", 28)],
        ),
        # Date-times are truncated to the date: 23:59 on the 17th is still day 3.
        (
            SESSIONS_DATED,
            "patient_id,assessment_date,total\nB,2025-04-13T08:00,40\nB,2025-04-15 00:01,35\n",
            [("A", 0), ("A", 2), ("B", 0), ("B", 3)],
            [("B", -1), ("B", 1)],
        ),
        # YYYY/MM/DD is unambiguous and accepted.
        (
            SESSIONS_DATED,
            "patient_id,assessment_date,total\nA,2025/03/10,30\n",
            [("A", 0), ("A", 2), ("B", 0), ("B", 3)],
            [("A", 7)],
        ),
        # Day-only export whose first session is day 3: every day of that patient moves by 3.
        (
            SESSIONS_DAYS,
            "patient_id,day,total\nA,3,50\nA,1,52\nB,7,30\n",
            [("A", 0), ("A", 2), ("B", 0)],
            [("A", -2), ("A", 0), ("B", 7)],
        ),
        # Days beside dated sessions are taken as already relative to the first session.
        (
            SESSIONS_DATED,
            "patient_id,day,total\nA,0,50\nA,14,30\n",
            [("A", 0), ("A", 2), ("B", 0), ("B", 3)],
            [("A", 0), ("A", 14)],
        ),
    ],
)
def test_days_relative_to_first_session(
    sessions, assessments, expected_sessions, expected_assessments
):
    result = import_files(
        {"sessions.csv": _csv(sessions), "assessments.csv": _csv(assessments)}, options=OPTIONS
    )
    assert result.ok, [str(p) for p in result.problems]
    assert _days(result.data.sessions) == expected_sessions
    assert _days(result.data.assessments) == expected_assessments
    assert result.data.sessions["session_number"].tolist() == list(
        result.data.sessions.groupby("patient_id").cumcount() + 1
    )


@pytest.mark.parametrize(
    ("keep_month", "years", "months"),
    [
        # Safe Harbor (45 CFR 164.514(b)(2)): the year only.
        (False, [2025, 2025], [pd.NA, pd.NA]),
        # A limited data set keeps the month too.
        (True, [2025, 2025], [3, 4]),
    ],
)
def test_only_year_and_optionally_month_survive(keep_month, years, months):
    result = import_files(
        {"sessions.csv": _csv(SESSIONS_DATED)},
        options=ImportOptions(keep_month=keep_month, raise_unexpected=True),
    )
    assert result.ok
    patients = result.data.patients
    assert patients["first_session_year"].tolist() == years
    assert (
        patients["first_session_month"]
        .astype(object)
        .where(patients["first_session_month"].notna(), pd.NA)
        .tolist()
        == months
    )
    assert result.data.months_kept is keep_month
    # No calendar date survives anywhere.
    for frame in (result.data.sessions, patients):
        assert not any("date" in c for c in frame.columns)


def test_no_sessions_table_keeps_assessment_days():
    result = import_files(
        {"assessments.csv": _csv("patient_id,day,total\nA,-2,50\nA,28,20\n")}, options=OPTIONS
    )
    assert result.ok
    assert _days(result.data.assessments) == [("A", -2), ("A", 28)]
    assert result.data.has_sessions is False
    assert result.data.sessions.empty
    assert result.data.patients["first_session_year"].isna().all()


def test_day_only_year_comes_from_patients_file():
    result = import_files(
        {
            "sessions.csv": _csv(SESSIONS_DAYS),
            "patients.csv": _csv("patient_id,first_session_year,arm\nA,2024,x\nB,2025,y\n"),
        },
        options=OPTIONS,
    )
    assert result.ok
    assert result.data.patients["first_session_year"].tolist() == [2024, 2025]
    assert result.data.extra_patient_columns == ("arm",)


def test_side_effect_days_shift_with_their_sessions():
    result = import_files(
        {
            "sessions.csv": _csv(SESSIONS_DAYS),
            "side_effects.csv": _csv("patient_id,day,effect\nA,5,nausea\n"),
        },
        options=OPTIONS,
    )
    assert result.ok, [str(p) for p in result.problems]
    effects = result.data.side_effects
    assert effects[["day", "session_number"]].values.tolist() == [[2, 2]]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # Dated assessments of a patient with no session cannot be placed: warned, not imported.
        (
            {
                "sessions.csv": SESSIONS_DATED,
                "assessments.csv": "patient_id,assessment_date,total\nA,2025-03-03,40\n"
                "Z,2025-03-01,60\nZ,2025-03-09,55\n",
            },
            [
                "warning: assessments.csv, column 'assessment_date': 2 rows of 1 patients with no "
                "treatment session were not imported: without a first session their dates cannot"
                " be placed in time (rows 3, 4)"
            ],
        ),
    ],
)
def test_unplaceable_rows_are_warned(files, expected):
    result = import_files({k: _csv(v) for k, v in files.items()}, options=OPTIONS)
    assert [str(p) for p in result.problems] == expected
    assert result.ok
    assert result.data.assessments["patient_id"].tolist() == ["A"]
    # The patient is still listed: seen in a table, never treated.
    assert "Z" in result.data.patients["patient_id"].tolist()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"assessments.csv": "patient_id,assessment_date,total\nA,2025-03-03,40\n"},
            "error: assessments.csv, column 'assessment_date': dates need a sessions file to set "
            "day 0 (each patient's first treatment session); add the sessions file or give days "
            "since the first session",
        ),
        (
            {
                "sessions.csv": SESSIONS_DAYS,
                "assessments.csv": "patient_id,assessment_date,total\nA,2025-03-03,40\n",
            },
            "error: assessments.csv, column 'assessment_date': gives dates but the sessions give "
            "only days, so these dates cannot be placed relative to the first session; give days "
            "here too",
        ),
        (
            {
                "sessions.csv": SESSIONS_DATED,
                "assessments.csv": "patient_id,assessment_date,total\nA,03/04/2025,40\n",
            },
            "error: assessments.csv, row 2, column 'assessment_date': could be read day first "
            "or month first: dates such as 03/04/2025 could be 3 April or March 4; choose "
            "day-first or month-first in the import options (command line: --date-order dmy or "
            "mdy) (value: '03/04/2025')",
        ),
        (
            {
                "sessions.csv": SESSIONS_DATED,
                "assessments.csv": "patient_id,assessment_date,total\nA,2025-02-30,40\n",
            },
            "error: assessments.csv, row 2, column 'assessment_date': is not a calendar day: "
            "February has no 30th (value: '2025-02-30')",
        ),
        (
            {"sessions.csv": "patient_id,day,route\nA,1.5,iv\n"},
            "error: sessions.csv, row 2, column 'day': must be a whole number (value: '1.5')",
        ),
    ],
)
def test_time_errors(files, expected):
    result = import_files({k: _csv(v) for k, v in files.items()}, options=OPTIONS)
    assert expected in [str(p) for p in result.problems]
    assert result.data is None
