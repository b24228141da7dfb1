"""Small clinics and a row picker shared by the safety tests."""

import numpy as np
import pandas as pd

from analytics.core.contract import clinic_from_frames

RATE_KEYS = {"k", "n", "rate", "ci_low", "ci_high"}
NA = float("nan")


def pick(frame, **where):
    """The one row of ``frame`` matching every ``column=value``."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    rows = frame.loc[mask]
    assert len(rows) == 1, f"expected one row for {where}, got {len(rows)}"
    return rows.iloc[0]


def three_patients():
    """a: 3 sessions, nausea at two of them (twice at day 0); b: 2 sessions, nothing;
    c: 1 session, dizziness entered twice; plus a nausea row on a day with no session."""
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b", "c"],
            "day": [0, 3, 7, 0, 2, 0],
            "route": "iv_ketamine",
        }
    )
    effects = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "c", "c", "b"],
            "day": [0, 0, 3, 0, 0, 5],
            "effect": ["nausea", "nausea", "nausea", "dizziness", "dizziness", "nausea"],
            # Given, not derived: b's day 5 has no session to derive it from.
            "session_number": [1, 1, 2, 1, 1, 3],
        }
    )
    return clinic_from_frames(sessions=sessions, side_effects=effects)


def switched_route():
    """a: IV day 0, esketamine day 3 with nausea; b: IV days 0 and 2, nausea day 0;
    c: esketamine day 0, no effects."""
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b", "c"],
            "day": [0, 3, 0, 2, 0],
            "route": [
                "iv_ketamine",
                "esketamine_nasal",
                "iv_ketamine",
                "iv_ketamine",
                "esketamine_nasal",
            ],
        }
    )
    effects = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "day": [3, 0],
            "effect": "nausea",
            "severity": ["moderate", None],
            "serious": pd.array([True, False], dtype="boolean"),
        }
    )
    patients = pd.DataFrame({"patient_id": ["a", "b", "c"], "sex": ["F", "M", None]})
    return clinic_from_frames(sessions=sessions, side_effects=effects, patients=patients)


def bp_clinic(rows, patients=None):
    """Esketamine sessions from ``(patient, day, sys pre, dia pre, sys peak, dia peak)`` rows."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "day",
            "bp_systolic_pre",
            "bp_diastolic_pre",
            "bp_systolic_peak",
            "bp_diastolic_peak",
        ],
    ).assign(route="esketamine_nasal")
    return clinic_from_frames(sessions=frame, patients=patients)


def cadss_clinic():
    """x: sessions 1-5 CADSS 2, 1, 3, 0, 1; y: 1, 2, 4 -> 4, 2, 1; z: 1 and 4 -> 9, 3."""
    rows = [
        ("x", 0, 2.0),
        ("x", 2, 1.0),
        ("x", 4, 3.0),
        ("x", 7, 0.0),
        ("x", 9, 1.0),
        ("y", 0, 4.0),
        ("y", 3, 2.0),
        ("y", 5, NA),  # session 3 of y: not scored
        ("y", 8, 1.0),
        ("z", 0, 9.0),
        ("z", 2, NA),
        ("z", 4, NA),
        ("z", 6, 3.0),
    ]
    sessions = pd.DataFrame(rows, columns=["patient_id", "day", "dissociation_cadss"])
    return clinic_from_frames(sessions=sessions.assign(route="iv_ketamine"))
