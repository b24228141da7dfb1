"""A cohort's rows of the per-patient table give what the whole computation gives on a clinic
cut to that cohort: for every ``_from`` aggregation, every grouping and several cohorts."""

import math

import numpy as np
import pandas as pd
import pytest

from analytics.core.patient_table import PatientTable
from analytics.metrics import safety
from analytics.metrics.safety.facts import safety_table

COHORTS = ["everyone", "iv", "nasal", "small", "empty", "shuffled"]


@pytest.fixture(scope="module")
def clinic(sample_dir):
    from analytics.ingest.importer import import_folder

    data = import_folder(sample_dir).data
    return data, safety_table(data)


def _ids(data, cohort: str) -> np.ndarray:
    p = data.patients
    ids = p["patient_id"].to_numpy(dtype=object)
    rng = np.random.default_rng(5)
    if cohort == "everyone":
        return ids
    if cohort == "iv":
        return ids[(p["route"] == "iv_ketamine").fillna(False).to_numpy(bool)]
    if cohort == "nasal":
        return ids[(p["route"] == "esketamine_nasal").fillna(False).to_numpy(bool)]
    if cohort == "small":
        return rng.choice(ids, 23, replace=False)
    if cohort == "empty":
        return ids[:0]
    # 60% of the patients in shuffled order, some twice
    chosen = rng.choice(ids, int(0.6 * len(ids)), replace=False)
    return rng.permutation(np.concatenate([chosen, chosen[:10]]))


def _rise(data):
    return safety.bp_rise_distribution(safety.blood_pressure_sessions(data))


def _systolic_rises(table, keep):
    return safety.systolic_rises_from(table, keep, None).astype({"route": "string"})


def _systolic_rises_of(data):
    sessions = safety.blood_pressure_sessions(data).dropna(subset=["systolic_rise"])
    return sessions[["route", "systolic_rise"]].reset_index(drop=True)


# (name, aggregation over the table's rows, the same computed from a clinic)
CASES = [
    *[
        (
            f"effect_rates by {by}",
            lambda t, k, by=by: safety.effect_rates_from(t, k, None, by=by),
            lambda d, by=by: safety.effect_rates(d, by=by),
        )
        for by in (
            None,
            "route",
            "first_route",
            "session_band",
            "dose_band",
            "severity",
            "serious",
            "site",
            "clinician",
            "phase",
            "sex",
            "age_band",
            "first_session_year",
        )
    ],
    (
        "effect_rates without the session fields",
        lambda t, k: safety.effect_rates_from(t, k, None, by="route", session_flags=False),
        lambda d: safety.effect_rates(d, by="route", session_flags=False),
    ),
    *[
        (
            f"blood_pressure_rates by {by}",
            lambda t, k, by=by: safety.blood_pressure_rates_from(t, k, None, by=by),
            lambda d, by=by: safety.blood_pressure_rates(d, by=by),
        )
        for by in (None, "route", "session_band", "dose_band", "sex")
    ],
    (
        "blood_pressure_sessions",
        safety.blood_pressure_sessions_from,
        safety.blood_pressure_sessions,
    ),
    ("bp_rise_distribution", safety.bp_rise_distribution_from, _rise),
    ("systolic_rises", _systolic_rises, _systolic_rises_of),
    ("cadss_distribution", safety.cadss_distribution_from, safety.cadss_distribution),
    ("cadss_by_session_band", safety.cadss_by_session_band_from, safety.cadss_by_session_band),
    ("cadss_trend", safety.cadss_trend_from, safety.cadss_trend),
    ("serious_events", safety.serious_events_from, safety.serious_events),
    ("side_effect_summary", safety.side_effect_summary_from, safety.side_effect_summary),
    ("exposure", safety.exposure_from, lambda d: safety.safety_summary(d)["exposure"]),
    ("safety_summary", safety.safety_summary_from, safety.safety_summary),
]


def _assert_same(got, want, path="") -> None:
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=path)
    elif hasattr(want, "to_dict") and not isinstance(want, dict):
        _assert_same(got.to_dict(), want.to_dict(), path)
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for key in want:
            _assert_same(got[key], want[key], f"{path}/{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), path
    else:
        assert got == want and type(got) is type(want), (path, got, want)


@pytest.mark.parametrize("cohort", COHORTS)
@pytest.mark.parametrize(("name", "from_rows", "from_clinic"), CASES, ids=[c[0] for c in CASES])
def test_cohort_rows_equal_the_cut_clinic(clinic, cohort, name, from_rows, from_clinic):
    data, table = clinic
    ids = _ids(data, cohort)
    got = from_rows(table, table.keep(ids))
    want = from_clinic(data.with_patients(pd.Series(ids, dtype="string").unique()))
    _assert_same(got, want, name)


def test_small_and_empty_cohorts_are_what_they_say(clinic):
    data, table = clinic
    assert 0 < len(np.unique(_ids(data, "small"))) < 30
    summary = safety.safety_summary_from(table, table.keep(_ids(data, "empty")), None)
    assert summary["exposure"] == {"patients": 0, "sessions": 0}
    assert summary["side_effects"] == []


def test_the_table_read_back_from_disk_gives_the_same_numbers(clinic, tmp_path):
    data, table = clinic
    table.write(tmp_path / "table")
    again = PatientTable.read(tmp_path / "table")
    keep = table.keep(_ids(data, "shuffled"))
    for _, from_rows, _ in CASES:
        _assert_same(from_rows(again, keep), from_rows(table, keep))
