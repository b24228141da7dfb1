"""The Overview's numbers for a cohort, added up from the per-patient table.

Each number is the same aggregation the summary makes (:func:`analytics.report.summary.summary_of`)
of the same rows, so the Overview and ``python -m analytics summary --json`` cannot disagree.
"""

from __future__ import annotations

import numpy as np

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.core.stats import rate
from analytics.metrics.activity import activity_by_period_from
from analytics.metrics.attrition import ALL_ROUTES, attrition_flow_from
from analytics.metrics.durability import durability_summary_from
from analytics.metrics.outcomes import baseline_stats_from, timepoint_outcomes_from
from analytics.metrics.safety import side_effect_summary_from
from analytics.metrics.trajectories import mean_trajectory_from
from analytics.report.summary import jsonable

__all__ = ["HEADLINE_TIMEPOINT", "overview_of"]

# The timepoint the Overview headlines.
HEADLINE_TIMEPOINT = "week 4"


def _flow(table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions) -> dict:
    """Completed induction and scored at the headline timepoint, among patients who started:
    the attrition funnel's steps for every route together."""
    if HEADLINE_TIMEPOINT not in [w.label for w in definitions.windows]:
        # custom windows without it: the funnel's induction step alone, no "scored" step
        p = table.patients
        started = keep & p["attrition_started"].to_numpy(bool)
        done = started & p["attrition_completed_induction"].to_numpy(bool)
        induction = rate(int(done.sum()), int(started.sum()), method=definitions.ci_method)
        return {"completed_induction": induction.to_dict(), "scored_timepoint": None}
    flow = attrition_flow_from(table, keep, definitions, week4=HEADLINE_TIMEPOINT)
    overall = flow[flow["route"] == ALL_ROUTES].set_index("step")

    def step(name: str) -> dict:
        row = overall.loc[name]
        return jsonable(
            {"k": int(row["k"]), "n": int(row["n"])}
            | {key: float(row[key]) for key in ("rate", "ci_low", "ci_high")}
        )

    scored = [s for s in overall.index if str(s).startswith("scored_")]
    return {"completed_induction": step("completed_induction"), "scored_timepoint": step(scored[0])}


def overview_of(table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions) -> dict:
    """The Overview's numbers for the cohort ``keep``.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``.
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table``.
    definitions : OutcomeDefinitions

    Returns
    -------
    dict
        ``counts`` (``patients``, ``sessions``, ``assessments``: as the summary's),
        ``baseline`` (the summary's), ``timepoint`` (the headline timepoint's ``label``,
        ``response``, ``response_itt``, ``remission``, ``remission_itt``; rates of no one when
        nobody was scored there, None when the definitions have no such window), ``time_to_response``
        (the summary's ``durability.time_to_response``), ``flow`` (``completed_induction``
        and ``scored_timepoint`` among patients who started, from the attrition funnel),
        ``side_effects`` (the summary's side effects reported in side_effects.csv, not the
        sessions' yes/no flags), ``activity`` (the summary's) and ``mean_by_week`` (the mean
        score by week, as :func:`analytics.metrics.trajectories.mean_trajectory_from`).
    """
    p = table.patients
    counts = {
        name: int(p[column].to_numpy()[keep].sum())
        for name, column in (
            ("sessions", "count_sessions"),
            ("assessments", "count_assessments"),
        )
    }
    timepoint = None
    if HEADLINE_TIMEPOINT in [w.label for w in definitions.windows]:
        # a window nobody in the cohort was scored in: rates of no one, not "no such window"
        nobody = rate(0, 0, method=definitions.ci_method).to_dict()
        timepoint = {"label": HEADLINE_TIMEPOINT} | {
            key: nobody for key in ("response", "response_itt", "remission", "remission_itt")
        }
    for outcome in timepoint_outcomes_from(table, keep, definitions):
        if outcome.label == HEADLINE_TIMEPOINT:
            found = outcome.to_dict()
            timepoint = {"label": outcome.label} | {
                key: found[key]
                for key in ("response", "response_itt", "remission", "remission_itt")
            }
    means = mean_trajectory_from(table, keep, definitions, axis="week")
    reported = [
        effect
        for effect in side_effect_summary_from(table, keep, definitions)
        if effect.get("basis") == "report"
    ]
    return {
        "counts": {"patients": int(keep.sum()), **counts},
        "baseline": jsonable(baseline_stats_from(table, keep, definitions)),
        "timepoint": jsonable(timepoint),
        "time_to_response": jsonable(
            durability_summary_from(table, keep, definitions)["time_to_response"]
        ),
        "flow": _flow(table, keep, definitions),
        "side_effects": jsonable(reported),
        "activity": jsonable(activity_by_period_from(table, keep, definitions)),
        "mean_by_week": means.drop(columns="group", errors="ignore").reset_index(drop=True),
    }
