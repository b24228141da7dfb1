"""The counts per group every safety rate is made of."""

import numpy as np
import pandas as pd
import pytest

from analytics.metrics.safety.grouping import distinct_per_group
from analytics.metrics.safety.settings import order_groups


@pytest.mark.parametrize("n_groups", [1, 3])
@pytest.mark.parametrize("bitmap", [True, False])
def test_per_group_matches_groupby(n_groups, bitmap, monkeypatch):
    if not bitmap:  # the sorting path, taken when a bitmap would be too large
        monkeypatch.setattr("analytics.metrics.safety.grouping._BITMAP_CELLS", 0)
    rng = np.random.default_rng(n_groups)
    n = 500
    rows = pd.DataFrame(
        {
            "patient": rng.integers(0, 40, n),
            "group": pd.Categorical(rng.choice([f"g{i}" for i in range(n_groups)], n)),
        }
    )
    # a category with no rows at all
    rows["group"] = rows["group"].cat.add_categories(["unused"])
    categories = rows["group"].cat.categories
    for mask in (np.ones(n, bool), rng.random(n) < 0.3, np.zeros(n, bool)):
        part = rows[mask]
        patients, sessions = distinct_per_group(
            part["group"].cat.codes.to_numpy(), part["patient"].to_numpy(), len(categories), 40
        )
        grouped = part.groupby("group", observed=True)
        expected_p = grouped["patient"].nunique()
        expected_s = grouped.size()
        for i, name in enumerate(categories):
            assert patients[i] == expected_p.get(name, 0)
            assert sessions[i] == expected_s.get(name, 0)


def test_order_groups():
    assert order_groups(["2-3", "not recorded", "1"], ["1", "2-3", "not recorded"]) == [
        "1",
        "2-3",
        "not recorded",
    ]
    assert order_groups(["esketamine 84 mg", "<0.5 mg/kg"], ["<0.5 mg/kg", "not recorded"]) == [
        "<0.5 mg/kg",
        "esketamine 84 mg",
    ]
    assert order_groups([], None) == []
