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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.stats import mean_ci
from analytics.metrics.groups import patient_groups
from analytics.metrics.timepoints import baseline_scores, patient_series

__all__ = [
    "ALL_PATIENTS",
    "AXES",
    "PATIENT_TRAJECTORY_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "mean_trajectory",
    "patient_trajectories",
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
#   ci_low, ci_high       float64  t-based 95% CI of the mean; NaN when n < 2
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


def _labels(x: np.ndarray, axis: str) -> np.ndarray:
    whole = np.round(x).astype("int64").astype(str)
    if axis == "week":
        return np.where(
            x == 0, "baseline", np.where(x == EARLY_X, "days 1-3", np.char.add("week ", whole))
        )
    if axis == "session":
        return np.where(x == 0, "baseline", np.char.add("after session ", whole))
    return np.where(x <= 0, "baseline", np.char.add("day ", whole))


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
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
    groups = patient_groups(data, by) if by is not None else None
    base = baseline_scores(data, definitions)
    series = patient_series(data, definitions.instrument)
    post = series[series["day"] >= 1].merge(
        base[["patient_id", "baseline"]], on="patient_id", how="inner"
    )
    if axis == "week":
        x_post = week_of_day(post["day"])
    elif axis == "session":
        x_post = post["session_number_before"].to_numpy(float)
    else:
        x_post = post["day"].to_numpy(float)
    points = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": base["patient_id"],
                    "x": 0.0,
                    "score": base["baseline"].to_numpy(float),
                    "baseline": base["baseline"].to_numpy(float),
                }
            ),
            pd.DataFrame(
                {
                    "patient_id": post["patient_id"],
                    "x": x_post,
                    "score": post["score"].to_numpy(float),
                    "baseline": post["baseline"].to_numpy(float),
                }
            ),
        ],
        ignore_index=True,
    )
    out = points.groupby(["patient_id", "x"], as_index=False, sort=True).agg(
        score=("score", "mean"), baseline=("baseline", "first")
    )
    out["change"] = out["score"] - out["baseline"]
    out["label"] = _labels(out["x"].to_numpy(float), axis)
    if groups is None:
        out["group"] = ALL_PATIENTS
    else:
        out["group"] = out["patient_id"].map(groups)
    out = out.astype({"patient_id": "string", "group": "string", "label": "string"})
    return out[PATIENT_TRAJECTORY_COLUMNS].reset_index(drop=True)


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
    (one value per patient per bin).
    """
    if value not in VALUES:
        raise ValueError(f"value must be one of {VALUES}, got {value!r}")
    points = patient_trajectories(data, definitions, axis=axis, by=by)
    if by is not None and include_overall:
        points = pd.concat([points, points.assign(group=ALL_PATIENTS)], ignore_index=True)
    grouped = points.groupby(["group", "x"], sort=True)
    out = grouped.agg(
        label=("label", "first"),
        n=(value, "size"),
        mean=(value, "mean"),
        sd=(value, "std"),
    ).reset_index()
    out["ci_low"], out["ci_high"] = mean_ci(
        out["mean"].to_numpy(float),
        out["sd"].to_numpy(float),
        out["n"].to_numpy(float),
        confidence=confidence,
    )
    out = out.astype({"group": "string", "label": "string", "n": "int64"})
    return out[TRAJECTORY_COLUMNS].reset_index(drop=True)
