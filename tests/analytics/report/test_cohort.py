"""The sidebar's cohort filters, headless (analytics/report/cohort.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.metrics.timepoints import baseline_scores
from analytics.report.cohort import (
    BAND_LABELS,
    BAND_SLUGS,
    CohortFilters,
    baseline_bands,
    cohort_ids,
    describe_cohort,
    describe_filters,
    filter_options,
    filters_slug,
    route_words,
    session_members,
)


@pytest.fixture(scope="module")
def clinic(sample_dir):
    return import_folder(sample_dir).data


def band_of(score: float) -> str:
    """The display band of a baseline PCL-5 total, written out from its edges (33 and 50)."""
    if score < 33:
        return "PCL-5 < 33"
    return "PCL-5 33-49" if score < 50 else "PCL-5 >= 50"


def kept_by_hand(data, filters: CohortFilters) -> list[str]:
    """The ids the filters keep, recomputed in plain pandas, in the patients table's order."""
    p, s = data.patients, data.sessions
    keep = pd.Series(True, index=p.index)
    if filters.years:
        keep &= p["first_session_year"].isin(filters.years)
    if filters.routes:
        keep &= p["route"].isin(filters.routes)
    for column, values in filters.extra:
        keep &= p[column].isin(values)
    for column, values in (("site", filters.sites), ("clinician", filters.clinicians)):
        if values:
            keep &= p["patient_id"].isin(set(s.loc[s[column].isin(values), "patient_id"]))
    if filters.bands:
        scores = baseline_scores(data, OutcomeDefinitions.for_instrument("PCL-5"))
        scores = scores.dropna(subset=["baseline"])
        banded = scores.loc[scores["baseline"].map(band_of).isin(filters.bands), "patient_id"]
        keep &= p["patient_id"].isin(set(banded))
    return p.loc[keep, "patient_id"].drop_duplicates().tolist()


COHORTS = [
    CohortFilters(routes=("iv_ketamine",)),
    CohortFilters(routes=("esketamine_nasal",), years=(2025,)),
    CohortFilters(years=(2024,)),
    CohortFilters(sites=("North", "West")),
    CohortFilters(clinicians=("DR-B",)),
    CohortFilters(bands=("PCL-5 >= 50", "PCL-5 < 33")),
    CohortFilters(extra=(("sex", ("female",)), ("age_band", ("18-29", "65+")))),
    CohortFilters(
        routes=("iv_ketamine",),
        years=(2024, 2025),
        sites=("South",),
        clinicians=("DR-A", "DR-C"),
        bands=("PCL-5 33-49",),
        extra=(("concurrent_therapy", ("yes",)),),
    ),
    # a site nobody visited keeps nobody (an empty cohort, not every patient)
    CohortFilters(sites=("Nowhere",)),
]


@pytest.mark.parametrize("filters", COHORTS, ids=lambda f: filters_slug(f) or "none")
def test_cohort_ids_are_the_patients_every_filter_keeps(clinic, filters):
    ids = cohort_ids(clinic, filters)
    assert isinstance(ids, pd.Index)
    assert ids.tolist() == kept_by_hand(clinic, filters)


def test_no_active_filter_means_every_patient(clinic):
    assert cohort_ids(clinic, CohortFilters()) is None


def test_cohort_ids_use_the_members_and_bands_they_are_given(clinic):
    asked = []

    def members(column):
        asked.append(column)
        return session_members(clinic, column)

    filters = CohortFilters(sites=("North",), clinicians=("DR-A",), bands=("PCL-5 >= 50",))
    given = cohort_ids(clinic, filters, members=members, bands=baseline_bands(clinic))
    assert asked == ["site", "clinician"]
    assert given.equals(cohort_ids(clinic, filters))
    # bands handed over are the ones used: none known, nobody kept
    assert cohort_ids(clinic, filters, bands=pd.Series(dtype="string")).empty


def test_baseline_bands_follow_the_edges_33_and_50(clinic):
    bands = baseline_bands(clinic)
    scores = baseline_scores(clinic, OutcomeDefinitions.for_instrument("PCL-5"))
    scores = scores.dropna(subset=["baseline"]).set_index("patient_id")["baseline"]
    assert set(bands.unique()) <= set(BAND_LABELS)
    assert bands.to_dict() == scores.map(band_of).to_dict()


def test_session_members_are_each_pair_once(clinic):
    pairs = session_members(clinic, "site")
    assert list(pairs.columns) == ["site", "patient_id"]
    assert not pairs.duplicated().any()
    by_hand = clinic.sessions[["site", "patient_id"]].dropna().drop_duplicates()
    assert len(pairs) == len(by_hand)


def test_filter_options_are_the_values_of_the_sample(clinic):
    options = filter_options(clinic)
    assert options["years"] == [2024, 2025]
    assert all(type(y) is int for y in options["years"])
    assert options["routes"] == ["esketamine_nasal", "iv_ketamine"]
    assert options["sites"] == ["North", "South", "West"]
    assert options["extra:sex"] == ["female", "male"]
    # site and clinician come from the sessions, not again as patient columns
    assert "extra:site" not in options and "extra:clinician" not in options


@pytest.mark.parametrize("code", ["iv_ketamine", "esketamine_nasal"])
def test_route_words_are_the_charts_words(code):
    from charts.figures import route_label

    assert route_words(code) == route_label(code)


@pytest.mark.parametrize(
    "code, words",
    [
        ("iv_ketamine", "IV ketamine"),
        ("esketamine_nasal", "Esketamine nasal spray (Spravato)"),
        ("some_new_route", "some new route"),
    ],
)
def test_route_words(code, words):
    assert route_words(code) == words


@pytest.mark.parametrize(
    "filters, parts, line, slug",
    [
        (CohortFilters(), [], "All patients", ""),
        (
            CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,)),
            ["IV ketamine", "North", "first session 2025"],
            "IV ketamine; North; first session 2025",
            "iv-ketamine_north_2025",
        ),
        (
            CohortFilters(years=(2025, 2024), bands=("PCL-5 < 33", "PCL-5 33-49")),
            ["first session 2024 or 2025", "baseline PCL-5 < 33 or PCL-5 33-49"],
            "first session 2024 or 2025; baseline PCL-5 < 33 or PCL-5 33-49",
            "2024+2025_pcl5-below-33+pcl5-33-49",
        ),
        (
            CohortFilters(clinicians=("DR-A", "DR-B", "DR-C"), extra=(("age_band", ("65+",)),)),
            ["clinician DR-A, DR-B or DR-C", "age band 65+"],
            "clinician DR-A, DR-B or DR-C; age band 65+",
            "dr-a+dr-b+dr-c_age-band-65",
        ),
    ],
)
def test_filters_in_words_and_as_a_slug(filters, parts, line, slug):
    assert describe_filters(filters) == parts
    assert describe_cohort(filters) == line
    assert filters_slug(filters) == slug


def test_band_slugs_name_every_band():
    assert list(BAND_SLUGS) == list(BAND_LABELS)
    assert list(BAND_SLUGS.values()) == ["pcl5-below-33", "pcl5-33-49", "pcl5-50-up"]


def test_filters_key_tells_cohorts_apart():
    same = CohortFilters(routes=("iv_ketamine",))
    assert same.key() == CohortFilters(years=(), routes=("iv_ketamine",)).key()
    assert CohortFilters(sites=("North",)).key() != CohortFilters(clinicians=("North",)).key()
    assert not CohortFilters().active
    assert CohortFilters(extra=(("sex", ("female",)),)).active
