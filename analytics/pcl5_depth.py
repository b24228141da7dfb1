"""PCL-5 in depth: DSM-5 symptom clusters, provisional diagnosis and item-level change.

The forms compared are the ones :mod:`analytics.timepoints` chose for the total (the baseline
form and each timepoint's form), so every number here is about the same visits as the headline
change. A cluster or item is compared only when answered on both forms, so its ``n`` can be
below the timepoint's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from analytics.contract import ClinicData, item_columns
from analytics.definitions import OutcomeDefinitions
from analytics.stats import rate
from analytics.timepoints import baseline_scores, timepoint_scores

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


def _forms(data: ClinicData) -> pd.DataFrame:
    a = data.assessments
    keep = (a["instrument"] == PCL5).fillna(False).to_numpy(bool)
    return a.loc[keep].astype({"patient_id": "string", "day": "int64"})


def _pairs(data: ClinicData, definitions: OutcomeDefinitions, columns: list[str]) -> pd.DataFrame:
    """Baseline and timepoint values of ``columns`` for every observed (patient, timepoint)."""
    definitions = _pcl5(definitions)
    tp = timepoint_scores(data, definitions)[["patient_id", "timepoint", "target_day", "day"]]
    base = baseline_scores(data, definitions)[["patient_id", "baseline_day"]]
    forms = _forms(data)[["patient_id", "day", *columns]]
    pre = forms.rename(columns={"day": "baseline_day"} | {c: f"{c}__pre" for c in columns})
    post = forms.rename(columns={c: f"{c}__post" for c in columns})
    out = tp.merge(base, on="patient_id").merge(pre, on=["patient_id", "baseline_day"])
    return out.merge(post, on=["patient_id", "day"])


def _change_table(
    data: ClinicData, definitions: OutcomeDefinitions, measures: list[str], labels: dict
) -> pd.DataFrame:
    pairs = _pairs(data, definitions, measures)
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "timepoint": pairs["timepoint"],
                    "target_day": pairs["target_day"],
                    "measure": m,
                    "pre": pairs[f"{m}__pre"].astype("float64"),
                    "post": pairs[f"{m}__post"].astype("float64"),
                }
            )
            for m in measures
        ],
        ignore_index=True,
    ).dropna(subset=["pre", "post"])
    long["change"] = long["post"] - long["pre"]
    grouped = long.groupby(["timepoint", "target_day", "measure"], sort=False)
    table = grouped.agg(
        n=("change", "size"),
        mean_baseline=("pre", "mean"),
        mean_timepoint=("post", "mean"),
        mean_change=("change", "mean"),
        sd_change=("change", "std"),
    ).reset_index()
    n = table["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, n - 1) * table["sd_change"].to_numpy(float) / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    table["ci_low"] = table["mean_change"] - half
    table["ci_high"] = table["mean_change"] + half
    table["label"] = table["measure"].map(labels)
    table["flag"] = table["measure"].map(FLAGGED_ITEMS).fillna("")
    order_tp = {w.label: i for i, w in enumerate(definitions.windows)}
    order_m = {m: i for i, m in enumerate(measures)}
    table = table.assign(
        _t=table["timepoint"].map(order_tp), _m=table["measure"].map(order_m)
    ).sort_values(["_t", "_m"])
    table = table.astype({"n": "int64", "target_day": "int64", "measure": "string"})
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
    base = baseline_scores(data, definitions)[["patient_id", "baseline_day"]]
    forms = _forms(data)[["patient_id", "day", "provisional_dx"]]
    at_base = base.merge(
        forms.rename(columns={"day": "baseline_day"}), on=["patient_id", "baseline_day"]
    )["provisional_dx"].dropna()
    pairs = _pairs(data, definitions, ["provisional_dx"]).dropna(
        subset=["provisional_dx__pre", "provisional_dx__post"]
    )
    rows = []
    for window in definitions.windows:
        at = pairs[pairs["timepoint"] == window.label]
        if at.empty:
            continue
        n = len(at)
        rows.append(
            {
                "label": window.label,
                "target_day": window.target_day,
                "baseline": rate(int(at["provisional_dx__pre"].sum()), n, method=method),
                "timepoint": rate(int(at["provisional_dx__post"].sum()), n, method=method),
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
