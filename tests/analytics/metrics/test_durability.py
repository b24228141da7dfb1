"""Kaplan-Meier machinery against published values, and hand-worked durability cases."""

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions, ResponseRule
from analytics.metrics.durability import (
    KM_BANDS,
    durability_summary,
    event_curves_from,
    kaplan_meier,
    loss_of_response_times,
    relapse_after_remission_times,
    survival_median,
    sustained_response,
    time_to_response_times,
)
from analytics.report.patients import patient_table

# Freireich et al. 1963 leukaemia remission data (weeks), 6-MP group, as tabulated in
# Kleinbaum & Klein, Survival Analysis: A Self-Learning Text, 3rd ed. (2012), chapter 2;
# also Gehan's data, https://grodri.github.io/datasets/gehan.dat. 0 = censored ("+").
MP6_TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP6_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
# The placebo group: every patient relapsed.
PLACEBO_TIME = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


# Kleinbaum & Klein, table of the 6-MP KM estimates (chapter 2): S(t) at each failure time.
@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (5, 1.0),
        (6, 0.8571),
        (7, 0.8067),
        (10, 0.7529),
        (13, 0.6902),
        (16, 0.6275),
        (22, 0.5378),
        (23, 0.4482),
        (35, 0.4482),
    ],
)
def test_km_matches_kleinbaum_klein_6mp(t, expected):
    km = kaplan_meier(MP6_TIME, np.array(MP6_EVENT, bool))
    curve = km.curve
    s = curve.loc[curve["time"] <= t, "survival"].iloc[-1]
    assert_allclose(s, expected, atol=5e-5)


def test_km_medians_of_freireich_groups():
    # Kleinbaum & Klein ch. 2: median remission 23 weeks (6-MP) and 8 weeks (placebo).
    mp6 = kaplan_meier(MP6_TIME, np.array(MP6_EVENT, bool))
    placebo = kaplan_meier(PLACEBO_TIME, np.ones(21, bool))
    assert (mp6.n, mp6.events, mp6.median) == (21, 9, 23.0)
    assert (placebo.n, placebo.events, placebo.median) == (21, 21, 8.0)
    # Log-log band (Stata `sts list`, https://grodri.github.io/survival/gehan lists the
    # placebo row at week 1 as 0.9048, 0.6700-0.9753). Band <= 0.5 first at: 6-MP lower band
    # 0.4316 at week 13, upper band never (0.6801 at its lowest); placebo lower band 0.4254 at
    # week 4, upper band 0.4818 at week 11.
    assert (mp6.median_ci_low, mp6.median_ci_high, mp6.median_reached) == (13.0, None, True)
    assert (placebo.median_ci_low, placebo.median_ci_high) == (4.0, 11.0)
    row = placebo.curve[placebo.curve["time"] == 1].iloc[0]
    assert_allclose(
        [row["survival"], row["ci_low"], row["ci_high"]], [0.9048, 0.6700, 0.9753], atol=5e-5
    )


def test_km_curve_counts_6mp():
    curve = kaplan_meier(MP6_TIME, np.array(MP6_EVENT, bool)).curve
    # Kleinbaum & Klein ch. 2: at week 6, 21 at risk and 3 failures (one censored); at week 10,
    # 15 at risk, 1 failure (one censored); at week 23, 6 at risk, 1 failure.
    got = curve.set_index("time").loc[[0, 6, 10, 23], ["at_risk", "events", "censored"]]
    assert got.to_numpy().tolist() == [[21, 0, 0], [21, 3, 1], [15, 1, 1], [6, 1, 0]]
    assert list(curve.columns) == [
        "time",
        "survival",
        "ci_low",
        "ci_high",
        "at_risk",
        "events",
        "censored",
    ]


def _naive_km_loglog(time, event, z=1.959963984540054):
    """Textbook loop: product-limit, Greenwood, log-log band (Kalbfleisch & Prentice)."""
    out = {}
    s, g = 1.0, 0.0
    for t in sorted(set(time)):
        n = sum(1 for x in time if x >= t)
        d = sum(1 for x, e in zip(time, event) if x == t and e)
        if d:
            s *= 1 - d / n
            g += d / (n * (n - d)) if n > d else math.inf
        if s > 0 and g > 0 and s < 1:
            se = math.sqrt(g) / abs(math.log(s))
            out[t] = (s, s ** math.exp(z * se), s ** math.exp(-z * se))
        else:
            out[t] = (s, None, None)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_km_against_naive_reference(seed):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 40, size=60).astype(float)
    event = rng.random(60) < 0.6
    km = kaplan_meier(time, event).curve.set_index("time")
    for t, (s, low, high) in _naive_km_loglog(list(time), list(event)).items():
        assert_allclose(km.loc[t, "survival"], s, rtol=1e-10)
        if low is not None:
            assert_allclose([km.loc[t, "ci_low"], km.loc[t, "ci_high"]], [low, high], rtol=1e-8)


@pytest.mark.parametrize(
    ("time", "event", "median", "low", "high"),
    [
        # all censored: the curve stays at 1
        ([3, 5], [0, 0], None, None, None),
        # two patients, one event at 2: S = 0.5 exactly counts as reaching the median; the curve
        # never leaves 0.5, so R's print.survfit gives the start of the stretch (quantile.survfit
        # would give 3, the midpoint with the last follow-up)
        ([2, 4], [1, 0], 2.0, 2.0, None),
        # 0.5 from day 77 until the next event on day 80 (someone censored on 79): the midpoint
        ([10, 77, 79, 80], [1, 1, 0, 1], 78.5, 10.0, None),
        # nobody
        ([], [], None, None, None),
    ],
)
def test_km_edge_cases(time, event, median, low, high):
    km = kaplan_meier(time, np.array(event, bool))
    assert (km.median, km.median_ci_low, km.median_ci_high) == (median, low, high)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time": [1, 2], "event": [True]}, "time and event must have the same length"),
        ({"time": [-1], "event": [True]}, "times must be non-negative numbers"),
        (
            {"time": [1], "event": [True], "band": "linear"},
            r"band must be one of \('log-log', 'log', 'plain'\), got 'linear'",
        ),
    ],
)
def test_km_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(**kwargs)


def test_km_plain_band_matches_scipy_linear():
    km = kaplan_meier(MP6_TIME, np.array(MP6_EVENT, bool), band="plain")
    res = stats.ecdf(
        stats.CensoredData(
            uncensored=np.array(MP6_TIME, float)[np.array(MP6_EVENT, bool)],
            right=np.array(MP6_TIME, float)[~np.array(MP6_EVENT, bool)],
        )
    )
    band = res.sf.confidence_interval(method="linear")
    row = km.curve[km.curve["time"] == 13].iloc[0]
    assert_allclose(
        [row["ci_low"], row["ci_high"]], [band.low.evaluate(13), band.high.evaluate(13)]
    )


# --- R survival's `aml` data: medians and intervals as R prints them --------------------------

# Acute myelogenous leukaemia remission (weeks), R survival's `aml`; 0 = censored ("+"). As R
# prints it in github.com/therneau/survival, tests/Examples/survival-Ex.Rout.save
# (`with(aml, Surv(time, status))`): 9 13 13+ 18 23 28+ 31 34 45+ 48 161+ | 5 5 8 8 12 16+ 23
# 27 30 33 43 45.
AML = {
    "maintained": ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]),
    "nonmaintained": ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1] * 5 + [0] + [1] * 6),
}
AML["pooled"] = tuple(a + b for a, b in zip(AML["maintained"], AML["nonmaintained"]))


def _r_km_median_reference(time, event, band, z=1.959963984540054):
    """R survival's median and interval written out one time at a time: survfitkm.c's
    product-limit and Greenwood sums, survfit_confint's bands (R/survfit.R), print.survfit's
    minmin (R/print.survfit.R). NA (here None) where R has NA."""
    rows = []  # (time, S, lower, upper) at every distinct time, as survfit keeps them
    s, greenwood = 1.0, 0.0
    for t in sorted(set(time)):
        at_risk = sum(1 for x in time if x >= t)
        deaths = sum(1 for x, e in zip(time, event) if x == t and e)
        if deaths:
            s *= (at_risk - deaths) / at_risk
            greenwood = (
                math.inf
                if at_risk == deaths
                else greenwood + deaths / (at_risk * (at_risk - deaths))
            )
        se = math.sqrt(greenwood)
        if se == 0:
            lower = upper = s
        elif s == 0:
            lower = upper = None
        elif band == "plain":
            lower, upper = max(s - z * se * s, 0.0), min(s + z * se * s, 1.0)
        elif band == "log":
            lower, upper = s * math.exp(-z * se), min(s * math.exp(z * se), 1.0)
        else:
            lower = math.exp(-math.exp(math.log(-math.log(s)) - z * se / math.log(s)))
            upper = math.exp(-math.exp(math.log(-math.log(s)) + z * se / math.log(s)))
        rows.append((t, s, lower, upper))

    def minmin(column):
        tol = 2.0**-26  # .Machine$double.eps^.5
        kept = [(r[0], r[column]) for r in rows if r[column] is not None]
        kept = [(t, y) for t, y in kept if y < 0.5 + tol]
        if not kept:
            return None
        first_t, first_y = kept[0]
        if abs(first_y - 0.5) < tol:
            for t, y in kept:
                if y < first_y:
                    return (first_t + t) / 2
        return float(first_t)

    return minmin(1), minmin(2), minmin(3)


# R's printed output, conf.type = "log" (R's default). Groups: github.com/therneau/survival,
# tests/doaml.Rout.save, `survfit(Surv(aml$time, aml$status) ~ aml$x)`:
#   aml$x=Maintained    11 7 31 18 NA;  aml$x=Nonmaintained 12 11 23 8 NA.
# Pooled: `survfit(Surv(time, status) ~ 1, data = aml)` printed "median survival time = 27
# (95%CI: 18, 45)", as quoted in a public R teaching script on Kaplan-Meier curves.
# No printed R output was found for "log-log" or "plain": those rows come from the reference
# loop above (R's algorithm), R's call being survfit(..., conf.type = "log-log") or "plain".
# The log-log rows were also checked against an implementation that shares no code with R:
# lifelines 0.30.3 KaplanMeierFitter (exponential Greenwood, i.e. log-log) on the same data gives
# medians 31, 23, 27 with intervals (13, inf), (5, 33), (13, 34) from
# median_survival_times(confidence_interval_); its pointwise band is AML_MAINTAINED_LOGLOG.
AML_EXPECTED = [
    ("maintained", "log", 11, 7, 31.0, 18.0, None),
    ("nonmaintained", "log", 12, 11, 23.0, 8.0, None),
    ("pooled", "log", 23, 18, 27.0, 18.0, 45.0),
    ("maintained", "log-log", 11, 7, 31.0, 13.0, None),
    ("nonmaintained", "log-log", 12, 11, 23.0, 5.0, 33.0),
    ("pooled", "log-log", 23, 18, 27.0, 13.0, 34.0),
    ("maintained", "plain", 11, 7, 31.0, 18.0, 48.0),
    ("nonmaintained", "plain", 12, 11, 23.0, 8.0, 33.0),
    ("pooled", "plain", 23, 18, 27.0, 18.0, 34.0),
]


@pytest.mark.parametrize(("group", "band", "n", "events", "median", "low", "high"), AML_EXPECTED)
def test_km_aml_medians_match_r(group, band, n, events, median, low, high):
    time, event = AML[group]
    km = kaplan_meier(time, np.array(event, bool), band=band)
    got = (km.n, km.events, km.median, km.median_ci_low, km.median_ci_high, km.band)
    assert got == (n, events, median, low, high, band)
    assert (km.median, km.median_ci_low, km.median_ci_high) == _r_km_median_reference(
        time, event, band
    )


# R's printed `summary(survfit(Surv(aml$time, aml$status) ~ aml$x))`, log band, Maintained
# group (github.com/therneau/survival, tests/doaml.Rout.save): time, survival, lower, upper.
AML_MAINTAINED_SUMMARY = [
    (9, 0.909, 0.7541, 1.000),
    (13, 0.818, 0.6192, 1.000),
    (18, 0.716, 0.4884, 1.000),
    (23, 0.614, 0.3769, 0.999),
    (31, 0.491, 0.2549, 0.946),
    (34, 0.368, 0.1549, 0.875),
    (48, 0.184, 0.0359, 0.944),
]


# lifelines 0.30.3 KaplanMeierFitter().fit(...).confidence_interval_, Maintained group, at the
# event times: time, lower, upper (the log-log band of Greenwood's variance).
AML_MAINTAINED_LOGLOG = [
    (9, 0.5081, 0.9867),
    (13, 0.4474, 0.9512),
    (18, 0.3502, 0.8990),
    (23, 0.2658, 0.8353),
    (31, 0.1673, 0.7534),
    (34, 0.0928, 0.6570),
    (48, 0.0117, 0.5250),
]


def test_km_aml_log_log_band_matches_an_independent_implementation():
    time, event = AML["maintained"]
    curve = kaplan_meier(time, np.array(event, bool), band="log-log").curve.set_index("time")
    for t, low, high in AML_MAINTAINED_LOGLOG:
        assert_allclose(curve.loc[t, ["ci_low", "ci_high"]].to_numpy(float), [low, high], atol=5e-5)


def test_km_aml_log_band_matches_r_summary():
    time, event = AML["maintained"]
    curve = kaplan_meier(time, np.array(event, bool), band="log").curve.set_index("time")
    for t, s, low, high in AML_MAINTAINED_SUMMARY:
        assert_allclose(curve.loc[t, "survival"], s, atol=5e-4)
        assert_allclose(curve.loc[t, "ci_low"], low, atol=5e-5)
        assert_allclose(curve.loc[t, "ci_high"], high, atol=5e-4)


def test_km_aml_nonmaintained_band_once_survival_is_zero():
    # R prints survival 0, std.err NaN and NA limits at week 45; the curve shows 0 there, and
    # the median's limits skip it (R's NA), so the log band's upper limit is not reached.
    time, event = AML["nonmaintained"]
    km = kaplan_meier(time, np.array(event, bool), band="log")
    last = km.curve.iloc[-1]
    assert (last["time"], last["survival"], last["ci_low"], last["ci_high"]) == (45, 0, 0, 0)
    assert km.median_ci_high is None


@pytest.mark.parametrize(
    ("time", "values", "expected"),
    [
        # first at or below 0.5
        ([5, 8, 12], [0.8, 0.45, 0.3], 8.0),
        # exactly 0.5 from 77 (censored 79) until the drop at 80: the midpoint, as R prints
        ([10, 77, 79, 80], [0.75, 0.5, 0.5, 0.0], 78.5),
        # 0.5 within R's tolerance (roundoff of a product of fractions) counts as 0.5
        ([1, 2, 3], [0.6, 0.5 + 1e-12, 0.2], 2.5),
        # a stretch at 0.5 the curve never leaves: its start
        ([2, 4], [0.5, 0.5], 2.0),
        # missing band values (R's NA once S is 0) are skipped
        ([1, 2, 3], [0.9, 0.6, np.nan], None),
        # never at or below 0.5: not reached
        ([1, 2], [0.9, 0.51], None),
    ],
)
def testsurvival_median(time, values, expected):
    assert survival_median(np.array(time, float), np.array(values, float)) == expected


def test_km_band_limits_use_the_midpoint_rule():
    # Four patients, events on days 1, 2, 4 and 5: S = 0.75, 0.5, 0.25, 0. The median is the
    # midpoint of 2 and 4; the limits are read off each band by the same rule (R applies
    # minmin to the lower and upper curves too).
    for band in KM_BANDS:
        km = kaplan_meier([1, 2, 4, 5], np.ones(4, bool), band=band)
        assert km.median == 3.0
        expected = _r_km_median_reference([1, 2, 4, 5], [1, 1, 1, 1], band)
        assert (km.median, km.median_ci_low, km.median_ci_high) == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("band", KM_BANDS)
def test_km_median_against_r_reference_on_random_data(seed, band):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 30, size=25).astype(float)
    event = rng.random(25) < 0.7
    km = kaplan_meier(time, event, band=band)
    expected = _r_km_median_reference(list(time), list(event), band)
    assert (km.median, km.median_ci_low, km.median_ci_high) == expected


# --- Durability from a clinic's scores -------------------------------------------------------

PCL = "PCL-5"


def _clinic(rows):
    """rows: (patient, day, total) PCL-5 scores; every patient has sessions on days 0-11."""
    assessments = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(instrument=PCL)
    ids = sorted(set(assessments["patient_id"]))
    sessions = pd.DataFrame(
        [(p, d, "iv_ketamine") for p in ids for d in (0, 2, 4, 7, 9, 11)],
        columns=["patient_id", "day", "route"],
    )
    return clinic_from_frames(sessions=sessions, assessments=assessments)


DEFS = OutcomeDefinitions.for_instrument(PCL)  # >= 30% response, remission below 33

# Hand-worked patients (baseline 50 on day 0; a response is a score of 35 or less):
#   a: responds day 7 (30), still 30 on day 14 and 21, loses on day 28 (40) -> event, 21 days
#      (the loss is at the 3rd later score)
#   b: responds day 14 (35), stays (30 on day 28, 28 on day 56) -> censored at 56, 42 days
#   c: never responds (45, 44) -> not in loss of response; censored at 28 for time to response
#   d: responds on its only post-baseline score -> no later score, not counted
HAND = [
    ("a", 0, 50), ("a", 7, 30), ("a", 14, 30), ("a", 21, 30), ("a", 28, 40),
    ("b", 0, 50), ("b", 7, 40), ("b", 14, 35), ("b", 28, 30), ("b", 56, 28),
    ("c", 0, 50), ("c", 14, 45), ("c", 28, 44),
    ("d", 0, 50), ("d", 7, 20),
]  # fmt: skip


def test_loss_of_response_hand_worked():
    got = loss_of_response_times(_clinic(HAND), DEFS)
    assert got.to_dict("records") == [
        {"patient_id": "a", "start_day": 7, "end_day": 28, "time": 21, "event": True},
        {"patient_id": "b", "start_day": 14, "end_day": 56, "time": 42, "event": False},
    ]


def test_time_to_response_hand_worked():
    got = time_to_response_times(_clinic(HAND), DEFS).set_index("patient_id")
    assert got[["time", "event"]].to_dict("index") == {
        "a": {"time": 7, "event": True},
        "b": {"time": 14, "event": True},
        "c": {"time": 28, "event": False},
        "d": {"time": 7, "event": True},
    }


def test_relapse_after_remission_hand_worked():
    # Remission < 33 among baselines >= 33: a remits day 7 (30) and relapses day 28 (40);
    # b remits day 28 (30), still 28 on day 56 -> censored after 28 days; d has no later score.
    got = relapse_after_remission_times(_clinic(HAND), DEFS).set_index("patient_id")
    assert got[["start_day", "time", "event"]].to_dict("index") == {
        "a": {"start_day": 7, "time": 21, "event": True},
        "b": {"start_day": 28, "time": 28, "event": False},
    }


def test_points_rule_comes_from_definitions():
    # With a >= 10-point rule, c's 45 on day 14 is not a response but b's 40 on day 7 is.
    defs = DEFS.with_changes(response=ResponseRule("points", 10))
    got = time_to_response_times(_clinic(HAND), defs).set_index("patient_id")
    assert got.loc["b", "time"] == 7 and not got.loc["c", "event"]


# Week-4 responders (week 4 = days 21-35, nearest 28): e, f, g, h respond at week 4;
# week 8 (49-63): e responds, f does not, g unscored; week 12 (77-91): e responds, others unscored.
SUSTAINED = [
    ("e", 0, 60), ("e", 28, 30), ("e", 56, 30), ("e", 84, 30),
    ("f", 0, 60), ("f", 28, 30), ("f", 56, 50),
    ("g", 0, 60), ("g", 28, 30),
    ("h", 0, 60), ("h", 28, 40), ("h", 56, 30),
    ("i", 0, 60), ("i", 28, 50), ("i", 56, 30),
]  # fmt: skip


def test_sustained_response_observed_and_itt():
    table = sustained_response(_clinic(SUSTAINED), DEFS).set_index(["timepoint", "population"])
    # e, f, g, h respond at week 4 (h: 40 <= 42 = 60 * 0.7); i does not (50).
    expected = {
        ("week 8", "observed"): (2, 3),  # e and h respond, f does not; g unscored
        ("week 8", "intention to treat"): (2, 4),
        ("week 12", "observed"): (1, 1),
        ("week 12", "intention to treat"): (1, 4),
    }
    for key, (k, n) in expected.items():
        assert (table.loc[key, "k"], table.loc[key, "n"]) == (k, n)
    # Wilson 2/3 = 0.208-0.939 (R: binom::binom.confint(2, 3, methods = "wilson"))
    assert_allclose(
        table.loc[("week 8", "observed"), ["ci_low", "ci_high"]].to_numpy(float),
        [0.2077, 0.9385],
        atol=5e-4,
    )


def test_sustained_itt_leaves_out_responders_not_yet_due():
    # As above, with g (a week-4 responder, no later score) followed only to day 62: week 8 is
    # day 56 +- 7, so its window closes on day 63 and g is not yet due there. e, f, h followed
    # long. Week 8 ITT: 2 of e, f, h (g beside it); week 12 ITT: 1 of e, f, h.
    data = _clinic(SUSTAINED)
    follow_up = {"e": 400, "f": 400, "g": 62, "h": 400, "i": 400}
    days = pd.array([follow_up[i] for i in data.patients["patient_id"]], dtype="Int64")
    data = clinic_from_frames(
        sessions=data.sessions,
        assessments=data.assessments,
        patients=pd.DataFrame({"patient_id": data.patients["patient_id"], "follow_up_days": days}),
    )
    table = sustained_response(data, DEFS).set_index(["timepoint", "population"])
    itt = table.xs("intention to treat", level="population")
    assert itt.loc["week 8", ["k", "n", "not_yet_due"]].tolist() == [2, 3, 1]
    assert itt.loc["week 12", ["k", "n", "not_yet_due"]].tolist() == [1, 3, 1]
    # the observed population leaves nobody out
    assert (table.xs("observed", level="population")["not_yet_due"] == 0).all()
    summary = durability_summary(data, DEFS)
    assert summary["sustained_itt"]["week 8"]["n"] == 3
    assert summary["sustained_itt"]["week 8"]["not_yet_due"] == 1


def test_sustained_rejects_unknown_timepoint():
    with pytest.raises(ValueError, match="timepoint 'week 5' is not one of the windows"):
        sustained_response(_clinic(SUSTAINED), DEFS, later=("week 5",))


def test_durability_summary_is_json_ready():
    import json

    summary = durability_summary(_clinic(HAND + SUSTAINED), DEFS)
    text = json.dumps(summary, allow_nan=False)
    assert "NaN" not in text
    assert set(summary) >= {
        "definition",
        "sustained",
        "loss_of_response",
        "relapse_after_remission",
        "time_to_response",
    }
    # e and h from SUSTAINED, plus b from HAND (30 at day 28, 28 at day 56).
    assert summary["sustained"]["week 8"]["k"] == 3
    assert summary["loss_of_response"]["n"] >= 2
    assert "≥30% reduction" in summary["definition"]
    assert set(summary["time_to_response"]) == {
        "n",
        "events",
        "median_days",
        "median_ci_low",
        "median_ci_high",
        "median_reached",
        "band",
    }
    assert summary["time_to_response"]["band"] == "log-log"
    assert "from the log-log band (R survival's default is the log band)" in summary["definition"]


def test_durability_summary_of_empty_clinic():
    from analytics.core.contract import empty_clinic

    summary = durability_summary(empty_clinic(), DEFS)
    assert summary["loss_of_response"] == {
        "n": 0,
        "events": 0,
        "median_days": None,
        "median_ci_low": None,
        "median_ci_high": None,
        "median_reached": False,
        "band": "log-log",
    }
    assert summary["sustained"]["week 8"] == {
        "k": 0,
        "n": 0,
        "rate": None,
        "ci_low": None,
        "ci_high": None,
    }


@pytest.mark.parametrize(
    ("km_band", "band", "expected"),
    [
        ("log-log", None, "log-log"),  # the definitions' band by default
        ("log", None, "log"),
        ("log", "plain", "plain"),  # an explicit band wins
    ],
)
def test_durability_band_comes_from_definitions(km_band, band, expected):
    defs = DEFS.with_changes(km_band=km_band)
    summary = durability_summary(_clinic(HAND + SUSTAINED), defs, band=band)
    for analysis in ("loss_of_response", "relapse_after_remission", "time_to_response"):
        assert summary[analysis]["band"] == expected
    assert f"from the {expected} band" in summary["definition"]
    table = patient_table(_clinic(HAND), defs)
    _, medians = event_curves_from(table, table.keep(), defs, "time_to_response", band=band)
    assert medians["band"].tolist() == [expected]


def test_durability_rejects_unknown_band():
    with pytest.raises(ValueError, match=r"band must be one of \('log-log', 'log', 'plain'\)"):
        durability_summary(_clinic(HAND), DEFS, band="linear")
