"""Outcomes split by a patient attribute (route, site, any extra ``patients`` column).

Small groups are marked, not hidden: a group of fewer than 11 patients gets ``small = True`` so
the page can warn (CMS small-cell policy counts cells of 1 to 10 as small); suppression for
publication is a separate, explicit step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.stats import proportion_ci
from analytics.metrics.outcomes import patient_outcomes

__all__ = [
    "GROUP_OUTCOME_COLUMNS",
    "MISSING_GROUP",
    "SMALL_GROUP",
    "RateDifference",
    "compare_groups",
    "compare_rates",
    "group_outcomes",
    "patient_groups",
]

# Groups (and denominators) below this many patients are flagged ``small``.
SMALL_GROUP = 11
# Label of patients with no value in the grouping column.
MISSING_GROUP = "(not recorded)"


@dataclass(frozen=True)
class RateDifference:
    """Difference of two proportions, ``rate_1 - rate_2``, with its interval and Fisher's p.

    Attributes
    ----------
    k1, n1, k2, n2 : int
        Events and denominators of the two groups.
    rate_1, rate_2 : float or None
        The proportions; None when that denominator is 0.
    difference : float or None
        ``rate_1 - rate_2``.
    ci_low, ci_high : float or None
        Newcombe hybrid score interval (Wilson limits of each group combined).
    p_value : float or None
        Two-sided Fisher exact test of the 2x2 table.
    method : str
        What the interval and the test are.
    """

    k1: int
    n1: int
    k2: int
    n2: int
    rate_1: float | None
    rate_2: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str = "Newcombe hybrid score interval (method 10); Fisher exact test, two-sided"

    def to_dict(self) -> dict:
        return asdict(self)


def compare_rates(
    k1: int, n1: int, k2: int, n2: int, *, confidence: float = 0.95
) -> RateDifference:
    """Difference between two independent proportions with a 95% CI and Fisher's exact p.

    Parameters
    ----------
    k1, n1 : int
        Events and patients of the first group.
    k2, n2 : int
        Events and patients of the second group.
    confidence : float
        Interval coverage.

    Returns
    -------
    RateDifference
        With None in every derived field when either denominator is 0.

    Raises
    ------
    ValueError
        When a count is negative or above its denominator.

    Notes
    -----
    With ``p_i = k_i / n_i`` and ``(l_i, u_i)`` the Wilson score interval of each proportion
    (Newcombe 1998, method 10):

    ``L = (p1 - p2) - sqrt((p1 - l1)² + (u2 - p2)²)``,
    ``U = (p1 - p2) + sqrt((u1 - p1)² + (p2 - l2)²)``.

    References
    ----------
    .. [1] Newcombe RG (1998). Interval estimation for the difference between independent
       proportions: comparison of eleven methods. Stat Med 17:873-890.
       doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
    .. [2] Fisher RA (1935). The logic of inductive inference. J R Stat Soc 98:39-82.
       doi:10.2307/2342435

    Examples
    --------
    >>> d = compare_rates(9, 10, 3, 10)
    >>> round(d.ci_low, 4), round(d.ci_high, 4)
    (0.1705, 0.809)
    """
    k1, n1, k2, n2 = int(k1), int(n1), int(k2), int(n2)
    for k, n in ((k1, n1), (k2, n2)):
        if k < 0 or n < 0 or k > n:
            raise ValueError("counts must satisfy 0 <= k <= n")
    if n1 == 0 or n2 == 0:
        return RateDifference(k1, n1, k2, n2, None, None, None, None, None, None)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = proportion_ci(k1, n1, confidence=confidence)
    l2, u2 = proportion_ci(k2, n2, confidence=confidence)
    difference = p1 - p2
    low = difference - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    p_value = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    return RateDifference(
        k1=k1,
        n1=n1,
        k2=k2,
        n2=n2,
        rate_1=p1,
        rate_2=p2,
        difference=difference,
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(p_value),
    )


def patient_groups(data: ClinicData, by: str) -> pd.Series:
    """Each patient's group: the ``patients`` column ``by`` (e.g. "route"), indexed by
    patient id, with missing values labelled :data:`MISSING_GROUP`.

    Raises
    ------
    ValueError
        When ``by`` is not a column of ``patients``.
    """
    if by not in data.patients.columns or by == "patient_id":
        usable = [c for c in data.patients.columns if c != "patient_id"]
        raise ValueError(f"cannot group by {by!r}; patients columns are {usable}")
    values = data.patients[by].astype("string").fillna(MISSING_GROUP)
    return pd.Series(
        values.to_numpy(), index=data.patients["patient_id"].astype("string"), name="group"
    )


# group_outcomes: one row per group and timepoint.
#   group          string   value of the grouping column
#   timepoint      string   window label; target_day int64
#   patients       int64    intention-to-treat patients in the group (baseline, started)
#   n              int64    observed: baseline and a score at the timepoint
#   responders     int64    observed responders
#   response_rate, response_ci_low, response_ci_high    float64   observed (NaN when n = 0)
#   responders_itt int64    responders among the ITT patients (no score = not a responder)
#   response_itt_rate, response_itt_ci_low, response_itt_ci_high   float64
#   mean_change    float64  mean score - baseline of the observed
#   small          bool     patients < 11 or n < 11: read with care
GROUP_OUTCOME_COLUMNS = [
    "group",
    "timepoint",
    "target_day",
    "patients",
    "n",
    "responders",
    "response_rate",
    "response_ci_low",
    "response_ci_high",
    "responders_itt",
    "response_itt_rate",
    "response_itt_ci_low",
    "response_itt_ci_high",
    "mean_change",
    "small",
]


def _rates(k, n, method: str):
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    low, high = proportion_ci(k, n, method=method)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / n, np.nan)
    return share, np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def group_outcomes(data: ClinicData, definitions: OutcomeDefinitions, by: str) -> pd.DataFrame:
    """Response by group and timepoint, observed and intention to treat.

    Parameters
    ----------
    data : ClinicData
    definitions : OutcomeDefinitions
        The response rule and windows (``definitions.response``, never a fixed 30%).
    by : str
        A ``patients`` column: ``"route"`` or any extra column of the upload.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUP_OUTCOME_COLUMNS`, every group crossed with every window, in window
        order then group. Intervals follow ``definitions.ci_method``.
    """
    groups = patient_groups(data, by)
    rows = patient_outcomes(data, definitions)
    rows = rows.assign(group=rows["patient_id"].map(groups).fillna(MISSING_GROUP))
    rows = rows.assign(
        observed_responder=rows["observed"] & rows["responder"],
        itt_responder=rows["itt"] & rows["responder"],
        observed_change=rows["change"].where(rows["observed"]),
    )
    agg = rows.groupby(["group", "timepoint"], sort=False).agg(
        patients=("itt", "sum"),
        n=("observed", "sum"),
        responders=("observed_responder", "sum"),
        responders_itt=("itt_responder", "sum"),
        mean_change=("observed_change", "mean"),
    )
    windows = pd.DataFrame(
        {
            "timepoint": [w.label for w in definitions.windows],
            "target_day": [w.target_day for w in definitions.windows],
            "_order": range(len(definitions.windows)),
        }
    )
    # Every group x window, so a group with nobody at a timepoint still shows n = 0.
    group_names = pd.DataFrame(
        {"group": sorted(set(groups.unique()) | set(rows["group"].unique()))}
    )
    grid = group_names.merge(windows, how="cross")
    out = grid.merge(agg.reset_index(), on=["group", "timepoint"], how="left")
    counts = ["patients", "n", "responders", "responders_itt"]
    out[counts] = out[counts].fillna(0).astype("int64")
    # ITT patients per group are the same at every timepoint; fill windows nobody reached.
    itt_per_group = rows[rows["itt"]].groupby("group")["patient_id"].nunique()
    out["patients"] = out["group"].map(itt_per_group).fillna(0).astype("int64")
    method = definitions.ci_method
    share, low, high = _rates(out["responders"], out["n"], method)
    out["response_rate"], out["response_ci_low"], out["response_ci_high"] = share, low, high
    share, low, high = _rates(out["responders_itt"], out["patients"], method)
    out["response_itt_rate"] = share
    out["response_itt_ci_low"], out["response_itt_ci_high"] = low, high
    out["mean_change"] = out["mean_change"].astype("float64")
    out["small"] = (out["patients"] < SMALL_GROUP) | (out["n"] < SMALL_GROUP)
    out = out.sort_values(["_order", "group"], kind="stable")
    out = out.astype({"group": "string", "timepoint": "string", "target_day": "int64"})
    return out[GROUP_OUTCOME_COLUMNS].reset_index(drop=True)


def compare_groups(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    by: str,
    first: str,
    second: str,
    timepoint: str,
    population: str = "observed",
) -> RateDifference:
    """Response rate of group ``first`` minus group ``second`` at ``timepoint``.

    Parameters
    ----------
    by : str
        The ``patients`` column that defines the groups.
    first, second : str
        Two values of that column.
    timepoint : str
        A window label of ``definitions``.
    population : {"observed", "intention to treat"}
        Which denominator (see :mod:`analytics.metrics.outcomes`).

    Raises
    ------
    ValueError
        When the population, timepoint or a group is unknown.
    """
    if population not in ("observed", "intention to treat"):
        raise ValueError(
            f"population must be 'observed' or 'intention to treat', got {population!r}"
        )
    table = group_outcomes(data, definitions, by)
    if timepoint not in set(table["timepoint"]) and timepoint not in [
        w.label for w in definitions.windows
    ]:
        raise ValueError(f"timepoint {timepoint!r} is not one of the windows")
    at = table[table["timepoint"] == timepoint].set_index("group")
    for name in (first, second):
        if name not in at.index:
            raise ValueError(f"group {name!r} not found in {by!r}; groups are {list(at.index)}")
    k, n = ("responders", "n") if population == "observed" else ("responders_itt", "patients")
    return compare_rates(at.loc[first, k], at.loc[first, n], at.loc[second, k], at.loc[second, n])
