"""Score trajectories: mean score by week or by session, and per-patient series.

Two time axes:

- **week**: whole weeks since the first session. The baseline (the score chosen by
  :func:`analytics.metrics.timepoints.baseline_scores`, day 0 or before) is week 0. A post-baseline score
  on day ``d >= 4`` falls in week ``floor((d + 3) / 7)``, so week ``k`` is days ``7k - 3`` to
  ``7k + 3``, the same centred bins as the weeks 1-3 timepoint windows. Days 1-3 form their own
  bin, labelled "days 1-3" at x = 2/7, so the 24-hour scores are neither mixed with the baseline
  nor with week 1.
- **session**: sessions given before the score (``session_number_before`` of
  :func:`analytics.metrics.timepoints.patient_series`; forms are taken to be completed before that day's
  dose). The baseline is 0 sessions; a score after session ``k`` is at ``k``.

Only patients with a baseline are included, so every point of every line is the same kind of
population. A patient with two scores in one bin counts once, with the mean of the two.

:func:`trajectory_facts` works out each patient's mean per bin of every axis once; the
``*_from`` functions add up a cohort's rows.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex, id_text, text_of
from analytics.core.patient_table import Facts, PatientTable, kept_rows
from analytics.core.stats import MIN_N_FOR_INTERVAL, mean_ci
from analytics.metrics.groups import patient_group_codes, patient_groups
from analytics.metrics.timepoints import (
    baseline_coded,
    index_codes,
    remembered,
    sessions_before,
    shared_intermediates,
    valid_coded,
)

__all__ = [
    "ALL_PATIENTS",
    "AXES",
    "MIN_N_FOR_INTERVAL",
    "PATIENT_TRAJECTORY_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "TRAJECTORY_ROW_COLUMNS",
    "TRAJECTORY_TABLES",
    "bin_labels",
    "mean_trajectory",
    "mean_trajectory_from",
    "patient_trajectories",
    "patient_trajectories_from",
    "trajectory_facts",
    "week_of_day",
]

AXES = ("week", "session", "day")
VALUES = ("score", "change")
ALL_PATIENTS = "all patients"
EARLY_X = 2 / 7  # where the "days 1-3" bin sits on the week axis

# patient_trajectories: one row per patient and bin (or score, on the day axis).
#   patient_id  string
#   group       string   value of the grouping column, or ALL_PATIENTS
#   x           float64  week, sessions before the score, or day
#   label       string   "baseline", "days 1-3", "week 2", "after session 3", "day 12"
#   score       float64  the score (mean of the patient's scores in the bin)
#   change      float64  score - baseline
PATIENT_TRAJECTORY_COLUMNS = ["patient_id", "group", "x", "label", "score", "change"]

# mean_trajectory: one row per group and bin.
#   group, x, label       as above
#   n                     int64    patients in the bin
#   mean, sd              float64  of the chosen value (score or change); sd NaN when n < 2
#   ci_low, ci_high       float64  t-based 95% CI of the mean; NaN (no interval) when
#                                  n < MIN_N_FOR_INTERVAL. Never clipped to the scale.
TRAJECTORY_COLUMNS = ["group", "x", "label", "n", "mean", "sd", "ci_low", "ci_high"]


def week_of_day(day) -> np.ndarray:
    """Week bin of post-baseline days (see the module docstring); days 1-3 give ``2/7``.

    Examples
    --------
    >>> week_of_day([1, 3, 4, 10, 11, 28]).tolist()
    [0.2857142857142857, 0.2857142857142857, 1.0, 1.0, 2.0, 4.0]
    """
    d = np.asarray(day, dtype=float)
    return np.where(d <= 3, EARLY_X, np.floor((d + 3) / 7))


def bin_labels(x, axis: str) -> np.ndarray:
    """The label of each bin ``x`` on ``axis``: "baseline", "days 1-3", "week 2",
    "after session 3" or "day 12".

    Examples
    --------
    >>> bin_labels(np.array([0.0, EARLY_X, 2.0]), "week").tolist()
    ['baseline', 'days 1-3', 'week 2']
    >>> bin_labels(np.array([0.0, 3.0]), "session").tolist()
    ['baseline', 'after session 3']
    """
    x = np.asarray(x, dtype=float)
    whole = np.round(x).astype("int64").astype(str)
    if axis == "week":
        return np.where(
            x == 0, "baseline", np.where(x == EARLY_X, "days 1-3", np.char.add("week ", whole))
        )
    if axis == "session":
        return np.where(x == 0, "baseline", np.char.add("after session ", whole))
    return np.where(x <= 0, "baseline", np.char.add("day ", whole))


# Kept for modules that imported the private name; use bin_labels.
_labels = bin_labels


# ---------------------------------------------------------------------------------------------
# Each patient's facts (analytics.core.patient_table.Facts), worked out once per clinic

# trajectory_facts' long tables, one per axis: "trajectory_week", "trajectory_session" and
# "trajectory_day" (TRAJECTORY_TABLES). One row per patient with a baseline and bin of that
# axis (the rows of patient_trajectories), sorted by code then bin.
#   code    int64    the patient
#   bin     int64    position in meta["trajectory_bins"][axis], the bins' x in increasing order
#   score   float64  the patient's mean score in the bin (the baseline in bin x = 0)
#   change  float64  score - baseline
TRAJECTORY_TABLES = {axis: f"trajectory_{axis}" for axis in AXES}
TRAJECTORY_ROW_COLUMNS = ["code", "bin", "score", "change"]


def trajectory_facts(
    data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex
) -> Facts:
    """Each patient's mean score per bin of each axis (see the module docstring).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        The instrument and the baseline rule.
    index : PatientIndex
        The patients.

    Returns
    -------
    Facts
        No per-patient columns; the long tables :data:`TRAJECTORY_TABLES` and the meta key
        ``"trajectory_bins"`` (``{axis: [x, ...]}``, increasing).
    """
    base, _, base_codes = baseline_coded(data, definitions)
    scores, _, codes, ids = valid_coded(data, definitions.instrument)
    to_index = index_codes(data, definitions.instrument, index)
    baseline = np.full(len(ids), np.nan)
    baseline[base_codes] = base["baseline"].to_numpy(float)
    base_keep = to_index[base_codes] >= 0
    day = scores["day"].to_numpy("int64")
    post = (day >= 1) & ~np.isnan(baseline[codes]) & (to_index[codes] >= 0)
    # The baseline points first, then the later scores in patient and day order: the order
    # in which each bin's mean adds them up.
    point_codes = np.concatenate([base_codes[base_keep], codes[post]])
    point_score = np.concatenate(
        [base["baseline"].to_numpy(float)[base_keep], scores["score"].to_numpy(float)[post]]
    )
    before = sessions_before(data, definitions.instrument)
    x_post = {
        "week": week_of_day(day[post]),
        "session": before[post].astype(float),
        "day": day[post].astype(float),
    }
    base_at = to_index[base_codes]
    baseline_of_code = np.full(len(index), np.nan)  # by code of the index
    baseline_of_code[base_at[base_keep]] = base["baseline"].to_numpy(float)[base_keep]
    long, bins = {}, {}
    for axis in AXES:
        x = np.concatenate([np.zeros(int(base_keep.sum())), x_post[axis]])
        xs, point_bin = np.unique(x, return_inverse=True)
        width = max(len(xs), 1)
        key = to_index[point_codes] * width + point_bin
        mean = pd.Series(point_score, copy=False).groupby(key, sort=True).mean()
        keys = mean.index.to_numpy("int64")
        row_codes = keys // width
        score = mean.to_numpy(float)
        long[TRAJECTORY_TABLES[axis]] = pd.DataFrame(
            {
                "code": row_codes,
                "bin": keys % width,
                "score": score,
                "change": score - baseline_of_code[row_codes],
            }
        )
        bins[axis] = [float(v) for v in xs]
    return Facts(long=long, meta={"trajectory_bins": bins})


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, got {axis!r}")


def _groups_of(table: PatientTable, codes: np.ndarray, by: str | None):
    """Each row's group (a position in the returned labels) and the labels."""
    if by is None:
        return np.zeros(len(codes), dtype="int64"), [ALL_PATIENTS]
    group, names = patient_group_codes(table, by)
    return group[codes], names


def patient_trajectories_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    axis: str = "week",
    by: str | None = None,
) -> pd.DataFrame:
    """:func:`patient_trajectories` of the cohort ``keep``: the rows of its patients.

    Parameters
    ----------
    table : PatientTable
        Holding :func:`trajectory_facts` (and the ``patients`` column ``by``).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with.
    axis : {"week", "session", "day"}
    by : str or None
        A ``patients`` column to colour by; None puts everyone in :data:`ALL_PATIENTS`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_TRAJECTORY_COLUMNS`, sorted by patient then x.
    """
    _check_axis(axis)
    frame = table.long[TRAJECTORY_TABLES[axis]]
    rows = frame.take(kept_rows(frame, keep))
    codes = rows["code"].to_numpy()
    group, names = _groups_of(table, codes, by)
    xs = np.asarray(table.meta["trajectory_bins"][axis], dtype=float)
    bins = rows["bin"].to_numpy()
    labels = pa.array(bin_labels(xs, axis).tolist(), type=pa.large_string())
    out = pd.DataFrame(
        {
            "patient_id": text_of(id_text(table.index.ids), codes),
            "group": text_of(pa.array(names, type=pa.large_string()), group),
            "x": xs[bins],
            "label": text_of(labels, bins),
            "score": rows["score"].to_numpy(float),
            "change": rows["change"].to_numpy(float),
        }
    )
    return out[PATIENT_TRAJECTORY_COLUMNS]


def mean_trajectory_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    axis: str = "week",
    by: str | None = None,
    value: str = "score",
    include_overall: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`mean_trajectory` of the cohort ``keep``, added up from the table's rows.

    Parameters
    ----------
    table : PatientTable
        Holding :func:`trajectory_facts` (and the ``patients`` column ``by``).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with.
    axis, by, value, include_overall, confidence
        As :func:`mean_trajectory`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRAJECTORY_COLUMNS`, by group then x.

    Notes
    -----
    ``mean ± t(n - 1, 1 - α/2) · sd / sqrt(n)`` with the sample SD (ddof 1, from the squared
    deviations around each bin's mean), over patients (one value per patient per bin). A bin
    of fewer than :data:`MIN_N_FOR_INTERVAL` patients has no interval (NaN bounds); the bounds
    are never clipped to the instrument's range (a chart may clip them when it draws them).
    """
    if value not in VALUES:
        raise ValueError(f"value must be one of {VALUES}, got {value!r}")
    _check_axis(axis)
    rows = table.long[TRAJECTORY_TABLES[axis]]
    codes = rows["code"].to_numpy()
    use = kept_rows(rows, keep)
    bins = rows["bin"].to_numpy().take(use)
    values = rows[value].to_numpy(float).take(use)
    group, names = _groups_of(table, codes.take(use), by)
    if by is not None and include_overall:  # every patient once more, in the overall line
        group = np.concatenate([group, np.full(len(bins), len(names), dtype="int64")])
        bins, values = np.concatenate([bins, bins]), np.concatenate([values, values])
        names = [*names, ALL_PATIENTS]
    # Lines in the order of their labels (a group named like the overall line joins it).
    labels = sorted(set(names))
    rank = np.array([labels.index(name) for name in names], dtype="int64")
    xs = np.asarray(table.meta["trajectory_bins"][axis], dtype=float)
    width = max(len(xs), 1)
    key = rank[group] * width + bins if len(group) else np.zeros(0, dtype="int64")
    size = len(labels) * width
    n = np.bincount(key, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(key, weights=values, minlength=size) / n
        squares = np.bincount(key, weights=(values - mean[key]) ** 2, minlength=size)
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
    cells = np.flatnonzero(n)
    cell_bin = cells % width
    out = pd.DataFrame(
        {
            "group": text_of(pa.array(labels, type=pa.large_string()), cells // width),
            "x": xs[cell_bin] if len(xs) else np.zeros(0),
            "label": pd.array(bin_labels(xs, axis)[cell_bin] if len(xs) else [], dtype="string"),
            "n": n[cells].astype("int64"),
            "mean": mean[cells],
            "sd": sd[cells],
        }
    )
    low, high = mean_ci(
        out["mean"].to_numpy(float),
        out["sd"].to_numpy(float),
        out["n"].to_numpy(float),
        confidence=confidence,
    )
    too_few = out["n"].to_numpy() < MIN_N_FOR_INTERVAL
    out["ci_low"] = np.where(too_few, np.nan, low)
    out["ci_high"] = np.where(too_few, np.nan, high)
    return out[TRAJECTORY_COLUMNS]


# ---------------------------------------------------------------------------------------------
# The clinic-wide functions: the aggregations above over a table of the clinic


def _table(data: ClinicData, definitions: OutcomeDefinitions) -> PatientTable:
    """The patients' own columns and :func:`trajectory_facts`."""
    frames = (data.assessments, data.patients, data.sessions)
    key = (repr(replace(definitions, reliability_sd=None)),)
    with shared_intermediates():
        return remembered(
            "trajectory_table",
            frames,
            key,
            lambda: PatientTable.of(data, definitions, trajectory_facts),
        )


def patient_trajectories(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    axis: str = "week",
    by: str | None = None,
) -> pd.DataFrame:
    """Every patient's series on one axis, for spaghetti plots.

    Parameters
    ----------
    data : ClinicData
    definitions : OutcomeDefinitions
        The instrument and the baseline rule.
    axis : {"week", "session", "day"}
        The x axis (see the module docstring); "day" keeps each score on its own day.
    by : str or None
        A ``patients`` column to colour by (e.g. "route"); None puts everyone in
        :data:`ALL_PATIENTS`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_TRAJECTORY_COLUMNS`, sorted by patient then x.

    Raises
    ------
    ValueError
        When ``axis`` is unknown or ``by`` is not a ``patients`` column.
    """
    _check_axis(axis)
    if by is not None:
        patient_groups(data, by)  # the column must be one of patients.csv
    table = _table(data, definitions)
    return patient_trajectories_from(table, table.keep(), definitions, axis=axis, by=by)


def mean_trajectory(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    axis: str = "week",
    by: str | None = None,
    value: str = "score",
    include_overall: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean score (or change) per bin with a t-based confidence interval.

    Parameters
    ----------
    axis : {"week", "session", "day"}
    by : str or None
        A ``patients`` column; each group gets its own line.
    value : {"score", "change"}
        What is averaged.
    include_overall : bool
        With ``by``, also return the :data:`ALL_PATIENTS` line.
    confidence : float
        CI coverage.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRAJECTORY_COLUMNS`, by group then x.

    Notes
    -----
    ``mean ± t(n - 1, 1 - α/2) · sd / sqrt(n)`` with the sample SD (ddof 1), over patients
    (one value per patient per bin); no interval (NaN) for fewer than
    :data:`MIN_N_FOR_INTERVAL` patients, and never clipped to the instrument's range.

    References
    ----------
    .. [1] Student (1908). The probable error of a mean. Biometrika 6:1-25.
       doi:10.1093/biomet/6.1.1
    """
    if value not in VALUES:
        raise ValueError(f"value must be one of {VALUES}, got {value!r}")
    _check_axis(axis)
    if by is not None:
        patient_groups(data, by)
    table = _table(data, definitions)
    return mean_trajectory_from(
        table,
        table.keep(),
        definitions,
        axis=axis,
        by=by,
        value=value,
        include_overall=include_overall,
        confidence=confidence,
    )
