"""The published benchmark table: every figure pinned here with its citation."""

import math

import pandas as pd
import pytest

from analytics.reference.published import BENCHMARK_COLUMNS, NOT_COMPARABLE, published_benchmarks


@pytest.fixture(scope="module")
def table():
    return published_benchmarks()


@pytest.mark.parametrize(
    ("source", "measure", "value", "ci_low", "ci_high", "n"),
    [
        # Feder et al. 2021, Am J Psychiatry 178:193, abstract: 67% vs 20% responders (10/15,
        # 3/15); the CI is Wilson's, computed (R: binom::binom.confint(10, 15, "wilson")).
        ("Feder", "ketamine arm (10/15)", 10 / 15, 0.417, 0.848, 15),
        ("Feder", "midazolam arm (3/15)", 3 / 15, 0.070, 0.452, 15),
        # Feder 2021 abstract: median time to loss of response 27.5 days.
        ("Feder", "loss of response", 27.5, None, None, None),
        # Osmind real-world IV ketamine PTSD cohort (n = 1,306): PCL-5 about 47 -> 27-28 after
        # 4 infusions; response 27% after infusion 1, 70% by infusion 6.
        ("Osmind", "baseline", 47.0, None, None, 1306),
        ("Osmind", "after 4 infusions", 27.5, 27.0, 28.0, 1306),
        ("Osmind", "after infusion 1", 0.27, None, None, 1306),
        ("Osmind", "by infusion 6", 0.70, None, None, 1306),
        # Albott et al. 2018, J Clin Psychiatry 79:17m11634, abstract: PCL-5 fell 33.3 points
        # (95% CI 23.0-43.5); PTSD remission 80.0% (12/15), Wilson CI computed as above; median 41 days to relapse.
        ("Albott", "PCL-5 fall", 33.3, 23.0, 43.5, 15),
        ("Albott", "remission after induction (12/15)", 0.80, 0.548, 0.930, 15),
        ("Albott", "relapse", 41.0, None, None, None),
        # Real-world IV ketamine for depression (n = 537): PHQ-9 response 53.6%, remission 28.9%.
        ("depression", "PHQ-9 response", 0.536, None, None, 537),
        ("depression", "PHQ-9 remission", 0.289, None, None, 537),
    ],
)
def test_each_published_figure(table, source, measure, value, ci_low, ci_high, n):
    rows = table[
        table["source"].str.contains(source, regex=False)
        & table["measure"].str.contains(measure, regex=False)
    ]
    assert len(rows) == 1, (source, measure)
    row = rows.iloc[0]
    assert row["value"] == pytest.approx(value, abs=5e-4)
    for got, want in ((row["ci_low"], ci_low), (row["ci_high"], ci_high)):
        if want is None:
            assert math.isnan(got)
        else:
            assert got == pytest.approx(want, abs=5e-4)
    assert (None if pd.isna(row["n"]) else int(row["n"])) == n


def test_every_row_is_labelled_another_population(table):
    assert list(table.columns) == BENCHMARK_COLUMNS
    assert len(table) == 12
    assert table["note"].str.startswith(NOT_COMPARABLE).all()
    assert table["source"].str.len().gt(0).all()
    proportions = table[table["unit"] == "proportion"]["value"]
    assert proportions.between(0, 1).all()
