"""PCL-5 in depth: DSM-5 symptom clusters, provisional diagnosis and item-level change.

The forms compared are the ones :mod:`analytics.metrics.timepoints` chose for the total (the baseline
form and each timepoint's form), so every number here is about the same visits as the headline
change. A cluster or item is compared only when answered on both forms, so its ``n`` can be
below the timepoint's.

:func:`pcl5_depth_facts` keeps, per patient and timepoint, the pair of answers of each cluster
and item; the ``*_from`` functions count a cohort's pairs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData, item_columns
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.instruments import INSTRUMENTS
from analytics.core.patient_table import Facts, PatientTable, kept_rows, patient_index
from analytics.core.stats import mean_ci, rate
from analytics.metrics.timepoints import (
    baseline_coded,
    index_codes,
    remembered,
    shared_intermediates,
    timepoints_coded,
)

__all__ = [
    "CHANGE_COLUMNS",
    "CLUSTERS",
    "FLAGGED_ITEMS",
    "ITEM_ROW_COLUMNS",
    "ITEM_TABLE",
    "MEASURES",
    "cluster_change",
    "cluster_change_from",
    "item_change",
    "item_change_from",
    "items_moved_most",
    "pcl5_depth_facts",
    "pcl5_depth_summary",
    "pcl5_depth_summary_from",
    "provisional_dx_rates",
    "provisional_dx_rates_from",
]

PCL5 = "PCL-5"
N_ITEMS = 20

# DSM-5 clusters (Blevins et al. 2015; National Center for PTSD, "Using the PCL-5").
CLUSTERS = {
    "cluster_b": "B intrusions (items 1-5)",
    "cluster_c": "C avoidance (items 6-7)",
    "cluster_d": "D negative cognition and mood (items 8-14)",
    "cluster_e": "E arousal and reactivity (items 15-20)",
}
FLAGGED_ITEMS = {"item_1": "intrusive memories", "item_20": "sleep"}

# cluster_change / item_change: one row per (timepoint, measure) with at least one pair.
#   timepoint, target_day
#   measure         "cluster_b".."cluster_e" or "item_1".."item_20"
#   label           words for the measure (clusters; flagged items; else "item N")
#   n               patients with the measure answered on both forms
#   mean_baseline, mean_timepoint, mean_change   (change negative = better)
#   ci_low, ci_high t-based 95% CI of the mean change; NaN when n < 3
#   flag            "intrusive memories" / "sleep" for items 1 and 20; "" otherwise
CHANGE_COLUMNS = [
    "timepoint",
    "target_day",
    "measure",
    "label",
    "n",
    "mean_baseline",
    "mean_timepoint",
    "mean_change",
    "ci_low",
    "ci_high",
    "flag",
]


def _pcl5(definitions: OutcomeDefinitions) -> OutcomeDefinitions:
    # Windows and look-back are the clinic's; the instrument here is always PCL-5.
    if definitions.instrument == PCL5:
        return definitions
    return replace(
        definitions,
        instrument=PCL5,
        response=None,
        remission_below=None,
        remission_requires_baseline_at_or_above=None,
    )


MEASURES = [*CLUSTERS, *item_columns(N_ITEMS)]
ITEM_TABLE = "pcl5_items"

# pcl5_depth_facts, per patient (PCL-5 only):
#   pcl5_baseline_dx    boolean  provisional diagnosis on the patient's baseline form (the form
#                                of the total's baseline); NA without a baseline or when not
#                                every item was answered
# long table "pcl5_items": one row per observed (timepoint, patient), for the timepoint's form
# (the one the total's timepoint score came from), sorted by window then code.
#   code                int64    the patient
#   window              int64    position in meta["pcl5_timepoints"] (label, target_day)
#   cluster_b .. cluster_e, item_1 .. item_20
#                       int32    the pair of the measure's values on the baseline form and on
#                                this form: a position in meta["pcl5_pairs"][measure], a list
#                                of [baseline, timepoint] values; -1 when either is unanswered
#   provisional_dx      boolean  provisional diagnosis on this form; NA when not recorded
# A cohort's change in a measure is then a count of each pair per window (a bincount), and
# its sums are exact whatever the order of the rows (the answers are whole numbers).
ITEM_ROW_COLUMNS = ["code", "window", *MEASURES, "provisional_dx"]


def pcl5_depth_facts(
    data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex
) -> Facts:
    """The clusters, items and provisional diagnosis of each patient's baseline and timepoint
    forms; empty :class:`Facts` unless ``definitions.instrument`` is the PCL-5.

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        The baseline rule and windows.
    index : PatientIndex
        The patients.

    Returns
    -------
    Facts
        The column ``pcl5_baseline_dx``, the long table ``"pcl5_items"``
        (:data:`ITEM_ROW_COLUMNS`) and the meta keys ``"pcl5_timepoints"`` and
        ``"pcl5_pairs"``.
    """
    if definitions.instrument != PCL5:
        return Facts()
    return _facts(data, definitions, index)


def _facts(data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex) -> Facts:
    _, base_rows, base_codes = baseline_coded(data, definitions)
    _, form_rows, _, tp_codes, window_number = timepoints_coded(data, definitions)
    to_index = index_codes(data, definitions.instrument, index)
    a = data.assessments
    size = len(index)
    base_at = to_index[base_codes]
    base_ok = base_at >= 0
    base_at, base_rows = base_at[base_ok], base_rows[base_ok]
    tp_at = to_index[tp_codes]
    tp_ok = tp_at >= 0
    codes, form_rows = tp_at[tp_ok], form_rows[tp_ok]
    # Each row's baseline form, through its patient.
    base_row_of = np.full(size, -1, dtype="int64")
    base_row_of[base_at] = base_rows
    pair_rows = base_row_of[codes]

    def values(column: str) -> np.ndarray:
        v = a[column]
        if v.dtype == np.float64:
            return v.to_numpy()
        return v.astype("float64").to_numpy(na_value=np.nan)

    long = {"code": codes.astype("int64"), "window": window_number[tp_ok].astype("int64")}
    pairs = {}
    for m in MEASURES:
        v = values(m)
        long[m], pairs[m] = _pair_codes(v[pair_rows], v[form_rows])
    dx = pd.array(a["provisional_dx"], dtype="boolean")
    base_dx = pd.array(np.zeros(size, dtype=bool), dtype="boolean")
    base_dx[:] = pd.NA
    base_dx[base_at] = dx[base_rows]
    long["provisional_dx"] = dx[form_rows]
    timepoints = [{"label": w.label, "target_day": int(w.target_day)} for w in definitions.windows]
    return Facts(
        patients=pd.DataFrame({"pcl5_baseline_dx": base_dx}),
        long={ITEM_TABLE: pd.DataFrame(long)[ITEM_ROW_COLUMNS]},
        meta={"pcl5_timepoints": timepoints, "pcl5_pairs": pairs},
    )


def _pair_codes(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """Each row's (pre, post) pair as a position in the sorted distinct pairs (-1 when either
    value is missing), and those pairs.

    Examples
    --------
    >>> codes, pairs = _pair_codes(np.array([2.0, 2.0, np.nan, 1.0]), np.array([1.0, 1.0, 0.0, 3.0]))
    >>> codes.tolist(), pairs
    ([1, 1, -1, 0], [[1.0, 3.0], [2.0, 1.0]])
    """
    paired = ~np.isnan(pre) & ~np.isnan(post)
    pre_codes, pre_values = pd.factorize(pre[paired], sort=True)
    post_codes, post_values = pd.factorize(post[paired], sort=True)
    width = max(len(post_values), 1)
    pair_codes, keys = pd.factorize(pre_codes.astype("int64") * width + post_codes, sort=True)
    keys = np.asarray(keys, dtype="int64")
    out = np.full(len(pre), -1, dtype="int32")
    out[paired] = pair_codes
    pre_of = np.asarray(pre_values, dtype=float)[keys // width]
    post_of = np.asarray(post_values, dtype=float)[keys % width]
    return out, [[float(x), float(y)] for x, y in zip(pre_of, post_of)]


def _rows(table: PatientTable, keep: np.ndarray):
    """The cohort's timepoint rows: the table of rows, the positions kept, their codes and
    window numbers."""
    if ITEM_TABLE not in table.long:
        raise ValueError("the table holds no PCL-5 facts: build it with PCL-5 definitions")
    rows = table.long[ITEM_TABLE]
    use = kept_rows(rows, keep)
    return rows, use, rows["code"].to_numpy().take(use), rows["window"].to_numpy().take(use)


def _change_from(
    table: PatientTable, keep: np.ndarray, measures: list[str], labels: dict
) -> pd.DataFrame:
    rows, use, _, window = _rows(table, keep)
    timepoints = table.meta["pcl5_timepoints"]
    n_windows, n_measures = len(timepoints), len(measures)
    n = np.zeros((n_windows, n_measures), dtype="int64")
    mean_pre, mean_post, mean_change, sd = (
        np.full((n_windows, n_measures), np.nan) for _ in "1234"
    )
    for j, m in enumerate(measures):
        pairs = np.asarray(table.meta["pcl5_pairs"][m], dtype=float).reshape(-1, 2)
        width = len(pairs) + 1  # the last slot counts the unpaired rows (code -1)
        code = rows[m].to_numpy().take(use).astype("int64") % width
        counts = np.bincount(window * width + code, minlength=n_windows * width)
        counts = counts.reshape(n_windows, width)[:, :-1]
        pre, post = pairs[:, 0], pairs[:, 1]
        change = post - pre
        n[:, j] = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_pre[:, j] = counts @ pre / n[:, j]
            mean_post[:, j] = counts @ post / n[:, j]
            mean_change[:, j] = counts @ change / n[:, j]
            # the sample SD from the squared deviations around each window's mean
            squares = (counts * (change[None, :] - mean_change[:, j, None]) ** 2).sum(axis=1)
            sd[:, j] = np.where(n[:, j] > 1, np.sqrt(squares / (n[:, j] - 1)), np.nan)
    # Window order, then measure order; only pairs that exist.
    at_window, at_measure = np.nonzero(n > 0)
    out = pd.DataFrame(
        {
            "timepoint": pd.array([str(timepoints[i]["label"]) for i in at_window], dtype="string"),
            "target_day": np.array(
                [int(timepoints[i]["target_day"]) for i in at_window], dtype="int64"
            ),
            "measure": pd.array([measures[j] for j in at_measure], dtype="string"),
            "n": n[at_window, at_measure],
            "mean_baseline": mean_pre[at_window, at_measure],
            "mean_timepoint": mean_post[at_window, at_measure],
            "mean_change": mean_change[at_window, at_measure],
            "sd_change": sd[at_window, at_measure],
        }
    )
    out["ci_low"], out["ci_high"] = mean_ci(
        out["mean_change"].to_numpy(float),
        out["sd_change"].to_numpy(float),
        out["n"].to_numpy(float),
    )
    out["label"] = out["measure"].map(labels)
    out["flag"] = out["measure"].map(FLAGGED_ITEMS).fillna("")
    return out[CHANGE_COLUMNS].reset_index(drop=True)


def _item_labels() -> dict:
    # "9. Negative beliefs about self, others or the world": the registry's words per item
    pcl5 = INSTRUMENTS["PCL-5"]
    return {f"item_{i}": pcl5.item_label(i) for i in range(1, N_ITEMS + 1)}


def cluster_change_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """:func:`cluster_change` of the cohort ``keep``, from the table's rows.

    Parameters
    ----------
    table : PatientTable
        Holding :func:`pcl5_depth_facts` (PCL-5 definitions).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHANGE_COLUMNS`.

    Raises
    ------
    ValueError
        When the table holds no PCL-5 facts.
    """
    return _change_from(table, keep, list(CLUSTERS), CLUSTERS)


def item_change_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """:func:`item_change` of the cohort ``keep``, from the table's rows (columns
    :data:`CHANGE_COLUMNS`; items 1 and 20 carry a ``flag``).

    Raises
    ------
    ValueError
        When the table holds no PCL-5 facts.
    """
    return _change_from(table, keep, item_columns(N_ITEMS), _item_labels())


def items_moved_most(items: pd.DataFrame, timepoint: str, *, top: int = 5) -> pd.DataFrame:
    """The ``top`` items with the largest mean drop at ``timepoint`` (most improved first;
    ties by item order)."""
    at = items[items["timepoint"] == timepoint]
    return at.sort_values("mean_change", kind="stable").head(top).reset_index(drop=True)


def provisional_dx_rates_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> dict:
    """:func:`provisional_dx_rates` of the cohort ``keep``, from the table's rows.

    Raises
    ------
    ValueError
        When the table holds no PCL-5 facts.
    """
    rows, use, codes, window = _rows(table, keep)
    method = definitions.ci_method
    base = table.patients["pcl5_baseline_dx"].array
    base_known = ~np.asarray(base.isna(), dtype=bool)
    base_yes = np.asarray(base.fillna(False), dtype=bool)
    post = rows["provisional_dx"].array
    post_known = ~np.asarray(post.isna(), dtype=bool).take(use)
    post_yes = np.asarray(post.fillna(False), dtype=bool).take(use)
    both = base_known[codes] & post_known  # a diagnosis on both forms
    n_windows = len(table.meta["pcl5_timepoints"])
    n = np.bincount(window[both], minlength=n_windows)
    k_base = np.bincount(window[both & base_yes[codes]], minlength=n_windows)
    k_post = np.bincount(window[both & post_yes], minlength=n_windows)
    timepoints = [
        {
            "label": str(t["label"]),
            "target_day": int(t["target_day"]),
            "baseline": rate(int(k_base[i]), int(n[i]), method=method),
            "timepoint": rate(int(k_post[i]), int(n[i]), method=method),
        }
        for i, t in enumerate(table.meta["pcl5_timepoints"])
        if n[i] > 0
    ]
    known = keep & base_known
    return {
        "baseline": rate(int(np.count_nonzero(known & base_yes)), int(known.sum()), method=method),
        "timepoints": timepoints,
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def pcl5_depth_summary_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions, *, top: int = 5
) -> dict:
    """:func:`pcl5_depth_summary` of the cohort ``keep``: clusters, provisional diagnosis and
    items as JSON-able data (None, never NaN).

    Raises
    ------
    ValueError
        When the table holds no PCL-5 facts.
    """
    clusters = cluster_change_from(table, keep, definitions)
    items = item_change_from(table, keep, definitions)
    dx = provisional_dx_rates_from(table, keep, definitions)
    moved = {
        label: [str(m) for m in items_moved_most(items, label, top=top)["measure"]]
        for label in pd.unique(items["timepoint"])
    }
    return {
        "clusters": _records(clusters),
        "provisional_dx": {
            "baseline": dx["baseline"].to_dict(),
            "timepoints": [
                {**r, "baseline": r["baseline"].to_dict(), "timepoint": r["timepoint"].to_dict()}
                for r in dx["timepoints"]
            ],
        },
        "items": _records(items),
        "items_moved_most": moved,
    }


# ---------------------------------------------------------------------------------------------
# The clinic-wide functions: the aggregations above over a table of this module's facts, on
# the PCL-5 whatever the definitions' instrument


def _table(data: ClinicData, definitions: OutcomeDefinitions) -> PatientTable:
    definitions = _pcl5(definitions)

    def build() -> PatientTable:
        index = patient_index(data)
        return PatientTable.from_facts(index, [_facts(data, definitions, index)])

    frames = (data.assessments, data.patients)
    key = (repr(replace(definitions, reliability_sd=None)),)
    with shared_intermediates():
        return remembered("pcl5_table", frames, key, build)


def cluster_change(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Change in each DSM-5 cluster (B-E) at each timepoint; columns :data:`CHANGE_COLUMNS`."""
    table = _table(data, definitions)
    return cluster_change_from(table, table.keep(), definitions)


def item_change(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Change in each of the 20 PCL-5 items at each timepoint; columns :data:`CHANGE_COLUMNS`.

    Items 1 (intrusive memories) and 20 (sleep) carry a ``flag``.
    """
    table = _table(data, definitions)
    return item_change_from(table, table.keep(), definitions)


def provisional_dx_rates(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """Share meeting the DSM-5 provisional diagnosis at baseline and at each timepoint.

    Only forms with every item answered have a diagnosis; others are left out of the
    denominators.

    Returns
    -------
    dict
        ``{"baseline": Rate, "timepoints": [{"label", "target_day", "baseline": Rate,
        "timepoint": Rate}]}``: at each timepoint, the diagnosis among the patients observed
        there with a diagnosis on both forms, at their baseline and at the timepoint, so the
        two rates share a denominator.
    """
    table = _table(data, definitions)
    return provisional_dx_rates_from(table, table.keep(), _pcl5(definitions))


def pcl5_depth_summary(data: ClinicData, definitions: OutcomeDefinitions, *, top: int = 5) -> dict:
    """Clusters, provisional diagnosis and items as JSON-able data (None, never NaN)."""
    table = _table(data, definitions)
    return pcl5_depth_summary_from(table, table.keep(), _pcl5(definitions), top=top)
