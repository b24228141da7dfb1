"""The safety summary: its shape, plain JSON, and the measures it keeps apart."""

import json

from analytics.core.contract import empty_clinic
from analytics.metrics.safety import safety_summary, side_effect_summary
from tests.analytics.metrics.safety.helpers import RATE_KEYS, cadss_clinic, switched_route


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
    assert summary["side_effects"] == [] == side_effect_summary(empty_clinic())
    json.dumps(summary, allow_nan=False)


def test_safety_summary_shape_and_json():
    summary = safety_summary(switched_route())
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


def test_safety_summary_numbers_are_plain_python():
    summary = safety_summary(cadss_clinic())

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


def test_dissociation_reported_and_at_the_session_are_two_entries(sample_dir):
    from analytics.ingest.importer import import_folder

    summary = safety_summary(import_folder(sample_dir).data)
    by_code = {e["effect"]: e for e in summary["side_effects"]}
    reported, flag = by_code["dissociation"], by_code["dissociation_flag"]
    assert reported["label"] == "Dissociation (reported side effect)"
    assert reported["basis"] == "report"
    assert flag["label"] == "Dissociation at the session (REMS yes/no)"
    assert flag["basis"] == "session flag"
    # the summary's dissociation block carries the session field's rates, not the reports'
    assert summary["dissociation"]["session_flag"]["patients"] == flag["patients"]
    assert reported["patients"] != flag["patients"]
