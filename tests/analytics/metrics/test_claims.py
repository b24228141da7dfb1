"""The claim checks: the verdict rule, the sentence, and the numbers behind them."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.claims import (
    MIN_PATIENTS,
    check_improvement,
    check_persistence,
    claim_verdict,
    claims_summary,
)

DEFS = OutcomeDefinitions.for_instrument("PCL-5")  # meaningful = 10 points


@pytest.mark.parametrize(
    ("n", "ci_high", "mean", "expected"),
    [
        # too few patients, however strong the fall
        (MIN_PATIENTS - 1, -5.0, -20.0, "not enough data"),
        (0, None, None, "not enough data"),
        # CI below 0 and a fall of at least 10 points
        (MIN_PATIENTS, -5.0, -12.0, "supported"),
        (200, -0.1, -10.0, "supported"),
        # CI below 0 but a fall under 10 points
        (50, -0.5, -4.0, "partly supported"),
        # CI reaches 0: not shown
        (50, 0.0, -3.0, "not supported"),
        (50, 4.0, 1.0, "not supported"),
    ],
)
def test_claim_verdict_rule(n, ci_high, mean, expected):
    assert claim_verdict(n, ci_high, mean, meaningful_points=10) == expected


def _clinic(changes_24h, *, unscored=0, week4=None, week1=None, baseline=50.0):
    """Patients p00.. with baseline ``baseline`` on day 0 and a 24h score of baseline + change;
    ``unscored`` more patients with a baseline and no later score; optional week-4 and week-1
    changes by patient id."""
    rows, sessions = [], []
    ids = [f"p{i:02d}" for i in range(len(changes_24h) + unscored)]
    for i, pid in enumerate(ids):
        rows.append((pid, 0, baseline))
        sessions += [(pid, 0), (pid, 2)]
        if i < len(changes_24h) and changes_24h[i] is not None:
            rows.append((pid, 1, baseline + changes_24h[i]))
    for pid, change in (week4 or {}).items():
        rows.append((pid, 28, baseline + change))
    for pid, change in (week1 or {}).items():
        rows.append((pid, 7, baseline + change))
    a = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    s = pd.DataFrame(sessions, columns=["patient_id", "day"]).assign(route="iv_ketamine")
    return clinic_from_frames(sessions=s, assessments=a)


# 12 assessed patients; responders (>= 15-point fall from 50): -20, -15, -16, -18.
CHANGES = [-20, -15, -10, -12, -8, -14, -16, -11, -9, -13, -18, -6]


def test_improvement_numbers_by_hand():
    check = check_improvement(_clinic(CHANGES, unscored=2), DEFS)
    # mean -152/12 = -12.667; SD 4.163 (sum of squares 190.67 / 11); SE 1.2019;
    # t(0.975, 11) = 2.2010 -> CI -15.312 to -10.021
    assert check.n == 12 and check.eligible == 14
    assert_allclose(
        [check.mean_change, check.change_ci_low, check.change_ci_high],
        [-12.667, -15.312, -10.021],
        atol=1e-3,
    )
    assert check.p_value == pytest.approx(stats.ttest_1samp(CHANGES, 0).pvalue)
    assert check.p_wilcoxon == pytest.approx(stats.wilcoxon(CHANGES).pvalue)
    assert (check.scored.k, check.scored.n) == (12, 14)
    assert (check.response.k, check.response.n) == (4, 12)
    assert (check.response_itt.k, check.response_itt.n) == (4, 14)
    assert check.verdict == "supported"
    assert check.sentence == (
        "Yes, in the patients who were assessed: PCL-5 fell by 12.7 points on average at 24 "
        "hours (95% CI 10.0 to 15.3; n = 12, p < 0.001). 86% of patients with a baseline had a "
        "score at 24 hours; counting the others as non-responders, 29% responded (≥30% "
        "reduction from baseline)."
    )


@pytest.mark.parametrize(
    ("changes", "verdict", "starts"),
    [
        (CHANGES, "supported", "Yes, in the patients who were assessed: PCL-5 fell by 12.7"),
        # a small but consistent fall
        ([-3, -4, -5, -2, -3, -4, -3, -5, -4, -3], "partly supported", "Partly: scores fell, "),
        # no fall at all
        ([-3, 3, -2, 2, -1, 1, 0, 4, -4, 0], "not supported", "Not shown by this clinic's data"),
        # nine patients
        (CHANGES[:9], "not enough data", "Not enough data: only 9 patients with a baseline"),
        # nobody scored at 24 hours
        ([None] * 12, "not enough data", "Not enough data: no patient with a baseline"),
    ],
)
def test_improvement_sentence_table(changes, verdict, starts):
    check = check_improvement(_clinic(changes), DEFS)
    assert check.verdict == verdict
    assert check.sentence.startswith(starts)


def test_meaningful_points_come_from_definitions():
    defs = DEFS.with_changes(meaningful_points=3)
    check = check_improvement(_clinic([-3, -4, -5, -2, -3, -4, -3, -5, -4, -3]), defs)
    assert check.verdict == "supported"
    assert "a mean fall of at least 3 points" in check.rule


def test_persistence_by_hand():
    # 12 patients with 24h scores; p00-p10 also at week 4; p12-p13 have week 1 instead of 24h.
    week4 = {f"p{i:02d}": -14 for i in range(11)} | {"p12": -20, "p13": -5}
    week4["p00"] = -10  # the first 24h responder (-20) no longer responds at week 4
    week1 = {"p12": -16, "p13": -2}
    clinic = _clinic(CHANGES + [None, None], week4=week4, week1=week1)
    check = check_persistence(clinic, DEFS)
    # both early and week 4: p00-p10 (24h) + p12, p13 (week 1) = 13
    assert check.n == 13
    changes = np.array([-10] + [-14] * 10 + [-20, -5], float)
    assert check.mean_change == pytest.approx(changes.mean())
    # early responders: p00, p01, p06, p10 (24h) and p12 (week 1) = 5; all scored at week 4;
    # still responding (>= 15 fall): p12 only (-14 is short of 15) -> 1 of 5
    assert (check.still_responding.k, check.still_responding.n) == (1, 5)
    assert (check.still_responding_itt.k, check.still_responding_itt.n) == (1, 5)
    assert check.verdict == "supported"
    assert check.sentence.startswith(
        "Yes, in the 13 patients scored both early (24 hours or week 1) and at week 4: PCL-5 "
        "fell by 13.5 points"  # -175 / 13 = -13.46
    )
    assert "Of 5 early responders, 1 still responded at week 4 (20% of the 5 scored then" in (
        check.sentence
    )


def test_persistence_counts_unscored_responders_in_itt():
    week4 = {f"p{i:02d}": -16 for i in range(1, 12)}  # p00 (a 24h responder) not scored
    check = check_persistence(_clinic(CHANGES, week4=week4), DEFS)
    # early responders p00, p01, p06, p10: 3 scored at week 4, all still responding
    assert (check.still_responding.k, check.still_responding.n) == (3, 3)
    assert (check.still_responding_itt.k, check.still_responding_itt.n) == (3, 4)


def test_unknown_timepoint():
    with pytest.raises(ValueError, match="timepoint '6h' is not one of the windows"):
        check_improvement(_clinic(CHANGES), DEFS, timepoint="6h")


def test_summary_is_json_ready():
    import json

    summary = claims_summary(_clinic(CHANGES[:3]), DEFS)
    json.dumps(summary, allow_nan=False)
    assert summary["within_24h"]["verdict"] == "not enough data"
    assert summary["persisted_to_week_4"]["n"] == 0
    assert summary["persisted_to_week_4"]["mean_change"] is None


# scipy.stats.wilcoxon permutes every sign flip when there are ties or zeros and at most 13
# pairs; signed_rank_test enumerates the same flips in one array and must give its numbers.
@pytest.mark.parametrize("seed", range(12))
def test_signed_rank_test_equals_scipy(seed):
    import warnings

    from analytics.metrics.claims import signed_rank_test

    rng = np.random.default_rng(seed)
    n = [1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 30][seed]
    x = rng.integers(0, 5, n).astype(float)  # few values: ties and zero differences
    y = rng.integers(0, 5, n).astype(float)
    y[0] = x[0] + 1  # at least one difference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.wilcoxon(x, y)
    assert signed_rank_test(x, y) == (float(expected.statistic), float(expected.pvalue))


def test_signed_rank_test_without_ties_is_scipys_exact_test():
    from analytics.metrics.claims import signed_rank_test

    x = np.array([-20, -15, -10, -12, -8, -14, -16, -11, -9, -13, -18, -6], float)
    expected = stats.wilcoxon(x, np.zeros_like(x))
    assert signed_rank_test(x, np.zeros_like(x)) == (expected.statistic, expected.pvalue)
