"""Outcomes: two panels of rates at a time, a sentence for the chart shown, and the published
response rates marked only where they compare like with like."""

import json

import pytest

from tests.app.test_pages import _app


def _rate_chart(at) -> dict:
    """The figure of rates by timepoint (the one with Observed and Intention to treat bars)."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if {"Observed", "Intention to treat"} & {t.get("name") for t in spec["data"]}:
            return spec
    raise LookupError("no chart of rates on the page")


def _panels(spec: dict) -> set[str]:
    titles = {a.get("text", "") for a in spec["layout"].get("annotations", [])}
    return {t.replace("<br>", " ") for t in titles}


def _published(spec: dict) -> set[str]:
    return {t["name"] for t in spec["data"] if str(t.get("name", "")).startswith("Published")}


@pytest.mark.parametrize(
    "view, panels, sentence",
    [
        (
            "better",
            {"Response", "Remission"},
            "Of the 157 patients scored at week 4, 90 (57%) responded (PCL-5 down by at least "
            "30%); counting every patient due then, scored or not (intention to treat), 90 of "
            "227 (40%)",
        ),
        (
            "change",
            {"Meaningful change", "Reliable improvement"},
            "patients scored at week 4",
        ),
        ("worse", {"Worse by the response rule", "Worse by ≥10 points"}, "got worse"),
    ],
)
def test_each_view_shows_its_two_panels_and_says_them_in_a_sentence(
    app_env, view, panels, sentence
):
    at = _app("app_pages/outcomes.py")
    at.radio(key="outcomes_rates_view").set_value(view).run()
    assert not at.exception, [e.message for e in at.exception]
    spec = _rate_chart(at)
    assert panels <= _panels(spec)
    assert any(sentence in c.value for c in at.caption)
    # the published marks sit on the response panel only
    assert bool(_published(spec)) == (view == "better")


def test_published_response_rates_are_marked_when_the_rule_is_theirs(app_env):
    at = _app("app_pages/outcomes.py")
    assert _published(_rate_chart(at)) == {
        "Published: Osmind IV ketamine, after infusion 1",
        "Published: Osmind IV ketamine, by infusion 6",
    }
    # a 10-point rule is not the published ≥30% rule: no mark to compare with
    at.session_state["clinic_settings"] = {"response": "points:10"}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert _published(_rate_chart(at)) == set()


def test_the_published_table_names_studies_without_a_doi(app_env):
    at = _app("app_pages/outcomes.py")
    table = at.table[0].value
    assert list(table.columns) == [
        "Study",
        "Measure",
        "Figure (95% CI or range)",
        "Patients",
        "Note",
    ]
    text = " ".join(table.astype(str).to_numpy().ravel())
    assert "doi" not in text.lower() and ">=" not in text
    assert "CAPS-5" in text  # acronyms keep their case
