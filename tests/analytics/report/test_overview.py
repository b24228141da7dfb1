"""The Overview's numbers, added up from the per-patient table, equal a full recomputation.

analytics.report.overview adds up a cohort's rows of the per-patient table. These tests hold it
to the summary itself: for each cohort below, every number the Overview shows must equal what
analytics.report.summary.build_summary (and the trajectory and attrition functions) give for
the same cohort cut out with ClinicData.with_patients, and what summary_of gives for the same
rows.
"""

import json

import pandas as pd
import pandas.testing as pdt
import pytest

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.metrics.attrition import attrition_flow
from analytics.metrics.trajectories import mean_trajectory
from analytics.report.overview import overview_of
from analytics.report.patients import patient_table
from analytics.report.summary import build_summary, summary_of
from tests.numbers import differences

DEFS = OutcomeDefinitions.for_instrument("PCL-5")


@pytest.fixture(scope="module")
def sample_clinic(sample_dir):
    from analytics.ingest.importer import import_folder

    return import_folder(sample_dir).data


@pytest.fixture(scope="module")
def parts(sample_clinic) -> PatientTable:
    return patient_table(sample_clinic, DEFS)


def overview_numbers(table: PatientTable, ids=None, definitions=DEFS) -> dict:
    return overview_of(table, table.keep(ids), definitions)


def overview_parts(data, definitions=DEFS) -> PatientTable:
    return patient_table(data, definitions)


def _cohorts(data) -> dict:
    p = data.patients
    ids = p["patient_id"]
    return {
        "everyone": None,
        "iv route": ids[p["route"] == "iv_ketamine"],
        "esketamine route": ids[p["route"] == "esketamine_nasal"],
        "first year": ids[p["first_session_year"] == p["first_session_year"].min()],
        "random 40": ids.sample(40, random_state=7),
        "one patient": ids.iloc[:1],
    }


COHORTS = ["everyone", "iv route", "esketamine route", "first year", "random 40", "one patient"]


def _json(value):
    return json.loads(json.dumps(value, default=str))


@pytest.mark.parametrize("cohort", COHORTS)
def test_overview_equals_the_summary_of_the_same_cohort(sample_clinic, parts, cohort):
    ids = _cohorts(sample_clinic)[cohort]
    data = sample_clinic if ids is None else sample_clinic.with_patients(ids)
    summary = _json(build_summary(data, DEFS))
    # the same rows added up: equal to the last bits a sum in another order may change
    assert differences(_json(summary_of(parts, parts.keep(ids), DEFS)), summary) == []
    numbers = overview_numbers(parts, ids)

    assert numbers["counts"] == {k: summary["counts"][k] for k in numbers["counts"]}
    assert numbers["baseline"]["n"] == summary["baseline"]["n"]
    if summary["baseline"]["n"]:
        assert numbers["baseline"]["mean"] == pytest.approx(summary["baseline"]["mean"], abs=1e-12)
    week4 = [t for t in summary["timepoints"] if t["label"] == "week 4"]
    for key in ("response", "response_itt", "remission", "remission_itt"):
        expected = week4[0][key] if week4 else {"k": 0, "n": 0}
        assert {k: numbers["timepoint"][key][k] for k in ("k", "n")} == {
            k: expected[k] for k in ("k", "n")
        }
        if week4:
            assert numbers["timepoint"][key] == pytest.approx(expected)
    assert numbers["time_to_response"] == summary["durability"]["time_to_response"]
    reported = [e for e in summary["side_effects"] if not e["effect"].endswith("_flag")]
    assert [e["effect"] for e in numbers["side_effects"]] == [e["effect"] for e in reported]
    for ours, theirs in zip(numbers["side_effects"], reported):
        assert ours["label"] == theirs["label"]
        assert ours["patients"] == pytest.approx(theirs["patients"])
        assert ours["sessions"] == pytest.approx(theirs["sessions"])
    assert numbers["activity"] == summary["activity"]


@pytest.mark.parametrize("cohort", COHORTS)
def test_mean_by_week_and_flow_equal_their_own_functions(sample_clinic, parts, cohort):
    ids = _cohorts(sample_clinic)[cohort]
    data = sample_clinic if ids is None else sample_clinic.with_patients(ids)
    numbers = overview_numbers(parts, ids)

    expected = mean_trajectory(data, DEFS, axis="week").drop(columns="group")
    pdt.assert_frame_equal(
        numbers["mean_by_week"].reset_index(drop=True), expected[numbers["mean_by_week"].columns]
    )
    flow = attrition_flow(data, DEFS)
    flow = flow[flow["route"] == flow["route"].iloc[0]].set_index("step")
    for ours, step in (
        ("completed_induction", "completed_induction"),
        ("scored_timepoint", "scored_week4"),
    ):
        assert numbers["flow"][ours]["k"] == flow.at[step, "k"]
        assert numbers["flow"][ours]["n"] == flow.at[step, "n"]


def test_an_empty_cohort_has_zero_counts_and_no_rates(parts):
    numbers = overview_numbers(parts, [])
    assert numbers["counts"] == {"patients": 0, "sessions": 0, "assessments": 0}
    assert numbers["baseline"] == {"n": 0, "mean": None, "sd": None}
    assert numbers["timepoint"]["response"]["n"] == 0
    assert numbers["timepoint"]["response"]["rate"] is None
    assert numbers["time_to_response"]["n"] == 0
    assert numbers["side_effects"] == []
    assert numbers["activity"] == []
    assert numbers["mean_by_week"].empty


def test_unknown_ids_are_ignored(parts, sample_clinic):
    first = sample_clinic.patients["patient_id"].iloc[:3].tolist()
    assert (
        overview_numbers(parts, [*first, "no-such-patient"])["counts"]
        == (overview_numbers(parts, first)["counts"])
    )


# A clinic small enough to count by hand.
#   a: baseline 50, week-4 score 30 (-40%: responder; 30 < 33: remitter), 6 IV sessions,
#      nausea at two sessions and a nausea report matching no session day of a's (day 40).
#   b: baseline 40, week-4 score 36 (-10%: not a responder, not remitted), 1 IV session,
#      dizziness once.
#   c: baseline 20 (below 33: not eligible for remission), no week-4 score, 2 sessions.
HAND = clinic_from_frames(
    sessions=pd.DataFrame(
        {
            "patient_id": ["a"] * 6 + ["b"] + ["c"] * 2,
            "day": [0, 2, 4, 7, 9, 11, 0, 0, 3],
            "route": ["iv_ketamine"] * 9,
        }
    ),
    assessments=pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b", "c"],
            "day": [0, 28, 0, 28, 0],
            "instrument": "PCL-5",
            "total": [50.0, 30.0, 40.0, 36.0, 20.0],
        }
    ),
    side_effects=pd.DataFrame(
        {
            "patient_id": ["a", "a", "b"],
            "day": [0, 2, 0],
            "effect": ["nausea", "nausea", "dizziness"],
        }
    ),
)


def test_hand_counted_clinic():
    numbers = overview_numbers(overview_parts(HAND, DEFS))
    assert numbers["counts"] == {"patients": 3, "sessions": 9, "assessments": 5}
    assert numbers["baseline"]["n"] == 3
    assert numbers["baseline"]["mean"] == pytest.approx((50 + 40 + 20) / 3)
    week4 = numbers["timepoint"]
    assert (week4["response"]["k"], week4["response"]["n"]) == (1, 2)  # a of a, b
    assert (week4["response_itt"]["k"], week4["response_itt"]["n"]) == (1, 3)  # a of a, b, c
    assert (week4["remission"]["k"], week4["remission"]["n"]) == (1, 2)  # c not eligible
    assert (week4["remission_itt"]["k"], week4["remission_itt"]["n"]) == (1, 2)
    # induction is 6 IV sessions by default: only a
    assert (numbers["flow"]["completed_induction"]["k"], numbers["flow"]["completed_induction"]
            ["n"]) == (1, 3)  # fmt: skip
    effects = {e["effect"]: e for e in numbers["side_effects"]}
    # per patient: of the 3 with a session; per session: of the 9 sessions
    assert (effects["nausea"]["patients"]["k"], effects["nausea"]["patients"]["n"]) == (1, 3)
    assert (effects["nausea"]["sessions"]["k"], effects["nausea"]["sessions"]["n"]) == (2, 9)
    assert (effects["dizziness"]["sessions"]["k"], effects["dizziness"]["sessions"]["n"]) == (1, 9)
    # Wilson score interval of 1/3 by hand, z = 1.96:
    # (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) = 0.0615 to 0.7923
    assert effects["nausea"]["patients"]["ci_low"] == pytest.approx(0.0615, abs=5e-5)
    assert effects["nausea"]["patients"]["ci_high"] == pytest.approx(0.7923, abs=5e-5)


def test_without_a_week4_window_the_headline_timepoint_is_none():
    from analytics.core.definitions import Window

    custom = OutcomeDefinitions.for_instrument("PCL-5", windows=[Window("week 2", 14, 11, 17)])
    numbers = overview_numbers(overview_parts(HAND, custom), definitions=custom)
    assert numbers["timepoint"] is None
    assert numbers["flow"]["scored_timepoint"] is None
    assert (numbers["flow"]["completed_induction"]["k"], numbers["flow"]["completed_induction"]
            ["n"]) == (1, 3)  # fmt: skip
    assert numbers["counts"]["patients"] == 3


def test_the_table_survives_a_round_trip_through_its_files(parts, tmp_path):
    parts.write(tmp_path / "table")
    again = PatientTable.read(tmp_path / "table")
    assert _json(overview_numbers(again)) == _json(overview_numbers(parts))
    pdt.assert_frame_equal(again.patients, parts.patients)


def test_rows_in_any_order_give_the_same_numbers(sample_clinic):
    import dataclasses

    shuffled = dataclasses.replace(
        sample_clinic,
        sessions=sample_clinic.sessions.sample(frac=1, random_state=3).reset_index(drop=True),
        side_effects=sample_clinic.side_effects.sample(frac=1, random_state=4),
    )
    ours = overview_numbers(overview_parts(shuffled, DEFS))
    expected = overview_numbers(overview_parts(sample_clinic, DEFS))
    assert ours["flow"] == expected["flow"]
    assert ours["counts"] == expected["counts"]
    assert ours["side_effects"] == expected["side_effects"]
