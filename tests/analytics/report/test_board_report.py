"""The board report's numbers: the summary's own, suppressed when the report leaves the clinic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.board_report import board_report_of, report_period
from analytics.report.patients import patient_table
from analytics.report.summary import summary_of
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def sample():
    data = import_folder(SAMPLE).data
    definitions = OutcomeDefinitions()
    return definitions, patient_table(data, definitions)


def report_of(sample, keep=None, **options):
    definitions, table = sample
    return board_report_of(
        table,
        table.keep() if keep is None else keep,
        definitions,
        clinic_name="Riverside",
        cohort="All patients",
        data_version="v1",
        made_by="director-test",
        **options,
    )


def small_cohort(table, n: int = 30) -> np.ndarray:
    keep = np.zeros(len(table.patients), dtype=bool)
    keep[:n] = True
    return keep


def test_unsuppressed_headline_is_the_summarys(sample):
    definitions, table = sample
    report = report_of(sample, suppress=False)
    summary = summary_of(table, table.keep(), definitions)
    week4 = next(t for t in summary["timepoints"] if t["label"] == "week 4")
    rows = {row["measure"]: row for row in report.headline}
    assert rows["Patients"]["count"] == summary["counts"]["patients"] == 250
    assert rows["Sessions"]["count"] == summary["counts"]["sessions"]
    assert rows["Response at week 4, observed"]["rate"] == week4["response"]
    assert rows["Response at week 4, intention to treat"]["rate"] == week4["response_itt"]
    assert rows["Remission at week 4, observed"]["rate"] == week4["remission"]
    assert rows["Remission at week 4, intention to treat"]["rate"] == week4["remission_itt"]
    assert rows["Median time to response"]["median"] == (summary["durability"]["time_to_response"])
    # baseline recorded: 227 of the sample's 250 patients have a baseline (summary baseline n)
    assert rows["Data completeness: baseline recorded"]["rate"]["k"] == summary["baseline"]["n"]
    assert report.suppression["applied"] is False
    assert report.summary["suppression"]["applied"] is False


def test_unsuppressed_keeps_every_number(sample):
    report = report_of(sample, suppress=False)
    assert report.summary["serious_events"]  # the list, as on screen


@pytest.mark.parametrize(
    ("frame", "count"),
    [("funnel", "k"), ("side_effects", "k"), ("rates_by_timepoint", "k")],
)
def test_suppressed_frames_hold_no_small_count(sample, frame, count):
    definitions, table = sample
    report = report_of(sample, keep=small_cohort(table), suppress=True)
    values = report.frames[frame][count]
    numbers = pd.to_numeric(values, errors="coerce")
    assert not numbers.between(1, 10).any()
    # a suppressed count has no rate to draw
    hidden = values.astype(str) == "<11"
    assert report.frames[frame].loc[hidden, "rate"].isna().all()


def test_suppressed_report_draws_no_small_mean_or_tail(sample):
    definitions, table = sample
    report = report_of(sample, keep=small_cohort(table, 60), suppress=True)
    assert (report.frames["means_by_group"]["n"] > 10).all()
    assert (report.frames["durability_curve"]["at_risk"] > 10).all()
    assert report.suppression["applied"] is True
    assert report.suppression["cells_suppressed"] > 0
    assert any("suppression was applied" in c for c in report.caveats)


def test_suppressed_report_names_no_patient(sample):
    report = report_of(sample, suppress=True)
    assert "P0030" not in repr(report.summary)  # a serious event's patient in the sample


def test_split_gives_each_groups_week_4(sample):
    report = report_of(sample, by="route", suppress=False)
    groups = report.frames["groups"].set_index("group")
    assert groups.loc["iv_ketamine", "patients"] + groups.loc["esketamine_nasal", "patients"] == 250
    assert set(report.frames["means_by_group"]["group"]) == {"iv_ketamine", "esketamine_nasal"}


def test_unknown_split_column_is_refused(sample):
    with pytest.raises(ValueError, match="cannot group by 'shoe_size'"):
        report_of(sample, by="shoe_size")


@pytest.mark.parametrize(
    ("activity", "words"),
    [
        ([{"year": 2024, "month": None}], "first sessions in 2024"),
        (
            [{"year": 2025, "month": 3}, {"year": 2024, "month": 11}],
            "first sessions from 2024-11 to 2025-03",
        ),
        ([{"year": None, "month": None}], "first-session dates not recorded"),
        ([], "first-session dates not recorded"),
    ],
)
def test_report_period(activity, words):
    assert report_period({"activity": activity}) == words
