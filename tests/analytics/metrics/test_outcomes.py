"""Timepoint outcomes against hand-worked cases, published values and a naive reference."""

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions, ResponseRule
from analytics.metrics.outcomes import (
    PATIENT_OUTCOME_COLUMNS,
    baseline_stats,
    d_av,
    d_z,
    is_responder,
    mean_change_ci,
    patient_outcomes,
    reliable_change_threshold,
    timepoint_outcomes,
)

PCL = OutcomeDefinitions()


def clinic(rows, session_ids=None, instrument="PCL-5"):
    """A clinic from (patient, day, total) scores; every scored patient starts on day 0 unless
    ``session_ids`` says who had sessions."""
    assess = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(
        instrument=instrument
    )
    ids = sorted({r[0] for r in rows}) if session_ids is None else session_ids
    sess = pd.DataFrame({"patient_id": pd.Series(ids, dtype="string"), "day": 0})
    return clinic_from_frames(assessments=assess, sessions=sess)


def at(outcomes, label):
    return next(o for o in outcomes if o.label == label)


# ---- Hand-worked response rules: (baseline, score, rule, responder) ----
@pytest.mark.parametrize(
    ("baseline", "score", "rule", "expected"),
    [
        (50, 35, "pct:30", True),  # exactly 30% counts
        (50, 36, "pct:30", False),
        (10, 7, "pct:30", True),  # 30% again, where float division gives 30.000000000000004
        (70, 49, "pct:30", True),  # 0.3 * 70 = 21 points, float error either way
        (0, 0, "pct:30", False),  # no reduction possible from 0
        (40, 30, "points:10", True),  # exactly 10 points counts
        (40, 31, "points:10", False),
        (40, 20, "pct:50", True),
        (40, 21, "pct:50", False),
    ],
)
def test_is_responder(baseline, score, rule, expected):
    got = is_responder([score - baseline], [baseline], ResponseRule.parse(rule))
    assert got.tolist() == [expected]


def test_response_of_exactly_30_percent_counts():
    data = clinic([("a", 0, 50), ("a", 28, 35)])
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.response.k, week4.response.n) == (1, 1)


def test_remission_excludes_baseline_below_cut():
    # a starts at 30 (< 33) and cannot remit; b 40 -> 32 remits; c 50 -> 33 does not (not below).
    data = clinic(
        [("a", 0, 30), ("a", 28, 10), ("b", 0, 40), ("b", 28, 32), ("c", 0, 50), ("c", 28, 33)]
    )
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.remission.k, week4.remission.n) == (1, 2)
    assert (week4.response.k, week4.response.n) == (2, 3)  # a -67%, c -34%; b only -20%


def test_itt_counts_patients_with_baseline_and_session_but_no_score():
    # a and b are scored at week 4, c has a baseline and a session but no week-4 score,
    # d has a baseline but never started (no session), e started but has no baseline.
    data = clinic(
        [("a", 0, 50), ("a", 28, 20), ("b", 0, 50), ("b", 28, 45), ("c", 0, 50), ("d", 0, 50)],
        session_ids=["a", "b", "c", "e"],
    )
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.response.k, week4.response.n) == (1, 2)
    assert (week4.response_itt.k, week4.response_itt.n) == (1, 3)
    assert (week4.remission_itt.k, week4.remission_itt.n) == (1, 3)
    assert (week4.meaningful_itt.k, week4.meaningful_itt.n) == (1, 3)


def test_itt_without_sessions_table_is_everyone_with_a_baseline():
    assess = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b"],
            "day": [0, 28, 0],
            "instrument": "PCL-5",
            "total": [50.0, 20.0, 50.0],
        }
    )
    data = clinic_from_frames(assessments=assess)
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.response_itt.k, week4.response_itt.n) == (1, 2)


def test_blank_form_skipped_for_next_valid_score():
    data = clinic([("a", 0, 50), ("a", 28, np.nan), ("a", 30, 30)])
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.n, week4.mean) == (1, 30.0)


def test_timepoint_without_scores_left_out():
    data = clinic([("a", 0, 50), ("a", 28, 35)])
    assert [o.label for o in timepoint_outcomes(data, PCL)] == ["week 4"]


# ---- Published values ----


@pytest.mark.parametrize(
    ("before", "after", "sd_before", "sd_after", "expected"),
    [
        # Clinical reference (Earleywine, n = 117): PCL-5 52.39 (SD 11.90) -> 29.42 (SD 16.52);
        # Lakens 2013 eq. 10: 22.97 / ((11.90 + 16.52) / 2) = 22.97 / 14.21 = 1.616.
        (52.39, 29.42, 11.90, 16.52, -22.97 / 14.21),
        # MOTE's own test of d_dep_t_avg (m1 5.57, m2 4.43, sd1 1.99, sd2 2.88, n 7) expects
        # d = 0.4681725 (https://rdrr.io/cran/MOTE/src/tests/testthat/test-d_dep_t_avg.R);
        # signed here like the change, so a fall from 5.57 to 4.43 is negative. The root mean
        # square of the SDs would give 0.4606 instead.
        (5.57, 4.43, 1.99, 2.88, -0.4681725),
        # Equal SDs: both denominators agree.
        (50.0, 30.0, 10.0, 10.0, -2.0),
    ],
)
def test_d_av_is_lakens_equation_10(before, after, sd_before, sd_after, expected):
    assert_allclose(d_av(after - before, sd_before, sd_after), expected, atol=5e-7)


def test_d_av_undefined_without_spread():
    assert d_av(-5.0, 0.0, 0.0) is None
    assert d_av(-5.0, np.nan, 3.0) is None


@pytest.mark.parametrize(
    ("sd", "r", "expected"),
    [
        (14, 0.94, 9.5),  # clinical reference: SD 14, r .94 (alpha) -> 9.5 points
        (14, 0.82, 16.5),  # SD 14, r .82 (test-retest, Blevins 2015) -> 16.5 points
    ],
)
def test_jacobson_truax_thresholds(sd, r, expected):
    # Jacobson & Truax 1991: 1.96 * sqrt(2) * SD * sqrt(1 - r)
    assert_allclose(reliable_change_threshold(sd, r), expected, atol=0.05)


def test_mean_change_ci_by_hand():
    changes = [-10.0, -20.0, -30.0]
    # mean -20, SD 10, n 3: -20 +- t(0.975, 2) * 10 / sqrt(3); t = 4.302653 (scipy.stats.t.ppf)
    half = stats.t.ppf(0.975, 2) * 10 / np.sqrt(3)
    assert_allclose(mean_change_ci(changes), (-20 - half, -20 + half))
    assert_allclose(half, 24.8413, atol=1e-4)
    # Fewer than 3 changes: no interval (two would give -20 +- 12.7 * SD / sqrt(2)).
    assert mean_change_ci([-5.0]) == (None, None)
    assert mean_change_ci([-10.0, -20.0]) == (None, None)


def test_d_z_by_hand():
    # mean -20 / SD 10 = -2
    assert_allclose(d_z([-10.0, -20.0, -30.0]), -2.0)
    assert d_z([-5.0]) is None
    assert d_z([-5.0, -5.0]) is None


def test_timepoint_statistics_by_hand():
    # baselines 50, 40, 60 (mean 50, SD 10); week-4 scores 40, 20, 30 (changes -10, -20, -30)
    data = clinic(
        [("a", 0, 50), ("a", 28, 40), ("b", 0, 40), ("b", 28, 20), ("c", 0, 60), ("c", 28, 30)]
    )
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.n, week4.mean, week4.mean_change) == (3, 30.0, -20.0)
    assert_allclose(week4.d_z, -2.0)
    # Baseline SD 10, week-4 SD 10: d_av = -20 / ((10 + 10) / 2).
    assert_allclose(week4.d_av, -2.0)
    # Reliable change with the cohort's baseline SD 10 and r .82: threshold 11.76 points.
    rc = week4.reliable_change
    assert_allclose(rc.threshold_points, 1.96 * np.sqrt(2) * 10 * np.sqrt(0.18))
    assert (rc.improved, rc.unchanged, rc.deteriorated) == (2, 1, 0)
    assert baseline_stats(data, PCL) == {"n": 3, "mean": 50.0, "sd": 10.0}


@pytest.mark.parametrize(
    ("rule", "baseline", "score", "worse"),
    [
        # >=30% rule turned round: 50 -> 65 is +30% exactly (counts), 50 -> 64 is +28%.
        ("pct:30", 50, 65, True),
        ("pct:30", 50, 64, False),
        # A baseline of 0 cannot worsen by a share of it.
        ("pct:30", 0, 10, False),
        # >=10 points: 40 -> 50 counts, 40 -> 49 does not.
        ("points:10", 40, 50, True),
        ("points:10", 40, 49, False),
        # >=50%: 20 -> 30 is +50%.
        ("pct:50", 20, 30, True),
        # An improvement is never a deterioration.
        ("pct:30", 50, 20, False),
    ],
)
def test_deterioration_is_the_response_rule_turned_round(rule, baseline, score, worse):
    data = clinic([("a", 0, baseline), ("a", 28, score)])
    week4 = at(timepoint_outcomes(data, OutcomeDefinitions(response=rule)), "week 4")
    assert (week4.deterioration.k, week4.deterioration.n) == (int(worse), 1)


def test_deterioration_counts_observed_patients_with_interval():
    # a: 40 -> 55 (+37.5%, +15 points: worse by both rules); b: 40 -> 48 (+20%, +8: neither);
    # c: 40 -> 20 (better). Observed n = 3; 1 of 3 worse, Wilson 95% 6.1%-79.2%.
    data = clinic(
        [("a", 0, 40), ("a", 28, 55), ("b", 0, 40), ("b", 28, 48), ("c", 0, 40), ("c", 28, 20)]
    )
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.deterioration.k, week4.deterioration.n) == (1, 3)
    assert (week4.meaningful_worsening.k, week4.meaningful_worsening.n) == (1, 3)
    assert_allclose(
        (week4.deterioration.ci_low, week4.deterioration.ci_high), (0.0615, 0.7923), atol=5e-4
    )


def test_reliability_sd_setting():
    data = clinic([("a", 0, 50), ("a", 28, 40), ("b", 0, 40), ("b", 28, 20)])
    d = OutcomeDefinitions(reliability_sd=14, reliability_r=0.94)
    rc = at(timepoint_outcomes(data, d), "week 4").reliable_change
    assert_allclose(rc.threshold_points, 9.5, atol=0.05)
    assert (rc.improved, rc.unchanged) == (2, 0)


def test_to_dict_is_json():
    data = clinic([("a", 0, 50), ("a", 28, 40)])
    out = [o.to_dict() for o in timepoint_outcomes(data, PCL)]
    text = json.dumps(out, allow_nan=False)
    assert '"response": {"k": 1, "n": 1' not in text  # 50 -> 40 is 20%: not a response
    assert out[0]["d_z"] is None and out[0]["reliable_change"]["improved"] is None


@pytest.mark.parametrize(
    ("instrument", "baseline", "score", "responder", "remitter"),
    [
        ("PHQ-9", 20, 10, True, False),  # 50% responds; remission needs < 5
        ("PHQ-9", 20, 4, True, True),
        ("GAD-7", 16, 9, False, False),
        ("BDI-II", 30, 13, True, True),  # <= 13
        ("BDI-II", 30, 14, True, False),
        ("MADRS", 30, 12, True, True),  # <= 12
        ("MADRS", 30, 13, True, False),
    ],
)
def test_every_instrument_with_its_defaults(instrument, baseline, score, responder, remitter):
    data = clinic([("a", 0, baseline), ("a", 28, score)], instrument=instrument)
    week4 = at(timepoint_outcomes(data, OutcomeDefinitions.for_instrument(instrument)), "week 4")
    assert (week4.response.k, week4.remission.k) == (int(responder), int(remitter))


def test_patient_outcomes_reproduce_rates():
    data = clinic(
        [("a", 0, 50), ("a", 28, 20), ("b", 0, 30), ("b", 28, 25), ("c", 0, 50), ("c", 7, 30)]
    )
    rows = patient_outcomes(data, PCL)
    assert list(rows.columns) == PATIENT_OUTCOME_COLUMNS
    week4 = rows[rows["timepoint"] == "week 4"]
    assert len(week4) == 3 and week4["observed"].sum() == 2
    o = at(timepoint_outcomes(data, PCL), "week 4")
    assert o.response_itt.k == int(week4.loc[week4["itt"], "responder"].sum())
    assert o.remission.n == int((week4["observed"] & week4["remission_eligible"]).sum())


# ---- Naive reference: plain Python loops over patients ----


def naive_rates(assess, session_ids, d, follow_up=None):
    """Every rate of each window by loops; ``follow_up``: patient -> days followed (absent or
    None: unknown, so due)."""
    follow_up = follow_up or {}
    rule = d.response
    forms = {}
    for pid, day, instrument, total in zip(
        assess["patient_id"], assess["day"], assess["instrument"], assess["total"]
    ):
        if instrument == d.instrument and not pd.isna(total):
            forms.setdefault(pid, []).append((int(day), float(total)))
    base = {}
    for pid, scored in forms.items():
        pre = [f for f in scored if -d.baseline_lookback_days <= f[0] <= 0]
        if pre:
            base[pid] = max(pre)[1]
    itt = [p for p in base if p in session_ids]
    out = {}
    for w in d.windows:
        counts = dict.fromkeys(
            [
                "resp",
                "n",
                "resp_itt",
                "rem",
                "rem_n",
                "rem_itt",
                "rem_itt_n",
                "mean",
                "mean_itt",
                "not_due",
                "worse",
                "worse_points",
            ],
            0,
        )
        for pid, b in base.items():
            best = None
            for day, total in forms[pid]:
                if not (w.low <= day <= w.high):
                    continue
                key = (abs(day - w.target_day), day)
                if best is None or key < best[0]:
                    best = (key, total)
            eligible = b >= d.remission_requires_baseline_at_or_above
            if best is None:
                followed = follow_up.get(pid)
                if pid in itt and followed is not None and followed < w.high:
                    counts["not_due"] += 1  # not scored, and not followed to the window's end
                elif pid in itt and eligible:
                    counts["rem_itt_n"] += 1
                continue
            score = best[1]
            if rule.kind == "pct":
                responds = b > 0 and (b - score) / b * 100 >= rule.threshold - 1e-9
            else:
                responds = b - score >= rule.threshold - 1e-9
            remits = eligible and score < d.remission_below
            meaningful = b - score >= d.meaningful_points
            if rule.kind == "pct":
                worse = b > 0 and (score - b) / b * 100 >= rule.threshold - 1e-9
            else:
                worse = score - b >= rule.threshold - 1e-9
            counts["worse"] += worse
            counts["worse_points"] += score - b >= d.meaningful_points
            counts["n"] += 1
            counts["resp"] += responds
            counts["mean"] += meaningful
            counts["rem_n"] += eligible
            counts["rem"] += remits
            if pid in itt:
                counts["resp_itt"] += responds
                counts["mean_itt"] += meaningful
                counts["rem_itt"] += remits
                counts["rem_itt_n"] += eligible
        if counts["n"]:
            counts["itt_n"] = len(itt) - counts["not_due"]
            out[w.label] = counts
    return out


@pytest.mark.parametrize(
    ("seed", "instrument", "rule", "followed"),
    [
        (11, "PCL-5", None, False),
        (12, "PCL-5", "points:10", False),
        (13, "PHQ-9", None, False),
        (14, "PCL-5", None, True),
        (15, "PHQ-9", "pct:50", True),
    ],
)
def test_rates_match_naive_reference(seed, instrument, rule, followed):
    rng = np.random.default_rng(seed)
    top = 81 if instrument == "PCL-5" else 28
    rows = []
    for i in range(300):
        for day in rng.choice(np.arange(-40, 100), size=rng.integers(0, 10), replace=False):
            total = float(rng.integers(0, top)) if rng.random() > 0.1 else np.nan
            rows.append((f"p{i:03d}", int(day), total))
    assess = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(
        instrument=instrument
    )
    session_ids = {f"p{i:03d}" for i in range(300) if i % 5}
    sess = pd.DataFrame({"patient_id": sorted(session_ids), "day": 0})
    # Follow-up from 0 to 120 days, unknown for about one patient in eight.
    follow_up = {
        f"p{i:03d}": (None if rng.random() < 0.125 else int(rng.integers(0, 121)))
        for i in range(300)
    }
    patients = None
    if followed:
        patients = pd.DataFrame(
            {
                "patient_id": list(follow_up),
                "follow_up_days": pd.array(list(follow_up.values()), dtype="Int64"),
            }
        )
    data = clinic_from_frames(assessments=assess, sessions=sess, patients=patients)
    d = OutcomeDefinitions.for_instrument(instrument, **({"response": rule} if rule else {}))
    expected = naive_rates(assess, session_ids, d, follow_up if followed else None)
    got = {o.label: o for o in timepoint_outcomes(data, d)}
    assert set(got) == set(expected)
    for label, e in expected.items():
        o = got[label]
        assert (o.response.k, o.response.n) == (e["resp"], e["n"]), label
        assert (o.response_itt.k, o.response_itt.n) == (e["resp_itt"], e["itt_n"]), label
        assert (o.remission.k, o.remission.n) == (e["rem"], e["rem_n"]), label
        assert (o.remission_itt.k, o.remission_itt.n) == (e["rem_itt"], e["rem_itt_n"]), label
        assert (o.meaningful.k, o.meaningful.n) == (e["mean"], e["n"]), label
        assert (o.meaningful_itt.k, o.meaningful_itt.n) == (e["mean_itt"], e["itt_n"]), label
        assert o.not_yet_due == e["not_due"], label
        assert (o.deterioration.k, o.deterioration.n) == (e["worse"], e["n"]), label
        assert (o.meaningful_worsening.k, o.meaningful_worsening.n) == (
            e["worse_points"],
            e["n"],
        ), label
    if followed:
        assert sum(e["not_due"] for e in expected.values()) > 0  # the rule was exercised


# ---- Intention to treat by follow-up ----
# Week 4 is day 28 +- 7: its window closes on day 35. Week 1 is day 7 +- 3 (closes day 10).


def followed_clinic(rows, follow_up):
    """:func:`clinic` with each patient's follow-up days (None: unknown)."""
    data = clinic(rows)
    ids = data.patients["patient_id"]
    days = pd.array([follow_up.get(i) for i in ids], dtype="Int64")
    return clinic_from_frames(
        assessments=data.assessments,
        sessions=data.sessions,
        patients=pd.DataFrame({"patient_id": ids, "follow_up_days": days}),
    )


@pytest.mark.parametrize(
    ("follow_up", "itt_n", "not_yet_due"),
    [
        # b has a baseline and no week-4 score. Followed to day 34, the day before the window
        # closes: not due, left out of the denominator and counted beside it.
        (34, 1, 1),
        # Followed to day 35, the window's last day: due, a non-responder.
        (35, 2, 0),
        (400, 2, 0),
        # Follow-up unknown: every ITT patient counts, the rule without follow-up times.
        (None, 2, 0),
    ],
)
def test_itt_leaves_out_patients_not_yet_due(follow_up, itt_n, not_yet_due):
    rows = [("a", 0, 50), ("a", 28, 30), ("b", 0, 50)]
    data = followed_clinic(rows, {"a": 400, "b": follow_up})
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.response_itt.k, week4.response_itt.n) == (1, itt_n)
    assert week4.not_yet_due == not_yet_due
    assert (week4.response.k, week4.response.n) == (1, 1)  # observed: unchanged


def test_patient_scored_early_in_the_window_is_in_both_populations():
    # a is scored on day 22 (week 4's window opens on day 21) and followed only to day 25:
    # observed, so in the ITT population too, though the window closes on day 35.
    rows = [("a", 0, 50), ("a", 22, 30), ("b", 0, 50)]
    data = followed_clinic(rows, {"a": 25, "b": 25})
    week4 = at(timepoint_outcomes(data, PCL), "week 4")
    assert (week4.response.k, week4.response.n) == (1, 1)
    assert (week4.response_itt.k, week4.response_itt.n) == (1, 1)
    assert week4.not_yet_due == 1  # b
    flags = patient_outcomes(data, PCL).query("timepoint == 'week 4'").set_index("patient_id")
    assert flags.loc["a", ["observed", "itt", "not_yet_due"]].tolist() == [True, True, False]
    assert flags.loc["b", ["observed", "itt", "not_yet_due"]].tolist() == [False, False, True]


def test_not_yet_due_depends_on_each_window():
    # Followed to day 12: due at 24 hours and week 1 (closes day 10), not at week 4.
    rows = [("a", 0, 50), ("a", 1, 40), ("a", 7, 30), ("a", 28, 30), ("b", 0, 50)]
    data = followed_clinic(rows, {"a": 400, "b": 12})
    outcomes = timepoint_outcomes(data, PCL)
    assert [at(outcomes, label).response_itt.n for label in ("24h", "week 1", "week 4")] == [
        2,
        2,
        1,
    ]
    assert [at(outcomes, label).not_yet_due for label in ("24h", "week 1", "week 4")] == [0, 0, 1]
