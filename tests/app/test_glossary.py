"""The glossary page and its terms: every term shown under its anchor, the search, the numbers
read from the analytics (defaults and the Settings page's choices), links, and the docs page."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.instruments import INSTRUMENTS
from analytics.core.stats import MIN_N_FOR_INTERVAL
from analytics.metrics.outcomes import reliable_change_threshold
from analytics.metrics.safety.settings import BPSettings
from ui import glossary
from ui.glossary import (
    GLOSSARY_PAGE,
    GROUPS,
    TERM_PARAMETER,
    TERMS,
    UnknownTermError,
    find_term,
    glossary_link,
    glossary_markdown,
    glossary_page_link,
    glossary_terms,
    matching_terms,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "app_pages" / "glossary.py"
DOC = ROOT / "docs" / "glossary.md"

PCL5 = OutcomeDefinitions.for_instrument("PCL-5")
PHQ9 = OutcomeDefinitions.for_instrument("PHQ-9")
BP = BPSettings()


@pytest.fixture
def no_database(monkeypatch, tmp_path):
    """A database URL that cannot be opened: the glossary must not need the clinic's data."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/clinic.sqlite")
    monkeypatch.delenv("DASHBOARD_SAMPLE_DIR", raising=False)


def _page(session: dict | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _shown_anchors(at: AppTest) -> list[str]:
    return [s.proto.anchor for s in at.subheader]


def _entry_text(at: AppTest, anchor: str) -> str:
    """The two paragraphs drawn under the term's heading: its definition and its rule in force
    (the page draws a contents line, then two paragraphs per term)."""
    position = _shown_anchors(at).index(anchor)
    texts = [m.value for m in at.markdown][1:]
    return " ".join(texts[2 * position : 2 * position + 2])


# --------------------------------------------------------------------------- the page
def test_every_term_is_shown_under_its_own_anchor_without_the_clinic_data(no_database):
    at = _page()
    assert at.title[0].value == "Glossary"
    assert [s.value for s in at.subheader] == [t.term for t in TERMS]
    assert _shown_anchors(at) == [t.anchor for t in TERMS]
    assert [h.value for h in at.header] == [g for g in GROUPS if any(t.group == g for t in TERMS)]
    shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    for term in TERMS:
        assert term.definition in shown
        assert f"**In this dashboard:** {term.in_dashboard}" in shown
        assert f"Source: {term.source}" in shown


def test_the_contents_line_links_every_heading(no_database):
    contents = _page().markdown[0].value
    assert re.findall(r"\(#([a-z0-9-]+)\)", contents) == [t.anchor for t in TERMS]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # one word, any case
        ("censor", ["censoring"]),
        ("CADSS", ["dissociation"]),
        ("itt", ["intention-to-treat"]),
        ("ci", ["confidence-interval"]),
        # a query word matches the start of a word, never its middle ("itt" in "Witte")
        ("relapse", ["kaplan-meier", "censoring"]),
        # every word must match, in any order
        ("wilson interval", ["confidence-interval"]),
        (
            "intention to treat",
            ["intention-to-treat", "observed", "not-yet-due", "sustained-response"],
        ),
        ("Lakens d_av", ["effect-size"]),
        ("mmHg systolic", ["blood-pressure-rise"]),
        # surrounding blanks are ignored
        ("  kaplan  ", ["kaplan-meier", "median-time"]),
    ],
)
def test_the_search_box_keeps_only_the_matching_terms(no_database, query, expected):
    at = _page()
    at.text_input(key="glossary_search").input(query).run()
    assert not at.exception
    assert _shown_anchors(at) == expected
    assert _shown_anchors(at) == [t.anchor for t in matching_terms(query)]
    assert f"{len(expected)} of {len(TERMS)} terms match" in " ".join(c.value for c in at.caption)


def test_a_search_with_no_match_says_so_and_clearing_it_shows_every_term(no_database):
    at = _page()
    at.text_input(key="glossary_search").input("xylophone").run()
    assert _shown_anchors(at) == []
    assert any("No term matches “xylophone”" in i.value for i in at.info)
    at.text_input(key="glossary_search").input("").run()
    assert _shown_anchors(at) == [t.anchor for t in TERMS]


def test_a_link_at_one_term_shows_that_term_first_then_every_term(no_database):
    at = _page(query={TERM_PARAMETER: "remission"})
    remission = find_term("remission")
    assert at.subheader[0].value == remission.term
    assert not at.subheader[0].proto.anchor  # the heading below keeps the anchor
    assert remission.definition in at.markdown[1].value
    assert _shown_anchors(at)[1:] == [t.anchor for t in TERMS]


@pytest.mark.parametrize("asked", ["nonsense", ""])
def test_a_link_at_an_unknown_term_shows_the_glossary_as_usual(no_database, asked):
    at = _page(query={TERM_PARAMETER: asked})
    assert _shown_anchors(at) == [t.anchor for t in TERMS]


# Each threshold as the code's defaults state it; the page must print the same number.
DEFAULT_NUMBERS = [
    ("response", f"at least {INSTRUMENTS['PCL-5'].response_pct:g}% below the baseline"),
    ("response", f"PHQ-9 score at least {INSTRUMENTS['PHQ-9'].response_pct:g}% below"),
    ("remission", f"total below {PCL5.remission_below:g} at the timepoint"),
    ("remission", f"baseline was {PCL5.remission_requires_baseline_at_or_above:g} or more"),
    ("remission", f"PHQ-9: a total below {PHQ9.remission_below:g}"),
    ("phq-9", f"remission is a total below {INSTRUMENTS['PHQ-9'].remission_below:g}"),
    ("meaningful-improvement", f"at least {PCL5.meaningful_points:g} points below baseline"),
    ("worsening", f"up by at least {PCL5.meaningful_points:g} points"),
    ("reliable-change", f"test-retest reliability of {PCL5.reliability_r:g}"),
    ("reliable-change", f"at least {reliable_change_threshold(14.0, PCL5.reliability_r):.1f}"),
    ("baseline", f"from {PCL5.baseline_lookback_days} days before the first session"),
    ("too-few-patients", f"fewer than {PCL5.min_patients} patients"),
    ("confidence-interval", "Wilson score interval"),
    ("confidence-interval", f"fewer than {MIN_N_FOR_INTERVAL} patients has no interval"),
    ("kaplan-meier", f"({PCL5.km_band} method"),
    ("blood-pressure-rise", f"at least {BP.rise_systolic:g} mmHg above the pre-dose systolic"),
    ("blood-pressure-rise", f"at least {BP.rise_diastolic:g} mmHg above the diastolic"),
    ("blood-pressure-rise", f"above {BP.systolic_pre_max:g}/{BP.diastolic_pre_max:g} mmHg"),
    ("blood-pressure-rise", f"({BP.systolic_pre_max_older:g} systolic from age {BP.older_age})"),
    ("pcl-5", f"{INSTRUMENTS['PCL-5'].total_min}-{INSTRUMENTS['PCL-5'].total_max}"),
    ("dissociation", "0-92"),
]


@pytest.mark.parametrize(("anchor", "expected"), DEFAULT_NUMBERS)
def test_the_numbers_shown_are_the_code_defaults(no_database, anchor, expected):
    assert expected in _entry_text(_page(), anchor)


# The Settings page's choices (kept in the session) are the numbers the glossary prints.
CHOSEN = {"response": "points:10", "remission_cut": 31.0, "reliability_r": 0.94, "min_patients": 5}


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        ("response", "a PCL-5 score at least 10 points below the baseline score"),
        ("response", "a PHQ-9 score at least 10 points below the baseline score"),
        ("remission", "A PCL-5 total below 31 at the timepoint"),
        ("remission", "PHQ-9: a total below 5"),  # the cut is PCL-5 points only
        ("worsening", "a PCL-5 score up by at least 10 points (the response rule turned round)"),
        ("reliable-change", "reliability of 0.94"),
        ("reliable-change", f"at least {reliable_change_threshold(14.0, 0.94):.1f} PCL-5"),
        ("too-few-patients", "fewer than 5 patients"),
        ("censoring", "at or above the remission cut-point (31)"),
    ],
)
def test_the_numbers_follow_the_settings_in_force(no_database, anchor, expected):
    at = _page({"clinic_settings": CHOSEN})
    assert expected in _entry_text(at, anchor)
    assert not at.warning


def test_a_setting_not_accepted_shows_the_defaults_with_a_warning(no_database):
    at = _page({"clinic_settings": {"reliability_r": 1.5}})
    assert any("A setting was not accepted" in w.value for w in at.warning)
    assert f"reliability of {PCL5.reliability_r:g}" in " ".join(m.value for m in at.markdown)


# --------------------------------------------------------------------------- the terms
REQUIRED = [
    "response",
    "remission",
    "intention-to-treat",
    "observed",
    "not-yet-due",
    "reliable-change",
    "worsening",
    "confidence-interval",
    "too-few-patients",
    "effect-size",
    "kaplan-meier",
    "censoring",
    "median-time",
    "sustained-response",
    "dissociation",
    "blood-pressure-rise",
    "pcl-5",
    "phq-9",
    "cohort-filters",
]


def test_the_glossary_has_every_term_the_pages_use():
    assert set(REQUIRED) <= {t.anchor for t in TERMS}


def test_anchors_and_names_are_unique():
    anchors = [t.anchor for t in TERMS]
    assert len(set(anchors)) == len(anchors)
    owners: dict[str, str] = {}
    for term in TERMS:
        for name in {
            glossary.term_key(n)
            for n in (term.term, term.term.split(" (")[0], term.anchor, *term.aliases)
        }:
            assert owners.setdefault(name, term.anchor) == term.anchor, f"two terms are {name!r}"


@pytest.mark.parametrize("term", TERMS, ids=lambda t: t.anchor)
def test_each_definition_is_plain_and_short_with_a_source(term):
    sentences = re.split(r"(?<=[.!?])\s+", term.definition.strip())
    assert 1 <= len(sentences) <= 3, sentences
    assert term.in_dashboard and term.source
    text = term.text()
    assert not re.search(r"\bdoi\b|\b10\.\d{4,}/", text.lower())  # a title, never a DOI
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text.replace("d_z", "").replace("d_av", ""))


@pytest.mark.parametrize(
    ("term", "url"),
    [
        ("remission", "glossary#remission"),
        ("Remission", "glossary#remission"),
        ("ITT", "glossary#intention-to-treat"),
        ("Intention to treat", "glossary#intention-to-treat"),
        ("intention-to-treat", "glossary#intention-to-treat"),
        ("Kaplan Meier", "glossary#kaplan-meier"),
        ("CADSS", "glossary#dissociation"),
        ("completers", "glossary#observed"),
        ("95% confidence interval (CI)", "glossary#confidence-interval"),
        ("d_av", "glossary#effect-size"),
    ],
)
def test_glossary_link_points_at_the_terms_heading(term, url):
    assert glossary_link(term) == url


class _Recorder:
    """Stands in for ``st`` or a column: keeps what ``page_link`` was asked to draw."""

    def page_link(self, page, **options):
        self.call = (page, options)
        return self


@pytest.mark.parametrize(
    ("term", "label", "shown", "anchor"),
    [
        ("ITT", None, "Intention to treat in the glossary", "intention-to-treat"),
        ("Kaplan-Meier", None, "Kaplan-Meier curve in the glossary", "kaplan-meier"),
        ("remission", "Remission, defined", "Remission, defined", "remission"),
    ],
)
def test_a_page_link_opens_the_glossary_at_the_term_in_the_same_tab(term, label, shown, anchor):
    page, options = glossary_page_link(_Recorder(), term, label).call
    assert page == GLOSSARY_PAGE and (ROOT / page).is_file()
    assert options["label"] == shown
    assert options["query_params"] == {TERM_PARAMETER: anchor}


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("nonsense", "no glossary term 'nonsense'; terms are "),
        ("", "no glossary term ''"),
    ],
)
def test_an_unknown_term_is_refused_with_the_known_ones(term, message):
    with pytest.raises(UnknownTermError, match=re.escape(message)):
        glossary_link(term)
    with pytest.raises(KeyError):  # a lookup error like any missing key
        find_term(term)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"pcl5": PHQ9}, "expected the PCL-5 definitions, got 'PHQ-9''s"),
        ({"phq9": PCL5}, "expected the PHQ-9 definitions, got 'PCL-5''s"),
    ],
)
def test_definitions_of_the_wrong_instrument_are_refused(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        glossary_terms(**arguments)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"anchor": "Remission"}, "anchor must be lower-case words joined by hyphens"),
        ({"anchor": "remission rate"}, "anchor must be lower-case words joined by hyphens"),
        ({"group": "Other"}, "group must be one of"),
    ],
)
def test_a_badly_formed_term_is_refused(fields, message):
    values = {
        "term": "Remission",
        "anchor": "remission",
        "group": GROUPS[0],
        "definition": "x.",
        "in_dashboard": "y.",
        "source": "z.",
        **fields,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        glossary.Term(**values)


# --------------------------------------------------------------------------- the docs page
def test_the_docs_page_is_the_glossary_written_out():
    # regenerate with: python -m ui.glossary > docs/glossary.md
    assert DOC.read_text() == glossary_markdown()


def test_the_docs_page_has_every_term_under_its_anchor():
    text = DOC.read_text()
    for term in TERMS:
        assert f'### {term.term} <a id="{term.anchor}"></a>' in text
