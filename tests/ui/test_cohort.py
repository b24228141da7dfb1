"""The cohort filters in words and as a file-name slug (ui/cohort.py)."""

import pytest

from ui.cohort import CohortFilters, describe_filters, filter_line, filters_slug


@pytest.mark.parametrize(
    "filters, words, slug",
    [
        (CohortFilters(), [], ""),
        (
            CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,)),
            ["IV ketamine", "North", "first session 2025"],
            "iv-ketamine_north_2025",
        ),
        # several values of one filter: "or" in words, "+" in the slug
        (
            CohortFilters(routes=("iv_ketamine", "esketamine_nasal"), years=(2025, 2024)),
            ["IV ketamine or Esketamine nasal spray (Spravato)", "first session 2024 or 2025"],
            "iv-ketamine+esketamine-nasal_2024+2025",
        ),
        (
            CohortFilters(clinicians=("DR-B",), bands=("PCL-5 >= 50",)),
            ["clinician DR-B", "baseline PCL-5 >= 50"],
            "dr-b_pcl5-50-up",
        ),
        (
            CohortFilters(extra=(("referral_source", ("GP", "Self")),)),
            ["referral source GP or Self"],
            "referral-source-gp+self",
        ),
    ],
)
def test_filters_in_words_and_as_a_slug(filters, words, slug):
    assert describe_filters(filters) == words
    assert filters_slug(filters) == slug


def test_filter_line_names_the_filters_then_the_count():
    filters = CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,))
    assert filter_line(filters, 40, 250) == (
        "IV ketamine · North · first session 2025 · 40 of 250 patients"
    )


def test_a_long_slug_is_cut_and_kept_apart_by_a_hash():
    many = CohortFilters(sites=tuple(f"site number {i}" for i in range(10)))
    other = CohortFilters(sites=tuple(f"site number {i}" for i in range(11)))
    slug = filters_slug(many)
    assert len(slug) <= 60
    assert slug != filters_slug(other)
    assert slug.startswith("site-number-0+site-number-1")
