"""The fast paths of the summary give exactly the results of the plain pandas operations."""

import numpy as np
import pandas as pd
import pytest

from analytics.safety import _per_group
from analytics.timepoints import factorize_ids, isin_ids, lookup_by_id

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


@pytest.mark.parametrize("n_groups", [1, 3])
def test_per_group_matches_groupby(n_groups):
    rng = np.random.default_rng(n_groups)
    n = 500
    exposed = pd.DataFrame(
        {
            "patient_id": rng.integers(-1, 40, n),  # -1: a missing id, one value of its own
            "group": pd.Categorical(rng.choice([f"g{i}" for i in range(n_groups)], n)),
        }
    )
    # a category with no rows at all
    exposed["group"] = exposed["group"].cat.add_categories(["unused"])
    for mask in (np.ones(n, bool), rng.random(n) < 0.3, np.zeros(n, bool)):
        patients, sessions = _per_group(exposed, mask)
        grouped = exposed[mask].groupby("group", observed=True)
        expected_p = grouped["patient_id"].nunique()
        expected_s = grouped.size()
        for name in exposed["group"].cat.categories:
            assert patients[name] == expected_p.get(name, 0)
            assert sessions[name] == expected_s.get(name, 0)


TEXT_CASES = [
    (["a", "b", None, "c", "a"], ["a", "c"]),
    (["a", "b", None, "c", "a"], ["a", None]),
    ([], ["a"]),
    (["a", "b"], []),
    (["x", "x", "y"], ["y", "z", "x"]),
]


@pytest.mark.parametrize(("values", "pool"), TEXT_CASES)
def test_isin_ids_matches_the_integer_codes(values, pool):
    from analytics.timepoints import _codes

    values = pd.Series(values, dtype="string")
    pool = pd.Index(pd.array(pool, dtype="string"))
    value_codes, pool_codes = _codes(values, pool)
    assert isin_ids(values, pool).tolist() == np.isin(value_codes, pool_codes).tolist()


@pytest.mark.parametrize(("values", "keys"), TEXT_CASES)
def test_lookup_by_id_matches_the_integer_codes(values, keys):
    from analytics.timepoints import _codes, _lookup_codes

    values = pd.Series(values, dtype="string")
    keys = pd.Series(keys, dtype="string")
    table = np.arange(len(keys), dtype="float64") + 0.5
    expected = _lookup_codes(*_codes(values, keys), table)
    assert np.array_equal(lookup_by_id(values, keys, table), expected, equal_nan=True)
    # duplicate keys: the codes' answer (the last), not Arrow's first
    doubled = pd.concat([keys, keys], ignore_index=True)
    table = np.arange(len(doubled), dtype="float64")
    expected = _lookup_codes(*_codes(values, doubled), table)
    assert np.array_equal(lookup_by_id(values, doubled, table), expected, equal_nan=True)
