"""Blood pressure: the pre-dose hold limit, rises from pre-dose to peak, their rates."""

import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics.metrics.safety import (
    BPSettings,
    SafetySettings,
    blood_pressure_rates,
    blood_pressure_sessions,
    bp_rise_distribution,
)
from analytics.metrics.safety.blood_pressure import bp_rise_distribution_from
from analytics.metrics.safety.facts import safety_table
from tests.analytics.metrics.safety.helpers import NA, bp_clinic, pick


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
    data = bp_clinic(
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
    data = bp_clinic(
        [("a", 0, 145, 80, 150, 90)],
        patients=pd.DataFrame({"patient_id": ["a"], "age": [age]}),
    )
    assert blood_pressure_sessions(data)["systolic_limit"].iloc[0] == limit


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
    row = blood_pressure_sessions(bp_clinic([("a", 0, *pre, *peak)])).iloc[0]
    for column, expected in (
        ("systolic_rise_flag", systolic_flag),
        ("diastolic_rise_flag", diastolic_flag),
        ("rise_flag", either),
    ):
        value = row[column]
        assert (value is pd.NA) if expected is None else (value == expected), column


def test_blood_pressure_sessions_columns():
    out = blood_pressure_sessions(bp_clinic([("a", 0, 150, 80, 190, 85), ("b", 0, NA, 80, 1, 2)]))
    assert list(out.columns) == [
        "patient_id",
        "day",
        "session_number",
        "route",
        "bp_systolic_pre",
        "bp_diastolic_pre",
        "bp_systolic_peak",
        "bp_diastolic_peak",
        "older",
        "systolic_limit",
        "pre_dose_above",
        "systolic_rise",
        "diastolic_rise",
        "systolic_rise_flag",
        "diastolic_rise_flag",
        "rise_flag",
    ]
    assert out["patient_id"].tolist() == ["a", "b"]
    assert out["route"].tolist() == ["esketamine_nasal"] * 2
    assert str(out["pre_dose_above"].dtype) == "boolean"


def test_blood_pressure_rates_exclude_missing_readings():
    data = bp_clinic(
        [
            ("a", 0, 150, 80, 190, 85),  # above, rise 40
            ("a", 2, 130, 80, NA, NA),  # not above; no peak: out of the rise denominator
            ("b", 0, NA, NA, 150, 90),  # no pre-dose: out of both denominators
            ("c", 0, 120, 70, 130, 75),  # neither
        ]
    )
    expected = {
        ("pre_dose_above", "session"): (1, 3),
        ("pre_dose_above", "patient"): (1, 2),
        ("rise", "session"): (1, 2),
        ("rise", "patient"): (1, 2),
    }
    for by in (None, "route"):
        rates = blood_pressure_rates(data, by=by)
        for (measure, level), (k, n) in expected.items():
            row = pick(rates, measure=measure, level=level)
            assert (row["k"], row["n"]) == (k, n), (measure, level, by)
    with pytest.raises(ValueError, match="blood pressure cannot be grouped by 'severity'"):
        blood_pressure_rates(data, by="severity")


def test_bp_thresholds_are_configurable():
    data = bp_clinic([("a", 0, 135, 80, 165, 80)])
    strict = SafetySettings(bp=BPSettings(systolic_pre_max=130, rise_systolic=30))
    assert pick(blood_pressure_rates(data), measure="rise", level="session")["k"] == 0
    assert pick(blood_pressure_rates(data, strict), measure="rise", level="session")["k"] == 1
    assert (
        pick(blood_pressure_rates(data, strict), measure="pre_dose_above", level="session")["k"]
        == 1
    )


def test_bp_rise_distribution():
    # Systolic rises 10, 20, 30, 40: mean 25, median 25, SD sqrt(500/3) = 12.910,
    # p90 by linear interpolation at position 0.9 x 3 = 2.7: 30 + 0.7 x 10 = 37.
    data = bp_clinic(
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
    # From the readings of the table, without the sessions frame: the same numbers.
    table = safety_table(data)
    from_rows = bp_rise_distribution_from(table, table.keep(), None)
    pd.testing.assert_frame_equal(from_rows, out.reset_index())
