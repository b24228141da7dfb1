"""Safety analytics, against hand-worked clinics.

Every expected number below was counted by hand from the small frames built in each test.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics.core.contract import clinic_from_frames, empty_clinic
from analytics.metrics.safety import (
    BPSettings,
    SafetySettings,
    blood_pressure_rates,
    blood_pressure_sessions,
    bp_rise_distribution,
    cadss_by_session_band,
    cadss_distribution,
    cadss_trend,
    dose_band,
    effect_label,
    effect_rates,
    older_patients,
    safety_summary,
    serious_events,
    session_number_band,
)

RATE_KEYS = {"k", "n", "rate", "ci_low", "ci_high"}


def _pick(frame, **where):
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    rows = frame.loc[mask]
    assert len(rows) == 1, f"expected one row for {where}, got {len(rows)}"
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# Denominators


@pytest.fixture()
def three_patients():
    """a: 3 sessions, nausea at two of them (twice at day 0); b: 2 sessions, nothing;
    c: 1 session, dizziness entered twice; plus a nausea row on a day with no session."""
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b", "c"],
            "day": [0, 3, 7, 0, 2, 0],
            "route": "iv_ketamine",
        }
    )
    effects = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "c", "c", "b"],
            "day": [0, 0, 3, 0, 0, 5],
            "effect": ["nausea", "nausea", "nausea", "dizziness", "dizziness", "nausea"],
            # Given, not derived: b's day 5 has no session to derive it from.
            "session_number": [1, 1, 2, 1, 1, 3],
        }
    )
    return clinic_from_frames(sessions=sessions, side_effects=effects)


@pytest.mark.parametrize(
    ("effect", "level", "k", "n"),
    [
        # a's two nausea sessions: once per patient, twice per session; b (no effects) is in
        # every per-patient denominator; the duplicate row at a's day 0 counts once.
        ("nausea", "patient", 1, 3),
        ("nausea", "session", 2, 6),
        # c's two dizziness rows at one session count once.
        ("dizziness", "patient", 1, 3),
        ("dizziness", "session", 1, 6),
    ],
)
def test_effect_denominators(three_patients, effect, level, k, n):
    row = _pick(effect_rates(three_patients), effect=effect, level=level)
    assert (row["k"], row["n"]) == (k, n)
    assert row["rate"] == pytest.approx(k / n)


def test_effect_rates_columns_and_order(three_patients):
    rates = effect_rates(three_patients)
    assert list(rates.columns) == ["effect", "level", "k", "n", "rate", "ci_low", "ci_high"]
    # Equal patient counts: ties broken by code; an effect nobody reported is not listed.
    assert rates["effect"].tolist() == ["dizziness"] * 2 + ["nausea"] * 2
    assert rates["k"].dtype == "int64" and rates["n"].dtype == "int64"


def test_effect_rates_wilson_142_of_346_per_patient():
    # 346 patients with 3 sessions each; 142 report dissociation at sessions 1 and 2.
    ids = [f"p{i:03d}" for i in range(346)]
    sessions = pd.DataFrame(
        {"patient_id": np.repeat(ids, 3), "day": np.tile([0, 2, 4], 346), "route": "iv_ketamine"}
    )
    effects = pd.DataFrame(
        {
            "patient_id": np.repeat(ids[:142], 2),
            "day": np.tile([0, 2], 142),
            "effect": "dissociation",
        }
    )
    rates = effect_rates(clinic_from_frames(sessions=sessions, side_effects=effects))
    patient = _pick(rates, effect="dissociation", level="patient")
    assert (patient["k"], patient["n"]) == (142, 346)
    # Wilson 95% CI of 142/346 = 36.0-46.3% (reference/clinical.md, Statistics check values).
    assert_allclose([patient["ci_low"], patient["ci_high"]], [0.360, 0.463], atol=5e-4)
    session = _pick(rates, effect="dissociation", level="session")
    assert (session["k"], session["n"]) == (284, 1038)


def test_no_side_effects_lists_nothing_but_keeps_denominators():
    sessions = pd.DataFrame({"patient_id": ["a", "b"], "day": [0, 0], "route": "iv_ketamine"})
    data = clinic_from_frames(sessions=sessions)
    assert effect_rates(data).empty
    summary = safety_summary(data)
    assert summary["side_effects"] == []
    assert summary["exposure"] == {"patients": 2, "sessions": 2}


def test_empty_clinic_summary():
    summary = safety_summary(empty_clinic())
    assert summary["exposure"] == {"patients": 0, "sessions": 0}
    assert summary["blood_pressure"]["rise"]["sessions"] == {
        "k": 0,
        "n": 0,
        "rate": None,
        "ci_low": None,
        "ci_high": None,
    }
    assert summary["dissociation"]["n_sessions"] == 0
    assert summary["dissociation"]["mean"] is None
    json.dumps(summary, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Grouping


@pytest.fixture()
def switched_route():
    """a: IV day 0, esketamine day 3 with nausea; b: IV days 0 and 2, nausea day 0;
    c: esketamine day 0, no effects."""
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b", "c"],
            "day": [0, 3, 0, 2, 0],
            "route": [
                "iv_ketamine",
                "esketamine_nasal",
                "iv_ketamine",
                "iv_ketamine",
                "esketamine_nasal",
            ],
        }
    )
    effects = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "day": [3, 0],
            "effect": "nausea",
            "severity": ["moderate", None],
            "serious": pd.array([True, False], dtype="boolean"),
        }
    )
    patients = pd.DataFrame({"patient_id": ["a", "b", "c"], "sex": ["F", "M", None]})
    return clinic_from_frames(sessions=sessions, side_effects=effects, patients=patients)


@pytest.mark.parametrize(
    ("by", "group", "level", "k", "n"),
    [
        # Session's route; per patient = patients exposed to the route (a is in both).
        ("route", "iv_ketamine", "patient", 1, 2),
        ("route", "iv_ketamine", "session", 1, 3),
        ("route", "esketamine_nasal", "patient", 1, 2),
        ("route", "esketamine_nasal", "session", 1, 2),
        # First-session route: a and b started on IV, c on esketamine.
        ("first_route", "iv_ketamine", "patient", 2, 2),
        ("first_route", "iv_ketamine", "session", 2, 4),
        ("first_route", "esketamine_nasal", "patient", 0, 1),
        ("first_route", "esketamine_nasal", "session", 0, 1),
        # A report's property: denominators are all 3 patients and all 5 sessions.
        ("severity", "moderate", "patient", 1, 3),
        ("severity", "moderate", "session", 1, 5),
        ("severity", "not recorded", "patient", 1, 3),
        ("serious", "serious", "session", 1, 5),
        ("serious", "not serious", "patient", 1, 3),
        # A patients column, missing value as its own group.
        ("sex", "F", "patient", 1, 1),
        ("sex", "M", "session", 1, 2),
        ("sex", "not recorded", "patient", 0, 1),
        # Session bands: first sessions of a, b, c; second sessions of a and b.
        ("session_band", "1", "session", 1, 3),
        ("session_band", "2-3", "session", 1, 2),
        ("session_band", "2-3", "patient", 1, 2),
    ],
)
def test_effect_rates_by(switched_route, by, group, level, k, n):
    rates = effect_rates(switched_route, by=by, session_flags=False)
    row = _pick(rates, effect="nausea", group=group, level=level)
    assert (row["k"], row["n"]) == (k, n)


def test_effect_rates_by_lists_every_group(switched_route):
    rates = effect_rates(switched_route, by="session_band")
    assert rates["group"].tolist() == ["1", "1", "2-3", "2-3"]
    assert list(rates.columns) == [
        "effect",
        "group",
        "level",
        "k",
        "n",
        "rate",
        "ci_low",
        "ci_high",
    ]


def test_effect_rates_unknown_group(switched_route):
    with pytest.raises(ValueError, match=r"cannot group by 'nope'; valid: .*first_route"):
        effect_rates(switched_route, by="nope")


def test_per_patient_rates_match_a_naive_count():
    # A deliberately plain loop over patients, compared on seeded random data.
    rng = np.random.default_rng(7)
    ids = [f"p{i}" for i in range(60)]
    n_sessions = rng.integers(1, 6, len(ids))
    pid = np.repeat(ids, n_sessions)
    day = np.concatenate([np.arange(m) * 2 for m in n_sessions])
    route = rng.choice(["iv_ketamine", "esketamine_nasal"], len(pid))
    sessions = pd.DataFrame({"patient_id": pid, "day": day, "route": route})
    pick = rng.choice(len(pid), 80)
    effects = pd.DataFrame(
        {
            "patient_id": pid[pick],
            "day": day[pick],
            "effect": rng.choice(["nausea", "headache"], len(pick)),
        }
    )
    rates = effect_rates(clinic_from_frames(sessions=sessions, side_effects=effects), by="route")
    for r in ("iv_ketamine", "esketamine_nasal"):
        at_route = {(p, d) for p, d, rr in zip(pid, day, route) if rr == r}
        exposed = {p for p, _ in at_route}
        for effect in ("nausea", "headache"):
            hits = {
                (p, d)
                for p, d, e in zip(effects["patient_id"], effects["day"], effects["effect"])
                if e == effect and (p, d) in at_route
            }
            patient = _pick(rates, effect=effect, group=r, level="patient")
            session = _pick(rates, effect=effect, group=r, level="session")
            assert (patient["k"], patient["n"]) == (len({p for p, _ in hits}), len(exposed))
            assert (session["k"], session["n"]) == (len(hits), len(at_route))


# ---------------------------------------------------------------------------------------------
# Bands


@pytest.mark.parametrize(
    ("number", "band"),
    [(1, "1"), (2, "2-3"), (3, "2-3"), (4, "4-6"), (6, "4-6"), (7, "7+"), (40, "7+")],
)
def test_session_number_band(number, band):
    assert session_number_band([number]).tolist() == [band]


def test_session_number_band_custom_edges_and_below_first():
    assert session_number_band([1, 2, 3, 9], edges=(1, 3)).tolist() == ["1-2", "1-2", "3+", "3+"]
    assert session_number_band([0]).isna().all()


@pytest.mark.parametrize(
    ("route", "dose_mg", "dose_mg_per_kg", "band"),
    [
        ("iv_ketamine", 30.0, 0.49, "<0.5 mg/kg"),
        ("iv_ketamine", 35.0, 0.5, "0.5-<0.75 mg/kg"),
        ("iv_ketamine", 52.0, 0.7499, "0.5-<0.75 mg/kg"),
        ("iv_ketamine", 53.0, 0.75, "0.75-<1.0 mg/kg"),
        ("iv_ketamine", 70.0, 1.0, ">=1.0 mg/kg"),
        ("im_ketamine", 35.0, 0.5, "0.5-<0.75 mg/kg"),
        ("esketamine_nasal", 56.0, None, "esketamine 56 mg"),
        ("esketamine_nasal", 84.0, None, "esketamine 84 mg"),
        ("esketamine_nasal", None, None, "not recorded"),
        ("iv_ketamine", 40.0, None, "not recorded"),
        ("oral_ketamine", 100.0, None, "not recorded"),
    ],
)
def test_dose_band(route, dose_mg, dose_mg_per_kg, band):
    s = pd.DataFrame(
        {"route": [route], "dose_mg": [dose_mg], "dose_mg_per_kg": [dose_mg_per_kg]},
    ).astype({"route": "string", "dose_mg": float, "dose_mg_per_kg": float})
    assert dose_band(s).tolist() == [band]


# ---------------------------------------------------------------------------------------------
# Session yes/no fields


def test_session_flags_count_only_recorded_sessions():
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b"],
            "day": [0, 2, 4, 0, 2],
            "route": "esketamine_nasal",
            "sedation": pd.array([True, None, False, None, None], dtype="boolean"),
            "dissociation": pd.array([False, False, False, True, False], dtype="boolean"),
        }
    )
    rates = effect_rates(clinic_from_frames(sessions=sessions))
    # Sedation recorded at a's days 0 and 4 only; b never recorded, so not in the patient n.
    assert tuple(_pick(rates, effect="sedation_flag", level="session")[["k", "n"]]) == (1, 2)
    assert tuple(_pick(rates, effect="sedation_flag", level="patient")[["k", "n"]]) == (1, 1)
    assert tuple(_pick(rates, effect="dissociation_flag", level="session")[["k", "n"]]) == (1, 5)
    assert tuple(_pick(rates, effect="dissociation_flag", level="patient")[["k", "n"]]) == (1, 2)
    assert set(effect_rates(clinic_from_frames(sessions=sessions), session_flags=False)) == set(
        rates.columns
    )
    assert effect_rates(clinic_from_frames(sessions=sessions), session_flags=False).empty


def test_session_flags_absent_when_never_recorded(three_patients):
    assert not effect_rates(three_patients)["effect"].str.endswith("_flag").any()


# ---------------------------------------------------------------------------------------------
# Serious events


def test_serious_events(switched_route):
    out = serious_events(switched_route)
    assert out.to_dict(orient="records") == [
        {
            "patient_id": "a",
            "day": 3,
            "session_number": 2,
            "route": "esketamine_nasal",
            "effect": "nausea",
            "severity": "moderate",
        }
    ]


# ---------------------------------------------------------------------------------------------
# Blood pressure


def _bp_clinic(rows, patients=None):
    frame = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "day",
            "bp_systolic_pre",
            "bp_diastolic_pre",
            "bp_systolic_peak",
            "bp_diastolic_peak",
        ],
    ).assign(route="esketamine_nasal")
    return clinic_from_frames(sessions=frame, patients=patients)


NA = float("nan")


@pytest.mark.parametrize(
    ("systolic", "diastolic", "age_band", "above"),
    [
        # Phase 3 hold rule: systolic > 140 or diastolic > 90; 140/90 itself is not above.
        (140, 90, "18-64", False),
        (141, 90, "18-64", True),
        (140, 91, "18-64", True),
        (120, 95, "18-64", True),
        # 65+: systolic > 150 (diastolic unchanged).
        (150, 90, "65+", False),
        (151, 90, "65+", True),
        (145, 80, "65+", False),
        (145, 80, "65-74", False),
        (140, 91, "65+", True),
        # Not known to be 65+: the 140 rule.
        (145, 80, "60-69", True),
        (145, 80, None, True),
        # Missing either pre-dose reading: excluded (NA), even when the other is high.
        (NA, 80, "18-64", None),
        (160, NA, "18-64", None),
    ],
)
def test_pre_dose_above(systolic, diastolic, age_band, above):
    data = _bp_clinic(
        [("a", 0, systolic, diastolic, 150, 90)],
        patients=pd.DataFrame({"patient_id": ["a"], "age_band": [age_band]}),
    )
    flag = blood_pressure_sessions(data)["pre_dose_above"].iloc[0]
    assert (flag is pd.NA) if above is None else (flag == above)


@pytest.mark.parametrize(
    ("age", "limit"),
    [("64", 140.0), ("65", 150.0), ("80", 150.0), ("unknown", 140.0)],
)
def test_age_column_sets_the_systolic_limit(age, limit):
    data = _bp_clinic(
        [("a", 0, 145, 80, 150, 90)],
        patients=pd.DataFrame({"patient_id": ["a"], "age": [age]}),
    )
    assert blood_pressure_sessions(data)["systolic_limit"].iloc[0] == limit


def test_older_patients_bands():
    bands = pd.DataFrame({"age_band": ["65+", "60-69", "<65", None, "75-84", ">=65", "90+"]})
    assert older_patients(bands).tolist() == [True, False, False, False, True, True, True]
    # A numeric age wins over the band when it is known.
    both = pd.DataFrame({"age_band": ["65+", "65+"], "age": ["50", None]})
    assert older_patients(both).tolist() == [False, True]


@pytest.mark.parametrize(
    ("pre", "peak", "systolic_flag", "diastolic_flag", "either"),
    [
        # The label's measure: rise >= 40 systolic or >= 25 diastolic (inclusive).
        ((120, 80), (160, 80), True, False, True),
        ((120, 80), (159, 80), False, False, False),
        ((120, 80), (120, 105), False, True, True),
        ((120, 80), (120, 104), False, False, False),
        ((120, 80), (170, 110), True, True, True),
        # A fall is not a rise.
        ((150, 95), (120, 70), False, False, False),
        # Missing diastolic peak: the systolic flag is known, "either" is not.
        ((120, 80), (165, NA), True, None, None),
    ],
)
def test_rise_flags(pre, peak, systolic_flag, diastolic_flag, either):
    row = blood_pressure_sessions(_bp_clinic([("a", 0, *pre, *peak)])).iloc[0]
    for column, expected in (
        ("systolic_rise_flag", systolic_flag),
        ("diastolic_rise_flag", diastolic_flag),
        ("rise_flag", either),
    ):
        value = row[column]
        assert (value is pd.NA) if expected is None else (value == expected), column


def test_blood_pressure_rates_exclude_missing_readings():
    data = _bp_clinic(
        [
            ("a", 0, 150, 80, 190, 85),  # above, rise 40
            ("a", 2, 130, 80, NA, NA),  # not above; no peak: out of the rise denominator
            ("b", 0, NA, NA, 150, 90),  # no pre-dose: out of both denominators
            ("c", 0, 120, 70, 130, 75),  # neither
        ]
    )
    rates = blood_pressure_rates(data)
    expected = {
        ("pre_dose_above", "session"): (1, 3),
        ("pre_dose_above", "patient"): (1, 2),
        ("rise", "session"): (1, 2),
        ("rise", "patient"): (1, 2),
    }
    for (measure, level), (k, n) in expected.items():
        row = _pick(rates, measure=measure, level=level)
        assert (row["k"], row["n"]) == (k, n), (measure, level)
    with pytest.raises(ValueError, match="blood pressure cannot be grouped by 'severity'"):
        blood_pressure_rates(data, by="severity")


def test_bp_thresholds_are_configurable():
    data = _bp_clinic([("a", 0, 135, 80, 165, 80)])
    strict = SafetySettings(bp=BPSettings(systolic_pre_max=130, rise_systolic=30))
    assert _pick(blood_pressure_rates(data), measure="rise", level="session")["k"] == 0
    assert _pick(blood_pressure_rates(data, strict), measure="rise", level="session")["k"] == 1
    assert (
        _pick(blood_pressure_rates(data, strict), measure="pre_dose_above", level="session")["k"]
        == 1
    )


def test_bp_rise_distribution():
    # Systolic rises 10, 20, 30, 40: mean 25, median 25, SD sqrt(500/3) = 12.910,
    # p90 by linear interpolation at position 0.9 x 3 = 2.7: 30 + 0.7 x 10 = 37.
    data = _bp_clinic(
        [
            ("a", 0, 120, 80, 130, 80),
            ("a", 2, 120, 80, 140, 90),
            ("b", 0, 120, 80, 150, 70),
            ("c", 0, 120, 80, 160, NA),
        ]
    )
    out = bp_rise_distribution(blood_pressure_sessions(data)).set_index("measure")
    systolic = out.loc["systolic_rise"]
    assert systolic["n"] == 4
    assert_allclose(
        systolic[["mean", "median", "sd", "p90", "min", "max"]].to_numpy(float),
        [25, 25, math.sqrt(500 / 3), 37, 10, 40],
    )
    # Diastolic rises 0, 10, -10 (the fourth has no peak).
    assert out.loc["diastolic_rise", "n"] == 3
    assert out.loc["diastolic_rise", "mean"] == 0


# ---------------------------------------------------------------------------------------------
# Dissociation (CADSS)


@pytest.fixture()
def cadss_clinic():
    """x: sessions 1-5 CADSS 2, 1, 3, 0, 1; y: 1, 2, 4 -> 4, 2, 1; z: 1 and 4 -> 9, 3."""
    rows = [
        ("x", 0, 2.0),
        ("x", 2, 1.0),
        ("x", 4, 3.0),
        ("x", 7, 0.0),
        ("x", 9, 1.0),
        ("y", 0, 4.0),
        ("y", 3, 2.0),
        ("y", 5, NA),  # session 3 of y: not scored
        ("y", 8, 1.0),
        ("z", 0, 9.0),
        ("z", 2, NA),
        ("z", 4, NA),
        ("z", 6, 3.0),
    ]
    sessions = pd.DataFrame(rows, columns=["patient_id", "day", "dissociation_cadss"])
    return clinic_from_frames(sessions=sessions.assign(route="iv_ketamine"))


def test_cadss_distribution(cadss_clinic):
    # Scores 2,1,3,0,1,4,2,1,9,3 (n 10): mean 2.6, median 2, p90 at position 8.1 of the sorted
    # 0,1,1,1,2,2,3,3,4,9: 4 + 0.1 x 5 = 4.5; SD = sqrt(sum((x - 2.6)^2) / 9) = sqrt(58.4 / 9).
    d = cadss_distribution(cadss_clinic)
    assert (d["n_sessions"], d["n_patients"]) == (10, 3)
    assert_allclose([d["mean"], d["median"], d["p90"]], [2.6, 2.0, 4.5])
    assert_allclose(d["sd"], math.sqrt(58.4 / 9))


def test_cadss_by_session_band(cadss_clinic):
    out = cadss_by_session_band(cadss_clinic).set_index("band")
    assert out.index.tolist() == ["1", "2-3", "4-6"]
    first = out.loc["1"]
    # Session 1: 2, 4, 9 -> mean 5, SD sqrt(13); t(0.975, 2) = 4.302653 (t table);
    # half-width 4.302653 x sqrt(13) / sqrt(3) = 8.9567.
    assert (first["n_sessions"], first["n_patients"]) == (3, 3)
    assert_allclose([first["mean"], first["sd"]], [5.0, math.sqrt(13)])
    assert_allclose([first["ci_low"], first["ci_high"]], [5 - 8.9567, 5 + 8.9567], atol=1e-3)
    # Sessions 2-3: x has 1 and 3 (patient mean 2), y has 2 -> mean of patient means 2, SD 0.
    band = out.loc["2-3"]
    assert (band["n_sessions"], band["n_patients"]) == (3, 2)
    assert_allclose([band["mean"], band["sd"], band["ci_low"], band["ci_high"]], [2, 0, 2, 2])
    assert band["session_mean"] == 2
    # Sessions 4-6: x 0 and 1 (mean 0.5), y 1, z 3 -> mean 1.5, session mean 5/4.
    late = out.loc["4-6"]
    assert (late["n_sessions"], late["n_patients"]) == (4, 3)
    assert_allclose([late["mean"], late["session_mean"]], [1.5, 1.25])


def test_cadss_trend_paired(cadss_clinic):
    trend = cadss_trend(cadss_clinic)
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


# ---------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: BPSettings(systolic_pre_max=-1),
            r"BPSettings.systolic_pre_max must be a positive",
        ),
        (lambda: BPSettings(rise_diastolic=float("nan")), r"BPSettings.rise_diastolic must be"),
        (lambda: SafetySettings(session_band_edges=(1, 1)), r"session_band_edges must be strictly"),
        (lambda: SafetySettings(session_band_edges=(0, 2)), r"session_band_edges must start at 1"),
        (lambda: SafetySettings(mg_per_kg_edges=()), r"mg_per_kg_edges must not be empty"),
        (lambda: SafetySettings(late_session=1), r"late_session must be an integer >= 2, got 1"),
        (lambda: SafetySettings(ci_method="normal"), r"ci_method must be one of"),
    ],
)
def test_settings_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_effect_label_fallbacks():
    assert effect_label("sedation_flag") == "Sedation (session yes/no)"
    assert effect_label("made_up_effect") == "Made up effect"


# ---------------------------------------------------------------------------------------------
# Summary


def test_safety_summary_shape_and_json(switched_route):
    summary = safety_summary(switched_route)
    text = json.dumps(summary, allow_nan=False)
    assert "NaN" not in text
    assert set(summary) == {
        "settings",
        "exposure",
        "side_effects",
        "blood_pressure",
        "dissociation",
        "serious_events",
        "label_reference",
    }
    nausea = summary["side_effects"][0]
    assert set(nausea) == {"effect", "label", "basis", "patients", "sessions"}
    assert nausea["effect"] == "nausea" and nausea["basis"] == "report"
    assert set(nausea["patients"]) == RATE_KEYS
    # a and b reported nausea: 2 of 3 patients, 2 of 5 sessions.
    assert (nausea["patients"]["k"], nausea["patients"]["n"]) == (2, 3)
    assert (nausea["sessions"]["k"], nausea["sessions"]["n"]) == (2, 5)
    bp = summary["blood_pressure"]
    assert bp["thresholds"] == {
        "systolic_pre_max": 140.0,
        "diastolic_pre_max": 90.0,
        "systolic_pre_max_older": 150.0,
        "older_age": 65,
        "rise_systolic": 40.0,
        "rise_diastolic": 25.0,
    }
    for key in ("pre_dose_above", "rise"):
        assert set(bp[key]) == {"sessions", "patients"}
        assert set(bp[key]["sessions"]) == RATE_KEYS
    assert set(bp["rise_distribution"]) == {"systolic", "diastolic"}
    assert bp["label_reference"]["esketamine_pct_high"] == 19.0
    dissociation = summary["dissociation"]
    for key in ("n_sessions", "mean", "sd", "median", "p90", "by_session_band", "session_flag"):
        assert key in dissociation
    assert set(dissociation["session_flag"]["sessions"]) == RATE_KEYS
    assert summary["serious_events"][0]["patient_id"] == "a"
    assert len(summary["label_reference"]) == 13
    assert summary["settings"]["session_bands"] == ["1", "2-3", "4-6", "7+"]


def test_safety_summary_numbers_are_plain_python(cadss_clinic):
    summary = safety_summary(cadss_clinic)

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (int, float, str, bool), type(value)

    walk(summary)
    assert summary["dissociation"]["by_session_band"][0]["band"] == "1"
    assert summary["dissociation"]["trend"]["paired_n"] == 3
