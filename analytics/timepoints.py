"""Baselines and timepoint scores, chosen for every patient at once.

Everything here is vectorised (sorts, merges and group-wise first/last): no Python loop runs per
patient, so 100,000 patients with a million scores take seconds.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from analytics.contract import ClinicData
from analytics.definitions import OutcomeDefinitions

__all__ = [
    "BASELINE_COLUMNS",
    "SERIES_COLUMNS",
    "TIMEPOINT_COLUMNS",
    "baseline_scores",
    "factorize_ids",
    "isin_ids",
    "itt_patients",
    "lookup_by_id",
    "patient_order",
    "patient_series",
    "shared_intermediates",
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


def factorize_ids(values, *, sort: bool = False) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=sort)`` for patient ids, hashing each run of equal ids once.

    The clinic's tables are sorted by patient, so a million rows hold only about 100,000 runs:
    neighbours are compared in Arrow, and only the first id of each run is hashed. The result is
    exactly ``pd.factorize``'s (codes in order of first appearance, or of the sorted ids with
    ``sort``; -1 for a missing id), whatever the order of ``values``.

    Examples
    --------
    >>> codes, uniques = factorize_ids(pd.Series(["b", "b", "a", None, "b"], dtype="string"))
    >>> codes.tolist(), uniques.tolist()
    ([0, 0, 1, -1, 0], ['b', 'a'])
    """
    values = pd.Series(values, copy=False)
    if len(values) < 2 or not isinstance(values.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(values, sort=sort)
        return np.asarray(codes), pd.Index(uniques)
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.array(values.array)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    # A run starts where the id differs from the one before; missing ids compare as null.
    differs = pc.not_equal(arrow[1:], arrow[:-1]).fill_null(True)
    starts = np.flatnonzero(np.concatenate(([True], np.asarray(differs, dtype=bool))))
    if 2 * len(starts) > len(values):  # hardly any runs: hashing every id is as cheap
        codes, uniques = pd.factorize(values, sort=sort)
        return np.asarray(codes), pd.Index(uniques)
    run_codes, uniques = pd.factorize(values.iloc[starts], sort=sort)
    lengths = np.diff(np.append(starts, len(values)))
    return np.repeat(np.asarray(run_codes), lengths), pd.Index(uniques)


def _codes(*arrays) -> list[np.ndarray]:
    # One hash-table factorisation of all the ids: integer codes compare fast, where pandas'
    # Arrow-backed string isin/get_indexer walk Python objects (slow for 100,000 patients).
    if arrays and all(pd.api.types.is_string_dtype(getattr(a, "dtype", None)) for a in arrays):
        # Already text: factorise the Arrow data without a trip through Python objects.
        parts = [pd.Series(pd.array(a, dtype="string"), copy=False) for a in arrays]
        codes, _ = factorize_ids(pd.concat(parts, ignore_index=True))
    else:
        arrays = [np.asarray(a, dtype=object) for a in arrays]
        codes, _ = pd.factorize(np.concatenate(arrays) if arrays else np.array([], dtype=object))
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])


def patient_order(ids, *keys) -> np.ndarray:
    """Row positions sorting by ``ids`` then each of ``keys`` (stable, missing ids last).

    The same order as ``sort_values(["patient_id", *keys], kind="stable")``, from integer codes:
    sorting Arrow-backed strings directly is several times slower at a million rows.
    """
    codes, uniques = pd.factorize(pd.Series(ids, copy=False), sort=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return np.lexsort((*(np.asarray(k) for k in reversed(keys)), codes))


# ---------------------------------------------------------------------------------------------
# Intermediates shared by the analyses of one clinic

_SHARED: ContextVar[dict | None] = ContextVar("analytics_shared_intermediates", default=None)


@contextmanager
def shared_intermediates():
    """Compute each clinic's valid scores, baselines, timepoint scores and populations once.

    Inside the ``with`` block the functions of this module (and
    :func:`analytics.outcomes.patient_outcomes`) remember their results per clinic frame and
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


def isin_ids(values, pool) -> np.ndarray:
    """Boolean mask of ``values`` (patient ids) found in ``pool``; ``Series.isin``, faster."""
    value_codes, pool_codes = _codes(values, pool)
    return np.isin(value_codes, pool_codes)


def lookup_by_id(values, keys, table) -> np.ndarray:
    """``table[i]`` where ``keys[i]`` equals each of ``values`` (unique keys); NaN when absent."""
    return _lookup_codes(*_codes(values, keys), table)


def _lookup_codes(value_codes: np.ndarray, key_codes: np.ndarray, table) -> np.ndarray:
    table = np.asarray(table, dtype="float64")
    size = int(max(value_codes.max(initial=-1), key_codes.max(initial=-1))) + 2
    by_code = np.full(size, np.nan)
    by_code[key_codes] = table  # code -1 (missing id) lands in the spare last slot
    by_code[-1] = np.nan
    return by_code[value_codes]


def valid_scores(data: ClinicData, instrument: str) -> pd.DataFrame:
    """Scoreable forms of ``instrument``: ``patient_id``, ``day``, ``score`` (total not NaN),
    sorted by patient then day. A form with a blank item and no total is skipped."""
    return _valid(data, instrument)[0]


def _valid(data: ClinicData, instrument: str) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`valid_scores` and each row's position in ``data.assessments``."""
    a = data.assessments
    return remembered("valid_scores", (a,), (instrument,), lambda: _valid_scores(a, instrument))


def _valid_scores(a: pd.DataFrame, instrument: str) -> tuple[pd.DataFrame, np.ndarray]:
    keep = (a["instrument"] == instrument).fillna(False).to_numpy(bool) & a["total"].notna()
    out = a.loc[keep, ["patient_id", "day", "total"]].rename(columns={"total": "score"})
    out = out.astype({"patient_id": "string", "day": "int64", "score": "float64"})
    order = patient_order(out["patient_id"], out["day"].to_numpy())
    return out.take(order).reset_index(drop=True), np.flatnonzero(keep)[order]


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
    return _baseline(data, definitions)[0]


def _baseline(data: ClinicData, definitions: OutcomeDefinitions) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`baseline_scores` and each baseline's position in ``data.assessments``."""
    return remembered(
        "baseline_scores",
        (data.assessments,),
        _definitions_key(definitions)[:2],
        lambda: _baseline_scores(data, definitions),
    )


def _baseline_scores(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray]:
    scores, rows = _valid(data, definitions.instrument)
    in_range = scores["day"].between(-definitions.baseline_lookback_days, 0)
    last = scores[in_range].drop_duplicates("patient_id", keep="last")
    out = last.rename(columns={"day": "baseline_day", "score": "baseline"})
    return out[BASELINE_COLUMNS].reset_index(drop=True), rows[last.index.to_numpy()]


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
    return _timepoints(data, definitions)[0]


def _timepoints(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`timepoint_scores`, and the positions in ``data.assessments`` of each row's score
    and of its baseline (so forms' other columns are read without joining on ids)."""
    return remembered(
        "timepoint_scores",
        (data.assessments,),
        _definitions_key(definitions),
        lambda: _timepoint_scores(data, definitions),
    )


def _timepoint_scores(
    data: ClinicData, definitions: OutcomeDefinitions
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    base, base_rows = _baseline(data, definitions)
    scores, score_rows = _valid(data, definitions.instrument)
    with_base = isin_ids(scores["patient_id"], base["patient_id"])
    scores, score_rows = scores[with_base].reset_index(drop=True), score_rows[with_base]
    # valid_scores is sorted by patient, so sorted codes follow the same order.
    codes = np.asarray(pd.factorize(scores["patient_id"], sort=True)[0])
    day = scores["day"].to_numpy()
    rows, labels, targets = [], [], []
    # One pass per window (about ten), never per patient: nearest day, then the earlier one.
    for window in definitions.windows:
        inside = np.flatnonzero((day >= window.low) & (day <= window.high))
        distance = np.abs(day[inside] - window.target_day)
        picked = inside[np.lexsort((day[inside], distance, codes[inside]))]
        first = np.ones(len(picked), dtype=bool)
        first[1:] = codes[picked][1:] != codes[picked][:-1]
        rows.append(picked[first])
        labels.append(np.full(int(first.sum()), window.label, dtype=object))
        targets.append(np.full(int(first.sum()), window.target_day, dtype="int64"))
    take = np.concatenate(rows) if rows else np.array([], dtype="int64")
    out = scores.take(take).reset_index(drop=True)
    out["timepoint"] = pd.array(
        np.concatenate(labels) if labels else np.array([], dtype=object), dtype="string"
    )
    out["target_day"] = np.concatenate(targets) if targets else np.array([], dtype="int64")
    value_codes, key_codes = _codes(out["patient_id"], base["patient_id"])
    out["baseline"] = _lookup_codes(value_codes, key_codes, base["baseline"].to_numpy(float))
    # Every row's patient has a baseline (filtered above), so no position is missing.
    baseline_rows = _lookup_codes(value_codes, key_codes, base_rows).astype("int64")
    out["change"] = out["score"] - out["baseline"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * out["change"].to_numpy(float) / out["baseline"].to_numpy(float)
    out["pct_change"] = np.where(out["baseline"].to_numpy(float) > 0, pct, np.nan)
    out = out.astype({"timepoint": "string", "target_day": "int64", "day": "int64"})
    return out[TIMEPOINT_COLUMNS].reset_index(drop=True), score_rows[take], baseline_rows


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
    return pd.Index(s.loc[s["day"] >= 0, "patient_id"].astype("string").unique())


def itt_patients(data: ClinicData, definitions: OutcomeDefinitions) -> pd.Index:
    """The intention-to-treat population: every patient with a baseline who started treatment
    (every patient with a baseline when the upload had no sessions)."""

    def compute() -> pd.Index:
        base = baseline_scores(data, definitions)["patient_id"]
        return pd.Index(base[isin_ids(base, started_treatment(data))].unique())

    frames = (data.assessments, data.patients, data.sessions)
    key = (*_definitions_key(definitions)[:2], data.has_sessions)
    return remembered("itt_patients", frames, key, compute)


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
