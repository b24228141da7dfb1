"""Settings, bands and labels: what each safety number is called and which band a session is in."""

import numpy as np
import pandas as pd
import pytest

from analytics.metrics.safety import (
    BPSettings,
    SafetySettings,
    dose_band,
    effect_label,
    older_patients,
    session_number_band,
)
from analytics.metrics.safety.facts import dose_band_codes
from analytics.reference.spravato_label import label_reference


@pytest.mark.parametrize(
    ("number", "band"),
    [(1, "1"), (2, "2-3"), (3, "2-3"), (4, "4-6"), (6, "4-6"), (7, "7+"), (40, "7+")],
)
def test_session_number_band(number, band):
    assert session_number_band([number]).tolist() == [band]


def test_session_number_band_custom_edges_and_below_first():
    assert session_number_band([1, 2, 3, 9], edges=(1, 3)).tolist() == ["1-2", "1-2", "3+", "3+"]
    assert session_number_band([0]).isna().all()


DOSES = [
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
    (None, 40.0, 0.6, "0.5-<0.75 mg/kg"),
]


def _doses(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["route", "dose_mg", "dose_mg_per_kg"])
    return frame.astype({"route": "string", "dose_mg": float, "dose_mg_per_kg": float})


@pytest.mark.parametrize(("route", "dose_mg", "dose_mg_per_kg", "band"), DOSES)
def test_dose_band(route, dose_mg, dose_mg_per_kg, band):
    assert dose_band(_doses([(route, dose_mg, dose_mg_per_kg)])).tolist() == [band]


@pytest.mark.parametrize("edges", [(0.5, 0.75, 1.0), (0.4, 0.8), (1,)])
def test_dose_band_codes_are_dose_band(edges):
    rng = np.random.default_rng(len(edges))
    rows = [row[:3] for row in DOSES] * 3
    rows += [
        (r, float(mg), float(kg))
        for r, mg, kg in zip(
            rng.choice(["iv_ketamine", "esketamine_nasal"], 200),
            rng.choice([28, 56, 84, 84.0000001], 200),
            np.round(rng.uniform(0.2, 1.3, 200), 2),
        )
    ]
    frame = _doses(rows)
    codes, labels = dose_band_codes(frame, edges)
    assert (
        np.asarray(labels, dtype=object)[codes].tolist()
        == dose_band(frame, mg_per_kg_edges=edges).tolist()
    )
    assert labels[-1] == "not recorded" and len(set(labels)) == len(labels)


def test_older_patients_bands():
    bands = pd.DataFrame({"age_band": ["65+", "60-69", "<65", None, "75-84", ">=65", "90+"]})
    assert older_patients(bands).tolist() == [True, False, False, False, True, True, True]
    # A numeric age wins over the band when it is known.
    both = pd.DataFrame({"age_band": ["65+", "65+"], "age": ["50", None]})
    assert older_patients(both).tolist() == [False, True]


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


def test_settings_round_trip_through_their_dict():
    settings = SafetySettings(
        bp=BPSettings(systolic_pre_max=130, older_age=70),
        session_band_edges=(1, 3, 10),
        mg_per_kg_edges=(0.4, 1),
        late_session=6,
        ci_method="clopper-pearson",
    )
    assert SafetySettings.from_dict(settings.to_dict()) == settings
    assert SafetySettings.from_dict(SafetySettings().to_dict()) == SafetySettings()


def test_effect_label_fallbacks():
    assert effect_label("made_up_effect") == "Made up effect"
    assert effect_label("nausea") == "Nausea"


def test_like_named_measures_have_different_names():
    # A reported effect and the session's yes/no field of the same name are two measures.
    assert effect_label("dissociation") == "Dissociation (reported side effect)"
    assert effect_label("dissociation_flag") == "Dissociation at the session (REMS yes/no)"
    assert effect_label("sedation") == "Sedation (reported side effect)"
    assert effect_label("sedation_flag") == "Sedation at the session (REMS yes/no)"
    labels = [effect_label(code) for code in label_reference()["effect"]]
    flags = [effect_label(code) for code in ("sedation_flag", "dissociation_flag")]
    assert len(set(labels + flags)) == len(labels) + len(flags)
