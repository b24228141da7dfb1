"""Outcomes split by a patient attribute (route, site, any extra ``patients`` column).

Small groups are marked, not hidden: a group of fewer than 11 patients gets ``small = True`` so
the page can warn (CMS small-cell policy counts cells of 1 to 10 as small); suppression for
publication is a separate, explicit step.

:func:`group_outcomes_from` adds up a cohort's timepoint rows of the per-patient table
(:func:`analytics.metrics.outcomes.outcome_facts`) by the patients' own column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import factorize_ids, text_of
from analytics.core.patient_table import PatientTable, kept_rows
from analytics.core.stats import proportion_ci
from analytics.metrics.outcomes import TIMEPOINT_TABLE, outcome_facts
from analytics.metrics.timepoints import remembered, shared_intermediates

__all__ = [
    "GROUP_OUTCOME_COLUMNS",
    "MISSING_GROUP",
    "SMALL_GROUP",
    "RateDifference",
    "compare_groups",
    "compare_groups_from",
    "compare_rates",
    "group_outcomes",
    "group_outcomes_from",
    "patient_group_codes",
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
    from scipy import stats  # imported when used: scipy.stats takes most of a second

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


def patient_group_codes(table: PatientTable, by: str) -> tuple[np.ndarray, list[str]]:
    """Each patient's group in ``table``: a position in the sorted group labels, and the labels.

    The labels are those of :func:`patient_groups`: the column's text, :data:`MISSING_GROUP`
    for a missing value, sorted (code point order, as Python sorts str).

    Raises
    ------
    ValueError
        When ``by`` is not a column of ``table.patients``.

    Examples
    --------
    >>> from analytics.core.ids import PatientIndex
    >>> from analytics.core.patient_table import Facts
    >>> index = PatientIndex(["a", "b", "c"])
    >>> facts = Facts(patients=pd.DataFrame({"site": pd.array(["s", None, "n"], dtype="string")}))
    >>> codes, labels = patient_group_codes(PatientTable.from_facts(index, [facts]), "site")
    >>> codes.tolist(), labels
    ([2, 0, 1], ['(not recorded)', 'n', 's'])
    """
    if by not in table.patients.columns or by == "patient_id":
        usable = [
            c
            for c in table.patients.columns
            if c != "patient_id" and pd.api.types.is_string_dtype(table.patients[c])
        ]
        raise ValueError(f"cannot group by {by!r}; patients columns are {usable}")
    values = table.patients[by].astype("string").fillna(MISSING_GROUP)
    codes, labels = factorize_ids(values, sort=True)
    return np.asarray(codes, dtype="int64"), [str(label) for label in labels]


def group_outcomes_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions, by: str
) -> pd.DataFrame:
    """:func:`group_outcomes` of the cohort ``keep``, from the table's rows.

    Parameters
    ----------
    table : PatientTable
        Holding the ``patients`` column ``by`` and
        :func:`analytics.metrics.outcomes.outcome_facts`.
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with; ``ci_method`` is read here.
    by : str
        A ``patients`` column: ``"route"`` or any extra column of the upload.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUP_OUTCOME_COLUMNS`: every group of the cohort's patients crossed
        with every window, in window order then group.
    """
    group, names = patient_group_codes(table, by)
    timepoints = table.meta["outcome_timepoints"]
    n_windows, n_groups = len(timepoints), len(names)
    rows = table.long[TIMEPOINT_TABLE]
    codes = rows["code"].to_numpy()
    use = kept_rows(rows, keep)
    key = group[codes.take(use)] * n_windows + rows["window"].to_numpy().take(use)
    observed = rows["observed"].to_numpy(bool).take(use)
    itt = rows["itt"].to_numpy(bool).take(use)
    responder = rows["responder"].to_numpy(bool).take(use)
    change = rows["change"].to_numpy(float).take(use)
    size = n_groups * n_windows

    def per_cell(mask, weights=None) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(key[mask], weights=w, minlength=size)

    n = per_cell(observed)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_change = np.where(n > 0, per_cell(observed, change) / n, np.nan)
    # ITT patients per group are the same at every timepoint.
    itt_patients = np.bincount(
        group[keep & table.patients["outcome_itt"].to_numpy(bool)], minlength=n_groups
    )
    # Every group of the cohort crossed with every window, so a group with nobody at a
    # timepoint still shows n = 0.
    present = np.flatnonzero(np.bincount(group[keep], minlength=n_groups))
    cell_group = np.tile(present, n_windows)
    cell_window = np.repeat(np.arange(n_windows, dtype="int64"), len(present))
    cell = cell_group * n_windows + cell_window
    labels = pa.array([names[g] for g in present] * n_windows, type=pa.large_string())
    window_labels = pa.array([str(t["label"]) for t in timepoints], type=pa.large_string())
    targets = np.array([int(t["target_day"]) for t in timepoints], dtype="int64")
    out = pd.DataFrame(
        {
            "group": pd.array(labels, dtype="string"),
            "timepoint": text_of(window_labels, cell_window),
            "target_day": targets[cell_window],
            "patients": itt_patients[cell_group].astype("int64"),
            "n": n[cell].astype("int64"),
            "responders": per_cell(observed & responder)[cell].astype("int64"),
            "responders_itt": per_cell(itt & responder)[cell].astype("int64"),
            "mean_change": mean_change[cell].astype("float64"),
        }
    )
    method = definitions.ci_method
    share, low, high = _rates(out["responders"], out["n"], method)
    out["response_rate"], out["response_ci_low"], out["response_ci_high"] = share, low, high
    share, low, high = _rates(out["responders_itt"], out["patients"], method)
    out["response_itt_rate"] = share
    out["response_itt_ci_low"], out["response_itt_ci_high"] = low, high
    out["small"] = (out["patients"] < SMALL_GROUP) | (out["n"] < SMALL_GROUP)
    return out[GROUP_OUTCOME_COLUMNS]


def compare_groups_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    by: str,
    first: str,
    second: str,
    timepoint: str,
    population: str = "observed",
) -> RateDifference:
    """:func:`compare_groups` of the cohort ``keep``, from :func:`group_outcomes_from`.

    Raises
    ------
    ValueError
        When the population, timepoint or a group is unknown.
    """
    if population not in ("observed", "intention to treat"):
        raise ValueError(
            f"population must be 'observed' or 'intention to treat', got {population!r}"
        )
    outcomes = group_outcomes_from(table, keep, definitions, by)
    windows = [str(t["label"]) for t in table.meta["outcome_timepoints"]]
    if timepoint not in set(outcomes["timepoint"]) and timepoint not in windows:
        raise ValueError(f"timepoint {timepoint!r} is not one of the windows")
    at = outcomes[outcomes["timepoint"] == timepoint].set_index("group")
    for name in (first, second):
        if name not in at.index:
            raise ValueError(f"group {name!r} not found in {by!r}; groups are {list(at.index)}")
    k, n = ("responders", "n") if population == "observed" else ("responders_itt", "patients")
    return compare_rates(at.loc[first, k], at.loc[first, n], at.loc[second, k], at.loc[second, n])


# ---------------------------------------------------------------------------------------------
# The clinic-wide functions: the aggregations above over a table of the clinic


def _table(data: ClinicData, definitions: OutcomeDefinitions) -> PatientTable:
    """The patients' own columns and :func:`~analytics.metrics.outcomes.outcome_facts`."""
    frames = (data.assessments, data.patients, data.sessions)
    key = (repr(definitions), data.has_sessions)
    with shared_intermediates():
        return remembered(
            "group_table", frames, key, lambda: PatientTable.of(data, definitions, outcome_facts)
        )


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

    Raises
    ------
    ValueError
        When ``by`` is not a column of ``patients``.
    """
    patient_groups(data, by)  # the column must be one of patients.csv
    table = _table(data, definitions)
    return group_outcomes_from(table, table.keep(), definitions, by)


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
    patient_groups(data, by)
    table = _table(data, definitions)
    return compare_groups_from(
        table,
        table.keep(),
        definitions,
        by=by,
        first=first,
        second=second,
        timepoint=timepoint,
        population=population,
    )
