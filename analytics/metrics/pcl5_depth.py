"""PCL-5 in depth: DSM-5 symptom clusters, provisional diagnosis and item-level change.

The forms compared are the ones :mod:`analytics.metrics.timepoints` chose for the total (the baseline
form and each timepoint's form), so every number here is about the same visits as the headline
change. A cluster or item is compared only when answered on both forms, so its ``n`` can be
below the timepoint's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData, item_columns
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.stats import mean_ci, rate
from analytics.metrics.timepoints import baseline_coded, shared_intermediates, timepoints_coded

__all__ = [
    "CHANGE_COLUMNS",
    "CLUSTERS",
    "FLAGGED_ITEMS",
    "cluster_change",
    "item_change",
    "items_moved_most",
    "pcl5_depth_summary",
    "provisional_dx_rates",
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
#   ci_low, ci_high t-based 95% CI of the mean change; NaN when n < 2
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


def _change_table(
    data: ClinicData, definitions: OutcomeDefinitions, measures: list[str], labels: dict
) -> pd.DataFrame:
    # The chosen forms' rows in data.assessments: read the measures there, no id joins.
    _, form_rows, baseline_rows, _, window_number = timepoints_coded(data, _pcl5(definitions))
    windows = {i: w for i, w in enumerate(definitions.windows)}
    a = data.assessments
    # Wide, one column per measure, grouped by window order: the same values in the same row
    # order per (timepoint, measure) as a long table, so pandas' sums come out bit for bit.
    # One float block: the pre values of every measure, then the post values, then changes.
    n_measures = len(measures)
    block = np.empty((3 * n_measures, len(form_rows)), dtype="float64")
    for j, m in enumerate(measures):
        values = a[m]
        if values.dtype == np.float64:  # NaN already marks a missing value: no copy
            values = values.to_numpy()
        else:
            values = values.astype("float64").to_numpy(na_value=np.nan)
        pre, post = values[baseline_rows], values[form_rows]
        pre[np.isnan(post)] = np.nan  # a pair needs both values
        post[np.isnan(pre)] = np.nan
        block[j], block[n_measures + j] = pre, post
        block[2 * n_measures + j] = post - pre
    wide = pd.DataFrame(block.T, copy=False)
    # Each column is reduced on its own, so only the columns read below are reduced.
    changes = wide.iloc[:, 2 * n_measures :].groupby(window_number, sort=True)
    counts = changes.count()
    means = wide.groupby(window_number, sort=True).mean().to_numpy()
    sds = changes.std().to_numpy()
    count_values = counts.to_numpy()

    rows = []
    for j, m in enumerate(measures):  # at most twenty measures, each over every window at once
        n = count_values[:, j]
        for i, t in enumerate(counts.index):
            if n[i] == 0:
                continue
            rows.append(
                {
                    "timepoint": windows[t].label,
                    "target_day": windows[t].target_day,
                    "measure": m,
                    "n": int(n[i]),
                    "mean_baseline": means[i, j],
                    "mean_timepoint": means[i, n_measures + j],
                    "mean_change": means[i, 2 * n_measures + j],
                    "sd_change": sds[i, j],
                    "_t": t,
                    "_m": j,
                }
            )
    rows.sort(key=lambda row: (row["_t"], row["_m"]))  # window order, then measure order
    names = ["timepoint", "target_day", "measure", "n", "mean_baseline", "mean_timepoint"]
    table = pd.DataFrame(rows, columns=[*names, "mean_change", "sd_change"])  # drops _t, _m
    table = table.astype(
        {
            "timepoint": "string",
            "target_day": "int64",
            "measure": "string",
            "n": "int64",
            "mean_baseline": "float64",
            "mean_timepoint": "float64",
            "mean_change": "float64",
            "sd_change": "float64",
        }
    )
    table["ci_low"], table["ci_high"] = mean_ci(
        table["mean_change"].to_numpy(float),
        table["sd_change"].to_numpy(float),
        table["n"].to_numpy(float),
    )
    table["label"] = table["measure"].map(labels)
    table["flag"] = table["measure"].map(FLAGGED_ITEMS).fillna("")
    return table[CHANGE_COLUMNS].reset_index(drop=True)


def cluster_change(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Change in each DSM-5 cluster (B-E) at each timepoint; columns :data:`CHANGE_COLUMNS`."""
    return _change_table(data, definitions, list(CLUSTERS), CLUSTERS)


def item_change(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Change in each of the 20 PCL-5 items at each timepoint; columns :data:`CHANGE_COLUMNS`.

    Items 1 (intrusive memories) and 20 (sleep) carry a ``flag``.
    """
    items = item_columns(N_ITEMS)
    labels = {c: f"item {c.split('_')[1]}" for c in items}
    labels |= {c: f"item {c.split('_')[1]}: {v}" for c, v in FLAGGED_ITEMS.items()}
    return _change_table(data, definitions, items, labels)


def items_moved_most(items: pd.DataFrame, timepoint: str, *, top: int = 5) -> pd.DataFrame:
    """The ``top`` items with the largest mean drop at ``timepoint`` (most improved first;
    ties by item order)."""
    at = items[items["timepoint"] == timepoint]
    return at.sort_values("mean_change", kind="stable").head(top).reset_index(drop=True)


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
    definitions = _pcl5(definitions)
    method = definitions.ci_method
    _, baseline_rows, _ = baseline_coded(data, definitions)
    dx = data.assessments["provisional_dx"]
    at_base = dx.take(baseline_rows).dropna()
    _, form_rows, pair_rows, _, window_number = timepoints_coded(data, definitions)
    known = pd.array(dx, dtype="boolean")
    recorded = ~np.asarray(known.isna(), dtype=bool)
    yes = np.asarray(known.fillna(False), dtype=bool)
    both = recorded[pair_rows] & recorded[form_rows]  # a diagnosis on both forms
    rows = []
    for number, window in enumerate(definitions.windows):
        at = both & (window_number == number)
        n = int(np.count_nonzero(at))
        if n == 0:
            continue
        rows.append(
            {
                "label": window.label,
                "target_day": window.target_day,
                "baseline": rate(int(np.count_nonzero(yes[pair_rows] & at)), n, method=method),
                "timepoint": rate(int(np.count_nonzero(yes[form_rows] & at)), n, method=method),
            }
        )
    return {
        "baseline": rate(int(at_base.sum()), len(at_base), method=method),
        "timepoints": rows,
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def pcl5_depth_summary(data: ClinicData, definitions: OutcomeDefinitions, *, top: int = 5) -> dict:
    """Clusters, provisional diagnosis and items as JSON-able data (None, never NaN)."""
    with shared_intermediates():  # the chosen forms are found once for all three tables
        return _pcl5_depth_summary(data, definitions, top=top)


def _pcl5_depth_summary(data: ClinicData, definitions: OutcomeDefinitions, *, top: int) -> dict:
    clusters = cluster_change(data, definitions)
    items = item_change(data, definitions)
    dx = provisional_dx_rates(data, definitions)
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
