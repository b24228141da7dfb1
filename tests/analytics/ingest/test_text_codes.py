"""Integer codes in place of text: each shortcut gives what the pandas operation it replaces gives.

Distinct values are hashed in Arrow, ids are looked up in Arrow, sessions are numbered on codes
of the sorted patient ids. Each is compared with the plain pandas operation on the sample clinic
and on hand-made edge cases (missing values, several Arrow chunks, ties, unsorted rows).
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.core.ids import PatientIndex
from analytics.ingest import assemble, cells
from analytics.ingest.importer import ImportOptions, import_folder
from analytics.ingest.reader import read_table
from analytics.ingest.vocabularies import distinct_codes
from tests.conftest import SAMPLE

# The reference merge warns when float days meet integer days; the lookup itself does not.
SESSIONS_MARK = pytest.mark.filterwarnings("ignore:You are merging on int and float")

_TEXT = st.lists(
    st.one_of(st.none(), st.sampled_from(["a", " a", "a ", "", "  ", "b", "P01", "é", "1.0"])),
    max_size=30,
)


def _chunked(values: list, split: int) -> pd.Series:
    """Arrow-backed text in two chunks (as the reader makes for a large file)."""
    split = min(split, len(values))
    chunks = [
        pa.array(values[:split], pa.large_string()),
        pa.array(values[split:], pa.large_string()),
    ]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))


def _sample_column(file: str, column: str) -> pd.Series:
    return read_table(file, (SAMPLE / file).read_bytes()).frame[column]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_TEXT, split=st.integers(0, 30))
def test_distinct_codes_rebuild_the_values(values, split):
    series = _chunked(values, split)
    codes, distinct = distinct_codes(series)
    assert codes.dtype == np.int64
    assert distinct.dtype == series.dtype
    assert distinct.is_unique or not len(distinct)
    rebuilt = pd.Series(distinct.array.take(codes))
    pd.testing.assert_series_equal(rebuilt, series.reset_index(drop=True), check_names=False)
    # Equal values share a code, as pd.factorize's codes say.
    expected, _ = pd.factorize(series, use_na_sentinel=False)
    assert (pd.factorize(codes)[0] == pd.factorize(expected)[0]).all()


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([], dtype="string"),
        pd.Series(["x", None, "x"], dtype=object),
        pd.Series([3.0, np.nan, 3.0]),
        pd.Series(["a", "b"], dtype="string[python]"),
    ],
)
def test_distinct_codes_outside_arrow_text(series):
    codes, distinct = distinct_codes(series)
    assert distinct.dtype == series.dtype
    pd.testing.assert_series_equal(
        pd.Series(distinct.array.take(codes), dtype=series.dtype),
        series.reset_index(drop=True),
        check_names=False,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_TEXT, split=st.integers(0, 30), blank=st.booleans())
def test_stripping_once_per_distinct_value_equals_stripping_every_cell(values, split, blank):
    series = _chunked(values * 3, split)
    series.index = series.index + 10
    series.name = "site"
    expected = series.astype("string").str.strip()
    if blank:
        expected = expected.mask(expected == "")
    pd.testing.assert_series_equal(cells.stripped_text(series, blank_as_na=blank), expected)


@pytest.mark.parametrize("column", ["patient_id", "site", "clinician", "route", "session_date"])
def test_stripping_equals_pandas_on_the_sample(column):
    series = _sample_column("sessions.csv", column)
    expected = series.astype("string").str.strip()
    pd.testing.assert_series_equal(cells.stripped_text(series), expected)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(st.one_of(st.none(), st.sampled_from(["P1", "P2", "P3", "P10"])), max_size=25),
    known=st.lists(st.sampled_from(["P1", "P2", "P3", "P10", "P4"]), unique=True, max_size=5),
)
def test_looking_ids_up_in_arrow_equals_get_indexer(ids, known):
    # The importer finds each row's patient (day 0, session keys) through PatientIndex.
    series = _chunked(ids, len(ids) // 2)
    series.index = series.index * 2
    positions = PatientIndex(pd.Index(known, dtype="string")).positions(series)
    expected = pd.Index(known, dtype="string").get_indexer(series)
    assert positions.tolist() == expected.tolist()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["P1", "P2", "P10"])),
            st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, 5.0])),
            st.sampled_from(["PCL-5", "PHQ-9"]),
        ),
        max_size=25,
    )
)
def test_key_codes_find_the_same_repeats(rows):
    frame = pd.DataFrame(rows, columns=["patient_id", "day", "instrument"])
    frame["patient_id"] = frame["patient_id"].astype("string")
    frame["instrument"] = frame["instrument"].astype("string")
    key = ["patient_id", "day", "instrument"]
    codes = assemble.key_codes(frame, key)
    for keep in ("first", "last"):
        pd.testing.assert_series_equal(
            codes.duplicated(keep=keep), frame.duplicated(subset=key, keep=keep)
        )


def _number_sessions_pandas(sessions: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    day0 = sessions.groupby("patient_id")["_t"].min()
    first_t = sessions.groupby("patient_id")["_t"].transform("min")
    sessions["day"] = (sessions["_t"] - first_t).astype("int64")
    sessions = sessions.sort_values(["patient_id", "day"], kind="stable")
    sessions["session_number"] = sessions.groupby("patient_id").cumcount().astype("int64") + 1
    return day0, sessions


def _same_numbering(sessions: pd.DataFrame) -> None:
    day0, numbered = assemble.number_sessions(sessions.copy())
    expected_day0, expected = _number_sessions_pandas(sessions.copy())
    pd.testing.assert_series_equal(day0, expected_day0)
    pd.testing.assert_frame_equal(numbered, expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["P2", "P10", "P1", "é"]), st.integers(19000, 19010)),
        min_size=1,
        max_size=30,
    ),
    integer_times=st.booleans(),
)
def test_numbering_sessions_on_codes_equals_pandas(rows, integer_times):
    sessions = pd.DataFrame(rows, columns=["patient_id", "_t"])
    sessions["patient_id"] = sessions["patient_id"].astype("string")
    sessions["_t"] = sessions["_t"].astype("int64" if integer_times else "float64")
    sessions["_row"] = np.arange(len(sessions)) + 2  # ties keep the file's order
    _same_numbering(sessions)


@pytest.mark.parametrize(
    "ids, times",
    [
        (["P1", None, "P1"], [3.0, 1.0, 2.0]),  # a missing id: the pandas route
        (["P1", "P2", "P1"], [3.0, np.nan, 2.0]),  # a missing time: the pandas route
        (["P1"], [5.0]),
    ],
)
def test_numbering_sessions_edge_cases(ids, times):
    sessions = pd.DataFrame({"patient_id": pd.array(ids, dtype="string"), "_t": times})
    if sessions["_t"].hasnans or sessions["patient_id"].hasnans:
        with pytest.raises(ValueError):  # pandas cannot make int64 days of NaN either
            _number_sessions_pandas(sessions.copy())
        with pytest.raises(ValueError):
            assemble.number_sessions(sessions.copy())
        return
    _same_numbering(sessions)


def test_numbering_sessions_equals_pandas_on_the_sample():
    frames = [read_table(p.name, p.read_bytes()).frame for p in sorted(SAMPLE.glob("session*.csv"))]
    sessions = pd.concat(frames, ignore_index=True)
    t, _, _ = cells.per_distinct(cells.parse_dates, sessions["session_date"])
    sessions["_t"] = t
    sessions = sessions.iloc[::-1].reset_index(drop=True)  # unsorted, to make the sort work
    _same_numbering(sessions[["patient_id", "_t", "_row"]].copy())


def test_sample_clinic_imports_the_same_tables_twice():
    first = import_folder(SAMPLE, options=ImportOptions(keep_month=True))
    second = import_folder(SAMPLE, options=ImportOptions(keep_month=True))
    assert first.data is not None
    assert first.problems == second.problems
    for name in ("sessions", "assessments", "side_effects", "patients"):
        pd.testing.assert_frame_equal(getattr(first.data, name), getattr(second.data, name))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_TEXT, split=st.integers(0, 30))
def test_sorted_codes_equal_factorize(values, split):
    from analytics.core.contract import factorize_sorted

    series = _chunked(values, split)
    codes, n = factorize_sorted(series)
    expected, uniques = pd.factorize(series, sort=True)
    assert codes.tolist() == expected.tolist()
    assert n == len(uniques)


def test_sorted_codes_equal_factorize_on_the_sample():
    from analytics.core.contract import factorize_sorted

    ids = _sample_column("assessments.csv", "patient_id")
    codes, n = factorize_sorted(ids)
    expected, uniques = pd.factorize(ids, sort=True)
    assert codes.tolist() == expected.tolist() and n == len(uniques)


@SESSIONS_MARK
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sessions=st.lists(
        st.tuples(st.sampled_from(["P1", "P2", "P10"]), st.integers(0, 6)),
        unique=True,
        max_size=12,
    ),
    effects=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P10", "P7"]),
            st.sampled_from([-1.0, 0.0, 2.0, 3.5, 6.0, 9.0]),
        ),
        max_size=12,
    ),
)
def test_session_numbers_of_sorted_sessions_equal_the_merge(sessions, effects):
    s = pd.DataFrame(sorted(sessions), columns=["patient_id", "day"])
    s["patient_id"] = s["patient_id"].astype("string")
    s["session_number"] = s.groupby("patient_id").cumcount().astype("int64") + 1
    e = pd.DataFrame(effects, columns=["patient_id", "day"])
    e["patient_id"] = e["patient_id"].astype("string")
    e["_row"] = np.arange(len(e))
    keys = s[["patient_id", "day", "session_number"]]
    expected = e.merge(keys, on=["patient_id", "day"], how="left", validate="many_to_one")
    pd.testing.assert_frame_equal(assemble.session_numbers(e, s), expected)
