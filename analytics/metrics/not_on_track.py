"""Patients not on track: little or no improvement by the point most responders have improved.

A transparent screen, not a prediction. A patient is flagged when their most recent score,
taken after at least ``definitions.not_on_track_sessions`` sessions (4 by default) or on or after
the first day of the week-2 window, is less than ``definitions.not_on_track_points`` (10) below
their baseline. The most recent score is used so that a patient who has since improved is not
flagged. Every flagged row carries the rule in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.timepoints import baseline_scores, patient_series

__all__ = ["NOT_ON_TRACK_COLUMNS", "not_on_track", "not_on_track_rule"]

# not_on_track: one row per flagged patient, largest (worst) change first.
#   patient_id       string   the clinic's pseudonymous id
#   route            string   route of the first session
#   baseline         float64
#   latest_day       int64    day of the most recent score
#   latest_score     float64
#   change           float64  latest_score - baseline (negative = better)
#   sessions_before  int64    sessions given before the most recent score
#   sessions_given   int64    every session recorded for the patient
#   flagged_by       string   "sessions", "week 2" or "sessions and week 2"
#   rule             string   the rule in words, shown to the user
NOT_ON_TRACK_COLUMNS = [
    "patient_id",
    "route",
    "baseline",
    "latest_day",
    "latest_score",
    "change",
    "sessions_before",
    "sessions_given",
    "flagged_by",
    "rule",
]


def not_on_track_rule(definitions: OutcomeDefinitions, *, week: str | None = "week 2") -> str:
    """The screen's rule in words, as shown beside the list."""
    points = f"{definitions.not_on_track_points:g}"
    checkpoints = f"after {definitions.not_on_track_sessions} sessions"
    window = _window(definitions, week)
    if window is not None:
        checkpoints += f" or from day {window.low} ({window.label})"
    return (
        f"{definitions.instrument} less than {points} points below baseline on the most recent "
        f"score taken {checkpoints}."
    )


def _window(definitions: OutcomeDefinitions, week: str | None):
    if week is None:
        return None
    for window in definitions.windows:
        if window.label == week:
            return window
    labels = [w.label for w in definitions.windows]
    raise ValueError(f"timepoint {week!r} is not one of the windows {labels}")


def not_on_track(
    data: ClinicData, definitions: OutcomeDefinitions, *, week: str | None = "week 2"
) -> pd.DataFrame:
    """Patients whose most recent score has not fallen enough by the checkpoint.

    Parameters
    ----------
    data : ClinicData
    definitions : OutcomeDefinitions
        ``instrument``, ``not_on_track_points``, ``not_on_track_sessions`` and the windows.
    week : str or None
        Window whose first day is the time checkpoint; None to use sessions only.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`NOT_ON_TRACK_COLUMNS`, worst change first. Patients without a baseline,
        or whose most recent score comes before both checkpoints, are not judged.

    Raises
    ------
    ValueError
        When ``week`` is not one of the definitions' windows.

    Notes
    -----
    Checkpoint by sessions: the score's ``session_number_before`` (sessions on days strictly
    before it, see :func:`analytics.metrics.timepoints.patient_series`) is at least
    ``not_on_track_sessions``. Flagged when ``baseline - latest_score < not_on_track_points``.
    """
    window = _window(definitions, week)
    base = baseline_scores(data, definitions)
    series = patient_series(data, definitions.instrument)
    series = series[series["day"] >= 1].merge(base, on="patient_id", how="inner")
    latest = series.drop_duplicates("patient_id", keep="last")
    by_sessions = latest["session_number_before"] >= definitions.not_on_track_sessions
    by_week = (
        latest["day"] >= window.low if window is not None else pd.Series(False, index=latest.index)
    )
    change = latest["score"] - latest["baseline"]
    flagged = (by_sessions | by_week) & (-change < definitions.not_on_track_points)
    out = latest[flagged].assign(change=change[flagged])
    s_week, s_sess = by_week[flagged].to_numpy(bool), by_sessions[flagged].to_numpy(bool)
    label = window.label if window is not None else ""
    out["flagged_by"] = np.select(
        [s_sess & s_week, s_sess], [f"sessions and {label}", "sessions"], default=label
    )
    given = data.sessions.groupby("patient_id").size()
    out["sessions_given"] = out["patient_id"].map(given).fillna(0).astype("int64")
    route = data.patients.set_index("patient_id")["route"]
    out["route"] = out["patient_id"].map(route)
    out["rule"] = not_on_track_rule(definitions, week=week)
    out = out.rename(
        columns={
            "day": "latest_day",
            "score": "latest_score",
            "session_number_before": "sessions_before",
        }
    )
    out = out.sort_values(["change", "patient_id"], ascending=[False, True], kind="stable")
    out = out.astype(
        {
            "patient_id": "string",
            "route": "string",
            "latest_day": "int64",
            "sessions_before": "int64",
            "flagged_by": "string",
            "rule": "string",
        }
    )
    return out[NOT_ON_TRACK_COLUMNS].reset_index(drop=True)
