"""New starts and sessions per period, worked by hand."""

import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames
from analytics.metrics.activity import activity_by_period


def clinic(*, months: bool):
    # a: started 2024-03 with 3 sessions; b: 2024-11, 1 session; c: 2025-03, 2 sessions;
    # d: year unknown (day-only export), 4 sessions; e: a year but no session (never started)
    sessions = pd.DataFrame(
        {
            "patient_id": ["a"] * 3 + ["b"] + ["c"] * 2 + ["d"] * 4,
            "day": [0, 2, 4, 0, 0, 7, 0, 1, 2, 3],
            "route": "iv_ketamine",
        }
    )
    patients = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "e"],
            "first_session_year": [2024, 2024, 2025, None, 2025],
            "first_session_month": [3, 11, 3, None, 6],
        }
    )
    return clinic_from_frames(sessions=sessions, patients=patients, months_kept=months)


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (False, [(2024, None, 2, 4), (2025, None, 1, 2)]),
        (True, [(2024, 3, 1, 3), (2024, 11, 1, 1), (2025, 3, 1, 2)]),
    ],
)
def test_activity_by_period(months, expected):
    table = activity_by_period(clinic(months=months))
    rows = [
        (int(r.year), None if pd.isna(r.month) else int(r.month), r.new_starts, r.sessions)
        for r in table.itertuples()
    ]
    assert rows == expected


def test_empty_clinic_has_no_periods():
    from analytics.core.contract import empty_clinic

    assert activity_by_period(empty_clinic()).empty
