"""Repeated keys found between neighbours when the key is in order give ``duplicated``'s answer.

Compared with ``DataFrame.duplicated`` (keep "first" and "last") on random integer keys, sorted
and not, numpy and Arrow integers, and through the whole duplicate check (problems included) on
sorted sessions with repeats and on the sample clinic's sessions.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import assemble
from analytics.ingest.assemble import dedupe, key_codes, repeats_in_order
from analytics.ingest.collector import ProblemCollector
from analytics.ingest.reader import read_table
from tests.conftest import SAMPLE

_KEYS = st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 3)), max_size=25)


def _codes(keys, *, arrow: bool, sort: bool) -> pd.DataFrame:
    keys = sorted(keys) if sort else keys
    a = np.array([k[0] for k in keys], dtype="int64")
    b = np.array([k[1] for k in keys], dtype="int64")
    second = pd.array(b, dtype="int64[pyarrow]") if arrow else b
    return pd.DataFrame({"a": a, "b": second}, index=pd.RangeIndex(3, 3 + len(keys)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=_KEYS, arrow=st.booleans(), sort=st.booleans())
def test_repeats_in_order_equal_duplicated(keys, arrow, sort):
    codes = _codes(keys, arrow=arrow, sort=sort)
    found = repeats_in_order(codes)
    if sort and len(keys) >= 2:
        assert found is not None
    if found is None:
        return
    for keep in ("first", "last"):
        assert (found[keep] == codes.duplicated(keep=keep).to_numpy()).all()


def test_repeats_in_order_refuse_other_columns():
    frame = pd.DataFrame({"a": [1, 1, 2]})
    assert repeats_in_order(frame) is not None
    assert repeats_in_order(frame.astype("float64")) is None
    assert repeats_in_order(frame.astype("Int64")) is None
    assert repeats_in_order(pd.DataFrame({"a": pd.array([1, None, 2], "int64[pyarrow]")})) is None
    assert repeats_in_order(pd.DataFrame({"a": [2, 1, 1]})) is None
    assert repeats_in_order(pd.DataFrame({"a": [1]})) is None
    big = np.iinfo(np.int64)
    frame = pd.DataFrame({"a": np.array([big.min, big.max, big.max], dtype="int64")})
    assert repeats_in_order(frame)["first"].tolist() == [False, False, True]
    unsigned = pd.DataFrame({"a": np.array([3, 2], dtype="uint64")})
    assert repeats_in_order(unsigned) is None


def _same_dedupe(frame: pd.DataFrame, key: list[str], monkeypatch) -> None:
    out = ProblemCollector(3)
    kept = dedupe(frame.copy(), key, "the same patient and day", out, {})
    with monkeypatch.context() as m:
        m.setattr(assemble, "repeats_in_order", lambda codes: None)
        reference = ProblemCollector(3)
        expected = dedupe(frame.copy(), key, "the same patient and day", reference, {})
    pd.testing.assert_frame_equal(kept, expected)
    assert out.finish() == reference.finish()


@pytest.mark.parametrize(
    "rows",
    [
        [("P1", 0, 1.0), ("P1", 1, 2.0), ("P2", 0, 1.0)],
        [("P1", 0, 1.0), ("P1", 0, 1.0), ("P1", 0, 2.0), ("P1", 0, 1.0), ("P2", 0, None)],
        [("P1", 0, None), ("P1", 0, None), ("P1", 0, 3.0), ("P2", 5, 3.0), ("P2", 5, 4.0)],
        [("P1", 0, 2.0), ("P1", 0, 1.0), ("P1", 0, 2.0), ("P1", 0, 1.0)],
        [(None, 0, 2.0), (None, 0, 2.0), (None, 1, 2.0)],
    ],
)
def test_dedupe_of_sorted_sessions_equals_duplicated(rows, monkeypatch):
    frame = pd.DataFrame(
        {
            "patient_id": pd.array([r[0] for r in rows], dtype="string[pyarrow]"),
            "_t": np.array([r[1] for r in rows], dtype="int64"),
            "dose_mg": np.array([np.nan if r[2] is None else r[2] for r in rows]),
            "_row": np.arange(2, 2 + len(rows)),
            "_file": "sessions.csv",
        }
    )
    assert repeats_in_order(key_codes(frame, ["patient_id", "_t"])) is not None
    _same_dedupe(frame, ["patient_id", "_t"], monkeypatch)


def test_dedupe_of_sample_sessions_equals_duplicated(monkeypatch):
    frame = read_table("sessions.csv", (SAMPLE / "sessions.csv").read_bytes()).frame
    frame["_t"] = np.arange(len(frame)) // 3  # three rows a day: repeats to report
    frame["_file"] = "sessions.csv"
    frame = frame.drop(columns=["session_date"])
    _same_dedupe(frame, ["patient_id", "_t"], monkeypatch)
