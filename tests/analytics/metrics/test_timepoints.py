"""Baseline and timepoint selection, checked by hand and against a naive per-patient loop."""

import numpy as np
import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.timepoints import (
    BASELINE_COLUMNS,
    TIMEPOINT_COLUMNS,
    baseline_scores,
    index_codes,
    itt_patients,
    patient_series,
    started_treatment,
    timepoint_scores,
)

PCL = OutcomeDefinitions()


def scores(rows, instrument="PCL-5"):
    """Assessment rows from (patient, day, total) triples."""
    return pd.DataFrame(
        {
            "patient_id": [r[0] for r in rows],
            "day": [r[1] for r in rows],
            "instrument": instrument,
            "total": [r[2] for r in rows],
        }
    )


def sessions(rows):
    return pd.DataFrame({"patient_id": [r[0] for r in rows], "day": [r[1] for r in rows]})


def picked(frame, patient, label):
    rows = frame[(frame["patient_id"] == patient) & (frame["timepoint"] == label)]
    return None if rows.empty else (int(rows["day"].iloc[0]), float(rows["score"].iloc[0]))


# Hand-worked baselines: (assessments, expected (day, total) or None).
@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("a", -5, 50), ("a", 0, 48)], (0, 48.0)),  # day 0 is pre-dose: latest wins
        ([("a", -30, 50)], (-30, 50.0)),  # the look-back is inclusive
        ([("a", -40, 50)], None),  # 40 days before day 0 is no baseline
        ([("a", -3, 50), ("a", 0, np.nan)], (-3, 50.0)),  # blank item: total NaN is skipped
        ([("a", 1, 50)], None),  # after the first dose: not a baseline
    ],
)
def test_baseline_selection(rows, expected):
    data = clinic_from_frames(assessments=scores(rows), sessions=sessions([("a", 0)]))
    base = baseline_scores(data, PCL)
    assert list(base.columns) == BASELINE_COLUMNS
    got = None if base.empty else (int(base["baseline_day"][0]), float(base["baseline"][0]))
    assert got == expected


def test_baseline_of_other_instrument_ignored():
    data = clinic_from_frames(assessments=scores([("a", 0, 20)], instrument="PHQ-9"))
    assert baseline_scores(data, PCL).empty
    assert len(baseline_scores(data, OutcomeDefinitions.for_instrument("PHQ-9"))) == 1


# Hand-worked timepoints: (post-baseline rows, window label, expected (day, score) or None).
@pytest.mark.parametrize(
    ("rows", "label", "expected"),
    [
        ([("a", 25, 30), ("a", 31, 20)], "week 4", (25, 30.0)),  # tie at distance 3: earlier
        ([("a", 26, 30), ("a", 29, 20)], "week 4", (29, 20.0)),  # nearest wins
        ([("a", 28, np.nan), ("a", 30, 22)], "week 4", (30, 22.0)),  # blank form skipped
        ([("a", 36, 30)], "week 4", None),  # outside 21-35
        ([("a", 1, 40)], "24h", (1, 40.0)),
        ([("a", 3, 40)], "24h", None),  # 24h window is days 1-2
        ([("a", 22, 40)], "week 3", (22, 40.0)),  # overlap 21-24 serves week 3 ...
        ([("a", 22, 40)], "week 4", (22, 40.0)),  # ... and week 4
    ],
)
def test_timepoint_selection(rows, label, expected):
    data = clinic_from_frames(assessments=scores([("a", 0, 50), *rows]))
    assert picked(timepoint_scores(data, PCL), "a", label) == expected


def test_timepoint_change_columns():
    data = clinic_from_frames(
        assessments=scores([("a", 0, 50), ("a", 28, 35), ("b", 0, 0), ("b", 27, 4)])
    )
    tp = timepoint_scores(data, PCL)
    assert list(tp.columns) == TIMEPOINT_COLUMNS
    a = tp[(tp["patient_id"] == "a") & (tp["timepoint"] == "week 4")].iloc[0]
    assert (a["baseline"], a["change"], a["pct_change"]) == (50.0, -15.0, -30.0)
    b = tp[(tp["patient_id"] == "b") & (tp["timepoint"] == "week 4")].iloc[0]
    assert np.isnan(b["pct_change"])  # a baseline of 0 has no percentage change


def test_patients_without_baseline_excluded():
    data = clinic_from_frames(assessments=scores([("a", -40, 50), ("a", 28, 20)]))
    assert timepoint_scores(data, PCL).empty


def test_empty_clinic():
    data = clinic_from_frames(assessments=scores([]))
    assert list(timepoint_scores(data, PCL).columns) == TIMEPOINT_COLUMNS
    assert baseline_scores(data, PCL).empty
    assert patient_series(data, "PCL-5").empty


def test_itt_needs_a_session_from_day_zero():
    data = clinic_from_frames(
        assessments=scores([("a", 0, 50), ("b", 0, 50), ("c", 0, 50)]),
        sessions=sessions([("a", 0), ("b", -2), ("d", 0)]),
    )
    assert sorted(started_treatment(data)) == ["a", "d"]
    assert list(itt_patients(data, PCL)) == ["a"]
    no_sessions = clinic_from_frames(assessments=scores([("a", 0, 50), ("b", 0, 50)]))
    assert sorted(itt_patients(no_sessions, PCL)) == ["a", "b"]


def test_patient_series_counts_sessions_strictly_before():
    data = clinic_from_frames(
        assessments=scores([("a", 0, 50), ("a", 2, 45), ("a", 3, 40), ("a", 20, 30), ("b", 5, 9)]),
        sessions=sessions([("a", 0), ("a", 2), ("a", 4)]),
    )
    series = patient_series(data, "PCL-5")
    assert list(series["session_number_before"]) == [0, 1, 2, 3, 0]
    assert list(series["day"]) == [0, 2, 3, 20, 5]


def test_index_codes_name_each_scored_patient_in_the_index():
    from analytics.core.ids import PatientIndex

    data = clinic_from_frames(assessments=scores([("b", 0, 50), ("d", 0, 40), ("b", 7, 30)]))
    # the valid scores' patients are b, d (sorted); the index also holds a and c
    assert index_codes(data, "PCL-5", PatientIndex(["a", "b", "c", "d"])).tolist() == [1, 3, -1]
    assert index_codes(data, "PCL-5", PatientIndex(["d"])).tolist() == [-1, 0, -1]


# ---- Naive reference: plain loops over patients, written for clarity, not speed. ----


def naive_baselines(assess, lookback):
    out = {}
    for pid in sorted(set(assess["patient_id"])):
        best = None
        for _, row in assess[assess["patient_id"] == pid].iterrows():
            if row["instrument"] != "PCL-5" or pd.isna(row["total"]):
                continue
            if -lookback <= row["day"] <= 0 and (best is None or row["day"] > best[0]):
                best = (int(row["day"]), float(row["total"]))
        if best is not None:
            out[pid] = best
    return out


def naive_timepoints(assess, base, windows):
    out = {}
    for pid in base:
        rows = assess[(assess["patient_id"] == pid) & (assess["instrument"] == "PCL-5")]
        for w in windows:
            best = None
            for _, row in rows.iterrows():
                if pd.isna(row["total"]) or not w.low <= row["day"] <= w.high:
                    continue
                key = (abs(row["day"] - w.target_day), row["day"])
                if best is None or key < best[0]:
                    best = (key, int(row["day"]), float(row["total"]))
            if best is not None:
                out[(pid, w.label)] = (best[1], best[2])
    return out


def random_clinic(seed, n_patients=300):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_patients):
        days = rng.choice(np.arange(-45, 120), size=rng.integers(0, 12), replace=False)
        for day in days:
            total = float(rng.integers(0, 81)) if rng.random() > 0.1 else np.nan
            instrument = "PCL-5" if rng.random() > 0.15 else "PHQ-9"
            rows.append((f"p{i:04d}", int(day), instrument, total))
    assess = pd.DataFrame(rows, columns=["patient_id", "day", "instrument", "total"])
    sess = pd.DataFrame({"patient_id": [f"p{i:04d}" for i in range(n_patients) if i % 7], "day": 0})
    return clinic_from_frames(assessments=assess, sessions=sess), assess


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_naive_reference(seed):
    data, assess = random_clinic(seed)
    base = naive_baselines(assess, PCL.baseline_lookback_days)
    got_base = baseline_scores(data, PCL)
    assert {r.patient_id: (r.baseline_day, r.baseline) for r in got_base.itertuples()} == base
    expected = naive_timepoints(assess, base, PCL.windows)
    tp = timepoint_scores(data, PCL)
    got = {(r.patient_id, r.timepoint): (r.day, r.score) for r in tp.itertuples()}
    assert got == expected
    assert len(expected) > 200  # the random data really exercises the windows


@pytest.mark.parametrize("seed", [4, 5])
def test_sessions_before_each_score_match_a_naive_count(seed):
    rng = np.random.default_rng(seed)
    _, assess = random_clinic(seed, n_patients=120)
    # sessions on random days (some on score days, some patients without any), out of order
    rows = [
        (f"p{i:04d}", int(day))
        for i in range(0, 140, 3)
        for day in rng.choice(np.arange(0, 100), size=rng.integers(1, 15), replace=False)
    ]
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    data = clinic_from_frames(assessments=assess, sessions=sessions(shuffled))
    series = patient_series(data, "PCL-5")
    days_of = {}
    for pid, day in rows:
        days_of.setdefault(pid, set()).add(day)
    want = [
        sum(d < day for d in days_of.get(pid, ()))
        for pid, day in zip(series["patient_id"], series["day"])
    ]
    assert series["session_number_before"].tolist() == want
    assert series["session_number_before"].dtype == np.int64
    assert max(want) > 5


def test_scales_to_many_patients():
    # 100,000 patients, a million scores: selection is vectorised, so it runs in seconds.
    rng = np.random.default_rng(0)
    n = 1_000_000
    ids = pd.array(np.char.add("p", (np.arange(n) // 10).astype(str)), dtype="string")
    assess = pd.DataFrame(
        {
            "patient_id": ids,
            "day": (np.arange(n) % 10) * 10 - 5 + rng.integers(0, 3, n),
            "instrument": "PCL-5",
            "total": rng.integers(0, 81, n).astype(float),
        }
    )
    data = clinic_from_frames(assessments=assess)
    # how fast is measured by `make bench`; here, that the bulk path gives every patient a row
    tp = timepoint_scores(data, PCL)
    assert tp["patient_id"].nunique() == 100_000
