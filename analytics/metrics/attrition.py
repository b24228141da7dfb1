"""Who stays in treatment: the flow from first session to maintenance, overall and by route.

Each step is a count and a share of the patients who started, with its 95% interval, so a
clinic can see where patients leave. Each patient's flags are worked out once
(:func:`attrition_facts`, one row per patient of the per-patient table) and a cohort's flow is
counted from those rows (:func:`attrition_flow_from`), so every count can be traced to the
patients behind it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from analytics.core.stats import proportion_ci
from analytics.metrics.timepoints import (
    follow_up_by_code,
    is_due,
    shared_intermediates,
    timepoint_scores,
)

__all__ = [
    "ALL_ROUTES",
    "FLOW_COLUMNS",
    "FLOW_STEPS",
    "PATIENT_FLOW_COLUMNS",
    "attrition_facts",
    "attrition_flow",
    "attrition_flow_from",
    "attrition_patients",
    "attrition_patients_from",
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

# (step, label) in flow order; "stopped_after_first" is a side branch, not a step down. Every
# share is of the patients who started; the week-4 step says so, because the Claims check counts
# a share scored at week 4 among the patients with a baseline score instead.
FLOW_STEPS = (
    ("started", "Started (at least 1 session)"),
    ("completed_induction", "Completed induction"),
    ("scored_week4", "Scored at week 4, of patients who started and were due by then"),
    ("entered_maintenance", "Entered maintenance"),
    ("stopped_after_first", "Stopped after session 1"),
)

# attrition_flow: one row per route (ALL_ROUTES first) and step.
#   route, step, label      string
#   k                       int64    patients at the step
#   n                       int64    patients who started (the denominator of every share but
#                                    the week-4 step's: those who started and were due then)
#   rate, ci_low, ci_high   float64  k / n with its interval (NaN when n = 0)
#   not_yet_due             int64    patients who started but were not yet due (week-4 step;
#                                    0 for the others)
FLOW_COLUMNS = ["route", "step", "label", "k", "n", "rate", "ci_low", "ci_high", "not_yet_due"]

# The per-patient columns behind each flag (attrition_facts), by the name of the flag.
FACT_COLUMNS = {
    "started": "attrition_started",
    "route": "attrition_first_route",
    "sessions": "count_session_rows",  # every table has the patients' counts
    "induction_target": "attrition_induction_target",
    "completed_induction": "attrition_completed_induction",
    "scored_week4": "attrition_scored_week4",
    "entered_maintenance": "attrition_entered_maintenance",
    "stopped_after_first": "attrition_stopped_after_first",
}


def _check_window(definitions: OutcomeDefinitions, label: str) -> None:
    labels = [w.label for w in definitions.windows]
    if label not in labels:
        raise ValueError(f"timepoint {label!r} is not one of the windows {labels}")


def attrition_facts(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    index: PatientIndex,
    *,
    week4: str = "week 4",
) -> Facts:
    """Each patient's flags behind the attrition flow (columns ``attrition_*``).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        ``induction_sessions`` (sessions that complete induction per route) and the windows.
    index : PatientIndex
        The patients: row ``i`` of the facts is code ``i``.
    week4 : str
        Label of the window that counts as "scored at week 4".

    Returns
    -------
    Facts
        ``patients``: ``attrition_started`` (bool, at least one session),
        ``attrition_first_route`` (string, route of the first session; NA without sessions),
        ``attrition_induction_target`` (Int64,
        sessions that complete induction for that route; NA without sessions or without a
        count for the route), ``attrition_completed_induction``, ``attrition_scored_week4``
        (a baseline and a score in the ``week4`` window, and a session),
        ``attrition_entered_maintenance`` and ``attrition_stopped_after_first`` (bool, False
        without sessions). ``meta["attrition_week4"]``: the window of ``attrition_scored_week4``;
        None when ``week4`` is not one of the windows (custom windows): nobody is scored then,
        and :func:`attrition_flow_from` refuses the table as :func:`attrition_flow` refuses
        the definitions.
    """
    if week4 not in [w.label for w in definitions.windows]:
        week4 = None
    size = len(index)
    s = data.sessions
    codes = index.positions(s["patient_id"])
    day = s["day"].to_numpy("int64")
    known = np.flatnonzero(codes >= 0)
    codes, day = codes[known], day[known]
    sessions = np.bincount(codes, minlength=size).astype("int64")
    started = sessions > 0

    # The first session (earliest day; the first row on a tie, as a stable sort) sets the route.
    keys = codes.astype("int64") * (1 << 32) + (day + (1 << 31))
    in_order = bool(np.all(keys[1:] >= keys[:-1])) if len(keys) else True
    order = np.arange(len(codes)) if in_order else np.lexsort((day, codes))
    first = np.ones(len(order), dtype=bool)
    first[1:] = codes[order][1:] != codes[order][:-1]
    first_rows = known[order[first]]
    route = pd.array([pd.NA] * size, dtype="string")
    route[codes[order[first]]] = s["route"].astype("string").array.take(first_rows)
    targets = {str(k): int(v) for k, v in definitions.induction_sessions.items()}
    target = pd.Series(route).map(targets).astype("Int64")
    target_value = target.astype("float64").to_numpy(na_value=np.nan)
    with np.errstate(invalid="ignore"):
        completed = started & (sessions >= target_value) & ~np.isnan(target_value)

    scored = np.zeros(size, dtype=bool)
    due = started.copy()
    if week4 is not None:
        tp = timepoint_scores(data, definitions)
        at = index.positions(tp.loc[(tp["timepoint"] == week4).to_numpy(bool), "patient_id"])
        scored[at[at >= 0]] = True
        # Due at week 4: scored there, or followed to the window's last day (as on Outcomes).
        end = next(int(w.high) for w in definitions.windows if w.label == week4)
        due = started & is_due(follow_up_by_code(data, index), end, scored)

    # A session is maintenance by its phase; without a phase, by coming after induction.
    phase = s["phase"].astype("string").iloc[known]
    by_phase = (phase.str.lower() == "maintenance").fillna(False).to_numpy(bool)
    with np.errstate(invalid="ignore"):
        by_count = phase.isna().to_numpy(bool) & (
            s["session_number"].to_numpy(float)[known] > target_value[codes]
        )
    maintenance = np.zeros(size, dtype=bool)
    maintenance[codes[by_phase | by_count]] = True

    return Facts(
        patients=pd.DataFrame(
            {
                "attrition_started": started,
                "attrition_first_route": route,
                "attrition_induction_target": target.array,
                "attrition_completed_induction": completed,
                "attrition_scored_week4": scored & started,
                "attrition_due_week4": due,
                "attrition_entered_maintenance": maintenance,
                "attrition_stopped_after_first": sessions == 1,
            }
        ),
        meta={"attrition_week4": week4},
    )


def _table(data: ClinicData, definitions: OutcomeDefinitions, *, week4: str) -> PatientTable:
    """The per-patient table of ``data`` holding this module's facts only."""

    def build(data, definitions, index):
        return attrition_facts(data, definitions, index, week4=week4)

    with shared_intermediates():
        return PatientTable.of(data, definitions, build)


def _check_table(table: PatientTable, week4: str) -> None:
    if table.meta.get("attrition_week4") != week4:
        raise ValueError(
            f"the table counts scores at {table.meta.get('attrition_week4')!r}, not {week4!r}"
        )


def attrition_patients_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    week4: str = "week 4",
) -> pd.DataFrame:
    """The per-patient flags of the cohort ``keep``, one row per patient with a session.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_FLOW_COLUMNS`, by patient id.

    Raises
    ------
    ValueError
        When ``week4`` is not one of the windows, or not the one the table was built for.
    """
    _check_window(definitions, week4)
    _check_table(table, week4)
    p = table.patients
    rows = np.flatnonzero(np.asarray(keep, dtype=bool) & p["attrition_started"].to_numpy(bool))
    out = pd.DataFrame(
        {
            name: p[column].array.take(rows)
            for name, column in FACT_COLUMNS.items()
            if name != "started"
        }
    )
    out.insert(0, "patient_id", pd.array(table.index.ids.take(rows), dtype="string"))
    out = out.astype(
        {
            "route": "string",
            "sessions": "int64",
            "induction_target": "Int64",
            **{c: "bool" for c in PATIENT_FLOW_COLUMNS[4:]},
        }
    )
    return out[PATIENT_FLOW_COLUMNS]


def attrition_patients(
    data: ClinicData, definitions: OutcomeDefinitions, *, week4: str = "week 4"
) -> pd.DataFrame:
    """Per-patient flags behind the attrition flow: :func:`attrition_patients_from` every
    patient of ``data``.

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
    _check_window(definitions, week4)
    table = _table(data, definitions, week4=week4)
    return attrition_patients_from(table, table.keep(), definitions, week4=week4)


def attrition_flow_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    week4: str = "week 4",
) -> pd.DataFrame:
    """Attrition flow of the cohort ``keep``, overall and by first-session route.

    Steps: started (at least one session) -> completed induction (at least
    ``definitions.induction_sessions[route]`` sessions, e.g. 6 IV or 8 nasal) -> scored at week 4
    -> entered maintenance; and, beside them, stopped after session 1. Each is a count of
    patients and a share of those who started (the week-4 step: of those who started and were
    due at week 4, scored there or followed to the window's last day), with a Wilson (or
    Clopper-Pearson, per ``definitions.ci_method``) interval. Steps are counted independently:
    a patient scored at week 4 need not have completed induction.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`attrition_facts`).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
    week4 : str
        The window of the "scored at week 4" step (the table's).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLOW_COLUMNS`; :data:`ALL_ROUTES` first, then the cohort's routes
        alphabetically (a patient whose first session has no route counts in
        :data:`ALL_ROUTES` only). Patients whose route has no induction count are never
        "completed induction".
    """
    _check_window(definitions, week4)
    _check_table(table, week4)
    p = table.patients
    started = np.asarray(keep, dtype=bool) & p["attrition_started"].to_numpy(bool)
    route_codes, routes = pd.factorize(p["attrition_first_route"].array[started], sort=True)
    n_routes = len(routes)
    step_names = [step for step, _ in FLOW_STEPS]
    counts = np.zeros((1 + n_routes, len(step_names)), dtype="int64")
    for j, step in enumerate(step_names):
        flag = p[FACT_COLUMNS[step]].to_numpy(bool)[started]
        counts[0, j] = int(np.count_nonzero(flag))
        with_route = route_codes >= 0
        counts[1:, j] = np.bincount(
            route_codes[with_route & flag], minlength=n_routes
        )  # a handful of routes
    due = p["attrition_due_week4"].to_numpy(bool)[started]
    n_due = np.concatenate(
        (
            [np.count_nonzero(due)],
            np.bincount(route_codes[(route_codes >= 0) & due], minlength=n_routes),
        )
    )
    k = counts.ravel()
    denominators = np.repeat(counts[:, [0]], len(step_names), axis=1)
    week4_step = step_names.index("scored_week4")
    denominators[:, week4_step] = n_due
    not_yet_due = np.zeros_like(denominators)
    not_yet_due[:, week4_step] = counts[:, 0] - n_due
    n = denominators.ravel()
    low, high = proportion_ci(k, n, method=definitions.ci_method)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    labels = dict(FLOW_STEPS)
    route_names = [ALL_ROUTES, *(str(r) for r in routes)]
    out = pd.DataFrame(
        {
            "route": pd.array(np.repeat(route_names, len(step_names)), dtype="string"),
            "step": pd.array(step_names * len(route_names), dtype="string"),
            "label": pd.array([labels[s] for s in step_names] * len(route_names), dtype="string"),
            "k": k,
            "n": n.astype("int64"),
            "rate": share.astype(float),
            "ci_low": np.asarray(low, dtype=float),
            "ci_high": np.asarray(high, dtype=float),
            "not_yet_due": not_yet_due.ravel().astype("int64"),
        }
    )
    return out[FLOW_COLUMNS]


def attrition_flow(
    data: ClinicData, definitions: OutcomeDefinitions, *, week4: str = "week 4"
) -> pd.DataFrame:
    """:func:`attrition_flow_from` every patient of ``data``."""
    _check_window(definitions, week4)
    table = _table(data, definitions, week4=week4)
    return attrition_flow_from(table, table.keep(), definitions, week4=week4)
