"""Proportion intervals against published values.

Check values from the project's clinical reference, which quotes them for these counts:
Feder et al. 2021 (Am J Psychiatry 178:193) responders 10/15 and 3/15, and the Spravato label's
dissociation 142/346. The same numbers come from R:
    binom::binom.confint(c(10, 3, 142), c(15, 15, 346), methods = c("wilson", "exact"))
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analytics.core.stats import mean_ci, proportion_ci, rate


@pytest.mark.parametrize(
    ("k", "n", "method", "expected"),
    [
        # Wilson score interval
        (10, 15, "wilson", (0.417, 0.848)),
        (3, 15, "wilson", (0.070, 0.452)),
        (142, 346, "wilson", (0.360, 0.463)),
        # Clopper-Pearson exact interval
        (10, 15, "clopper-pearson", (0.384, 0.882)),
        (3, 15, "clopper-pearson", (0.043, 0.481)),
        (142, 346, "clopper-pearson", (0.358, 0.464)),
    ],
)
def test_proportion_ci_matches_published(k, n, method, expected):
    assert_allclose(proportion_ci(k, n, method=method), expected, atol=5e-4)


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_bounds_at_zero_and_all(method):
    low, high = proportion_ci(0, 20, method=method)
    assert low == 0.0 and 0 < high < 0.2
    low, high = proportion_ci(20, 20, method=method)
    assert high == 1.0 and 0.8 < low < 1


def test_vectorised_equals_scalar():
    k = np.array([0, 3, 10, 142])
    n = np.array([5, 15, 15, 346])
    low, high = proportion_ci(k, n)
    for i in range(len(k)):
        assert_allclose((low[i], high[i]), proportion_ci(int(k[i]), int(n[i])))


def test_empty_denominator_gives_no_interval():
    low, high = proportion_ci(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert rate(0, 0).to_dict() == {"k": 0, "n": 0, "rate": None, "ci_low": None, "ci_high": None}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 5, "n": 3}, "k must satisfy 0 <= k <= n"),
        ({"k": -1, "n": 3}, "k must satisfy 0 <= k <= n"),
        ({"k": 1, "n": 3, "method": "wald"}, "method must be one of"),
        ({"k": 1, "n": 3, "confidence": 95}, "confidence must be between 0 and 1"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        proportion_ci(**kwargs)


def test_rate_carries_k_n_and_interval():
    r = rate(10, 15)
    assert (r.k, r.n) == (10, 15)
    assert r.rate == pytest.approx(2 / 3)
    assert r.ci_low == pytest.approx(0.4171, abs=1e-4)
    with pytest.raises(ValueError, match="k must be 0 when n is 0"):
        rate(1, 0)


def test_mean_ci_is_the_t_interval():
    # Hand computation: mean 5, SD sqrt(13), n = 4 -> t(3; .975) = 3.182446 (tables), half-width
    # 3.182446 * sqrt(13) / 2 = 5.7372.
    low, high = mean_ci(5.0, 13**0.5, 4)
    assert_allclose((low, high), (5 - 5.7372, 5 + 5.7372), atol=1e-4)
    lows, highs = mean_ci(np.array([5.0, 1.0]), np.array([13**0.5, 2.0]), np.array([4, 1]))
    assert_allclose(lows[0], low) and np.isnan(lows[1]) and np.isnan(highs[1])


@pytest.mark.parametrize(("k", "n"), [(0, 12), (0, 1), (0, 346), (12, 12), (5, 5)])
def test_wilson_bounds_at_the_edges_are_exact(k, n):
    # Wilson at k = 0 has centre = half exactly, so the lower bound is 0 (not 2.8e-17 from
    # float rounding); at k = n the upper bound is 1.
    low, high = proportion_ci(k, n)
    if k == 0:
        assert low == 0.0
    if k == n:
        assert high == 1.0


@pytest.mark.parametrize(("n", "has_interval"), [(1, False), (2, False), (3, True)])
def test_mean_ci_needs_three_values(n, has_interval):
    # With 2 values t(0.975, 1) = 12.7: a week-8 mean of 2 patients read -18.4 to 121.4 on the
    # PCL-5's 0-80 scale. From 3 values, t(0.975, 2) = 4.30.
    low, high = mean_ci(40.0, 10.0, n)
    assert np.isfinite(low) == has_interval and np.isfinite(high) == has_interval
