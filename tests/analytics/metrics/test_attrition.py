"""Attrition flow, table-driven over hand-built patients."""

import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames, empty_clinic
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.attrition import ALL_ROUTES, attrition_flow, attrition_patients

IV, NASAL = "iv_ketamine", "esketamine_nasal"

# patient: (route, session days, phases or None, week-4 score?)
PATIENTS = {
    # one session only
    "p1": (IV, [0], None, False),
    # 6 IV sessions: induction complete; no 7th session, no phase -> not maintenance
    "p2": (IV, [0, 2, 4, 7, 9, 11], None, True),
    # 7 IV sessions with no phase: the 7th comes after induction -> maintenance
    "p3": (IV, [0, 2, 4, 7, 9, 11, 40], None, True),
    # 3 IV sessions, the 3rd marked maintenance by the clinic -> maintenance, induction not done
    "p4": (IV, [0, 2, 30], ["induction", "induction", "maintenance"], False),
    # 7 nasal sessions: short of the 8 that complete nasal induction
    "p5": (NASAL, [0, 3, 7, 10, 14, 17, 21], None, True),
    # 9 nasal sessions, all marked induction -> induction complete, phase says not maintenance
    "p6": (NASAL, [0, 3, 7, 10, 14, 17, 21, 24, 28], ["induction"] * 9, True),
}


def _clinic():
    sessions, scores = [], []
    for pid, (route, days, phases, week4) in PATIENTS.items():
        for i, day in enumerate(days):
            sessions.append((pid, day, route, phases[i] if phases else None))
        scores.append((pid, 0, 50.0))
        if week4:
            scores.append((pid, 28, 40.0))
    s = pd.DataFrame(sessions, columns=["patient_id", "day", "route", "phase"])
    a = pd.DataFrame(scores, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    return clinic_from_frames(sessions=s, assessments=a)


DEFS = OutcomeDefinitions.for_instrument("PCL-5")


@pytest.mark.parametrize(
    ("pid", "sessions", "completed", "week4", "maintenance", "stopped"),
    [
        ("p1", 1, False, False, False, True),
        ("p2", 6, True, True, False, False),
        ("p3", 7, True, True, True, False),
        ("p4", 3, False, False, True, False),
        ("p5", 7, False, True, False, False),
        ("p6", 9, True, True, False, False),
    ],
)
def test_patient_flags(pid, sessions, completed, week4, maintenance, stopped):
    row = attrition_patients(_clinic(), DEFS).set_index("patient_id").loc[pid]
    assert (
        row["sessions"],
        row["completed_induction"],
        row["scored_week4"],
        row["entered_maintenance"],
        row["stopped_after_first"],
    ) == (sessions, completed, week4, maintenance, stopped)


@pytest.mark.parametrize(
    ("route", "step", "k", "n"),
    [
        (ALL_ROUTES, "started", 6, 6),
        (ALL_ROUTES, "completed_induction", 3, 6),  # p2, p3, p6
        (ALL_ROUTES, "scored_week4", 4, 6),  # p2, p3, p5, p6
        (ALL_ROUTES, "entered_maintenance", 2, 6),  # p3, p4
        (ALL_ROUTES, "stopped_after_first", 1, 6),  # p1
        (IV, "completed_induction", 2, 4),
        (NASAL, "completed_induction", 1, 2),
        (NASAL, "stopped_after_first", 0, 2),
    ],
)
def test_flow_counts(route, step, k, n):
    flow = attrition_flow(_clinic(), DEFS).set_index(["route", "step"])
    row = flow.loc[(route, step)]
    assert (row["k"], row["n"]) == (k, n)
    assert row["rate"] == pytest.approx(k / n)
    assert row["ci_low"] <= row["rate"] <= row["ci_high"]


def test_induction_count_comes_from_definitions():
    # With 7 nasal sessions completing induction, p5 now completes.
    defs = DEFS.with_changes(induction_sessions={IV: 6, NASAL: 7})
    flags = attrition_patients(_clinic(), defs).set_index("patient_id")
    assert flags.loc["p5", "completed_induction"]


def test_flow_order_and_empty_clinic():
    flow = attrition_flow(_clinic(), DEFS)
    assert flow["route"].iloc[0] == ALL_ROUTES
    assert list(flow["step"].iloc[:5]) == [
        "started",
        "completed_induction",
        "scored_week4",
        "entered_maintenance",
        "stopped_after_first",
    ]
    empty = attrition_flow(empty_clinic(), DEFS)
    assert (empty["k"] == 0).all() and empty["rate"].isna().all()


def test_unknown_week4_label():
    with pytest.raises(ValueError, match="timepoint 'month 1' is not one of the windows"):
        attrition_patients(_clinic(), DEFS, week4="month 1")


@pytest.mark.parametrize(
    ("follow_up_p1", "n", "not_yet_due"),
    [
        # p1 and p4 were not scored at week 4 (day 28 +- 7: the window closes on day 35).
        # p1 followed to day 34: not yet due, out of the week-4 denominator; p4 followed long.
        (34, 5, 1),
        (35, 6, 0),  # followed to the window's last day: due
        (None, 6, 0),  # unknown: every patient who started counts
    ],
)
def test_week4_step_leaves_out_patients_not_yet_due(follow_up_p1, n, not_yet_due):
    data = _clinic()
    ids = data.patients["patient_id"]
    days = pd.array([follow_up_p1 if i == "p1" else 400 for i in ids], dtype="Int64")
    data = clinic_from_frames(
        sessions=data.sessions,
        assessments=data.assessments,
        patients=pd.DataFrame({"patient_id": ids, "follow_up_days": days}),
    )
    flow = attrition_flow(data, DEFS).set_index(["route", "step"])
    week4 = flow.loc[(ALL_ROUTES, "scored_week4")]
    assert (week4["k"], week4["n"], week4["not_yet_due"]) == (4, n, not_yet_due)
    # the other steps keep every patient who started
    assert flow.loc[(ALL_ROUTES, "completed_induction"), "n"] == 6
    assert flow.loc[(IV, "scored_week4"), "n"] == n - 2  # p5, p6 are nasal
