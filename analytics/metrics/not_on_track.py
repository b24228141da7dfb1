"""Patients not on track: little or no improvement by the point most responders have improved.

A transparent screen, not a prediction. A patient is flagged when their most recent score,
taken after at least ``definitions.not_on_track_sessions`` sessions (4 by default) or on or after
the first day of the week-2 window, is less than ``definitions.not_on_track_points`` (10) below
their baseline. The most recent score is used so that a patient who has since improved is not
flagged. Every flagged row carries the rule in words.

Each patient's most recent score is found once (:func:`not_on_track_facts`) and a cohort's list
is read from those rows (:func:`not_on_track_from`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from analytics.metrics.timepoints import baseline_scores, shared_intermediates, valid_scores

__all__ = [
    "NOT_ON_TRACK_COLUMNS",
    "not_on_track",
    "not_on_track_facts",
    "not_on_track_from",
    "not_on_track_rule",
]

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


def _day_keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One int64 per (patient code, day), ordered like the pair: days lie within +-2**31."""
    return codes.astype("int64") * (1 << 32) + (days.astype("int64") + (1 << 31))


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)``; sessions come sorted by patient and day, so usually no sort at all
    (numpy's hash-based unique takes seconds on two million keys)."""
    if len(keys) and not np.all(keys[1:] >= keys[:-1]):
        keys = np.sort(keys)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


def _flags(definitions, window, latest_day, sessions_before, change):
    """Which checkpoint each judged patient's most recent score reaches, and who is flagged.

    ``latest_day`` and ``sessions_before`` are -1 for a patient who is not judged.
    """
    judged = latest_day >= 0
    by_sessions = judged & (sessions_before >= definitions.not_on_track_sessions)
    by_week = judged & (latest_day >= window.low) if window is not None else np.zeros_like(judged)
    with np.errstate(invalid="ignore"):
        flagged = (by_sessions | by_week) & (-change < definitions.not_on_track_points)
    return by_sessions, by_week, flagged


def not_on_track_facts(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    index: PatientIndex,
    *,
    week: str | None = "week 2",
) -> Facts:
    """Each patient's most recent score against the baseline (columns ``not_on_track_*``).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        ``instrument``, baseline, ``not_on_track_points``, ``not_on_track_sessions`` and the
        windows.
    index : PatientIndex
        The patients: row ``i`` of the facts is code ``i``.
    week : str or None
        Window whose first day is the time checkpoint of the stored flags; None, or a label
        that is not one of the windows, for sessions only.

    Returns
    -------
    Facts
        ``patients``: ``not_on_track_baseline`` (float64; NaN without a baseline),
        ``not_on_track_latest_day`` (Int64) and ``not_on_track_latest_score`` (float64) of the
        most recent valid score from day 1 on, ``not_on_track_change`` (float64, latest score
        minus baseline, negative = better) and ``not_on_track_sessions_before`` (Int64,
        session days strictly before that score), all NA/NaN for a patient who is not judged
        (no baseline, or no score from day 1 on); ``not_on_track_by_sessions`` and ``not_on_track_by_week`` (bool: the
        most recent score reaches the sessions or the week checkpoint) and
        ``not_on_track_flagged`` (bool: it reaches one and is less than
        ``not_on_track_points`` below baseline). ``meta["not_on_track_week"]``: the week of the
        stored flags (None: sessions only).
    """
    if week is not None and week not in [w.label for w in definitions.windows]:
        week = None  # custom windows without it: the stored flags use sessions only
    window = _window(definitions, week)
    size = len(index)
    base = baseline_scores(data, definitions)
    baseline = np.full(size, np.nan)
    at = index.positions(base["patient_id"])
    baseline[at[at >= 0]] = base["baseline"].to_numpy(float)[at >= 0]

    # The most recent valid score from day 1 on, of each patient with a baseline.
    valid = valid_scores(data, definitions.instrument)
    codes = index.positions(valid["patient_id"])
    day = valid["day"].to_numpy("int64")
    later = (day >= 1) & (codes >= 0)
    later[later] = ~np.isnan(baseline[codes[later]])
    rows = np.flatnonzero(later)
    keys = _day_keys(codes[rows], day[rows])
    if len(keys) and not np.all(keys[1:] >= keys[:-1]):  # the contract's order is by patient, day
        rows = rows[np.argsort(keys, kind="stable")]
    last = np.ones(len(rows), dtype=bool)
    last[:-1] = codes[rows][1:] != codes[rows][:-1]
    chosen = rows[last]
    who = codes[chosen]
    latest_day = np.full(size, -1, dtype="int64")
    latest_day[who] = day[chosen]
    latest_score = np.full(size, np.nan)
    latest_score[who] = valid["score"].to_numpy(float)[chosen]

    # Session days strictly before the score's day: forms are filled in before that day's
    # dose, as in analytics.metrics.timepoints.patient_series.
    s_codes = index.positions(data.sessions["patient_id"])
    s_day = data.sessions["day"].to_numpy("int64")
    given = s_codes >= 0
    session_keys = _sorted_distinct(_day_keys(s_codes[given], s_day[given]))
    sessions_before = np.full(size, -1, dtype="int64")
    sessions_before[who] = np.searchsorted(
        session_keys, _day_keys(who, day[chosen])
    ) - np.searchsorted(session_keys, who.astype("int64") * (1 << 32))

    judged = latest_day >= 0
    change = np.where(judged, latest_score - baseline, np.nan)
    by_sessions, by_week, flagged = _flags(definitions, window, latest_day, sessions_before, change)
    return Facts(
        patients=pd.DataFrame(
            {
                "not_on_track_baseline": baseline,
                "not_on_track_latest_day": pd.arrays.IntegerArray(latest_day, ~judged),
                "not_on_track_latest_score": latest_score,
                "not_on_track_change": change,
                "not_on_track_sessions_before": pd.arrays.IntegerArray(sessions_before, ~judged),
                "not_on_track_by_sessions": by_sessions,
                "not_on_track_by_week": by_week,
                "not_on_track_flagged": flagged,
            }
        ),
        meta={"not_on_track_week": week},
    )


def not_on_track_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    week: str | None = "week 2",
) -> pd.DataFrame:
    """The cohort's patients whose most recent score has not fallen enough by the checkpoint.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`not_on_track_facts`).
    keep : numpy.ndarray of bool
        The cohort.
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
    Checkpoint by sessions: the session days strictly before the score (see
    :func:`analytics.metrics.timepoints.patient_series`) are at least
    ``not_on_track_sessions``. Flagged when ``baseline - latest_score < not_on_track_points``.
    """
    window = _window(definitions, week)
    p = table.patients
    latest_day = p["not_on_track_latest_day"].to_numpy("int64", na_value=-1)
    sessions_before = p["not_on_track_sessions_before"].to_numpy("int64", na_value=-1)
    change = p["not_on_track_change"].to_numpy(float)
    if week == table.meta.get("not_on_track_week"):
        by_sessions = p["not_on_track_by_sessions"].to_numpy(bool)
        by_week = p["not_on_track_by_week"].to_numpy(bool)
        flagged = p["not_on_track_flagged"].to_numpy(bool)
    else:  # another checkpoint than the stored flags': the same rule on the same rows
        by_sessions, by_week, flagged = _flags(
            definitions, window, latest_day, sessions_before, change
        )
    rows = np.flatnonzero(flagged & np.asarray(keep, dtype=bool))
    s_week, s_sess = by_week[rows], by_sessions[rows]
    label = window.label if window is not None else ""
    out = pd.DataFrame(
        {
            "patient_id": pd.array(table.index.ids.take(rows), dtype="string"),
            "route": pd.array(p["route"].array.take(rows), dtype="string"),
            "baseline": p["not_on_track_baseline"].to_numpy(float)[rows],
            "latest_day": latest_day[rows],
            "latest_score": p["not_on_track_latest_score"].to_numpy(float)[rows],
            "change": change[rows],
            "sessions_before": sessions_before[rows],
            "sessions_given": p["count_session_rows"].to_numpy("int64")[rows],
            "flagged_by": pd.array(
                np.select(
                    [s_sess & s_week, s_sess], [f"sessions and {label}", "sessions"], default=label
                ).astype(object),
                dtype="string",
            ),
            "rule": pd.array([not_on_track_rule(definitions, week=week)] * len(rows), "string"),
        }
    )
    out = out.sort_values(["change", "patient_id"], ascending=[False, True], kind="stable")
    return out[NOT_ON_TRACK_COLUMNS].reset_index(drop=True)


def not_on_track(
    data: ClinicData, definitions: OutcomeDefinitions, *, week: str | None = "week 2"
) -> pd.DataFrame:
    """:func:`not_on_track_from` every patient of ``data``.

    Raises
    ------
    ValueError
        When ``week`` is not one of the definitions' windows.
    """
    _window(definitions, week)

    def build(data, definitions, index):
        return not_on_track_facts(data, definitions, index, week=week)

    with shared_intermediates():
        table = PatientTable.of(data, definitions, build)
    return not_on_track_from(table, table.keep(), definitions, week=week)
