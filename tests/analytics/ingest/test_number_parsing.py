"""Number columns parsed in one Arrow cast give what parsing each distinct value gives.

The cast is taken only when every filled cell is a finite number written without padding; any
other column goes the per-distinct-value way. Compared on random text (blank, padded, text,
infinity, several Arrow chunks) and on the sample clinic's number columns.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import cells
from analytics.ingest.collector import ProblemCollector
from analytics.ingest.reader import read_table
from tests.conftest import SAMPLE

_CELLS = st.lists(
    st.one_of(
        st.none(),
        st.sampled_from(["1", "2.5", "-0", "+3", "1e3", ".5", "5.", "0", "12"]),
        st.sampled_from(["", " 3", "3 ", "abc", "inf", "-inf", "nan", "NaN", "1,5", "1e400"]),
    ),
    max_size=30,
)


def _chunked(values: list, split: int) -> pd.Series:
    split = min(split, len(values))
    chunks = [
        pa.array(values[:split], pa.large_string()),
        pa.array(values[split:], pa.large_string()),
    ]
    series = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)), name="dose")
    return series.set_axis(pd.RangeIndex(5, 5 + len(values)))


def _same_as_per_distinct(raw: pd.Series) -> None:
    rows = pd.Series(np.arange(len(raw)) + 2, index=raw.index)
    out = ProblemCollector(limit=3)
    number = cells.to_number(raw, rows, "a.csv", "Dose", out)
    expected, bad = cells.per_distinct(cells.number_values, raw)
    # The name is not compared: the per-value way names the result only when it spreads
    # distinct values, and every caller stores the values under a column name of its own.
    pd.testing.assert_series_equal(number, expected, check_exact=True, check_names=False)
    reference = ProblemCollector(limit=3)
    reference.rows("a.csv", rows[bad], "Dose", raw[bad], "must be a number")
    assert out.finish() == reference.finish()
    number[:] = 1.0  # the column is writable, as the per-value result was


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_CELLS, split=st.integers(0, 30))
def test_one_cast_equals_parsing_each_distinct_value(values, split):
    _same_as_per_distinct(_chunked(values, split))


@pytest.mark.parametrize(
    "values",
    [
        ["1", "2", None],
        [None, None],
        ["1", "inf"],
        ["nan", "1"],
        ["1", ""],
        ["1", " 2"],
        ["1.5", "-2e-3", "+7"],
    ],
)
def test_one_cast_edge_cases(values):
    _same_as_per_distinct(_chunked(values, 1))
    _same_as_per_distinct(_chunked(values, len(values)))


def test_the_cast_is_taken_only_for_clean_numbers():
    assert cells.whole_column_numbers(_chunked(["1", None, "2.5"], 1)) is not None
    for texts in (["1", ""], ["1", " 2"], ["inf"], ["nan"], ["x"]):
        assert cells.whole_column_numbers(_chunked(texts, 1)) is None
    assert cells.whole_column_numbers(pd.Series(["1"], dtype=object)) is None
    assert cells.whole_column_numbers(pd.Series([], dtype="string[pyarrow]")) is None


@pytest.mark.parametrize(
    ("file", "columns"),
    [
        ("sessions.csv", ["dose_mg", "dose_mg_per_kg", "bp_systolic_pre", "dissociation_cadss"]),
        ("assessments.csv", ["total", "item_1", "item_9", "item_20"]),
    ],
)
def test_sample_number_columns(file, columns):
    frame = read_table(file, (SAMPLE / file).read_bytes()).frame
    for column in columns:
        _same_as_per_distinct(frame[column])
