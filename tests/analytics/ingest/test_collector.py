"""The import's problems counted per rule: counts that add up to every affected row."""

import numpy as np
import pandas as pd
import pytest

from analytics.core.problems import ERROR, WARNING, Problem
from analytics.ingest.collector import ProblemCollector


def test_counts_add_up_to_every_row_beyond_the_listed_ones():
    out = ProblemCollector(limit=20)
    out.rows("visits.csv", pd.Series(range(2, 482)), "Dose", None, "must be a number")
    report = out.report()
    # 480 rows wrong: 20 listed, one more line for the rest, and the count says 480
    assert len(out.finish()) == 21
    assert report.counts.to_dict("records") == [
        {
            "severity": ERROR,
            "file": "visits.csv",
            "column": "Dose",
            "rule": "must be a number",
            "rows": 480,
            "examples": "2, 3, 4, 5, 6",
        }
    ]
    assert report.rows["row"].tolist() == list(range(2, 482))
    assert report.error_rows == 480


@pytest.mark.parametrize(
    ("calls", "error_rows", "error_rules"),
    [
        # (file, rows, rule) per call
        ([("a.csv", [2, 3], "r1"), ("a.csv", [3, 4], "r2")], 3, 2),  # row 3 breaks both rules
        ([("a.csv", [2], "r1"), ("b.csv", [2], "r1")], 2, 2),  # same row number, two files
        ([("a.csv", [5, 5], "r1")], 1, 1),  # a row named twice counts once
    ],
)
def test_error_rows_count_each_row_of_each_file_once(calls, error_rows, error_rules):
    out = ProblemCollector(limit=1)
    for file, rows, rule in calls:
        out.rows(file, pd.Series(rows), "c", None, rule)
    report = out.report()
    assert (report.error_rows, report.error_rules) == (error_rows, error_rules)


def test_whole_file_problems_count_as_rules_without_rows():
    out = ProblemCollector(limit=20)
    out.add(Problem("a.csv", None, None, None, "is empty"))
    out.add(Problem("a.csv", 7, "c", None, "must not be blank", WARNING))
    counts = out.report().counts
    assert counts[["severity", "rule", "rows"]].to_dict("records") == [
        {"severity": ERROR, "rule": "is empty", "rows": 0},
        {"severity": WARNING, "rule": "must not be blank", "rows": 1},
    ]


def test_values_that_look_identifying_are_not_shown():
    def redact(values: pd.Series) -> np.ndarray:
        return values.str.contains("@").fillna(False).to_numpy(dtype=bool)

    out = ProblemCollector(limit=20, redact=redact)
    out.rows("a.csv", pd.Series([2, 3]), "route", pd.Series(["jo@example.org", "IVV"]), "unknown")
    assert [p.value for p in out.finish()] == [None, "IVV"]
