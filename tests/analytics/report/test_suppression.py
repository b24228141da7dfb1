"""Small-cell suppression (CMS cell size suppression policy, 2020) on hand-made cohorts.

The policy: no count from 1 to 10 is published, nor a value it can be worked out from. Each
case below is worked by hand: a cell of 7, its complement (the 243 who did not), a total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.patients import patient_table
from analytics.report.summary import summary_of
from analytics.report.suppression import (
    SUPPRESSED,
    is_small,
    suppress_partition,
    suppress_rate,
    suppress_rate_frame,
    suppress_summary,
    suppression_note,
)
from tests.conftest import SAMPLE


@pytest.mark.parametrize(
    ("count", "small"),
    [
        (0, False),
        (1, True),
        (7, True),
        (10, True),
        (11, False),
        (250, False),
        (None, False),
        (float("nan"), False),
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
        (0, 250, 0, 250),  # zero may be shown
        (250, 250, 250, 250),  # so may "all of them": nobody is left to count
        (90, 157, 90, 157),
    ],
)
def test_suppress_rate(k, n, shown_k, shown_n):
    rate = {"k": k, "n": n, "rate": k / n, "ci_low": 0.1, "ci_high": 0.9, "not_yet_due": 0}
    out = suppress_rate(rate)
    assert (out["k"], out["n"]) == (shown_k, shown_n)
    hidden = shown_k == SUPPRESSED
    assert out["suppressed"] is hidden
    assert (out["rate"] is None) is hidden and (out["ci_low"] is None) is hidden
    assert rate["k"] == k  # the input is left alone


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
        # nothing small: nothing hidden
        ({"iv": 147, "nasal": 103}, 250, {"iv": 147, "nasal": 103}, 250),
        # one small cell and no other non-zero cell: only hiding the total protects it
        ({"iv": 7, "nasal": 0}, 7, {"iv": "<11", "nasal": 0}, "<11"),
        # one small cell and one other: both hidden; the total gives back only their sum
        ({"iv": 7, "nasal": 150}, 157, {"iv": "<11", "nasal": "<11"}, 157),
        # zeros are never hidden, and never serve as the complement
        ({"a": 0, "b": 9, "c": 12}, 21, {"a": 0, "b": "<11", "c": "<11"}, 21),
    ],
)
def test_suppress_partition(cells, total, shown, shown_total):
    assert suppress_partition(cells, total) == (shown, shown_total)


def test_no_hidden_cell_can_be_worked_out_from_the_total():
    cells = {"iv": 7, "nasal": 120, "im": 30, "oral": 12}
    shown, total = suppress_partition(cells, sum(cells.values()))
    hidden = [name for name, value in shown.items() if value == SUPPRESSED]
    assert len(hidden) >= 2
    # what a reader can recover is the sum of the hidden cells: never itself a small cell
    recovered = total - sum(v for v in shown.values() if v != SUPPRESSED)
    assert recovered > 10


def test_suppress_rate_frame():
    frame = pd.DataFrame(
        {
            "effect": ["nausea", "vertigo", "rare"],
            "k": [68, 7, 0],
            "n": [250, 250, 250],
            "rate": [0.272, 0.028, 0.0],
            "ci_low": [0.22, 0.01, 0.0],
            "ci_high": [0.33, 0.06, 0.02],
        }
    )
    out = suppress_rate_frame(frame)
    assert out["k"].tolist() == [68, SUPPRESSED, 0]
    assert out["rate"].isna().tolist() == [False, True, False]
    assert out["ci_high"].isna().tolist() == [False, True, False]
    assert frame["k"].tolist() == [68, 7, 0]


@pytest.fixture(scope="module")
def sample():
    data = import_folder(SAMPLE).data
    definitions = OutcomeDefinitions()
    return definitions, patient_table(data, definitions)


def leaves(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


# Settings and windows are not counts of anyone.
NOT_COUNTS = ("target_day", "definitions", "settings", "late_session", "thresholds", "older_age")


def small_counts(summary) -> list:
    return [
        (path, value)
        for path, value in leaves(summary)
        if isinstance(value, int)
        and not isinstance(value, bool)
        and 1 <= value <= 10
        and not any(word in path for word in NOT_COUNTS)
    ]


def test_suppressed_sample_summary_has_no_small_count(sample):
    definitions, table = sample
    summary = summary_of(table, table.keep(), definitions, by="route")
    assert small_counts(summary)  # there are some to hide: 2 serious events, 4 systolic rises
    out = suppress_summary(summary)
    assert small_counts(out) == []
    assert out["suppression"]["applied"] is True
    assert out["suppression"]["cells_suppressed"] > 0
    assert out["serious_events"] == {"count": SUPPRESSED}
    assert "patient_id" not in repr(out)
    # the input is untouched, and what was not small is the same
    assert isinstance(summary["serious_events"], list)
    assert out["counts"] == summary["counts"]
    assert out["blood_pressure"]["systolic_rise"]["patients"]["k"] == SUPPRESSED  # 4 of 250


def test_small_cohort_summary(sample):
    definitions, table = sample
    keep = np.zeros(len(table.patients), dtype=bool)
    keep[:8] = True
    out = suppress_summary(summary_of(table, keep, definitions))
    assert out["counts"]["patients"] == SUPPRESSED
    assert out["baseline"]["mean"] is None  # a mean of fewer than 11 patients is withheld
    assert small_counts(out) == []


def test_suppression_note():
    assert suppression_note(False)["applied"] is False
    assert "CMS" in suppression_note(True)["rule"]
