"""The claim checks: the verdict rule, its reason, the labels, and the numbers behind them."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.attrition import FLOW_STEPS
from analytics.metrics.claims import (
    MIN_PATIENTS,
    RESPONSE_SHARE,
    check_improvement,
    check_persistence,
    claim_verdict,
    claims_summary,
)

ROOT = Path(__file__).resolve().parents[3]
DEFS = OutcomeDefinitions.for_instrument("PCL-5")  # meaningful = 10 points, response >= 30%


# Each row sits on one side of one boundary of the rule (min_patients 10, a fall of 10 points,
# half responding, the CI's upper end at 0); the other inputs are set well inside.
@pytest.mark.parametrize(
    ("n", "ci_high", "mean", "responded", "expected"),
    [
        # patients: 9 is one short of MIN_PATIENTS however strong the evidence, 10 is enough
        (MIN_PATIENTS - 1, -5.0, -20.0, 0.9, "not enough data"),
        (MIN_PATIENTS, -5.0, -20.0, 0.9, "supported"),
        (0, None, None, None, "not enough data"),
        (50, None, -12.0, 0.6, "not enough data"),  # no CI (identical changes cannot give none,
        # but one patient with min_patients 1 does)
        # all three hold, each exactly at its boundary: CI just below 0, a 10.0-point fall,
        # 25 of 50 = 0.50 responding
        (50, -0.1, -10.0, 25 / 50, "supported"),
        # one short of half: 24 of 50 = 0.48 -> the mean alone does not make it supported
        (50, -0.1, -10.0, 24 / 50, "partly supported"),
        # a fall of 9.9 points, short of the 10 counted as meaningful
        (50, -0.1, -9.9, 25 / 50, "partly supported"),
        # a small significant fall and few responders: the average fell, so partly
        (50, -0.5, -4.0, 5 / 50, "partly supported"),
        # half responded but the CI touches 0 (upper end 0.0 is not below 0): partly
        (50, 0.0, -10.0, 25 / 50, "partly supported"),
        # the CI reaches 0 and fewer than half responded
        (50, 0.0, -3.0, 24 / 50, "not supported"),
        (50, 4.0, 1.0, 0.0, "not supported"),
    ],
)
def test_claim_verdict_at_each_boundary(n, ci_high, mean, responded, expected):
    assert claim_verdict(n, ci_high, mean, responded, meaningful_points=10) == expected


@pytest.mark.parametrize(
    ("min_patients", "share", "expected"),
    [
        (5, RESPONSE_SHARE, "supported"),  # 5 patients are enough when min_patients is 5
        (6, RESPONSE_SHARE, "not enough data"),
        (5, 0.7, "partly supported"),  # 60% responding is short of a 70% share
    ],
)
def test_claim_verdict_thresholds_are_parameters(min_patients, share, expected):
    verdict = claim_verdict(
        5, -5.0, -20.0, 0.6, meaningful_points=10, min_patients=min_patients, response_share=share
    )
    assert verdict == expected


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
# Baselines are 50, so a responder (>= 30%) falls by 15 points or more.
HALF_RESPOND = [-15] * 5 + [-5] * 5  # mean -10.0 exactly; 5/10 = half respond


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
    # a 12.7-point fall, but 4/12 = 33% responded: fewer than half
    assert check.verdict == "partly supported"
    assert check.verdict_reason == (
        "The average PCL-5 score fell by 12.7 points (95% CI 10.0 to 15.3), at least the 10 "
        "points counted as clinically meaningful, but only 33% of the 12 patients scored at 24 "
        "hours responded (≥30% reduction from baseline; 4/12), fewer than half: partly supported."
    )
    assert check.sentence == (
        "Partly, in the patients who were assessed: PCL-5 fell by 12.7 points on average at 24 "
        "hours (95% CI 10.0 to 15.3; n = 12, p < 0.001). 33% of them responded (≥30% reduction "
        "from baseline). 86% of patients with a baseline had a score at 24 hours; counting the "
        "others as non-responders, 29% responded."
    )


# Hand-worked: baselines 50, so a change of -15 or lower responds (>= 30%).
@pytest.mark.parametrize(
    ("changes", "verdict", "reason"),
    [
        # mean -10.0 (= 10 points, meaningful), SD sqrt(10 * 25 / 9) = 5.27, SE 1.667,
        # t(0.975, 9) = 2.262 -> CI -13.8 to -6.2; 5/10 respond = half
        (
            HALF_RESPOND,
            "supported",
            "The average PCL-5 score fell by 10.0 points (95% CI 6.2 to 13.8), at least the 10 "
            "points counted as clinically meaningful, and 50% of the 10 patients scored at 24 "
            "hours responded (≥30% reduction from baseline; 5/10), at least half: supported.",
        ),
        # one responder turned to -14: mean -(60 + 14 + 25) / 10 = -9.9, short of 10; SD 5.174,
        # SE 1.636 -> CI -13.6 to -6.2; and 4/10 respond
        (
            [-15] * 4 + [-14] + [-5] * 5,
            "partly supported",
            "The average PCL-5 score fell by 9.9 points (95% CI 6.2 to 13.6), less than the 10 "
            "points counted as clinically meaningful, and only 40% of the 10 patients scored at "
            "24 hours responded (≥30% reduction from baseline; 4/10), fewer than half: partly "
            "supported.",
        ),
        # mean -(60 + 14 + 30) / 10 = -10.4 (meaningful); SD 4.648, SE 1.470 -> CI -13.7 to
        # -7.1; but 4/10 respond
        (
            [-15] * 4 + [-14] + [-6] * 5,
            "partly supported",
            "The average PCL-5 score fell by 10.4 points (95% CI 7.1 to 13.7), at least the 10 "
            "points counted as clinically meaningful, but only 40% of the 10 patients scored at "
            "24 hours responded (≥30% reduction from baseline; 4/10), fewer than half: partly "
            "supported.",
        ),
        # half respond, half worsen by 14: mean (-75 + 70) / 10 = -0.5; SD 15.284, SE 4.833 ->
        # CI -11.4 to +10.4, which spans 0
        (
            [-15] * 5 + [14] * 5,
            "partly supported",
            "The average PCL-5 score did not clearly fall: it changed by -0.5 points (95% CI "
            "-11.4 to +10.4, which includes no change), but 50% of the 10 patients scored at 24 "
            "hours responded (≥30% reduction from baseline; 5/10), at least half: partly "
            "supported.",
        ),
        # mean 0; SD sqrt(60 / 9) = 2.582, SE 0.816 -> CI -1.8 to +1.8; no responder
        (
            [-3, 3, -2, 2, -1, 1, 0, 4, -4, 0],
            "not supported",
            "The average PCL-5 score did not clearly fall: it changed by +0.0 points (95% CI "
            "-1.8 to +1.8, which includes no change), and only 0% of the 10 patients scored at "
            "24 hours responded (≥30% reduction from baseline; 0/10), fewer than half: not "
            "supported.",
        ),
        # nine patients: one short of min_patients
        (
            HALF_RESPOND[:9],
            "not enough data",
            "Only 9 patients with a baseline were scored at 24 hours, fewer than the 10 the "
            "rule needs: not enough data.",
        ),
        (
            [None] * 12,
            "not enough data",
            "No patient with a baseline was scored at 24 hours, fewer than the 10 the rule "
            "needs: not enough data.",
        ),
    ],
)
def test_improvement_verdict_reason_table(changes, verdict, reason):
    check = check_improvement(_clinic(changes), DEFS)
    assert (check.verdict, check.verdict_reason) == (verdict, reason)


@pytest.mark.parametrize(
    ("changes", "verdict", "starts"),
    [
        (HALF_RESPOND, "supported", "Yes, in the patients who were assessed: PCL-5 fell by 10.0"),
        (CHANGES, "partly supported", "Partly, in the patients who were assessed: PCL-5 fell"),
        # a small but consistent fall
        ([-3, -4, -5, -2, -3, -4, -3, -5, -4, -3], "partly supported", "Partly, in the "),
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


def test_thresholds_come_from_definitions():
    # a fall of 3.6 points on average, every patient at least 2: supported under a 3-point
    # meaningful change and a 2-point response rule
    defs = DEFS.with_changes(meaningful_points=3, response="points:2")
    check = check_improvement(_clinic([-3, -4, -5, -2, -3, -4, -3, -5, -4, -3]), defs)
    assert check.verdict == "supported"
    assert "by at least 3 points" in check.rule
    assert "(≥2-point reduction from baseline)" in check.rule
    # 12 patients are too few when the definitions ask for 13
    check = check_improvement(_clinic(CHANGES), DEFS.with_changes(min_patients=13))
    assert check.verdict == "not enough data"
    assert "fewer than the 13 the rule needs" in check.verdict_reason
    assert check.rule.endswith("Not enough data when fewer than 13 patients were scored.")


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
    # week-4 responders among the 13: p12 (-20) only -> 1/13 = 8%, fewer than half
    assert (check.response.k, check.response.n) == (1, 13)
    assert check.verdict == "partly supported"
    assert check.sentence.startswith(
        "Partly, in the patients who were assessed: PCL-5 fell by 13.5 points"  # -175 / 13
    )
    assert (
        "but only 8% of the 13 patients scored both early (24 hours or week 1) and at week 4 "
        "responded (≥30% reduction from baseline; 1/13), fewer than half: partly supported."
    ) in check.verdict_reason
    assert "Of 5 early responders, 1 still responded at week 4 (20% of the 5 scored then" in (
        check.sentence
    )


def test_persistence_counts_unscored_responders_in_itt():
    week4 = {f"p{i:02d}": -16 for i in range(1, 12)}  # p00 (a 24h responder) not scored
    check = check_persistence(_clinic(CHANGES, week4=week4), DEFS)
    # early responders p00, p01, p06, p10: 3 scored at week 4, all still responding
    assert (check.still_responding.k, check.still_responding.n) == (3, 3)
    assert (check.still_responding_itt.k, check.still_responding_itt.n) == (3, 4)


def _overview_labels() -> set[str]:
    """Every label the Overview page could draw: each string literal in its source (a label
    it passes to ``metric``/``rate_metric`` directly or through a table of its rows) and the
    attrition funnel's step labels it shows."""
    tree = ast.parse((ROOT / "app_pages" / "overview.py").read_text())
    labels = {label for _, label in FLOW_STEPS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            labels.add(node.value)
    return labels


def _claims_labels() -> dict[str, str]:
    week4 = {f"p{i:02d}": -16 for i in range(12)}
    summary = claims_summary(_clinic(CHANGES, week4=week4), DEFS)
    return {
        f"{claim}.{field}": value
        for claim, check in summary.items()
        for field, value in check.items()
        if field.endswith("_label") and value is not None
    }


def test_the_overview_labels_are_found():
    labels = _overview_labels()
    assert {
        "Response, observed",
        "Response, intention to treat",
        "Scored at week 4, of patients who started and were due by then",
        "Patients treated",
    } <= labels


def test_no_claims_label_is_an_overview_label():
    overview = {label.casefold() for label in _overview_labels()}
    claims = _claims_labels()
    assert len(claims) == 10  # 4 for 24 hours; 6 for week 4, early responders' included
    assert [key for key, label in claims.items() if label.casefold() in overview] == []


def test_each_claims_label_names_one_measure():
    labels = list(_claims_labels().values())
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize(
    ("claim", "field", "label"),
    [
        ("within_24h", "scored_label",
         "Scored at 24 hours, of patients with a baseline who started treatment and were due by then"),
        ("within_24h", "response_label", "Responded at 24 hours, of patients scored at 24 hours"),
        ("within_24h", "response_itt_label",
         "Responded at 24 hours, of patients with a baseline who started treatment and were due by then"),
        ("within_24h", "change_label",
         "Mean change at 24 hours, of patients scored at 24 hours (points)"),
        ("persisted_to_week_4", "response_label",
         "Responded at week 4, of patients scored both early (24 hours or week 1) and at week 4"),
        ("persisted_to_week_4", "still_responding_label",
         "Still responding at week 4, of early responders (24 hours or week 1) scored at week 4"),
        ("persisted_to_week_4", "still_responding_itt_label",
         "Still responding at week 4, of early responders (24 hours or week 1) due by then"),
    ],
)  # fmt: skip
def test_each_label_says_who_is_counted(claim, field, label):
    assert _claims_labels()[f"{claim}.{field}"] == label


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


def test_intention_to_treat_leaves_out_patients_not_yet_due():
    # p00 and p01 responded at week 4 (-20); p02 and p03 have a baseline and no week-4 score.
    # p02 was followed to day 35, the last day of the week-4 window (28 +- 7): due, so a
    # non-responder. p03 was followed to day 34: not yet due, left out. ITT 2 of 3.
    data = _clinic([None] * 4, week4={"p00": -20, "p01": -20})
    follow_up = pd.array([400, 400, 35, 34], dtype="Int64")
    data = clinic_from_frames(
        sessions=data.sessions,
        assessments=data.assessments,
        patients=pd.DataFrame(
            {"patient_id": data.patients["patient_id"], "follow_up_days": follow_up}
        ),
    )
    check = check_improvement(data, OutcomeDefinitions(), timepoint="week 4")
    assert (check.response_itt.k, check.response_itt.n) == (2, 3)
    assert (check.response.k, check.response.n) == (2, 2)
