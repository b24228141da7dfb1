"""Trajectories: binning rules and means with t intervals, against hand calculations."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.trajectories import (
    ALL_PATIENTS,
    MIN_N_FOR_INTERVAL,
    mean_trajectory,
    patient_trajectories,
    week_of_day,
)

DEFS = OutcomeDefinitions.for_instrument("PCL-5")


@pytest.mark.parametrize(
    ("day", "week"),
    [
        # days 1-3: their own bin at 2/7
        (1, 2 / 7),
        (3, 2 / 7),
        # week k = days 7k-3 .. 7k+3
        (4, 1),
        (10, 1),
        (11, 2),
        (17, 2),
        (25, 4),
        (31, 4),
        (32, 5),
    ],
)
def test_week_bins(day, week):
    assert week_of_day([day])[0] == pytest.approx(week)


def _clinic():
    # Sessions on days 0, 2, 4 (IV) or 0, 3 (nasal). Scores: baseline on day 0.
    rows = [
        ("a", 0, 50), ("a", 1, 40), ("a", 7, 30), ("a", 9, 34), ("a", 14, 28),
        ("b", 0, 60), ("b", 1, 50), ("b", 8, 45),
        ("c", 0, 40), ("c", 7, 38),
        ("z", 7, 20),  # no baseline: left out
    ]  # fmt: skip
    a = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    s = pd.DataFrame(
        [("a", d, "iv_ketamine") for d in (0, 2, 4)]
        + [("b", d, "iv_ketamine") for d in (0, 2, 4)]
        + [("c", d, "esketamine_nasal") for d in (0, 3)]
        + [("z", 0, "iv_ketamine")],
        columns=["patient_id", "day", "route"],
    )
    return clinic_from_frames(sessions=s, assessments=a)


def test_patient_series_by_week():
    got = patient_trajectories(_clinic(), DEFS)
    a = got[got["patient_id"] == "a"]
    # a's days 7 and 9 share week 1 -> mean of 30 and 34
    assert a["label"].tolist() == ["baseline", "days 1-3", "week 1", "week 2"]
    assert a["score"].tolist() == [50.0, 40.0, 32.0, 28.0]
    assert a["change"].tolist() == [0.0, -10.0, -18.0, -22.0]
    assert "z" not in set(got["patient_id"])
    assert (got["group"] == ALL_PATIENTS).all()


def test_mean_by_week_with_t_interval():
    got = mean_trajectory(_clinic(), DEFS).set_index("label")
    # week 1: a 32, b 45, c 38 -> mean 38.333, SD 6.506, t(0.975, 2) = 4.303
    values = np.array([32.0, 45.0, 38.0])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    row = got.loc["week 1"]
    assert row["n"] == 3
    assert_allclose([row["mean"], row["sd"]], [38.3333, 6.5064], atol=1e-4)
    assert_allclose([row["ci_low"], row["ci_high"]], [38.3333 - half, 38.3333 + half], atol=1e-4)
    # baseline: 50, 60, 40 -> mean 50
    assert got.loc["baseline", "mean"] == 50.0
    # week 2: a alone -> no interval
    assert got.loc["week 2", "n"] == 1 and np.isnan(got.loc["week 2", "ci_low"])


@pytest.mark.parametrize(
    ("label", "n", "has_interval"),
    [
        # a alone
        ("week 2", 1, False),
        # a and b: an SD, but t(0.975, 1) = 12.7 would stretch far past 0-80
        ("days 1-3", 2, False),
        # a, b and c
        ("week 1", 3, True),
    ],
)
def test_means_of_fewer_than_three_patients_have_no_interval(label, n, has_interval):
    row = mean_trajectory(_clinic(), DEFS).set_index("label").loc[label]
    assert row["n"] == n and MIN_N_FOR_INTERVAL == 3
    assert np.isfinite([row["ci_low"], row["ci_high"]]).all() == has_interval
    assert not np.isnan(row["mean"])


def test_intervals_are_not_clipped_to_the_scale():
    # three patients at 0, 0 and 9 on a 0-80 scale: the t interval's low end is below 0
    rows = [(p, 0, 40) for p in "abc"] + [("a", 7, 0), ("b", 7, 0), ("c", 7, 9)]
    a = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    s = pd.DataFrame({"patient_id": list("abc"), "day": 0, "route": "iv_ketamine"})
    got = mean_trajectory(clinic_from_frames(sessions=s, assessments=a), DEFS)
    row = got.set_index("label").loc["week 1"]
    half = stats.t.ppf(0.975, 2) * np.std([0, 0, 9], ddof=1) / np.sqrt(3)
    assert_allclose(row["ci_low"], 3 - half, atol=1e-9)
    assert row["ci_low"] < 0


def test_by_session_number():
    got = patient_trajectories(_clinic(), DEFS, axis="session")
    a = got[got["patient_id"] == "a"].set_index("x")
    # a: day 1 after 1 session (day 0); days 7, 9, 14 after 3 sessions (0, 2, 4) -> mean 30.67
    assert a.loc[1.0, "label"] == "after session 1"
    assert a.loc[3.0, "score"] == pytest.approx((30 + 34 + 28) / 3)


def test_by_route_with_overall_line_and_change():
    got = mean_trajectory(_clinic(), DEFS, by="route", value="change")
    assert set(got["group"]) == {"iv_ketamine", "esketamine_nasal", ALL_PATIENTS}
    iv = got[(got["group"] == "iv_ketamine") & (got["label"] == "days 1-3")].iloc[0]
    # a -10, b -10
    assert (iv["n"], iv["mean"], iv["sd"]) == (2, -10.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"axis": "month"}, "axis must be one of"),
        ({"value": "pct"}, "value must be one of"),
        ({"by": "colour"}, "cannot group by 'colour'"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mean_trajectory(_clinic(), DEFS, **kwargs)


def test_vectorised_on_many_patients():
    # 20,000 patients x 8 scores: must not loop per patient (a few seconds at most).
    rng = np.random.default_rng(0)
    ids = np.repeat([f"p{i}" for i in range(20_000)], 8)
    days = np.tile([0, 1, 7, 14, 21, 28, 56, 84], 20_000)
    a = pd.DataFrame({"patient_id": ids, "day": days, "total": rng.integers(0, 81, ids.size)})
    s = pd.DataFrame({"patient_id": ids, "day": days, "route": "iv_ketamine"})
    clinic = clinic_from_frames(sessions=s, assessments=a.assign(instrument="PCL-5"))
    got = mean_trajectory(clinic, DEFS)
    assert got.loc[got["label"] == "week 4", "n"].item() == 20_000
