"""The synthetic sample clinic: deterministic, realistic, importable, and the committed copy."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from analytics.sample import (
    SAMPLES,
    TARGETS,
    describe_clinic,
    generate_clinic,
    load_sample,
    write_clinic,
)
from tests.conftest import SAMPLE as SAMPLE_DIR

FILES = ["patients.csv", "sessions.csv", "assessments.csv", "side_effects.csv", "manifest.json"]

ROUTE_SPELLINGS = {"IV ketamine", "IV infusion", "Spravato", "esketamine nasal spray"}
EFFECT_SPELLINGS = {
    "dissociation", "DIZZINESS", "Dizziness", "Nausea", "nausea", "sedation", "drowsiness",
    "vertigo", "headache", "Headache", "dysgeusia", "metallic taste", "hypoesthesia", "numbness",
    "anxiety", "lethargy", "vomiting", "feeling drunk", "blood pressure increased", "hypertension",
}  # fmt: skip


@pytest.fixture(scope="session")
def clinic() -> dict[str, pd.DataFrame]:
    return generate_clinic()


@pytest.fixture(scope="session")
def large() -> dict[str, pd.DataFrame]:
    # Big enough that realised rates sit within a few points of what the generator aims at.
    return generate_clinic(4000)


@pytest.fixture(scope="session")
def large_figures(large) -> dict:
    return describe_clinic(large)


def _days(frame: pd.DataFrame, column: str, sessions: pd.DataFrame) -> pd.Series:
    first = pd.to_datetime(sessions["session_date"]).groupby(sessions["patient_id"]).min()
    return (pd.to_datetime(frame[column]) - frame["patient_id"].map(first)).dt.days


# --- the committed copy can never drift from the generator -----------------------------------


@pytest.mark.parametrize("name", FILES)
def test_committed_sample_is_exactly_what_the_generator_writes(clinic, tmp_path, name):
    write_clinic(tmp_path, clinic)
    assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes()


def test_same_seed_same_tables_other_seed_other_tables(clinic):
    again = generate_clinic()
    for name in clinic:
        pd.testing.assert_frame_equal(clinic[name], again[name])
    other = generate_clinic(seed=7)
    assert not other["sessions"].equals(clinic["sessions"])


def test_files_use_unix_line_ends_and_integers_where_counts_are_whole():
    text = (SAMPLE_DIR / "sessions.csv").read_text(encoding="utf-8")
    assert "\r" not in text
    sessions = pd.read_csv(SAMPLE_DIR / "sessions.csv", dtype=str, keep_default_na=False)
    for column in ["bp_systolic_pre", "bp_diastolic_peak", "dissociation_cadss"]:
        assert sessions[column].str.fullmatch(r"\d*").all(), column
    # Doses: at most two decimals, no trailing zeros ("56", "41.5", "0.75").
    for column in ["dose_mg", "dose_mg_per_kg"]:
        assert sessions[column].str.fullmatch(r"(\d+(\.\d{1,2})?)?").all(), column
        assert not sessions[column].str.contains(r"\.\d*0$").any(), column


# --- shape and consistency --------------------------------------------------------------------


def test_patients(clinic):
    patients = clinic["patients"]
    assert len(patients) == 250
    assert patients["patient_id"].is_unique
    assert patients["patient_id"].str.fullmatch(r"P\d{4}").all()
    assert 2 <= patients["site"].nunique() <= 3
    assert 4 <= patients["clinician"].nunique() <= 6
    assert patients["clinician"].str.fullmatch(r"DR-[A-Z]").all()
    assert set(patients["age_band"]) == {"18-29", "30-44", "45-64", "65+"}
    assert set(patients["concurrent_therapy"]) == {"yes", "no"}
    assert set(patients["primary_diagnosis"]) == {"PTSD", "PTSD+MDD"}
    assert patients["prior_antidepressant_trials"].between(0, 6).all()


def test_no_column_looks_like_an_identifier(clinic):
    # HIPAA Safe Harbor identifiers, 45 CFR 164.514(b)(2): none may appear as a column.
    phi = re.compile(r"name|birth|dob|address|zip|phone|fax|email|ssn|mrn|record|url|ip_addr")
    for frame in clinic.values():
        assert not [c for c in frame.columns if phi.search(c)]


def test_sessions(clinic):
    sessions = clinic["sessions"]
    assert not sessions.duplicated(["patient_id", "session_date"]).any()
    assert set(sessions["route"]) == ROUTE_SPELLINGS
    assert set(sessions["patient_id"]) == set(clinic["patients"]["patient_id"])
    dates = pd.to_datetime(sessions["session_date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2024-01-01")
    assert dates.max() <= pd.Timestamp("2025-12-31")
    iv = sessions["route"].str.startswith("IV")
    assert sessions.loc[iv, "dose_mg_per_kg"].isin([0.5, 0.75, 1.0]).all()
    assert sessions.loc[~iv, "dose_mg_per_kg"].isna().all()
    assert sessions.loc[~iv, "dose_mg"].isin([56, 84]).all()
    assert sessions["dissociation_cadss"].dropna().between(0, 92).all()
    assert (sessions["bp_systolic_peak"] >= sessions["bp_systolic_pre"]).dropna().all()
    assert sessions["bp_systolic_pre"].between(80, 200).all()
    assert sessions["bp_diastolic_pre"].between(45, 130).all()
    for column in ["sedation", "dissociation"]:
        assert set(sessions[column]) == {"yes", "no"}
    assert set(sessions["phase"]) == {"induction", "maintenance"}
    # A session's site is its patient's site.
    site = sessions["patient_id"].map(clinic["patients"].set_index("patient_id")["site"])
    assert (sessions["site"] == site).all()


def test_side_effects_match_a_session_and_its_flags(clinic):
    sessions, effects = clinic["sessions"], clinic["side_effects"]
    assert set(effects["effect"]) <= EFFECT_SPELLINGS
    assert set(effects["severity"]) <= {"mild", "moderate", "severe"}
    assert set(effects["serious"]) <= {"yes", "no"}
    assert 1 <= (effects["serious"] == "yes").sum() <= 10  # rare: a few in the whole clinic
    assert not effects.duplicated(["patient_id", "session_date", "effect"]).any()
    joined = effects.merge(sessions, on=["patient_id", "session_date"], how="left", indicator=True)
    assert (joined["_merge"] == "both").all()
    assert (joined.loc[joined["effect"] == "dissociation", "dissociation"] == "yes").all()
    sedated = joined["effect"].isin(["sedation", "drowsiness"])
    assert (joined.loc[sedated, "sedation"] == "yes").all()


def test_assessments_items_add_up_and_stay_in_range(clinic):
    forms = clinic["assessments"]
    assert set(forms["instrument"]) == {"PCL-5", "PHQ-9"}
    assert not forms.duplicated(["patient_id", "assessment_date", "instrument"]).any()
    for instrument, n_items, top, total_max in [("PCL-5", 20, 4, 80), ("PHQ-9", 9, 3, 27)]:
        rows = forms[forms["instrument"] == instrument]
        items = rows[[f"item_{i}" for i in range(1, n_items + 1)]].astype(float)
        assert ((items >= 0) & (items <= top) | items.isna()).all().all()
        complete = items.notna().all(axis=1)
        np.testing.assert_array_equal(rows.loc[complete, "total"], items[complete].sum(axis=1))
        assert rows.loc[complete, "total"].between(0, total_max).all()
        # A form with a blank item carries no total: the importer decides whether to score it.
        assert rows.loc[~complete, "total"].isna().all()
        assert (items[~complete].isna().sum(axis=1) == 1).all()
        beyond = rows[[f"item_{i}" for i in range(n_items + 1, 21)]]
        assert beyond.isna().all().all()
    assert 3 <= forms["total"].isna().sum() <= 20  # a handful


WINDOWS = [
    # Timepoint windows of the clinical reference: 24h day 1-2, weeks 1-3 +-3, later +-7
    # (week 4 is drawn within +-3 so it never shares a day with week 3).
    ("baseline", -7, 0),
    ("24h", 1, 2),
    ("week 1", 4, 10),
    ("week 2", 11, 17),
    ("week 3", 18, 24),
    ("week 4", 25, 31),
    ("week 8", 49, 63),
    ("week 12", 77, 91),
    ("week 16", 105, 119),
    ("week 24", 161, 175),
]


@pytest.mark.parametrize("label, low, high", WINDOWS)
def test_every_timepoint_has_forms(clinic, label, low, high):
    day = _days(clinic["assessments"], "assessment_date", clinic["sessions"])
    assert day.between(low, high).sum() > 0, label


def test_every_form_falls_inside_a_timepoint_window(clinic):
    day = _days(clinic["assessments"], "assessment_date", clinic["sessions"])
    inside = np.zeros(len(day), dtype=bool)
    for _, low, high in WINDOWS:
        inside |= day.between(low, high).to_numpy()
    assert inside.all()


# --- realism: the generator hits the published figures it aims at -----------------------------


@pytest.mark.parametrize(
    "figure, low, high",
    [
        # Brief for the sample: week-4 observed response 55-65%, remission 35-45%.
        ("pcl5_week4_response_pct", 54, 66),
        ("pcl5_week4_remission_pct", 35, 46),
        # PCL-5 baseline mean ~50, SD ~12, most >= 33.
        ("pcl5_baseline_mean", 47, 54),
        ("pcl5_baseline_sd", 9.5, 13.5),
        ("pcl5_baseline_33_or_more_pct", 85, 98),
        ("phq9_baseline_mean", 15, 19),
        # About a fifth of IV patients stop after session 1; about half never reach 6.
        ("iv_stopped_after_session_1_pct", 15, 25),
        ("iv_reached_6_sessions_pct", 42, 58),
        # CADSS during IV ketamine: mean 7.7 (SD 9.2), clinical reference.
        ("cadss_mean", 6, 10),
        ("cadss_sd", 7, 11.5),
        # Spravato label: 8-19% of esketamine patients with a >= 40/25 mmHg rise.
        ("esketamine_bp_rise_40_25_pct", 8, 19),
        ("bp_systolic_pre_mean", 122, 129),
        ("bp_systolic_rise_mean", 10, 15),
    ],
)
def test_realised_figures_near_targets(large_figures, figure, low, high):
    assert low <= large_figures[figure] <= high


@pytest.mark.parametrize(
    "effect, label_pct",
    [
        # SPRAVATO prescribing information, Adverse Reactions (esketamine n = 346).
        ("dissociation", 41),
        ("dizziness", 29),
        ("nausea", 28),
        ("sedation", 23),
        ("vertigo", 23),
        ("headache", 20),
        ("dysgeusia", 19),
        ("hypoesthesia", 18),
        ("anxiety", 13),
        ("lethargy", 11),
        ("blood_pressure_increased", 10),
        ("vomiting", 9),
        ("feeling_drunk", 5),
    ],
)
def test_esketamine_per_patient_side_effects_near_the_label(large_figures, effect, label_pct):
    realised = large_figures["side_effect_patients_pct"]["esketamine"][effect]
    assert realised == pytest.approx(label_pct, abs=4)


def test_iv_emphasises_headache_and_spares_vertigo(large_figures):
    rates = large_figures["side_effect_patients_pct"]
    assert rates["iv_ketamine"]["headache"] > rates["esketamine"]["headache"]
    assert rates["iv_ketamine"]["vertigo"] < rates["esketamine"]["vertigo"]


def test_dissociation_highest_at_first_sessions(large):
    sessions = large["sessions"]
    number = sessions.groupby("patient_id").cumcount() + 1
    cadss = sessions["dissociation_cadss"].astype(float).groupby(number.clip(upper=8)).mean()
    assert cadss.is_monotonic_decreasing
    assert cadss[1] > 1.8 * cadss[8]


def test_pcl5_improves_within_24_hours_and_more_by_week_4(large):
    forms = large["assessments"]
    pcl = forms[(forms["instrument"] == "PCL-5") & forms["total"].notna()]
    day = _days(pcl, "assessment_date", large["sessions"])
    means = pcl["total"].astype(float).groupby(pd.cut(day, [-8, 0, 2, 31])).mean()
    assert means.iloc[0] > means.iloc[1] > means.iloc[2]


def test_both_routes_present(clinic):
    described = describe_clinic(clinic)
    assert described["patients_iv_ketamine"] + described["patients_esketamine"] == 250
    assert 0.45 <= described["patients_iv_ketamine"] / 250 <= 0.65


# --- scale, loader, manifest, errors ------------------------------------------------------------


def test_scales_to_thousands_of_patients():
    tables = generate_clinic(2000, seed=3)
    assert len(tables["patients"]) == 2000
    assert tables["patients"]["patient_id"].str.fullmatch(r"P\d{4}").all()
    assert 6 * 2000 < len(tables["sessions"]) < 15 * 2000


def test_ids_widen_beyond_9999_patients():
    ids = generate_clinic(10_000, seed=1)["patients"]["patient_id"]
    assert ids.iloc[0] == "P00001" and ids.iloc[-1] == "P10000"


def test_manifest_describes_the_files():
    manifest = json.loads((SAMPLE_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "clinic"
    assert manifest["seed"] == 20261127
    assert "no real patient" in manifest["synthetic"]
    assert manifest["targets"] == list(TARGETS)
    assert all(t["source"] for t in manifest["targets"])
    for table, n in manifest["n"].items():
        frame = pd.read_csv(SAMPLE_DIR / f"{table}.csv", dtype=str)
        assert len(frame) == n
        assert list(frame.columns) == manifest["columns"][table]


def test_load_sample_returns_the_folder():
    assert load_sample() == SAMPLE_DIR
    assert sorted(SAMPLES) == ["clinic"]
    assert all((load_sample() / name).is_file() for name in FILES)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: load_sample("clinc"), r"'clinc' is not a bundled sample; valid names: clinic"),
        (lambda: generate_clinic(0), r"n_patients must be at least 1, got 0"),
        (lambda: generate_clinic(2.5), r"n_patients must be a whole number, got 2.5"),
        (lambda: generate_clinic(10, start_year=1800), r"start_year must be between 1900"),
        (lambda: write_clinic("unused", {}), r"tables is missing patients, sessions"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sample_imports_with_zero_errors():
    importer = pytest.importorskip("analytics.ingest.importer")
    result = importer.import_folder(SAMPLE_DIR)
    problems = result.problems_frame()
    errors = problems[problems["severity"] == "error"] if len(problems) else problems
    assert len(errors) == 0, errors.head().to_string()
    assert result.summary()["patients"] == 250
    # The forms left with a blank item are the only warnings.
    assert problems["rule"].str.startswith("incomplete form").all()


def test_sample_week24_itt_counts_only_patients_due_by_the_cutoff():
    # Worked from the CSV files, apart from the importer: day 0 is each patient's first session
    # date, the cutoff is the latest date in any file, and a patient is due at week 24 (day
    # 168 +- 7, closing on day 175) when scored there or followed at least 175 days.
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.ingest.importer import import_folder
    from analytics.metrics.outcomes import patient_outcomes

    sessions = pd.read_csv(SAMPLE_DIR / "sessions.csv", parse_dates=["session_date"])
    dates = [
        sessions["session_date"],
        pd.read_csv(SAMPLE_DIR / "assessments.csv", parse_dates=["assessment_date"])[
            "assessment_date"
        ],
        pd.read_csv(SAMPLE_DIR / "side_effects.csv", parse_dates=["session_date"])["session_date"],
    ]
    cutoff = max(d.max() for d in dates)
    day0 = sessions.groupby("patient_id")["session_date"].min()
    followed = (cutoff - day0).dt.days >= 175

    rows = patient_outcomes(import_folder(SAMPLE_DIR).data, OutcomeDefinitions())
    week4 = rows[rows["timepoint"] == "week 4"]
    week24 = rows[rows["timepoint"] == "week 24"].set_index("patient_id")
    everyone = week4.loc[week4["itt"], "patient_id"]  # nobody is not yet due at week 4 here
    assert not week4["not_yet_due"].any()
    due = [p for p in everyone if week24.loc[p, "observed"] or followed[p]]
    assert int(week24["itt"].sum()) == len(due)
    assert int(week24["not_yet_due"].sum()) == len(everyone) - len(due)
    assert sorted(week24.index[week24["itt"]]) == sorted(due)


def test_sample_late_itt_shortfall_is_dropout():
    # Once patients not yet due are left out, the ITT patients still unscored at a late
    # timepoint are mostly patients who had stopped treatment before its window opened: the
    # gap between observed and ITT response there is dropout, which ITT is meant to show.
    # Counted on the sample: 155 of 171 at week 24 (window from day 161).
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.ingest.importer import import_folder
    from analytics.metrics.outcomes import patient_outcomes

    data = import_folder(SAMPLE_DIR).data
    rows = patient_outcomes(data, OutcomeDefinitions())
    unscored = rows[(rows["timepoint"] == "week 24") & rows["itt"] & ~rows["observed"]]
    last_session = data.sessions.groupby("patient_id")["day"].max()
    stopped = last_session.reindex(unscored["patient_id"]).to_numpy() < 161
    assert stopped.mean() >= 0.85
