"""PCL-5 clusters, provisional diagnosis and item change on hand-built forms."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.pcl5_depth import (
    CHANGE_COLUMNS,
    cluster_change,
    item_change,
    items_moved_most,
    pcl5_depth_summary,
    provisional_dx_rates,
)

PCL = OutcomeDefinitions()
# DSM-5 clusters: B items 1-5, C 6-7, D 8-14, E 15-20 (Blevins et al. 2015).
SPANS = {"cluster_b": (1, 5), "cluster_c": (6, 7), "cluster_d": (8, 14), "cluster_e": (15, 20)}
NEEDED = {"cluster_b": 1, "cluster_c": 1, "cluster_d": 2, "cluster_e": 2}


def form(patient, day, items):
    """One PCL-5 row scored by hand: total, clusters, and the DSM-5 rule (items rated >= 2)."""
    items = [float(v) for v in items]
    row = {"patient_id": patient, "day": day, "instrument": "PCL-5"}
    row |= {f"item_{i}": v for i, v in enumerate(items, start=1)}
    row["total"] = sum(items) if not any(np.isnan(items)) else np.nan
    for name, (lo, hi) in SPANS.items():
        part = items[lo - 1 : hi]
        row[name] = sum(part) if not any(np.isnan(part)) else np.nan
    if any(np.isnan(items)):
        row["provisional_dx"] = pd.NA
    else:
        row["provisional_dx"] = all(
            sum(v >= 2 for v in items[lo - 1 : hi]) >= NEEDED[name]
            for name, (lo, hi) in SPANS.items()
        )
    return row


def clinic(rows):
    return clinic_from_frames(assessments=pd.DataFrame(rows))


ALL_3 = [3] * 20  # total 60, diagnosis met
ALL_1 = [1] * 20  # total 20, no diagnosis


def test_cluster_change_by_hand():
    # a: every item 3 -> 1 (B 15 -> 5, C 6 -> 2, D 21 -> 7, E 18 -> 6)
    # b: every item 3 -> 2 (B 15 -> 10, ...)
    data = clinic(
        [form("a", 0, ALL_3), form("a", 28, ALL_1), form("b", 0, ALL_3), form("b", 27, [2] * 20)]
    )
    table = cluster_change(data, PCL)
    assert list(table.columns) == CHANGE_COLUMNS
    b = table[(table["timepoint"] == "week 4") & (table["measure"] == "cluster_b")].iloc[0]
    assert (b["n"], b["mean_baseline"], b["mean_timepoint"], b["mean_change"]) == (
        2,
        15.0,
        7.5,
        -7.5,
    )
    # changes -10 and -5 from two patients: no interval (t with 1 df is 12.7; fewer than 3,
    # analytics.core.stats.MIN_N_FOR_INTERVAL)
    assert np.isnan(b["ci_low"]) and np.isnan(b["ci_high"])
    assert list(table["measure"]) == ["cluster_b", "cluster_c", "cluster_d", "cluster_e"]


def test_missing_item_leaves_only_its_cluster_out():
    items = ALL_1.copy()
    items[5] = np.nan  # item 6 (cluster C) blank: no total, no C
    data = clinic(
        [
            form("a", 0, ALL_3),
            form("a", 28, ALL_1),
            form("b", 0, ALL_3),
            form("b", 26, items),
            form("b", 30, ALL_1),
        ]
    )
    table = cluster_change(data, PCL)
    week4 = table[table["timepoint"] == "week 4"].set_index("measure")["n"]
    # b's day-26 form has no total, so its day-30 form is the week-4 form: both count.
    assert week4.to_dict() == {"cluster_b": 2, "cluster_c": 2, "cluster_d": 2, "cluster_e": 2}


def test_provisional_dx_rates():
    # a and b meet the rule at baseline, c does not; at week 4 only b still does.
    data = clinic(
        [
            form("a", 0, ALL_3),
            form("a", 28, ALL_1),
            form("b", 0, ALL_3),
            form("b", 28, ALL_3),
            form("c", 0, ALL_1),
        ]
    )
    dx = provisional_dx_rates(data, PCL)
    assert (dx["baseline"].k, dx["baseline"].n) == (2, 3)
    (week4,) = dx["timepoints"]
    assert week4["label"] == "week 4"
    assert (week4["baseline"].k, week4["baseline"].n) == (2, 2)
    assert (week4["timepoint"].k, week4["timepoint"].n) == (1, 2)


def test_item_change_flags_and_ranking():
    # item 20 (sleep) drops 4 points, item 1 (intrusions) 2, the others 0.
    pre = [2] * 19 + [4]
    post = [0] + [2] * 18 + [0]
    data = clinic([form("a", 0, pre), form("a", 28, post)])
    items = item_change(data, PCL)
    week4 = items[items["timepoint"] == "week 4"]
    assert len(week4) == 20
    flags = week4.set_index("measure")["flag"]
    assert (flags["item_1"], flags["item_20"], flags["item_2"]) == (
        "intrusive memories",
        "sleep",
        "",
    )
    top = items_moved_most(items, "week 4", top=3)
    assert list(top["measure"]) == ["item_20", "item_1", "item_2"]
    assert list(top["mean_change"]) == [-4.0, -2.0, 0.0]
    assert top["ci_low"].isna().all()  # n = 1: no interval


def test_other_instrument_definitions_still_use_pcl5():
    data = clinic([form("a", 0, ALL_3), form("a", 28, ALL_1)])
    phq = OutcomeDefinitions.for_instrument("PHQ-9")
    assert len(cluster_change(data, phq)) == 4


@pytest.mark.parametrize("rows", [[], [form("a", 0, ALL_3)]])
def test_no_pairs(rows):
    data = clinic(rows) if rows else clinic_from_frames()
    assert cluster_change(data, PCL).empty
    out = pcl5_depth_summary(data, PCL)
    assert out["clusters"] == [] and out["items_moved_most"] == {}
    json.dumps(out, allow_nan=False)


def test_summary_is_json():
    data = clinic([form("a", 0, ALL_3), form("a", 28, ALL_1), form("b", 0, ALL_3)])
    out = pcl5_depth_summary(data, PCL)
    text = json.dumps(out, allow_nan=False)
    assert out["provisional_dx"]["baseline"]["n"] == 2
    assert out["items_moved_most"]["week 4"][0] == "item_1"
    assert '"ci_low": null' in text
