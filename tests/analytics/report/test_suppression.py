"""Small-cell suppression (CMS cell size suppression policy, 2020) on hand-made cohorts.

The policy: no count from 1 to 10 is published, nor a value it can be worked out from. Each
case below is worked by hand: a cell of 7, its complement (the 243 who did not), a total.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.summary import build_summary
from analytics.report.suppression import (
    SMALL_CELL_MAX,
    SUPPRESSED,
    SUPPRESSION_RULE,
    is_small,
    suppress_partition,
    suppress_rate,
    suppress_rate_frame,
    suppress_summary,
    suppression_note,
)

# Where a summary holds a count of patients or sessions.
COUNT_KEYS = {
    "k",
    "n",
    "patients",
    "sessions",
    "assessments",
    "instrument_assessments",
    "n_patients",
    "n_sessions",
    "events",
    "new_starts",
    "not_yet_due",
    "paired_n",
    "improved",
    "unchanged",
    "deteriorated",
    "count",
}
# The Spravato label's trial numbers: another population, not the clinic's patients.
NOT_THE_CLINIC = ("label_reference", "safety_settings", "thresholds")


def test_constants():
    assert (SUPPRESSED, SMALL_CELL_MAX) == ("<11", 10)
    assert "CMS Cell Size Suppression Policy" in SUPPRESSION_RULE
    assert "Centers for Medicare & Medicaid Services" in SUPPRESSION_RULE


@pytest.mark.parametrize(
    ("count", "small"),
    [
        (0, False),
        (1, True),
        (7, True),
        (7.0, True),
        (10, True),
        (11, False),
        (250, False),
        (-3, False),
        (0.29, False),
        (None, False),
        (float("nan"), False),
        (pd.NA, False),
        ("<11", False),
        (True, False),
    ],
)
def test_is_small(count, small):
    assert is_small(count) is small


@pytest.mark.parametrize(
    ("k", "n", "shown_k", "shown_n"),
    [
        (7, 250, SUPPRESSED, 250),  # a cell of 7
        (243, 250, SUPPRESSED, 250),  # its complement: 250 - 243 = 7 would give it back
        (245, 250, SUPPRESSED, 250),  # 5 did not respond
        (3, 8, SUPPRESSED, SUPPRESSED),  # a total of 8: both hidden
        (0, 8, SUPPRESSED, SUPPRESSED),  # 8 without the event
        (0, 250, 0, 250),  # zero may be shown
        (250, 250, 250, 250),  # so may "all of them": nobody is left to count
        (90, 157, 90, 157),
        (11, 22, 11, 22),
    ],
)
def test_suppress_rate(k, n, shown_k, shown_n):
    rate = {"k": k, "n": n, "rate": k / n, "ci_low": 0.1, "ci_high": 0.9, "not_yet_due": 0}
    before = dict(rate)
    out = suppress_rate(rate)
    assert (out["k"], out["n"]) == (shown_k, shown_n)
    hidden = shown_k == SUPPRESSED
    assert out["suppressed"] is hidden
    for key in ("rate", "ci_low", "ci_high"):
        assert (out[key] is None) is hidden
    assert out["not_yet_due"] == 0  # extra keys pass through
    assert rate == before and out is not rate  # a new dict; the input is left alone


def test_suppress_rate_of_none():
    assert suppress_rate(None) is None


@pytest.mark.parametrize(
    ("cells", "total", "shown", "shown_total"),
    [
        # 7 alone would be 157 - 120 - 30: the next smallest (im, 30) goes with it
        ({"iv": 7, "nasal": 120, "im": 30}, 157, {"iv": "<11", "nasal": 120, "im": "<11"}, 157),
        # two small cells adding to 8 are still a small cell: a third is hidden
        (
            {"a": 3, "b": 5, "c": 40, "d": 90},
            138,
            {"a": "<11", "b": "<11", "c": "<11", "d": 90},
            138,
        ),
        # two small cells adding to 12: neither, nor their sum, is given back
        ({"a": 3, "b": 9, "c": 100}, 112, {"a": "<11", "b": "<11", "c": 100}, 112),
        # nothing small: nothing hidden
        ({"iv": 147, "nasal": 103}, 250, {"iv": 147, "nasal": 103}, 250),
        # one small cell and no other non-zero cell: only hiding the total protects it
        ({"iv": 7, "nasal": 0}, 7, {"iv": "<11", "nasal": 0}, "<11"),
        ({"iv": 7, "nasal": 0}, None, {"iv": "<11", "nasal": 0}, None),
        # one small cell and one other: both hidden; the total gives back only their sum
        ({"iv": 7, "nasal": 150}, 157, {"iv": "<11", "nasal": "<11"}, 157),
        # zeros are never hidden, and never serve as the complement
        ({"a": 0, "b": 9, "c": 12}, 21, {"a": 0, "b": "<11", "c": "<11"}, 21),
        ({"a": 0, "b": 0}, 0, {"a": 0, "b": 0}, 0),
        # ties go by name: b before c
        ({"a": 4, "c": 20, "b": 20}, 44, {"a": "<11", "c": 20, "b": "<11"}, 44),
        # the total 5 patients not listed in any cell is a small cell itself
        ({"iv": 100, "nasal": 50}, 155, {"iv": 100, "nasal": "<11"}, 155),
        # a small cell beside 20 unlisted patients: the reader only gets 27
        ({"iv": 7, "nasal": 100}, 127, {"iv": "<11", "nasal": 100}, 127),
    ],
)
def test_suppress_partition(cells, total, shown, shown_total):
    before = dict(cells)
    assert suppress_partition(cells, total) == (shown, shown_total)
    assert cells == before


def test_a_small_total_hides_every_non_zero_cell():
    assert suppress_partition({"improved": 3, "unchanged": 5, "deteriorated": 0}, 8) == (
        {"improved": SUPPRESSED, "unchanged": SUPPRESSED, "deteriorated": 0},
        SUPPRESSED,
    )


def test_no_hidden_cell_can_be_worked_out_from_the_total():
    cells = {"iv": 7, "nasal": 120, "im": 30, "oral": 12}
    shown, total = suppress_partition(cells, sum(cells.values()))
    hidden = [name for name, value in shown.items() if value == SUPPRESSED]
    assert len(hidden) >= 2
    # what a reader can recover is the sum of the hidden cells: never itself a small cell
    recovered = total - sum(v for v in shown.values() if v != SUPPRESSED)
    assert recovered > SMALL_CELL_MAX


@pytest.mark.parametrize(
    ("cells", "total", "match"),
    [
        ({"iv": -1, "nasal": 20}, None, "cell 'iv' is not a count"),
        ({"iv": 2.5}, None, "cell 'iv' is not a count"),
        ({"iv": "<11"}, None, "cell 'iv' is not a count"),
        ({"iv": 20}, "many", "the total is not a count"),
        ({"iv": 20, "nasal": 30}, 40, "add up to 50, more than the total 40"),
    ],
)
def test_suppress_partition_rejects_what_is_not_a_partition(cells, total, match):
    with pytest.raises(ValueError, match=match):
        suppress_partition(cells, total)


def test_suppress_rate_frame():
    frame = pd.DataFrame(
        {
            "effect": ["nausea", "vertigo", "rare", "nearly all", "tiny"],
            "k": [68, 7, 0, 245, 2],
            "n": [250, 250, 250, 250, 6],
            "rate": [0.272, 0.028, 0.0, 0.98, 0.33],
            "ci_low": [0.22, 0.01, 0.0, 0.95, 0.1],
            "ci_high": [0.33, 0.06, 0.02, 0.99, 0.7],
        }
    )
    before = frame.copy()
    out = suppress_rate_frame(frame)
    assert out["k"].tolist() == [68, SUPPRESSED, 0, SUPPRESSED, SUPPRESSED]
    assert out["n"].tolist() == [250, 250, 250, 250, SUPPRESSED]
    assert out["k"].dtype == object
    for column in ("rate", "ci_low", "ci_high"):
        assert out[column].isna().tolist() == [False, True, False, True, True]
    pd.testing.assert_frame_equal(frame, before)


def test_suppress_rate_frame_with_other_columns():
    frame = pd.DataFrame({"events": [3, 40], "patients": [90, 90], "share": [0.03, 0.44]})
    out = suppress_rate_frame(frame, k="events", n="patients", values=("share", "absent"))
    assert out["events"].tolist() == [SUPPRESSED, 40]
    assert out["share"].isna().tolist() == [True, False]


def test_suppression_note():
    assert suppression_note(False) == {
        "applied": False,
        "rule": SUPPRESSION_RULE,
        "cells_suppressed": 0,
    }
    assert suppression_note(True)["applied"] is True


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, path)
    else:
        yield path, value


def small_counts(summary) -> list:
    """Every count from 1 to 10 left where a summary keeps its counts."""
    return [
        (".".join(path), value)
        for path, value in leaves(summary)
        if path
        and path[-1] in COUNT_KEYS
        and is_small(value)
        and not any(part in NOT_THE_CLINIC for part in path)
    ]


@pytest.fixture(scope="module")
def sample_data(sample_dir):
    return import_folder(sample_dir).data


@pytest.fixture(scope="module")
def sample_summary(sample_data):
    return build_summary(sample_data, OutcomeDefinitions())


@pytest.fixture(scope="module")
def suppressed_sample(sample_summary):
    before = copy.deepcopy(sample_summary)
    out = suppress_summary(sample_summary)
    assert sample_summary == before  # the input is untouched
    return out


def test_sample_summary_has_small_counts_to_hide(sample_summary):
    # 2 serious events, 4 patients with a systolic rise: the sample does need suppression
    assert small_counts(sample_summary)
    assert len(sample_summary["serious_events"]) == 2


def test_suppressed_sample_summary_has_no_small_count(suppressed_sample):
    assert small_counts(suppressed_sample) == []
    assert suppressed_sample["suppression"]["applied"] is True
    assert suppressed_sample["suppression"]["rule"] == SUPPRESSION_RULE
    assert suppressed_sample["suppression"]["cells_suppressed"] > 0
    assert suppressed_sample["serious_events"] == {"count": SUPPRESSED}
    json.dumps(suppressed_sample, allow_nan=False)


def test_suppressed_sample_summary_drops_every_patient_id(suppressed_sample, sample_data):
    text = json.dumps(suppressed_sample)
    assert "patient_id" not in text
    assert not [pid for pid in sample_data.patients["patient_id"] if f'"{pid}"' in text]


def test_suppressed_sample_summary_keeps_what_is_not_small(sample_summary, suppressed_sample):
    assert suppressed_sample["counts"] == sample_summary["counts"]
    assert suppressed_sample["baseline"] == sample_summary["baseline"]
    assert suppressed_sample["activity"] == sample_summary["activity"]
    week_1 = suppressed_sample["timepoints"][1]
    assert week_1["response"]["k"] == sample_summary["timepoints"][1]["response"]["k"]
    assert week_1["response"]["suppressed"] is False
    systolic = suppressed_sample["blood_pressure"]["systolic_rise"]["patients"]  # 4 of 250
    assert (systolic["k"], systolic["n"], systolic["rate"]) == (SUPPRESSED, 250, None)


def test_reliable_change_is_suppressed_as_a_partition(sample_summary, suppressed_sample):
    # week 1: 108 improved, 58 unchanged, 1 deteriorated of 167
    assert sample_summary["timepoints"][1]["reliable_change"]["deteriorated"] == 1
    shown = suppressed_sample["timepoints"][1]["reliable_change"]
    assert (shown["n"], shown["improved"]) == (167, 108)
    assert shown["unchanged"] == shown["deteriorated"] == SUPPRESSED


def test_suppress_summary_twice_changes_nothing(suppressed_sample):
    assert suppress_summary(suppressed_sample) == suppressed_sample


@pytest.fixture(scope="module")
def small_cohort(sample_data):
    ids = list(sample_data.patients["patient_id"][:8])
    summary = build_summary(sample_data.with_patients(ids), OutcomeDefinitions(), by="route")
    return summary, suppress_summary(summary)


def test_small_cohort_summary(small_cohort):
    summary, out = small_cohort
    assert summary["counts"]["patients"] == 8
    assert out["counts"]["patients"] == SUPPRESSED
    assert out["baseline"]["n"] == SUPPRESSED
    assert out["baseline"]["mean"] is None  # a mean of fewer than 11 patients is withheld
    assert all(row["new_starts"] in (0, SUPPRESSED) for row in out["activity"])
    assert small_counts(out) == []
    assert "8 of 8" not in out["definitions"]["data_cutoff"]


def test_small_cohort_statistics_are_withheld(small_cohort):
    _, out = small_cohort
    for timepoint in out["timepoints"]:
        if timepoint["n"] == SUPPRESSED:
            assert timepoint["mean"] is timepoint["d_z"] is timepoint["change_ci_low"] is None
    for group in out["groups"].values():
        assert group["n_patients"] == SUPPRESSED
    for block in out["durability"].values():
        if isinstance(block, dict) and "events" in block and block["n"] == SUPPRESSED:
            assert block["median_days"] is None


def test_a_group_hidden_as_a_complement_is_not_given_back(sample_data):
    # every nasal patient and 7 IV: IV is small, so nasal is hidden too, or 110 - nasal = 7
    route = sample_data.sessions.sort_values("day").groupby("patient_id")["route"].first()
    nasal = list(route.index[route == "esketamine_nasal"])
    iv = list(route.index[route == "iv_ketamine"][:7])
    summary = build_summary(sample_data.with_patients(nasal + iv), OutcomeDefinitions(), by="route")
    sizes = {name: group["n_patients"] for name, group in summary["groups"].items()}
    assert sizes == {"esketamine_nasal": len(nasal), "iv_ketamine": 7}
    out = suppress_summary(summary)
    assert out["counts"]["patients"] == len(nasal) + 7
    assert {name: g["n_patients"] for name, g in out["groups"].items()} == dict.fromkeys(
        sizes, SUPPRESSED
    )
    # nor does the nasal group's own rate of patients give its size back
    nasal_out = json.dumps(out["groups"]["esketamine_nasal"])
    assert f'"n": {len(nasal)},' not in nasal_out
    effect = out["groups"]["esketamine_nasal"]["side_effects"][0]["patients"]
    assert (effect["n"], effect["rate"]) == (SUPPRESSED, None)
    assert small_counts(out) == []


@pytest.mark.parametrize(
    ("block", "shown"),
    [
        # 144 patients, 140 events: the 4 censored are given back by n - events
        (
            {"n": 144, "events": 140, "median_days": 81.0, "median_reached": True},
            {"n": 144, "events": SUPPRESSED, "median_days": None, "median_reached": True},
        ),
        (
            {"n": 144, "events": 67, "median_days": 81.0, "median_reached": True},
            {"n": 144, "events": 67, "median_days": 81.0, "median_reached": True},
        ),
        (
            {"n": 9, "events": 0, "median_days": None, "median_reached": False},
            {"n": SUPPRESSED, "events": SUPPRESSED, "median_days": None, "median_reached": False},
        ),
    ],
)
def test_survival_blocks_are_suppressed_like_rates(block, shown):
    assert suppress_summary({"durability": {"loss_of_response": block}})["durability"] == {
        "loss_of_response": shown
    }


def test_paired_statistics_of_few_patients_are_withheld():
    trend = {"n_sessions": 400, "n_patients": 120, "spearman_rho": -0.3, "paired_n": 6}
    trend.update(first_mean=14.0, late_mean=6.0, mean_change=-8.0, paired_p=0.01)
    out = suppress_summary({"dissociation": {"trend": trend}})["dissociation"]["trend"]
    assert out["paired_n"] == SUPPRESSED
    assert out["spearman_rho"] == -0.3
    assert out["first_mean"] is out["late_mean"] is out["mean_change"] is out["paired_p"] is None


def test_sessions_per_period_are_a_partition_of_the_sessions():
    summary = {
        "counts": {"patients": 60, "sessions": 406},
        "exposure": {"patients": 60, "sessions": 406},
        "activity": [
            {"year": 2024, "month": None, "new_starts": 50, "sessions": 400},
            {"year": 2025, "month": None, "new_starts": 10, "sessions": 6},
        ],
    }
    out = suppress_summary(summary)
    # 2025's 10 new starts and 6 sessions are small; 2024's go with them, the totals stay
    assert out["activity"] == [
        {"year": 2024, "month": None, "new_starts": SUPPRESSED, "sessions": SUPPRESSED},
        {"year": 2025, "month": None, "new_starts": SUPPRESSED, "sessions": SUPPRESSED},
    ]
    assert out["counts"] == out["exposure"] == {"patients": 60, "sessions": 406}
    assert out["suppression"]["cells_suppressed"] == 4


def test_unknown_keys_pass_through():
    summary = {"instrument": "PHQ-9", "notes": {"anything": 3, "label": "x"}}
    out = suppress_summary(summary)
    assert (out["instrument"], out["notes"]) == ("PHQ-9", {"anything": 3, "label": "x"})
    assert out["suppression"]["cells_suppressed"] == 0
