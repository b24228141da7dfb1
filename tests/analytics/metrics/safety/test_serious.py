"""Serious events, one row per report marked serious."""

import pandas as pd

from analytics.core.contract import clinic_from_frames
from analytics.metrics.safety import serious_events
from tests.analytics.metrics.safety.helpers import switched_route


def test_serious_events():
    out = serious_events(switched_route())
    assert out.to_dict(orient="records") == [
        {
            "patient_id": "a",
            "day": 3,
            "session_number": 2,
            "route": "esketamine_nasal",
            "effect": "nausea",
            "severity": "moderate",
        }
    ]


def test_serious_events_sorted_and_unmatched_listed_without_route():
    sessions = pd.DataFrame({"patient_id": ["a", "b"], "day": [0, 0], "route": "iv_ketamine"})
    effects = pd.DataFrame(
        {
            "patient_id": ["b", "a", "a", "a"],
            "day": [0, 4, 0, 0],
            "effect": ["vomiting", "nausea", "vomiting", "anxiety"],
            "session_number": [1, 2, 1, 1],
            "serious": pd.array([True, True, True, None], dtype="boolean"),
        }
    )
    out = serious_events(clinic_from_frames(sessions=sessions, side_effects=effects))
    assert out[["patient_id", "day", "effect"]].values.tolist() == [
        ["a", 0, "vomiting"],
        ["a", 4, "nausea"],
        ["b", 0, "vomiting"],
    ]
    # a's day 4 has no session: listed, with no route
    assert out["route"].isna().tolist() == [False, True, False]
