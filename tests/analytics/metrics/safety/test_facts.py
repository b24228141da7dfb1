"""The safety facts: one row per patient in the index's order, plain columns, JSON settings."""

import json

import numpy as np
import pandas as pd

from analytics.core.contract import clinic_from_frames
from analytics.core.patient_table import PatientTable, patient_index
from analytics.metrics.safety import SafetySettings, safety_facts, safety_table
from tests.analytics.metrics.safety.helpers import switched_route

PLAIN = ("int8", "int16", "int32", "int64", "float64", "bool", "boolean", "string")


def test_facts_are_prefixed_plain_and_in_index_order():
    data = switched_route()
    index = patient_index(data)
    facts = safety_facts(data, None, index)
    assert len(facts.patients) == len(index)
    assert all(c.startswith("safety_") for c in facts.patients.columns)
    assert all(name.startswith("safety_") for name in facts.long)
    assert all(key.startswith("safety_") for key in facts.meta)
    for frame in [facts.patients, *facts.long.values()]:
        for column in frame.columns:
            assert str(frame[column].dtype).split("[")[0] in PLAIN, column
    for frame in facts.long.values():
        assert frame["code"].dtype == "int64"
    json.dumps(facts.meta, allow_nan=False)
    # a: 2 sessions, b: 2, c: 1 (ids sorted a, b, c): the table's own counts, which every
    # safety denominator reads
    counts = safety_table(data).patients
    assert counts["count_session_rows"].tolist() == [2, 2, 1]
    assert counts["count_sessions"].tolist() == [2, 2, 1]


def test_per_patient_counts_of_the_session_fields_and_blood_pressure():
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b"],
            "day": [0, 2, 0],
            "route": "esketamine_nasal",
            "dissociation": pd.array([True, None, False], dtype="boolean"),
            "bp_systolic_pre": [150.0, 120.0, np.nan],
            "bp_diastolic_pre": [80.0, 80.0, 80.0],
        }
    )
    data = clinic_from_frames(sessions=sessions, patients=pd.DataFrame({"patient_id": ["c"]}))
    p = safety_facts(data, None, patient_index(data)).patients
    assert p["safety_dissociation_flag_sessions"].tolist() == [1, 0, 0]
    assert p["safety_dissociation_flag_recorded"].tolist() == [1, 1, 0]
    assert p["safety_bp_pre_dose_above_sessions"].tolist() == [1, 0, 0]
    assert p["safety_bp_pre_dose_above_recorded"].tolist() == [2, 0, 0]
    # c has no session: zeros, and no CADSS means
    assert safety_table(data).patients["count_session_rows"].tolist() == [2, 1, 0]
    assert np.isnan(p["safety_cadss_first"]).all()


def test_settings_travel_with_the_table():
    data = switched_route()
    settings = SafetySettings(session_band_edges=(1, 3), late_session=3)

    def build(clinic, definitions, index):
        return safety_facts(clinic, definitions, index, settings=settings)

    table = PatientTable.of(data, None, build)
    assert SafetySettings.from_dict(table.meta["safety_settings"]) == settings
    assert table.meta["safety_session_bands"] == ["1-2", "3+", "not recorded"]
