"""Outcomes: two panels of rates at a time, a sentence for the chart shown, and the published
response rates marked only where they compare like with like."""

import json

import pytest

from tests.app.test_pages import signed_in_app


def _rate_charts(at) -> list[dict]:
    """The figures of rates by timepoint (those with bars of observed patients), one a measure."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    found = [s for s in specs if "Observed" in {t.get("name") for t in s["data"]}]
    if not found:
        raise LookupError("no chart of rates on the page")
    return found


def _panels(specs: list[dict]) -> set[str]:
    titles = {a.get("text", "") for s in specs for a in s["layout"].get("annotations", [])}
    return {t.replace("<br>", " ") for t in titles}


def _published(specs: list[dict]) -> set[str]:
    return {
        t["name"]
        for s in specs
        for t in s["data"]
        if str(t.get("name", "")).startswith("Published")
    }


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
    at = signed_in_app("app_pages/outcomes.py")
    at.radio(key="outcomes_rates_view").set_value(view).run()
    assert not at.exception, [e.message for e in at.exception]
    charts = _rate_charts(at)
    assert len(charts) == 2  # one measure a chart, full width
    assert panels <= _panels(charts)
    assert any(sentence in c.value for c in at.caption)
    # the published marks sit on the response chart only
    assert bool(_published(charts)) == (view == "better")
    assert not _published(charts[1:])


def test_published_response_rates_are_marked_when_the_rule_is_theirs(app_env):
    at = signed_in_app("app_pages/outcomes.py")
    # "by infusion 6" counts anyone who ever responded by then: no timepoint bar is like it
    assert _published(_rate_charts(at)) == {"Published: Osmind IV ketamine, after infusion 1"}
    (mark,) = [t for t in _rate_charts(at)[0]["data"] if t["name"].startswith("Published")]
    assert list(mark["x"]) == ["24h"]  # over the bar it compares with, not across the chart
    # a 10-point rule is not the published ≥30% rule: no mark to compare with
    at.session_state["clinic_settings"] = {"response": "points:10"}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert _published(_rate_charts(at)) == set()


def test_the_published_table_names_studies_without_a_doi(app_env):
    at = signed_in_app("app_pages/outcomes.py")
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
    assert "CAPS-5" in text and "ci_low" not in text  # acronyms keep their case, no codes
    # who was treated, unless the source already says it
    assert "Feder et al. 2021, Am J Psychiatry 178:193: Chronic PTSD, RCT" in text
    assert "PCL-5: Real-world IV ketamine for PTSD" not in text
