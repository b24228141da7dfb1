"""The course-of-treatment aggregations over a cohort's rows equal recomputing on a cut clinic.

Durability, attrition, activity, the not-on-track screen and the claim checks each add up the
per-patient table (``*_from(table, keep, definitions)``). Each is compared, for several cohorts,
with its ``(data, definitions)`` function run on ``data.with_patients(ids)``: everything worked
out per patient once gives what a fresh analysis of the cohort's own data gives.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions, Window
from analytics.core.patient_table import PatientTable
from analytics.metrics import activity, attrition, claims, durability, not_on_track

BUILDERS = (
    durability.durability_facts,
    attrition.attrition_facts,
    activity.activity_facts,
    not_on_track.not_on_track_facts,
    claims.claims_facts,
)
PREFIXES = ("durability_", "attrition_", "activity_", "not_on_track_", "claims_")
DEFINITIONS = {
    "pcl5": OutcomeDefinitions(),
    "phq9-clopper": OutcomeDefinitions(instrument="PHQ-9", ci_method="clopper-pearson"),
}
COHORTS = ("everyone", "iv", "nasal", "small", "empty", "shuffled")


@pytest.fixture(scope="module")
def clinic(sample_dir):
    from analytics.ingest.importer import import_folder

    return import_folder(Path(sample_dir)).data


@pytest.fixture(scope="module")
def tables(clinic):
    return {name: PatientTable.of(clinic, d, *BUILDERS) for name, d in DEFINITIONS.items()}


def _cohort(clinic, name: str) -> pd.Series:
    ids = clinic.patients["patient_id"].astype("string")
    route = clinic.patients["route"]
    if name == "everyone":
        return ids
    if name == "iv":
        return ids[(route == "iv_ketamine").fillna(False).to_numpy(bool)]
    if name == "nasal":
        return ids[(route == "esketamine_nasal").fillna(False).to_numpy(bool)]
    if name == "small":
        return ids.sample(25, random_state=7)
    if name == "empty":
        return ids[:0]
    # a random 40% of the clinic, its ids in shuffled order
    return ids.sample(frac=0.4, random_state=11)


def _same(got, expected):
    if isinstance(expected, pd.DataFrame):
        assert_frame_equal(got, expected, check_exact=True)
    else:
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _durability(table, keep, defs, data):
    _same(
        durability.durability_summary_from(table, keep, defs),
        durability.durability_summary(data, defs),
    )


def _durability_plain(table, keep, defs, data):
    _same(
        durability.durability_summary_from(table, keep, defs, band="plain"),
        durability.durability_summary(data, defs, band="plain"),
    )


def _sustained(table, keep, defs, data):
    _same(
        durability.sustained_response_from(table, keep, defs),
        durability.sustained_response(data, defs),
    )


def _event_times(table, keep, defs, data):
    for analysis, times in (
        ("time_to_response", durability.time_to_response_times),
        ("loss_of_response", durability.loss_of_response_times),
        ("relapse_after_remission", durability.relapse_after_remission_times),
    ):
        _same(durability.event_times_from(table, keep, defs, analysis), times(data, defs))


def _flow(table, keep, defs, data):
    _same(attrition.attrition_flow_from(table, keep, defs), attrition.attrition_flow(data, defs))


def _attrition_patients(table, keep, defs, data):
    _same(
        attrition.attrition_patients_from(table, keep, defs),
        attrition.attrition_patients(data, defs),
    )


def _activity(table, keep, defs, data):
    _same(activity.activity_by_period_from(table, keep, defs), activity.activity_by_period(data))


def _not_on_track(table, keep, defs, data):
    _same(not_on_track.not_on_track_from(table, keep, defs), not_on_track.not_on_track(data, defs))


def _not_on_track_sessions_only(table, keep, defs, data):
    # another checkpoint than the stored flags': the rule is applied to the same rows
    _same(
        not_on_track.not_on_track_from(table, keep, defs, week=None),
        not_on_track.not_on_track(data, defs, week=None),
    )


def _claims(table, keep, defs, data):
    _same(claims.claims_summary_from(table, keep, defs), claims.claims_summary(data, defs))


AGGREGATIONS = {
    "durability_summary": _durability,
    "durability_summary_plain": _durability_plain,
    "sustained_response": _sustained,
    "event_times": _event_times,
    "attrition_flow": _flow,
    "attrition_patients": _attrition_patients,
    "activity_by_period": _activity,
    "not_on_track": _not_on_track,
    "not_on_track_sessions_only": _not_on_track_sessions_only,
    "claims_summary": _claims,
}


@pytest.mark.parametrize("definitions", list(DEFINITIONS))
@pytest.mark.parametrize("cohort", COHORTS)
@pytest.mark.parametrize("aggregation", list(AGGREGATIONS))
def test_rows_of_a_cohort_equal_the_cut_clinic(clinic, tables, aggregation, cohort, definitions):
    ids = _cohort(clinic, cohort)
    table = tables[definitions]
    keep = table.keep(ids)
    assert int(keep.sum()) == ids.nunique()
    AGGREGATIONS[aggregation](table, keep, DEFINITIONS[definitions], clinic.with_patients(ids))


def test_the_cohorts_are_what_they_say(clinic):
    sizes = {name: len(_cohort(clinic, name)) for name in COHORTS}
    assert sizes["empty"] == 0 and 0 < sizes["small"] < 30
    assert 0 < sizes["iv"] < sizes["everyone"] and 0 < sizes["nasal"] < sizes["everyone"]
    shuffled = _cohort(clinic, "shuffled")
    assert not shuffled.is_monotonic_increasing


def test_the_table_read_back_from_disk_adds_up_the_same(clinic, tables, tmp_path):
    table = tables["pcl5"]
    table.write(tmp_path / "table")
    again = PatientTable.read(tmp_path / "table")
    defs = DEFINITIONS["pcl5"]
    for name in ("everyone", "shuffled"):
        ids = _cohort(clinic, name)
        for aggregation in AGGREGATIONS.values():
            aggregation(again, again.keep(ids), defs, clinic.with_patients(ids))


def test_columns_are_prefixed_plain_and_meta_is_json(tables):
    table = tables["pcl5"]
    own = [c for c in table.patients.columns if c.startswith(PREFIXES)]
    assert own, "no facts"
    for prefix in PREFIXES:
        assert any(c.startswith(prefix) for c in own), prefix
    for column in own:
        dtype = table.patients[column].dtype
        assert dtype.kind in "biuf" or str(dtype) in ("Int64", "string", "boolean"), (column, dtype)
    json.dumps(dict(table.meta), allow_nan=False)


def test_facts_are_one_row_per_patient_in_index_order(clinic, tables):
    table = tables["pcl5"]
    assert len(table.patients) == len(table.index) == clinic.patients["patient_id"].nunique()
    # the flags say what the per-patient frames of the old functions said, patient by patient
    flags = attrition.attrition_patients(clinic, DEFINITIONS["pcl5"]).set_index("patient_id")
    rows = table.patients.set_index("patient_id").loc[flags.index]
    # session rows, counted here with plain pandas
    plain = clinic.sessions["patient_id"].value_counts().reindex(flags.index, fill_value=0)
    assert (rows["count_session_rows"].to_numpy() == plain.to_numpy()).all()
    assert (flags["sessions"].to_numpy() == plain.to_numpy()).all()
    ttr = durability.time_to_response_times(clinic, DEFINITIONS["pcl5"]).set_index("patient_id")
    rows = table.patients.set_index("patient_id")
    assert (rows.loc[ttr.index, "durability_ttr_days"].to_numpy() == ttr["time"]).all()
    outside = rows.index.difference(ttr.index)
    assert rows.loc[outside, "durability_ttr_days"].isna().all()
    assert not rows.loc[outside, "durability_ttr_event"].any()


# --------------------------------------------------------------------------------------------
# Tables built for other settings, and clinics without sessions


def test_sustained_from_a_table_built_for_other_timepoints_is_refused(tables):
    table = tables["pcl5"]
    with pytest.raises(ValueError, match="the table holds the sustained response from"):
        durability.sustained_response_from(
            table, table.keep(), DEFINITIONS["pcl5"], later=("week 16",)
        )
    with pytest.raises(ValueError, match="timepoint 'week 5' is not one of the windows"):
        durability.sustained_response_from(
            table, table.keep(), DEFINITIONS["pcl5"], later=("week 5",)
        )


def test_unknown_analysis_is_refused(tables):
    table = tables["pcl5"]
    with pytest.raises(ValueError, match="analysis must be one of"):
        durability.event_times_from(table, table.keep(), DEFINITIONS["pcl5"], "relapse")


def test_claims_from_a_table_without_the_timepoint_is_refused(tables):
    table = tables["pcl5"]
    with pytest.raises(ValueError, match="the table holds no claims scores at"):
        claims.check_improvement_from(table, table.keep(), DEFINITIONS["pcl5"], timepoint="week 2")


def test_sustained_response_with_other_timepoints_still_works(clinic):
    defs = DEFINITIONS["pcl5"]
    got = durability.sustained_response(clinic, defs, anchor="week 2", later=("week 4",))
    assert list(got["timepoint"]) == ["week 4", "week 4"]
    assert got["n"].iloc[1] >= got["n"].iloc[0]  # every anchor responder vs those scored


def _no_sessions_clinic():
    a = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b", "c"],
            "day": [0, 1, 28, 0, 28, 0],
            "total": [50.0, 30.0, 30.0, 40.0, 41.0, 45.0],
        }
    ).assign(instrument="PCL-5")
    data = clinic_from_frames(assessments=a)
    return type(data)(**{**data.__dict__, "has_sessions": False})


def test_a_clinic_without_sessions():
    data = _no_sessions_clinic()
    defs = DEFINITIONS["pcl5"]
    table = PatientTable.of(data, defs, *BUILDERS)
    for ids in (["a", "b", "c"], ["b"], []):
        for aggregation in AGGREGATIONS.values():
            aggregation(table, table.keep(ids), defs, data.with_patients(ids))
    flow = attrition.attrition_flow_from(table, table.keep(), defs)
    assert flow["route"].tolist() == [attrition.ALL_ROUTES] * 5 and (flow["n"] == 0).all()
    # no sessions: every patient with a baseline is in the intention-to-treat population
    ttr = durability.event_times_from(table, table.keep(), defs, "time_to_response")
    assert ttr["patient_id"].tolist() == ["a", "b"]


def test_custom_windows_without_the_claims_and_durability_timepoints():
    data = _no_sessions_clinic()
    defs = OutcomeDefinitions(windows=(Window("day 1", 1, 1, 2), Window("week 4", 28, 21, 35)))
    table = PatientTable.of(data, defs, *BUILDERS)
    keep = table.keep()
    summary = durability.durability_summary_from(table, keep, defs)
    assert summary["sustained"] == {} and summary["time_to_response"]["n"] == 2
    assert claims.claims_summary_from(table, keep, defs) == {
        "within_24h": None,
        "persisted_to_week_4": None,
    }
    with pytest.raises(ValueError, match="timepoint 'week 2' is not one of the windows"):
        not_on_track.not_on_track_from(table, keep, defs)
    assert not_on_track.not_on_track_from(table, keep, defs, week=None).empty


def test_the_week4_measures_are_named_for_their_populations(clinic, tables):
    table = tables["pcl5"]
    summary = claims.claims_summary_from(table, table.keep(), DEFINITIONS["pcl5"])
    persisted = summary["persisted_to_week_4"]
    assert persisted["scored_label"] == (
        "Scored at week 4, of patients with a baseline who started treatment and were due by then"
    )
    assert persisted["response_label"] == (
        "Responded at week 4, of patients scored both early (24 hours or week 1) and at week 4"
    )
    assert summary["within_24h"]["scored_label"] == (
        "Scored at 24 hours, of patients with a baseline who started treatment and were due by then"
    )
    flow = attrition.attrition_flow_from(table, table.keep(), DEFINITIONS["pcl5"])
    label = flow.loc[flow["step"] == "scored_week4", "label"].iloc[0]
    assert label == "Scored at week 4, of patients who started and were due by then"
    # the two week-4 coverages really differ: who started vs who has a baseline score
    scored = flow[(flow["route"] == attrition.ALL_ROUTES) & (flow["step"] == "scored_week4")]
    assert int(scored["k"].iloc[0]) == persisted["scored"]["k"]
    assert int(scored["n"].iloc[0]) >= persisted["scored"]["n"]


def test_keep_is_a_mask_not_ids(tables):
    table = tables["pcl5"]
    keep = np.zeros(len(table), dtype=bool)
    empty = durability.durability_summary_from(table, keep, DEFINITIONS["pcl5"])
    assert empty["time_to_response"]["n"] == 0


@pytest.mark.parametrize("by", [None, "route"])
@pytest.mark.parametrize("cohort", ["everyone", "nasal", "empty"])
def test_event_curves_are_the_curves_of_the_event_times(clinic, tables, by, cohort):
    # what the Durability page drew from the event times: one curve per route (missing last)
    defs = DEFINITIONS["pcl5"]
    table = tables["pcl5"]
    keep = table.keep(_cohort(clinic, cohort))
    curves, medians = durability.event_curves_from(table, keep, defs, "loss_of_response", by=by)
    events = durability.event_times_from(table, keep, defs, "loss_of_response")
    if events.empty:
        assert curves.empty and medians.empty
        return
    if by is None:
        parts = [(None, events)]
    else:
        routes = clinic.patients[["patient_id", "route"]]
        events = events.merge(routes, on="patient_id", how="left")
        parts = list(events.groupby("route", dropna=False))
    expected_curves, expected_medians = [], []
    for group, part in parts:
        km = durability.kaplan_meier(part["time"].to_numpy(float), part["event"].to_numpy(bool))
        expected_curves.append(km.curve.assign(group=group) if by is not None else km.curve)
        expected_medians.append({"group": group, "median": km.median, **km.to_dict()})
    assert_frame_equal(curves, pd.concat(expected_curves, ignore_index=True), check_dtype=False)
    assert_frame_equal(medians, pd.DataFrame(expected_medians), check_dtype=False)
