"""Outcome measures added up from the per-patient table equal them recomputed on a cut clinic.

For every ``*_from`` aggregation of the outcome modules (baseline, timepoints, patient rows,
groups, trajectories, PCL-5 depth), the cohort's rows of one table built on the whole sample
clinic (``table.keep(ids)``) must give what the clinic-wide function gives on
``data.with_patients(ids)``: the per-patient facts do not depend on who else is in the cohort,
and what does (the reliable-change SD, intervals) is worked out when aggregating.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable, count_facts
from analytics.metrics import groups, outcomes, pcl5_depth, trajectories
from tests.numbers import differences

PCL = OutcomeDefinitions()
DEFINITIONS = {
    "pcl5": PCL,
    "phq9": OutcomeDefinitions(instrument="PHQ-9"),
    "pcl5-points-fixed-sd": OutcomeDefinitions(response="points:10", reliability_sd=12.0),
}
BUILDERS = (outcomes.outcome_facts, trajectories.trajectory_facts, pcl5_depth.pcl5_depth_facts)


@pytest.fixture(scope="module")
def data(sample_dir):
    from analytics.ingest.importer import import_folder

    return import_folder(sample_dir).data


def _ids(data, name: str) -> list[str]:
    p = data.patients
    ids = p["patient_id"].astype("string")
    if name == "everyone":
        return ids.tolist()
    if name == "iv":
        return ids[p["route"] == "iv_ketamine"].tolist()
    if name == "nasal":
        return ids[p["route"] == "esketamine_nasal"].tolist()
    if name == "one site":  # a site filter finds its patients through the sessions
        s = data.sessions
        site = sorted(s["site"].dropna().unique())[0]
        return s.loc[s["site"] == site, "patient_id"].astype("string").unique().tolist()
    if name == "few":
        return ids.iloc[::13].tolist()[:25]
    if name == "empty":
        return []
    if name == "shuffled":
        picked = ids[np.random.default_rng(7).random(len(ids)) < 0.4].tolist()
        return list(np.random.default_rng(8).permutation(picked))
    raise ValueError(name)


COHORTS = ("everyone", "iv", "nasal", "one site", "few", "empty", "shuffled")


@pytest.fixture(scope="module")
def tables(data):
    return {name: PatientTable.of(data, d, *BUILDERS) for name, d in DEFINITIONS.items()}


@pytest.fixture(scope="module")
def cut(data):
    return {cohort: data.with_patients(_ids(data, cohort)) for cohort in COHORTS}


def _check(got, want) -> None:
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
    else:
        assert differences(got, want) == []


# (name, aggregation over the table, the clinic-wide function, keyword arguments, PCL-5 only)
CASES = [
    ("baseline", outcomes.baseline_stats_from, outcomes.baseline_stats, {}, False),
    ("timepoints", outcomes.timepoint_outcomes_from, outcomes.timepoint_outcomes, {}, False),
    ("patient rows", outcomes.patient_outcomes_from, outcomes.patient_outcomes, {}, False),
    ("week", trajectories.mean_trajectory_from, trajectories.mean_trajectory, {}, False),
    (
        "session by route",
        trajectories.mean_trajectory_from,
        trajectories.mean_trajectory,
        {"axis": "session", "by": "route"},
        False,
    ),
    (
        "day change by sex, no overall line",
        trajectories.mean_trajectory_from,
        trajectories.mean_trajectory,
        {"axis": "day", "by": "sex", "value": "change", "include_overall": False},
        False,
    ),
    (
        "patient series",
        trajectories.patient_trajectories_from,
        trajectories.patient_trajectories,
        {},
        False,
    ),
    (
        "patient series by session and route",
        trajectories.patient_trajectories_from,
        trajectories.patient_trajectories,
        {"axis": "session", "by": "route"},
        False,
    ),
    ("clusters", pcl5_depth.cluster_change_from, pcl5_depth.cluster_change, {}, True),
    ("items", pcl5_depth.item_change_from, pcl5_depth.item_change, {}, True),
    ("dx", pcl5_depth.provisional_dx_rates_from, pcl5_depth.provisional_dx_rates, {}, True),
    ("depth", pcl5_depth.pcl5_depth_summary_from, pcl5_depth.pcl5_depth_summary, {}, True),
]


# The PCL-5 depth facts are built for PCL-5 definitions only.
PARAMS = [
    pytest.param(name, case[1], case[2], case[3], id=f"{case[0]}-{name}")
    for case in CASES
    for name, definitions in DEFINITIONS.items()
    if definitions.instrument == "PCL-5" or not case[4]
]


@pytest.mark.parametrize("cohort", COHORTS)
@pytest.mark.parametrize(("definitions_name", "aggregate", "whole", "kwargs"), PARAMS)
def test_rows_of_a_cohort_equal_the_cut_clinic(
    data, tables, cut, definitions_name, cohort, aggregate, whole, kwargs
):
    definitions = DEFINITIONS[definitions_name]
    table = tables[definitions_name]
    keep = table.keep(_ids(data, cohort))
    _check(aggregate(table, keep, definitions, **kwargs), whole(cut[cohort], definitions, **kwargs))


@pytest.mark.parametrize("by", ["route", "site", "sex"])
@pytest.mark.parametrize("cohort", COHORTS)
def test_group_outcomes_of_a_cohort_equal_the_cut_clinic(data, tables, cut, cohort, by):
    table = tables["pcl5"]
    keep = table.keep(_ids(data, cohort))
    _check(
        groups.group_outcomes_from(table, keep, PCL, by),
        groups.group_outcomes(cut[cohort], PCL, by),
    )


def test_compare_groups_of_a_cohort_equal_the_cut_clinic(data, tables, cut):
    table = tables["pcl5"]
    args = {"by": "route", "first": "iv_ketamine", "second": "esketamine_nasal"}
    for population in ("observed", "intention to treat"):
        got = groups.compare_groups_from(
            table, table.keep(), PCL, timepoint="week 4", population=population, **args
        )
        want = groups.compare_groups(
            cut["everyone"], PCL, timepoint="week 4", population=population, **args
        )
        _check(got, want)


def test_a_fixed_sd_is_used_for_every_cohort(data, tables):
    # The summary's groups share the whole cohort's SD through definitions.reliability_sd.
    table = tables["pcl5"]
    sd = outcomes.baseline_stats_from(table, table.keep(), PCL)["sd"]
    fixed = dataclasses.replace(PCL, reliability_sd=sd)
    keep = table.keep(_ids(data, "iv"))
    got = outcomes.timepoint_outcomes_from(table, keep, fixed)
    assert {t.reliable_change.sd for t in got} == {sd}
    _check(got, outcomes.timepoint_outcomes(data.with_patients(_ids(data, "iv")), fixed))


def test_the_table_survives_parquet_and_json(tables, tmp_path):
    table = tables["pcl5"]
    table.write(tmp_path / "table")
    back = PatientTable.read(tmp_path / "table")
    keep = table.keep()
    for aggregate, _, kwargs, _ in [case[1:] for case in CASES]:
        _check(aggregate(back, keep, PCL, **kwargs), aggregate(table, keep, PCL, **kwargs))
    _check(
        groups.group_outcomes_from(back, keep, PCL, "route"),
        groups.group_outcomes_from(table, keep, PCL, "route"),
    )


def test_the_facts_name_only_their_own_columns(data, tables):
    table = tables["pcl5"]
    shared = set(data.patients.columns) | set(count_facts(data, table.index).patients.columns)
    own = [c for c in table.patients.columns if c not in shared]
    assert all(c.startswith(("outcome_", "pcl5_")) for c in own)
    assert set(table.long) == {
        outcomes.TIMEPOINT_TABLE,
        pcl5_depth.ITEM_TABLE,
        *trajectories.TRAJECTORY_TABLES.values(),
    }
    assert list(table.long[outcomes.TIMEPOINT_TABLE].columns) == outcomes.TIMEPOINT_ROW_COLUMNS
    assert list(table.long[pcl5_depth.ITEM_TABLE].columns) == pcl5_depth.ITEM_ROW_COLUMNS
    for name in trajectories.TRAJECTORY_TABLES.values():
        assert list(table.long[name].columns) == trajectories.TRAJECTORY_ROW_COLUMNS
    for frame in table.long.values():
        assert frame["code"].dtype == np.int64


def test_pcl5_depth_needs_pcl5_facts(tables):
    table = tables["phq9"]
    assert pcl5_depth.ITEM_TABLE not in table.long
    with pytest.raises(ValueError, match="no PCL-5 facts"):
        pcl5_depth.cluster_change_from(table, table.keep(), DEFINITIONS["phq9"])


def test_grouping_by_an_unknown_column_is_refused(tables):
    table = tables["pcl5"]
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        groups.group_outcomes_from(table, table.keep(), PCL, "colour")
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        trajectories.mean_trajectory_from(table, table.keep(), PCL, by="colour")
