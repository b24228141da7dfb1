"""Baselines and timepoint scores, chosen for every patient at once.

Everything here is vectorised (sorts, merges and group-wise first/last): no Python loop runs per
patient, so 100,000 patients with a million scores take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.contract import ClinicData
from analytics.definitions import OutcomeDefinitions

__all__ = [
    "BASELINE_COLUMNS",
    "SERIES_COLUMNS",
    "TIMEPOINT_COLUMNS",
    "baseline_scores",
    "isin_ids",
    "itt_patients",
    "lookup_by_id",
    "patient_series",
    "started_treatment",
    "timepoint_scores",
    "valid_scores",
]

# baseline_scores: one row per patient with a baseline.
#   patient_id    string
#   baseline_day  int64    day of the baseline score (-lookback..0)
#   baseline      float64  its total
BASELINE_COLUMNS = ["patient_id", "baseline_day", "baseline"]

# timepoint_scores: one row per patient with a baseline and a score in the window.
#   timepoint   string   window label ("24h", "week 1", ...)
#   target_day  int64
#   day         int64    day of the chosen score
#   score       float64  its total
#   baseline    float64
#   change      float64  score - baseline (negative = better)
#   pct_change  float64  100 * change / baseline; NaN when the baseline is 0
TIMEPOINT_COLUMNS = [
    "patient_id",
    "timepoint",
    "target_day",
    "day",
    "score",
    "baseline",
    "change",
    "pct_change",
]

# patient_series: every valid score of one instrument.
#   session_number_before  int64  sessions given on days strictly before the score's day
SERIES_COLUMNS = ["patient_id", "day", "score", "session_number_before"]


def _codes(*arrays) -> list[np.ndarray]:
    # One hash-table factorisation of all the ids: integer codes compare fast, where pandas'
    # Arrow-backed string isin/get_indexer walk Python objects (slow for 100,000 patients).
    arrays = [np.asarray(a, dtype=object) for a in arrays]
    codes, _ = pd.factorize(np.concatenate(arrays) if arrays else np.array([], dtype=object))
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])


def isin_ids(values, pool) -> np.ndarray:
    """Boolean mask of ``values`` (patient ids) found in ``pool``; ``Series.isin``, faster."""
    value_codes, pool_codes = _codes(values, pool)
    return np.isin(value_codes, pool_codes)


def lookup_by_id(values, keys, table) -> np.ndarray:
    """``table[i]`` where ``keys[i]`` equals each of ``values`` (unique keys); NaN when absent."""
    table = np.asarray(table, dtype="float64")
    value_codes, key_codes = _codes(values, keys)
    size = int(max(value_codes.max(initial=-1), key_codes.max(initial=-1))) + 2
    by_code = np.full(size, np.nan)
    by_code[key_codes] = table  # code -1 (missing id) lands in the spare last slot
    by_code[-1] = np.nan
    return by_code[value_codes]


def valid_scores(data: ClinicData, instrument: str) -> pd.DataFrame:
    """Scoreable forms of ``instrument``: ``patient_id``, ``day``, ``score`` (total not NaN),
    sorted by patient then day. A form with a blank item and no total is skipped."""
    a = data.assessments
    keep = (a["instrument"] == instrument).fillna(False).to_numpy(bool) & a["total"].notna()
    out = a.loc[keep, ["patient_id", "day", "total"]].rename(columns={"total": "score"})
    out = out.astype({"patient_id": "string", "day": "int64", "score": "float64"})
    return out.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def baseline_scores(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """The baseline of every patient who has one.

    The baseline is the latest valid score of ``definitions.instrument`` from day
    ``-definitions.baseline_lookback_days`` to day 0 inclusive (day 0 counts as pre-dose). A
    score earlier than the look-back is no baseline.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BASELINE_COLUMNS`, one row per patient, sorted by patient.
    """
    scores = valid_scores(data, definitions.instrument)
    in_range = scores["day"].between(-definitions.baseline_lookback_days, 0)
    last = scores[in_range].drop_duplicates("patient_id", keep="last")
    out = last.rename(columns={"day": "baseline_day", "score": "baseline"})
    return out[BASELINE_COLUMNS].reset_index(drop=True)


def timepoint_scores(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """The score of every patient with a baseline at every timepoint window.

    For each window the valid score nearest ``target_day`` inside ``[low, high]`` is taken, the
    earlier one on a tie. Windows are chosen independently, so a score in two overlapping
    windows serves both. Patients without a baseline are left out.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMEPOINT_COLUMNS`, sorted by window order then patient.
    """
    base = baseline_scores(data, definitions)
    scores = valid_scores(data, definitions.instrument)
    scores = scores[isin_ids(scores["patient_id"], base["patient_id"])]
    day = scores["day"].to_numpy()
    parts = []
    # One pass per window (about ten), never per patient.
    for order, window in enumerate(definitions.windows):
        inside = (day >= window.low) & (day <= window.high)
        chosen = scores[inside].assign(distance=np.abs(day[inside] - window.target_day))
        chosen = chosen.sort_values(["patient_id", "distance", "day"], kind="stable")
        chosen = chosen.drop_duplicates("patient_id", keep="first")
        parts.append(
            chosen.drop(columns="distance").assign(
                timepoint=window.label, target_day=window.target_day, _order=order
            )
        )
    if parts:
        out = pd.concat(parts, ignore_index=True)
    else:
        out = scores.iloc[:0].assign(timepoint="", target_day=0, _order=0)
    out["baseline"] = lookup_by_id(
        out["patient_id"], base["patient_id"], base["baseline"].to_numpy(float)
    )
    out["change"] = out["score"] - out["baseline"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * out["change"].to_numpy(float) / out["baseline"].to_numpy(float)
    out["pct_change"] = np.where(out["baseline"].to_numpy(float) > 0, pct, np.nan)
    out = out.sort_values(["_order", "patient_id"], kind="stable")
    out = out.astype({"timepoint": "string", "target_day": "int64", "day": "int64"})
    return out[TIMEPOINT_COLUMNS].reset_index(drop=True)


def started_treatment(data: ClinicData) -> pd.Index:
    """Patients with a session on day 0 or later; without a sessions table, every patient."""
    if not data.has_sessions:
        return pd.Index(data.patients["patient_id"].astype("string").unique())
    s = data.sessions
    return pd.Index(s.loc[s["day"] >= 0, "patient_id"].astype("string").unique())


def itt_patients(data: ClinicData, definitions: OutcomeDefinitions) -> pd.Index:
    """The intention-to-treat population: every patient with a baseline who started treatment
    (every patient with a baseline when the upload had no sessions)."""
    base = baseline_scores(data, definitions)["patient_id"]
    return pd.Index(base[isin_ids(base, started_treatment(data))].unique())


def patient_series(data: ClinicData, instrument: str) -> pd.DataFrame:
    """Every valid score of ``instrument`` with the number of sessions given before it.

    ``session_number_before`` counts the patient's sessions on days strictly before the
    score's day. Forms are taken to be filled in before that day's dose, as the day-0 baseline
    is: a score on the day of session 3 counts 2 sessions, a day-0 score counts 0, and a score on
    a day without a session counts every earlier session. Without a sessions table it is 0.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SERIES_COLUMNS`, sorted by patient then day.
    """
    scores = valid_scores(data, instrument)
    sessions = data.sessions[["patient_id", "day"]].astype({"patient_id": "string", "day": "int64"})
    if scores.empty or sessions.empty:
        return scores.assign(session_number_before=np.zeros(len(scores), dtype="int64"))[
            SERIES_COLUMNS
        ]
    # Rank of each score's day among the patient's session days, from one sort of both.
    sessions = sessions.drop_duplicates()
    marks = pd.concat(
        [
            sessions.assign(_is_score=0, _row=-1),
            scores[["patient_id", "day"]].assign(_is_score=1, _row=np.arange(len(scores))),
        ],
        ignore_index=True,
    )
    # On equal days the score sorts first, so the session that day is not yet counted.
    marks = marks.sort_values(["patient_id", "day", "_is_score"], ascending=[True, True, False])
    marks["_before"] = (1 - marks["_is_score"]).groupby(marks["patient_id"]).cumsum()
    counts = marks.loc[marks["_is_score"] == 1].set_index("_row")["_before"].sort_index()
    out = scores.assign(session_number_before=counts.to_numpy().astype("int64"))
    return out[SERIES_COLUMNS]
