"""CADSS: its distribution, its mean per session band and whether it wanes."""

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.metrics.safety import cadss_by_session_band, cadss_distribution, cadss_trend
from analytics.metrics.safety.dissociation import spearman_from_codes
from tests.analytics.metrics.safety.helpers import cadss_clinic


def test_cadss_distribution():
    # Scores 2,1,3,0,1,4,2,1,9,3 (n 10): mean 2.6, median 2, p90 at position 8.1 of the sorted
    # 0,1,1,1,2,2,3,3,4,9: 4 + 0.1 x 5 = 4.5; SD = sqrt(sum((x - 2.6)^2) / 9) = sqrt(58.4 / 9).
    d = cadss_distribution(cadss_clinic())
    assert (d["n_sessions"], d["n_patients"]) == (10, 3)
    assert_allclose([d["mean"], d["median"], d["p90"]], [2.6, 2.0, 4.5])
    assert_allclose(d["sd"], math.sqrt(58.4 / 9))


def test_cadss_by_session_band():
    out = cadss_by_session_band(cadss_clinic()).set_index("band")
    assert out.index.tolist() == ["1", "2-3", "4-6"]
    first = out.loc["1"]
    # Session 1: 2, 4, 9 -> mean 5, SD sqrt(13); t(0.975, 2) = 4.302653 (t table);
    # half-width 4.302653 x sqrt(13) / sqrt(3) = 8.9567.
    assert (first["n_sessions"], first["n_patients"]) == (3, 3)
    assert_allclose([first["mean"], first["sd"]], [5.0, math.sqrt(13)])
    assert_allclose([first["ci_low"], first["ci_high"]], [5 - 8.9567, 5 + 8.9567], atol=1e-3)
    # Sessions 2-3: x has 1 and 3 (patient mean 2), y has 2 -> mean of patient means 2, SD 0.
    # Two patients: no interval (fewer than 3, analytics.core.stats.MIN_N_FOR_INTERVAL).
    band = out.loc["2-3"]
    assert (band["n_sessions"], band["n_patients"]) == (3, 2)
    assert_allclose([band["mean"], band["sd"]], [2, 0])
    assert np.isnan(band["ci_low"]) and np.isnan(band["ci_high"])
    assert band["session_mean"] == 2
    # Sessions 4-6: x 0 and 1 (mean 0.5), y 1, z 3 -> mean 1.5, session mean 5/4.
    late = out.loc["4-6"]
    assert (late["n_sessions"], late["n_patients"]) == (4, 3)
    assert_allclose([late["mean"], late["session_mean"]], [1.5, 1.25])


def test_cadss_by_session_band_one_patient_has_no_interval():
    sessions = pd.DataFrame({"patient_id": "a", "day": [0, 2], "dissociation_cadss": [3.0, 1.0]})
    out = cadss_by_session_band(clinic_from_frames(sessions=sessions.assign(route="iv_ketamine")))
    assert out["band"].tolist() == ["1", "2-3"]
    assert out["sd"].isna().all() and out["ci_low"].isna().all()


def test_cadss_trend_paired():
    trend = cadss_trend(cadss_clinic())
    # Late (session >= 4) minus first: x 0.5 - 2 = -1.5, y 1 - 4 = -3, z 3 - 9 = -6.
    # Mean -3.5, SD sqrt(5.25), SE sqrt(5.25 / 3) = 1.3229, t = -2.6458 on 2 df.
    # With 2 df the two-sided p is 1 - |t| / sqrt(t^2 + 2) = 1 - 2.6458 / 3 = 0.11808.
    assert trend.paired_n == 3
    assert_allclose([trend.first_mean, trend.late_mean], [5.0, 1.5])
    assert_allclose(trend.mean_change, -3.5)
    assert_allclose(
        [trend.change_ci_low, trend.change_ci_high], [-3.5 - 5.6920, -3.5 + 5.6920], atol=1e-3
    )
    assert_allclose(trend.paired_p, 1 - math.sqrt(7) / 3, atol=1e-6)
    assert trend.late_session == 4


@pytest.mark.parametrize("seed", range(5))
def test_cadss_trend_paired_p_is_scipys_ttest_rel(seed):
    # The reference: scipy.stats.ttest_rel on the same pairs (the fast path avoids importing it)

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    first, late = rng.integers(0, 40, n).astype(float), rng.integers(0, 40, n).astype(float)
    sessions = pd.DataFrame(
        {
            "patient_id": np.repeat([f"p{i}" for i in range(n)], 4),
            "day": np.tile([0, 2, 4, 6], n),
            "dissociation_cadss": np.column_stack([first, first, first, late]).ravel(),
        }
    )
    trend = cadss_trend(clinic_from_frames(sessions=sessions.assign(route="iv_ketamine")))
    assert trend.paired_n == n
    assert_allclose(trend.paired_p, stats.ttest_rel(late, first).pvalue, rtol=1e-12)


def test_cadss_trend_spearman_with_ties():
    # One patient, sessions 1-4, CADSS 10, 8, 8, 2. Ranks: x 1,2,3,4; y 4, 2.5, 2.5, 1.
    # Pearson of the ranks: -4.5 / sqrt(5 x 4.5) = -0.948683.
    sessions = pd.DataFrame(
        {"patient_id": "a", "day": [0, 2, 4, 6], "dissociation_cadss": [10.0, 8.0, 8.0, 2.0]}
    )
    trend = cadss_trend(clinic_from_frames(sessions=sessions.assign(route="iv_ketamine")))
    assert_allclose(trend.spearman_rho, -4.5 / math.sqrt(22.5), atol=1e-6)
    assert trend.n_sessions == 4
    # One patient: a change but no interval or test.
    assert trend.paired_n == 1 and trend.mean_change == -8.0
    assert trend.change_ci_low is None and trend.paired_p is None


def test_cadss_trend_without_spread_has_no_spearman():
    sessions = pd.DataFrame({"patient_id": "a", "day": [0, 2, 4], "dissociation_cadss": 5.0})
    trend = cadss_trend(clinic_from_frames(sessions=sessions.assign(route="iv_ketamine")))
    assert trend.spearman_rho is None and trend.spearman_p is None
    assert trend.n_sessions == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_from_codes_is_scipys(seed):
    # Ranks from counts of value codes (with unused codes) give scipy's rho and p exactly.
    rng = np.random.default_rng(seed)
    n = 500 * (seed + 1)
    x = rng.integers(1, 30, n)
    y = np.round(rng.gamma(2.0, 4.0, n) - 0.05 * x, 1)
    values = np.unique(np.concatenate([y, [-100.0, 1000.0]]))  # a larger set than y's
    rho, p = spearman_from_codes(x, np.searchsorted(values, y))
    expected = stats.spearmanr(x, y)
    assert rho == float(expected.statistic)
    assert p == float(expected.pvalue)
