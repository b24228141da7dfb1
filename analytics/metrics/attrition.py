"""Who stays in treatment: the flow from first session to maintenance, overall and by route.

Each step is a count and a share of the patients who started, with its 95% interval, so a
clinic can see where patients leave. Per-patient flags come first (:func:`attrition_patients`)
so every count can be traced to the patients behind it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import isin_ids
from analytics.core.stats import proportion_ci
from analytics.metrics.timepoints import timepoint_scores

__all__ = [
    "ALL_ROUTES",
    "FLOW_COLUMNS",
    "FLOW_STEPS",
    "PATIENT_FLOW_COLUMNS",
    "attrition_flow",
    "attrition_patients",
]

ALL_ROUTES = "all routes"

# attrition_patients: one row per patient with at least one session.
#   route                 string   route of the first session
#   sessions              int64    sessions given
#   induction_target      Int64    sessions that complete induction for the route; NA when the
#                                  definitions have no count for that route
#   completed_induction   bool     sessions >= induction_target (False when the target is NA)
#   scored_week4          bool     a baseline and a score in the week-4 window
#   entered_maintenance   bool     a session with phase "maintenance", or, on a session with no
#                                  phase, a session number beyond the induction target
#   stopped_after_first   bool     exactly one session
PATIENT_FLOW_COLUMNS = [
    "patient_id",
    "route",
    "sessions",
    "induction_target",
    "completed_induction",
    "scored_week4",
    "entered_maintenance",
    "stopped_after_first",
]

# (step, label) in flow order; "stopped_after_first" is a side branch, not a step down.
FLOW_STEPS = (
    ("started", "Started (at least 1 session)"),
    ("completed_induction", "Completed induction"),
    ("scored_week4", "Scored at week 4"),
    ("entered_maintenance", "Entered maintenance"),
    ("stopped_after_first", "Stopped after session 1"),
)

# attrition_flow: one row per route (ALL_ROUTES first) and step.
#   route, step, label      string
#   k                       int64    patients at the step
#   n                       int64    patients who started (the denominator of every share)
#   rate, ci_low, ci_high   float64  k / n with its interval (NaN when n = 0)
FLOW_COLUMNS = ["route", "step", "label", "k", "n", "rate", "ci_low", "ci_high"]


def _isin(values, ids) -> np.ndarray:
    """``values.isin(ids)`` by hashing: Arrow-backed string ``isin`` loops in Python."""
    return isin_ids(values, ids)


def attrition_patients(
    data: ClinicData, definitions: OutcomeDefinitions, *, week4: str = "week 4"
) -> pd.DataFrame:
    """Per-patient flags behind the attrition flow.

    Parameters
    ----------
    data : ClinicData
    definitions : OutcomeDefinitions
        ``induction_sessions`` (sessions that complete induction per route) and the windows.
    week4 : str
        Label of the window that counts as "scored at week 4".

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_FLOW_COLUMNS`, one row per patient with a session, by patient.
        Empty when the upload had no sessions table.

    Raises
    ------
    ValueError
        When ``week4`` is not one of the definitions' windows.
    """
    labels = [w.label for w in definitions.windows]
    if week4 not in labels:
        raise ValueError(f"timepoint {week4!r} is not one of the windows {labels}")
    s = data.sessions.sort_values(["patient_id", "day"], kind="stable")
    if s.empty:
        return pd.DataFrame(
            {
                c: pd.Series([], dtype=t)
                for c, t in zip(
                    PATIENT_FLOW_COLUMNS,
                    ["string", "string", "int64", "Int64", "bool", "bool", "bool", "bool"],
                )
            }
        )
    grouped = s.groupby("patient_id", sort=True)
    out = pd.DataFrame({"route": grouped["route"].first(), "sessions": grouped.size()})
    targets = {str(k): int(v) for k, v in definitions.induction_sessions.items()}
    out["induction_target"] = out["route"].map(targets).astype("Int64")
    out["completed_induction"] = (
        (out["sessions"] >= out["induction_target"]).fillna(False).astype(bool)
    )
    scored = timepoint_scores(data, definitions)
    scored = scored.loc[scored["timepoint"] == week4, "patient_id"]
    out["scored_week4"] = _isin(out.index, scored)
    # A session is maintenance by its phase; without a phase, by coming after induction.
    target = s["patient_id"].map(out["induction_target"]).astype("float64").to_numpy()
    phase = s["phase"].astype("string")
    by_phase = (phase.str.lower() == "maintenance").fillna(False).to_numpy(bool)
    by_count = phase.isna().to_numpy(bool) & (s["session_number"].to_numpy(float) > target)
    maintenance = pd.Series(by_phase | by_count, index=s.index).groupby(s["patient_id"]).any()
    out["entered_maintenance"] = maintenance.reindex(out.index, fill_value=False).astype(bool)
    out["stopped_after_first"] = out["sessions"] == 1
    out = out.reset_index()
    out = out.astype({"patient_id": "string", "route": "string", "sessions": "int64"})
    return out[PATIENT_FLOW_COLUMNS]


def attrition_flow(
    data: ClinicData, definitions: OutcomeDefinitions, *, week4: str = "week 4"
) -> pd.DataFrame:
    """Attrition flow overall and by first-session route.

    Steps: started (at least one session) -> completed induction (at least
    ``definitions.induction_sessions[route]`` sessions, e.g. 6 IV or 8 nasal) -> scored at week 4
    -> entered maintenance; and, beside them, stopped after session 1. Each is a count of
    patients and a share of those who started, with a Wilson (or Clopper-Pearson, per
    ``definitions.ci_method``) interval. Steps are counted independently: a patient scored at
    week 4 need not have completed induction.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLOW_COLUMNS`; :data:`ALL_ROUTES` first, then routes alphabetically.
        Patients whose route has no induction count are never "completed induction".
    """
    patients = attrition_patients(data, definitions, week4=week4)
    flags = patients.assign(started=True)
    step_names = [step for step, _ in FLOW_STEPS]
    per_route = flags.groupby("route", sort=True)[step_names].sum()
    total = flags[step_names].sum().to_frame(ALL_ROUTES).T
    table = pd.concat([total, per_route])
    table.index.name = "route"
    long = table.reset_index().melt(id_vars="route", var_name="step", value_name="k")
    long["n"] = long["route"].map(table["started"]).astype("int64")
    long["k"] = long["k"].astype("int64")
    low, high = proportion_ci(
        long["k"].to_numpy(), long["n"].to_numpy(), method=definitions.ci_method
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        long["rate"] = np.where(long["n"] > 0, long["k"] / long["n"], np.nan)
    long["ci_low"], long["ci_high"] = low, high
    long["label"] = long["step"].map(dict(FLOW_STEPS))
    route_order = {r: i for i, r in enumerate(table.index)}
    step_order = {s: i for i, s in enumerate(step_names)}
    long = long.assign(
        _r=long["route"].map(route_order), _s=long["step"].map(step_order)
    ).sort_values(["_r", "_s"])
    long = long.astype({"route": "string", "step": "string", "label": "string"})
    return long[FLOW_COLUMNS].reset_index(drop=True)
