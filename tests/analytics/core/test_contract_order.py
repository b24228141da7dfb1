"""The canonical tables' order: by patient (then day), as pandas sorts them, from codes."""

import numpy as np
import pandas as pd
import pytest

from analytics.core.contract import first_of_patient, sorted_by_patient, sorted_by_patient_day


def _frame(ids, days):
    return pd.DataFrame(
        {
            "patient_id": pd.array(ids, dtype="string"),
            "day": np.asarray(days, dtype=np.int64),
            "n": np.arange(len(ids), dtype=np.int64),
        },
        index=np.arange(len(ids))[::-1] + 7,
    )


CASES = [
    ([], []),
    (["a"], [3]),
    (["a", "a", "b", "b"], [0, 5, 1, 2]),
    (["b", "a", "b", "a", "c"], [3, 2, 1, 0, 9]),
    # ties on (patient, day) keep their order
    (["b", "a", "b", "a", "a", "b"], [1, 1, 1, 1, 0, 1]),
    # missing ids go last, sorted by day among them
    (["b", None, "a", None, "a"], [1, 5, 2, 0, 2]),
    (["P10", "P2", "P1", "é", "Z", "z"], [0, 0, 0, 0, 0, 0]),
]


@pytest.mark.parametrize("ids, days", CASES)
def test_by_patient_day_equals_sort_values(ids, days):
    frame = _frame(ids, days)
    expected = frame.sort_values(["patient_id", "day"]).reset_index(drop=True)
    got = sorted_by_patient_day(frame)
    pd.testing.assert_frame_equal(got, expected)
    already = sorted_by_patient_day(expected)
    pd.testing.assert_frame_equal(already, expected)


@pytest.mark.parametrize(
    "ids", [[], ["b", "a", "c"], ["a", "b"], ["b", "a", "b"], ["b", None, "a"]]
)
def test_by_patient_equals_sort_values(ids):
    frame = _frame(ids, [0] * len(ids))
    expected = frame.sort_values("patient_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(sorted_by_patient(frame), expected)


@pytest.mark.parametrize("ids, days", CASES)
def test_first_of_patient_equals_drop_duplicates(ids, days):
    frame = _frame(ids, days).sort_values(["patient_id", "day"]).reset_index(drop=True)
    expected = frame.drop_duplicates("patient_id")
    pd.testing.assert_frame_equal(frame[first_of_patient(frame["patient_id"])], expected)
