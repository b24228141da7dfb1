"""The PHI value sample taken and counted in Arrow finds what the pandas sample finds.

The reader's Arrow-backed text is sampled with Arrow ``take`` (no mask when nothing is blank)
and counted with ``value_counts``; other columns go through pandas as before. Compared on random
text (blanks, e-mail addresses, phone and social security numbers, street addresses, non-ASCII
and newlines, several chunks, columns longer than the sample) and on the sample clinic's files.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import identifiers as phi
from analytics.ingest.reader import read_table
from tests.conftest import SAMPLE

_CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "a@b.org",
            "555-123-4567",
            "123-45-6789",
            "12 Main Street",
            "12\\x0bMain St",
            "١٢٣-٤٥-٦٧٨٩",
            "x\\n",
            "North",
            "41",
            "",
        ]
    ),
)


def _arrow(values: list, split: int) -> pd.Series:
    split = min(split, len(values))
    chunks = [
        pa.array(values[:split], pa.large_string()),
        pa.array(values[split:], pa.large_string()),
    ]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))


def _same_reasons(header: str, cells: pd.Series) -> None:
    assert phi.arrow_sample(cells) is not None
    reference = cells.astype(object)  # the pandas sample and counts
    assert phi.arrow_sample(reference) is None
    assert phi.value_reasons(header, cells) == phi.value_reasons(header, reference)
    taken = phi.arrow_sample(cells).to_pylist()
    assert taken == phi.sampled_cells(reference).tolist()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(_CELL, max_size=40), split=st.integers(0, 40), repeat=st.integers(1, 60))
def test_arrow_sample_finds_what_pandas_finds(cells, split, repeat):
    values = [v.encode().decode("unicode_escape") if v else v for v in cells] * repeat
    _same_reasons("notes", _arrow(values, split * repeat))


@pytest.mark.parametrize("blank", [False, True])
def test_long_columns_sample_the_same_cells(blank):
    values = [f"{i:04d}-555-0100" if i % 7 else f"{i} Oak Ave" for i in range(5000)]
    if blank:
        values = [None if i % 3 == 0 else v for i, v in enumerate(values)]
    _same_reasons("contact", _arrow(values, 1234))


@pytest.mark.parametrize("file", ["patients.csv", "sessions.csv", "side_effects.csv"])
def test_sample_clinic_columns(file):
    frame = read_table(file, (SAMPLE / file).read_bytes()).frame
    for column in frame.columns:
        if column != "_row":
            _same_reasons(column, frame[column])


def test_many_chunks_empty_ones_included():
    values = [f"{i} Elm Road" if i % 5 else None for i in range(3000)]
    chunks = [pa.array(values[a:b], pa.large_string()) for a, b in [(0, 0), (0, 700), (700, 700)]]
    chunks += [
        pa.array(values[700:2999], pa.large_string()),
        pa.array(values[2999:], pa.large_string()),
    ]
    cells = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))
    _same_reasons("where", cells)
    _same_reasons("where", cells.fillna("x"))


def test_empty_and_blank_columns_have_no_reasons():
    assert phi.value_reasons("x", _arrow([], 0)) == []
    assert phi.value_reasons("x", _arrow([None, None], 1)) == []
    assert np.array_equal(phi.sample_positions(3), np.arange(3))
