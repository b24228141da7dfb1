"""The sidebar's cohort filters as command-line options (cli/cohort_options.py)."""

from __future__ import annotations

import argparse
import re

import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.metrics.timepoints import baseline_scores
from analytics.report.cohort import CohortFilters
from cli.cohort_options import add_cohort_options, cohort_filters_of, cohort_ids_of


@pytest.fixture(scope="module")
def clinic(sample_dir):
    return import_folder(sample_dir).data


@pytest.fixture()
def parser():
    parser = argparse.ArgumentParser(prog="report")
    add_cohort_options(parser)
    return parser


def filters_of(parser, clinic, *argv: str) -> CohortFilters:
    return cohort_filters_of(parser.parse_args(list(argv)), clinic)


@pytest.mark.parametrize(
    "argv, filters",
    [
        ([], CohortFilters()),
        (["--route", "iv_ketamine"], CohortFilters(routes=("iv_ketamine",))),
        # a route in words, in any case, is its code
        (["--route", "IV Ketamine"], CohortFilters(routes=("iv_ketamine",))),
        (
            ["--route", "esketamine nasal spray (spravato)", "--route", "ESKETAMINE_NASAL"],
            CohortFilters(routes=("esketamine_nasal",)),
        ),
        (["--year", "2025", "--year", "2024"], CohortFilters(years=(2025, 2024))),
        (["--site", "North", "--site", "West"], CohortFilters(sites=("North", "West"))),
        (["--clinician", "DR-B"], CohortFilters(clinicians=("DR-B",))),
        (
            ["--band", "50-up", "--band", "below-33", "--band", "33-49"],
            CohortFilters(bands=("PCL-5 >= 50", "PCL-5 < 33", "PCL-5 33-49")),
        ),
        (
            ["--where", "sex=female", "--where", "age_band=65+", "--where", "sex=male"],
            CohortFilters(extra=(("sex", ("female", "male")), ("age_band", ("65+",)))),
        ),
        (["--where", " sex = female "], CohortFilters(extra=(("sex", ("female",)),))),
    ],
)
def test_options_ask_for_the_sidebar_filters(parser, clinic, argv, filters):
    assert filters_of(parser, clinic, *argv) == filters


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--route", "oral"],
            "--route: no patients with route 'oral'; routes are esketamine_nasal, iv_ketamine",
        ),
        (["--year", "2019"], "--year: no first-session year 2019; first-session years are 2024"),
        (["--site", "East"], "--site: no site 'East'; sites are North, South, West"),
        (["--clinician", "DR-Z"], "--clinician: no clinician 'DR-Z'; clinicians are DR-A, DR-B"),
        (["--where", "sex"], "--where: write COLUMN=VALUE, not 'sex'"),
        (["--where", "=female"], "--where: write COLUMN=VALUE"),
        (
            ["--where", "blood_type=O"],
            "--where: no patients column 'blood_type'; columns are sex, age_band",
        ),
        # the sessions' site has an option of its own
        (["--where", "site=North"], "--where: no patients column 'site'"),
        (["--where", "sex=other"], "--where: no patient with sex 'other'; values are female, male"),
    ],
)
def test_unknown_values_are_named_with_those_that_exist(parser, clinic, argv, message):
    args = parser.parse_args(argv)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        cohort_filters_of(args, clinic)
    with pytest.raises(ValueError, match="^--"):
        cohort_ids_of(args, clinic)


def test_an_unknown_band_is_refused_by_the_parser(parser, capsys):
    with pytest.raises(SystemExit):
        parser.parse_args(["--band", "severe"])
    assert "below-33" in capsys.readouterr().err


def test_help_says_what_each_option_keeps(parser):
    text = " ".join(parser.format_help().split())
    for words in (
        "patients whose first treatment was by this route",
        "patients whose first session was in this year",
        "patients seen at least once at this site",
        "patients seen at least once by this clinician",
        "below-33, 33-49 or 50-up",
        "COLUMN=VALUE",
    ):
        assert words in text


def kept_by_hand(data, *, routes=(), years=(), sites=(), bands=(), where=()) -> list[str]:
    """The patients a cohort keeps, recomputed in plain pandas (the sidebar's meaning)."""
    p, s = data.patients, data.sessions
    keep = pd.Series(True, index=p.index)
    if routes:
        keep &= p["route"].isin(routes)
    if years:
        keep &= p["first_session_year"].isin(years)
    if sites:
        keep &= p["patient_id"].isin(set(s.loc[s["site"].isin(sites), "patient_id"]))
    for column, values in where:
        keep &= p[column].isin(values)
    if bands:
        scores = baseline_scores(data, OutcomeDefinitions.for_instrument("PCL-5"))
        low, high = bands
        banded = scores.loc[(scores["baseline"] >= low) & (scores["baseline"] < high)]
        keep &= p["patient_id"].isin(set(banded["patient_id"]))
    return p.loc[keep, "patient_id"].tolist()


@pytest.mark.parametrize(
    "argv, by_hand",
    [
        (["--route", "iv_ketamine"], dict(routes=["iv_ketamine"])),
        (["--year", "2024"], dict(years=[2024])),
        (["--site", "South", "--site", "West"], dict(sites=["South", "West"])),
        (["--band", "33-49"], dict(bands=(33, 50))),
        (
            ["--where", "primary_diagnosis=PTSD+MDD"],
            dict(where=[("primary_diagnosis", ["PTSD+MDD"])]),
        ),
        (
            ["--route", "Esketamine nasal spray (Spravato)", "--year", "2025", "--band", "50-up"],
            dict(routes=["esketamine_nasal"], years=[2025], bands=(50, float("inf"))),
        ),
        (
            ["--site", "North", "--where", "sex=female", "--where", "concurrent_therapy=yes"],
            dict(sites=["North"], where=[("sex", ["female"]), ("concurrent_therapy", ["yes"])]),
        ),
    ],
)
def test_options_keep_the_patients_the_sidebar_keeps(parser, clinic, argv, by_hand):
    ids = cohort_ids_of(parser.parse_args(argv), clinic)
    expected = kept_by_hand(clinic, **by_hand)
    assert 0 < len(expected) < len(clinic.patients)
    assert ids.tolist() == expected


def test_no_option_means_every_patient(parser, clinic):
    assert cohort_ids_of(parser.parse_args([]), clinic) is None
