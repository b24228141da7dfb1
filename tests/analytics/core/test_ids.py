"""The patient-id kernel gives what the plain pandas or Python operation gives."""

import numpy as np
import pandas as pd
import pytest

from analytics.core.ids import PatientIndex, factorize_ids, isin_ids, lookup_by_id

ID_CASES = [
    [],
    ["a"],
    ["b", "b", "a", "a", "a", "c"],
    ["b", "a", "b", "a"],  # unsorted: more runs than half the rows
    ["x", None, None, "y", "x", "x", None],
    [None, None],
    ["p1"] * 50 + ["p0"] * 30 + [None] * 5 + ["p2"] * 40,
]


@pytest.mark.parametrize("values", ID_CASES)
@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("dtype", ["string", "string[python]", object])
def test_factorize_ids_matches_pandas(values, sort, dtype):
    series = pd.Series(values, dtype=dtype)
    codes, uniques = factorize_ids(series, sort=sort)
    expected_codes, expected_uniques = pd.factorize(series, sort=sort)
    assert codes.tolist() == np.asarray(expected_codes).tolist()
    pd.testing.assert_index_equal(uniques, pd.Index(expected_uniques))


def test_factorize_ids_of_shuffled_runs():
    rng = np.random.default_rng(3)
    ids = pd.Series(np.repeat([f"P{i:04d}" for i in range(300)], rng.integers(1, 9, 300)))
    for values in (ids.astype("string"), ids.sample(frac=1, random_state=2).astype("string")):
        for sort in (False, True):
            codes, uniques = factorize_ids(values, sort=sort)
            expected_codes, expected_uniques = pd.factorize(values, sort=sort)
            assert np.array_equal(codes, expected_codes)
            assert list(uniques) == list(expected_uniques)


TEXT_CASES = [
    (["a", "b", None, "c", "a"], ["a", "c"]),
    (["a", "b", None, "c", "a"], ["a", None]),
    ([], ["a"]),
    (["a", "b"], []),
    (["x", "x", "y"], ["y", "z", "x"]),
]


@pytest.mark.parametrize(("values", "pool"), TEXT_CASES)
def test_isin_ids_matches_a_plain_membership_test(values, pool):
    expected = [v in pool for v in values]  # a missing id matches a missing one, as None == None
    values = pd.Series(values, dtype="string")
    pool = pd.Index(pd.array(pool, dtype="string"))
    assert isin_ids(values, pool).tolist() == expected


def _plain_lookup(values, keys, table) -> list:
    where = {key: table[i] for i, key in enumerate(keys) if key is not None}  # the last wins
    return [where.get(v, np.nan) if v is not None else np.nan for v in values]


@pytest.mark.parametrize(("values", "keys"), TEXT_CASES)
def test_lookup_by_id_matches_a_plain_dictionary(values, keys):
    table = np.arange(len(keys), dtype="float64") + 0.5
    expected = _plain_lookup(values, keys, table)
    got = lookup_by_id(pd.Series(values, dtype="string"), pd.Series(keys, dtype="string"), table)
    assert np.array_equal(got, np.array(expected, dtype="float64"), equal_nan=True)
    # duplicate keys: the last one's value
    doubled = keys + keys
    table = np.arange(len(doubled), dtype="float64")
    expected = _plain_lookup(values, doubled, table)
    got = lookup_by_id(pd.Series(values, dtype="string"), pd.Series(doubled, dtype="string"), table)
    assert np.array_equal(got, np.array(expected, dtype="float64"), equal_nan=True)


def test_patient_index_positions_and_mask():
    index = PatientIndex(["a", "b", "c"])
    values = pd.Series(["c", None, "a", "zz", "c"], dtype="string")
    assert index.positions(values).tolist() == [2, -1, 0, -1, 2]
    assert index.mask(values).tolist() == [True, False, True]
    assert index.positions(pd.Series([], dtype="string")).tolist() == []
