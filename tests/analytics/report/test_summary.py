"""The summary dict: shape, counts, groups and strict JSON."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.core.contract import clinic_from_frames, empty_clinic
from analytics.core.definitions import OutcomeDefinitions
from analytics.report.summary import build_summary, jsonable

PCL = OutcomeDefinitions()
RATE_KEYS = {"k", "n", "rate", "ci_low", "ci_high"}


@pytest.fixture(scope="module")
def clinic():
    rng = np.random.default_rng(5)
    ids = [f"p{i:02d}" for i in range(40)]
    rows = []
    for i, pid in enumerate(ids):
        base = float(rng.integers(25, 70))
        rows.append((pid, 0, "PCL-5", base))
        rows.append((pid, 0, "PHQ-9", float(rng.integers(5, 27))))
        if i % 4:  # a quarter never gets a week-4 score
            rows.append((pid, 28, "PCL-5", max(0.0, base - float(rng.integers(-5, 30)))))
        if i % 3 == 0:
            rows.append((pid, 1, "PCL-5", base - 3))
    assess = pd.DataFrame(rows, columns=["patient_id", "day", "instrument", "total"])
    sessions = pd.DataFrame(
        {
            "patient_id": [pid for pid in ids for _ in range(2)],
            "day": [d for _ in ids for d in (0, 3)],
            "route": [
                "iv_ketamine" if i < 30 else "esketamine_nasal" for i in range(40) for _ in range(2)
            ],
        }
    )
    patients = pd.DataFrame({"patient_id": ids, "site": ["north"] * 35 + ["south"] * 5})
    # one patient with a side effect only, to check patient counts across tables
    effects = pd.DataFrame({"patient_id": ["p00"], "day": [0], "effect": ["nausea"]})
    return clinic_from_frames(
        assessments=assess, sessions=sessions, patients=patients, side_effects=effects
    )


def test_shape_and_counts(clinic):
    out = build_summary(clinic, PCL)
    json.dumps(out, allow_nan=False)
    assert out["counts"] == {
        "patients": 40,
        "sessions": 80,
        "assessments": 40 + 40 + 30 + 14,
        "instrument_assessments": 40 + 30 + 14,
    }
    assert out["instrument"] == "PCL-5"
    # the definitions in words, and which follow-up the intention to treat used
    assert {k: v for k, v in out["definitions"].items() if k != "data_cutoff"} == PCL.describe()
    assert "counts as due" in out["definitions"]["data_cutoff"]
    assert out["baseline"]["n"] == 40
    assert [t["label"] for t in out["timepoints"]] == ["24h", "week 4"]
    week4 = out["timepoints"][1]
    assert week4["n"] == 30
    for key in ("response", "response_itt", "remission", "remission_itt", "meaningful"):
        assert set(week4[key]) == RATE_KEYS
    assert week4["response_itt"]["n"] == 40
    assert {"n", "improved", "deteriorated", "threshold_points"} <= set(week4["reliable_change"])
    for key in ("durability", "side_effects", "blood_pressure", "dissociation", "pcl5_depth"):
        assert key in out
    assert "groups" not in out


@pytest.mark.parametrize(
    ("by", "sizes"),
    [
        ("route", {"esketamine_nasal": (10, True), "iv_ketamine": (30, False)}),
        ("site", {"north": (35, False), "south": (5, True)}),
    ],
)
def test_groups(clinic, by, sizes):
    out = build_summary(clinic, PCL, by=by)
    json.dumps(out, allow_nan=False)
    groups = out["groups"]
    assert {k: (g["n_patients"], g["small"]) for k, g in groups.items()} == sizes
    total = sum(
        next(t for t in g["timepoints"] if t["label"] == "week 4")["n"] for g in groups.values()
    )
    assert total == 30
    # the whole cohort's baseline SD sets one reliable-change threshold for every group
    thresholds = {
        t["reliable_change"]["threshold_points"] for g in groups.values() for t in g["timepoints"]
    }
    assert len(thresholds) == 1


def test_group_by_unknown_column(clinic):
    with pytest.raises(ValueError, match=r"cannot group by 'colour'; patients columns are"):
        build_summary(clinic, PCL, by="colour")


def test_other_instrument(clinic):
    out = build_summary(clinic, OutcomeDefinitions.for_instrument("PHQ-9"))
    assert out["instrument"] == "PHQ-9" and out["baseline"]["n"] == 40
    assert out["timepoints"] == [] and "pcl5_depth" not in out
    json.dumps(out, allow_nan=False)


def test_empty_clinic():
    out = build_summary(empty_clinic(), PCL)
    json.dumps(out, allow_nan=False)
    assert out["counts"] == {
        "patients": 0,
        "sessions": 0,
        "assessments": 0,
        "instrument_assessments": 0,
    }
    assert out["baseline"] == {"n": 0, "mean": None, "sd": None}
    assert out["timepoints"] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(1.5), 1.5),
        (np.int64(3), 3),
        (float("nan"), None),
        (pd.NA, None),
        ((1, np.nan), [1, None]),
        ({"a": np.bool_(True)}, {"a": True}),
    ],
)
def test_jsonable(value, expected):
    assert jsonable(value) == expected


def test_group_by_too_many_values():
    ids = [f"p{i:03d}" for i in range(60)]
    assess = pd.DataFrame({"patient_id": ids, "day": 0, "instrument": "PCL-5", "total": 40.0})
    data = clinic_from_frames(
        assessments=assess, patients=pd.DataFrame({"patient_id": ids, "code": ids})
    )
    with pytest.raises(ValueError, match=r"cannot group by 'code': 60 distinct values, at most 50"):
        build_summary(data, PCL, by="code")
