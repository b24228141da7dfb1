"""Baselines and timepoint scores, chosen for every patient at once.

Everything here is vectorised (sorts, merges and group-wise first/last): no Python loop runs per
patient, so 100,000 patients with a million scores take seconds.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import (
    PatientIndex,
    as_arrow,
    factorize_ids,
    id_text,
    isin_ids,
    text_of,
)

__all__ = [
    "BASELINE_COLUMNS",
    "SERIES_COLUMNS",
    "TIMEPOINT_COLUMNS",
    "baseline_coded",
    "baseline_scores",
    "follow_up_by_code",
    "follow_up_known",
    "is_due",
    "index_codes",
    "itt_by_code",
    "itt_patients",
    "patient_series",
    "remembered",
    "shared_intermediates",
    "started_treatment",
    "timepoint_scores",
    "timepoints_coded",
    "valid_coded",
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


# ---------------------------------------------------------------------------------------------
# Intermediates shared by the analyses of one clinic

_SHARED: ContextVar[dict | None] = ContextVar("analytics_shared_intermediates", default=None)


@contextmanager
def shared_intermediates():
    """Compute each clinic's valid scores, baselines, timepoint scores and populations once.

    Inside the ``with`` block the functions of this module (and
    :func:`analytics.metrics.outcomes.patient_outcomes`) remember their results per clinic frame and
    definitions, so a summary that asks for the baselines ten times computes them once. The
    clinic's frames must not be changed inside the block; results are handed out as shallow
    copies, which pandas' copy-on-write keeps independent. Nested blocks share the outer cache.
    """
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def remembered(name: str, frames: tuple, key: tuple, compute):
    """``compute()``, or its result remembered inside :func:`shared_intermediates`.

    ``frames`` are the inputs, matched by identity (and kept alive, so an id is never reused
    while remembered); ``key`` holds everything else the result depends on.
    """
    cache = _SHARED.get()
    if cache is None:
        return compute()
    full = (name, tuple(id(f) for f in frames), key)
    if full not in cache:
        cache[full] = (compute(), frames)
    value = cache[full][0]
    if isinstance(value, tuple):
        return tuple(v.copy(deep=False) if isinstance(v, pd.DataFrame) else v for v in value)
    return value.copy(deep=False) if isinstance(value, pd.DataFrame) else value


def _definitions_key(definitions: OutcomeDefinitions) -> tuple:
    return (definitions.instrument, definitions.baseline_lookback_days, definitions.windows)


def valid_scores(data: ClinicData, instrument: str) -> pd.DataFrame:
    """Scoreable forms of ``instrument``: ``patient_id``, ``day``, ``score`` (total not NaN),
    sorted by patient then day. A form with a blank item and no total is skipped."""
    return valid_coded(data, instrument)[0]


def valid_coded(
    data: ClinicData, instrument: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pa.Array]:
    """:func:`valid_scores` with each row's position in ``data.assessments``, its patient
    code and the ids of the codes.

    Codes number the sorted distinct ids of the valid scores, a missing id last (the order of
    the rows); ``ids[code]`` is the id, null for the missing one. Every later step (baselines,
    timepoints, the ITT population) works on these codes, so ids are hashed once;
    :func:`index_codes` turns them into the codes of a :class:`~analytics.core.ids.PatientIndex`.

    Returns
    -------
    scores : pandas.DataFrame
        :func:`valid_scores`.
    rows : numpy.ndarray of int64
        Each score's row position in ``data.assessments``.
    codes : numpy.ndarray of int64
        Each score's patient code.
    ids : pyarrow.Array
        The id of each code (large_string), null for the code of a missing id.
    """
    a = data.assessments
    return remembered("valid_scores", (a,), (instrument,), lambda: _valid_scores(a, instrument))


def _sorted_by(codes: np.ndarray, day: np.ndarray) -> bool:
    """Whether rows are already ordered by code, then day."""
    if len(codes) < 2:
        return True
    same = codes[1:] == codes[:-1]
    return bool(np.all((codes[1:] > codes[:-1]) | (same & (day[1:] >= day[:-1]))))


def _valid_scores(
    a: pd.DataFrame, instrument: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pa.Array]:
    keep = (a["instrument"] == instrument).fillna(False).to_numpy(bool) & a["total"].notna()
    out = a.loc[keep, ["patient_id", "day", "total"]].rename(columns={"total": "score"})
    out = out.astype({"patient_id": "string", "day": "int64", "score": "float64"})
    codes, uniques = factorize_ids(out["patient_id"], sort=True)
    codes = np.where(codes < 0, len(uniques), codes)  # a missing id sorts last
    day = out["day"].to_numpy()
    rows = np.flatnonzero(keep)
    text = id_text(uniques)
    if _sorted_by(codes, day):  # the contract's order: nothing to move
        return out.reset_index(drop=True), rows, codes, text
    # The same order as patient_order: stable, by id then day.
    order = np.lexsort((day, codes))
    return out.take(order).reset_index(drop=True), rows[order], codes[order], text


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
    return baseline_coded(data, definitions)[0]


def baseline_coded(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`baseline_scores`, each baseline's row position in ``data.assessments`` and its
    patient code (see :func:`valid_coded`)."""
    return remembered(
        "baseline_scores",
        (data.assessments,),
        _definitions_key(definitions)[:2],
        lambda: _baseline_scores(data, definitions),
    )


def _baseline_scores(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    scores, rows, codes, _ = valid_coded(data, definitions.instrument)
    day = scores["day"].to_numpy()
    in_range = np.flatnonzero((day >= -definitions.baseline_lookback_days) & (day <= 0))
    # Rows are sorted by patient then day: the last in-range row of each patient's run.
    patient = codes[in_range]
    last = in_range[np.append(patient[1:] != patient[:-1], True)] if len(in_range) else in_range
    out = scores.take(last).rename(columns={"day": "baseline_day", "score": "baseline"})
    return out[BASELINE_COLUMNS].reset_index(drop=True), rows[last], codes[last]


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
    return timepoints_coded(data, definitions)[0]


def timepoints_coded(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`timepoint_scores` with, for each row, where its forms are and whose it is.

    Returns
    -------
    scores : pandas.DataFrame
        :func:`timepoint_scores`.
    form_rows, baseline_rows : numpy.ndarray of int64
        Row positions in ``data.assessments`` of the timepoint's form and of the baseline form
        (so the forms' other columns are read without joining on ids).
    codes : numpy.ndarray of int64
        The patient code (see :func:`valid_coded`).
    windows : numpy.ndarray of int64
        The window number: a position in ``definitions.windows``.
    """
    return remembered(
        "timepoint_scores",
        (data.assessments,),
        _definitions_key(definitions),
        lambda: _timepoint_scores(data, definitions),
    )


def index_codes(data: ClinicData, instrument: str, index: PatientIndex) -> np.ndarray:
    """The :class:`~analytics.core.ids.PatientIndex` code of each patient code of
    :func:`valid_coded` (-1 for an id the index does not hold, and for the missing id).

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> clinic = clinic_from_frames(assessments=pd.DataFrame({"patient_id": ["b", "c"],
    ...     "day": [0, 0], "instrument": "PCL-5", "total": [40.0, 30.0]}))
    >>> index_codes(clinic, "PCL-5", PatientIndex(["a", "b", "c"])).tolist()
    [1, 2, -1]
    """
    ids = valid_coded(data, instrument)[3]
    return index.positions(pd.array(ids, dtype="string"))


def _by_code(size: int, codes: np.ndarray, values, fill=np.nan, dtype="float64") -> np.ndarray:
    """A table indexed by patient code: ``values`` at ``codes``, ``fill`` elsewhere."""
    table = np.full(size, fill, dtype=dtype)
    table[codes] = values
    return table


def _timepoint_scores(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base, base_rows, base_codes = baseline_coded(data, definitions)
    scores, score_rows, all_codes, text = valid_coded(data, definitions.instrument)
    size = len(text)
    with_base = np.flatnonzero(_by_code(size, base_codes, True, False, bool)[all_codes])
    # valid_scores is sorted by patient, so sorted codes follow the same order.
    codes = all_codes[with_base]
    day = scores["day"].to_numpy()[with_base]
    rows, windows = [], []
    # One pass per window (about ten), never per patient: nearest day, then the earlier one.
    # Rows are sorted by patient then day (stably), so within a patient's run the first row of
    # least distance is the nearest score, the earlier one on a tie: the lexsort's pick.
    for number, window in enumerate(definitions.windows):
        inside = np.flatnonzero((day >= window.low) & (day <= window.high))
        if not len(inside):
            continue
        distance = np.abs(day[inside] - window.target_day).astype("int64")
        starts = np.flatnonzero(np.concatenate(([True], np.diff(codes[inside]) != 0)))
        position = np.arange(len(inside), dtype="int64")
        best = np.minimum.reduceat(distance * len(inside) + position, starts) % len(inside)
        rows.append(inside[best])
        windows.append(np.full(len(best), number, dtype="int64"))
    take = np.concatenate(rows) if rows else np.array([], dtype="int64")
    window_number = np.concatenate(windows) if windows else np.array([], dtype="int64")
    out = scores.take(with_base[take]).reset_index(drop=True)
    out_codes = codes[take]
    labels = pa.array([w.label for w in definitions.windows], type=pa.large_string())
    out["timepoint"] = text_of(labels, window_number)
    targets = np.array([w.target_day for w in definitions.windows], dtype="int64")
    out["target_day"] = targets[window_number]
    out["baseline"] = _by_code(size, base_codes, base["baseline"].to_numpy(float))[out_codes]
    # Every row's patient has a baseline (filtered above), so no position is missing.
    baseline_rows = _by_code(size, base_codes, base_rows, -1, "int64")[out_codes]
    out["change"] = out["score"] - out["baseline"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * out["change"].to_numpy(float) / out["baseline"].to_numpy(float)
    out["pct_change"] = np.where(out["baseline"].to_numpy(float) > 0, pct, np.nan)
    out = out.astype({"timepoint": "string", "target_day": "int64", "day": "int64"})
    return (
        out[TIMEPOINT_COLUMNS].reset_index(drop=True),
        score_rows[with_base[take]],
        baseline_rows,
        out_codes,
        window_number,
    )


def started_treatment(data: ClinicData) -> pd.Index:
    """Patients with a session on day 0 or later; without a sessions table, every patient."""
    return remembered(
        "started_treatment",
        (data.patients, data.sessions),
        (data.has_sessions,),
        lambda: _started_treatment(data),
    )


def _started_treatment(data: ClinicData) -> pd.Index:
    if not data.has_sessions:
        return pd.Index(data.patients["patient_id"].astype("string").unique())
    s = data.sessions
    ids = as_arrow(s["patient_id"].astype("string").array)
    kept = np.flatnonzero(s["day"].to_numpy() >= 0)
    # Series.unique (first appearance, a missing id in its place), hashing one id per run:
    # the first kept row of each run of equal ids.
    if len(ids) > 1 and len(kept):
        starts = np.concatenate(
            ([True], np.asarray(pc.not_equal(ids[1:], ids[:-1]).fill_null(True)))
        )
        if len(kept) == len(ids):  # every session from day 0 on, as the contract has it
            kept = np.flatnonzero(starts)
        else:
            run = np.cumsum(starts)[kept]
            kept = kept[np.concatenate(([True], run[1:] != run[:-1]))]
    return pd.Index(pd.array(pc.unique(ids.take(pa.array(kept))), dtype="string"))


def itt_patients(data: ClinicData, definitions: OutcomeDefinitions) -> pd.Index:
    """The intention-to-treat population: every patient with a baseline who started treatment
    (every patient with a baseline when the upload had no sessions)."""

    def compute() -> pd.Index:
        base = baseline_scores(data, definitions)["patient_id"]
        return pd.Index(base[isin_ids(base, started_treatment(data))].unique())

    frames = (data.assessments, data.patients, data.sessions)
    key = (*_definitions_key(definitions)[:2], data.has_sessions)
    return remembered("itt_patients", frames, key, compute)


def itt_by_code(data: ClinicData, definitions: OutcomeDefinitions) -> np.ndarray:
    """Whether each patient code (see :func:`valid_coded`) is in :func:`itt_patients`."""

    def compute() -> np.ndarray:
        _, _, base_codes = baseline_coded(data, definitions)
        text = valid_coded(data, definitions.instrument)[3]
        started = as_arrow(started_treatment(data).array).cast(pa.large_string())
        # isin_ids on the distinct ids (a missing id matches a missing one), in Arrow
        started_by_code = np.asarray(pc.is_in(text, value_set=started), dtype=bool)
        has_base = _by_code(len(text), base_codes, True, False, bool)
        return has_base & started_by_code

    frames = (data.assessments, data.patients, data.sessions)
    key = (*_definitions_key(definitions)[:2], data.has_sessions)
    return remembered("itt_by_code", frames, key, compute)


def follow_up_by_code(data: ClinicData, index: PatientIndex) -> np.ndarray:
    """Each patient's ``follow_up_days`` in ``index`` order as floats, NaN when unknown."""
    out = np.full(len(index), np.nan)
    column = data.patients.get("follow_up_days")
    if column is None or not len(index):
        return out
    at = index.positions(data.patients["patient_id"])
    known = (at >= 0) & column.notna().to_numpy()
    out[at[known]] = column.to_numpy(dtype="float64", na_value=np.nan)[known]
    return out


def follow_up_known(data: ClinicData) -> bool:
    """Whether any patient's follow-up time is known (so the not-yet-due rule applies)."""
    column = data.patients.get("follow_up_days")
    return column is not None and bool(column.notna().any())


def is_due(follow_up: np.ndarray, window_end, scored: np.ndarray) -> np.ndarray:
    """Whether each patient was due at a timepoint: scored in its window, or followed to the
    window's last day.

    A patient not scored there whose follow-up ends before the window's last day
    (``follow_up < window_end``) could not yet have been scored and is *not yet due*: left out
    of the timepoint's intention-to-treat denominator and counted beside it. A patient scored
    in the window is due whatever the follow-up says. Unknown follow-up (NaN) counts as due,
    the rule without follow-up times.

    Parameters
    ----------
    follow_up : numpy.ndarray of float
        Days from day 0 to the data cutoff; NaN when unknown.
    window_end : int or numpy.ndarray of int
        The window's last day (one per patient when the rows span several windows).
    scored : numpy.ndarray of bool
        Scored in the window.

    Examples
    --------
    >>> is_due(np.array([30.0, 31.0, np.nan, 5.0]), 31, np.array([False, False, False, True]))
    array([False,  True,  True,  True])
    """
    follow_up = np.asarray(follow_up, dtype=float)
    return np.asarray(scored, dtype=bool) | np.isnan(follow_up) | (follow_up >= window_end)


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
    return scores.assign(session_number_before=sessions_before(data, instrument))[SERIES_COLUMNS]


def sessions_before(data: ClinicData, instrument: str) -> np.ndarray:
    """``session_number_before`` of :func:`patient_series` for each row of :func:`valid_coded`.

    Distinct session days of the patient strictly before the score's day, counted with two
    binary searches of the sorted (patient code, day) keys of the sessions: no sort of ids.
    """
    return remembered(
        "sessions_before",
        (data.assessments, data.sessions),
        (instrument,),
        lambda: _sessions_before(data, instrument),
    )


def _sessions_before(data: ClinicData, instrument: str) -> np.ndarray:
    scores, _, codes, text = valid_coded(data, instrument)
    s = data.sessions
    if not len(scores) or not len(s):
        return np.zeros(len(scores), dtype="int64")
    # The sessions' patients as codes of the scores' ids (-1: a patient without scores).
    known = PatientIndex(pd.array(text[:-1], dtype="string"))
    s_codes = known.positions(s["patient_id"])
    use = s_codes >= 0
    keys = _day_keys(s_codes[use], s["day"].to_numpy("int64")[use])
    if len(keys) and np.all(keys[1:] >= keys[:-1]):  # the contract's order: drop repeats only
        keys = keys[np.append(True, keys[1:] != keys[:-1])]
    else:
        keys = np.unique(keys)
    day = scores["day"].to_numpy("int64")
    first = np.searchsorted(keys, _day_keys(codes, np.full(len(codes), -(1 << 31))), "left")
    before = np.searchsorted(keys, _day_keys(codes, day), "left") - first
    return before.astype("int64")


def _day_keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One int64 per (patient code, day), ordered by code then day (days within +-2**31)."""
    return codes.astype("int64") * (1 << 32) + (days.astype("int64") + (1 << 31))
