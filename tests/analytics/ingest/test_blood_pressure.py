"""Blood pressure written in one cell, "120/80", split into systolic and diastolic."""

import numpy as np
import pandas as pd
import pytest

from analytics.ingest.blood_pressure import holds_combined_bp, split_blood_pressure

NAN = np.nan


@pytest.mark.parametrize(
    ("cell", "systolic", "diastolic", "bad"),
    [
        ("120/80", 120.0, 80.0, False),
        ("120 / 80 mmHg", 120.0, 80.0, False),
        (" 142/85 ", 142.0, 85.0, False),
        ("142/85mmHg", 142.0, 85.0, False),
        ("142/85 mm Hg", 142.0, 85.0, False),
        ("142/85 MMHG", 142.0, 85.0, False),
        ("120.5/80", 120.5, 80.0, False),
        # bad: neither blank nor systolic/diastolic
        ("120/", NAN, NAN, True),
        ("/80", NAN, NAN, True),
        ("abc", NAN, NAN, True),
        ("120", NAN, NAN, True),
        ("120/80/60", NAN, NAN, True),
        ("120-80", NAN, NAN, True),
        # blank
        ("", NAN, NAN, False),
        ("   ", NAN, NAN, False),
        (None, NAN, NAN, False),
    ],
)
@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]"])
def test_split_blood_pressure(cell, systolic, diastolic, bad, dtype):
    s, d, b = split_blood_pressure(pd.Series([cell], dtype=dtype))
    assert s.dtype == d.dtype == np.float64 and b.dtype == bool
    np.testing.assert_equal([s.iloc[0], d.iloc[0], b.iloc[0]], [systolic, diastolic, bad])


def test_split_keeps_the_index_and_name_and_repeats_distinct_values():
    raw = pd.Series(["120/80", "x", "120/80", None] * 1000, name="BP", index=range(5, 4005))
    s, d, b = split_blood_pressure(raw)
    for result in (s, d, b):
        assert result.index.equals(raw.index) and result.name == "BP"
    assert s.sum() == 120.0 * 2000 and d.sum() == 80.0 * 2000
    assert b.sum() == 1000


def test_split_needs_a_series():
    with pytest.raises(TypeError, match=r"^raw must be a pandas Series, got list$"):
        split_blood_pressure(["120/80"])


@pytest.mark.parametrize(
    ("cells", "combined"),
    [
        (["142/85", "140"], True),
        (["", None, "120 / 80 mmHg"], True),
        (["142", "150"], False),
        (["", None], False),
        ([], False),
    ],
)
def test_holds_combined_bp(cells, combined):
    assert holds_combined_bp(pd.Series(cells, dtype="string")) is combined
