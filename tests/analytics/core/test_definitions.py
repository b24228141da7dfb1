"""Outcome definitions: parsing, instrument defaults, windows and the printed description."""

import json

import pytest

from analytics.core.definitions import (
    DEFAULT_WINDOWS,
    OutcomeDefinitions,
    ResponseRule,
    Window,
    instrument_defaults,
)


@pytest.mark.parametrize(
    ("text", "kind", "threshold", "words"),
    [
        ("pct:30", "pct", 30.0, "≥30% reduction from baseline"),
        ("pct:50", "pct", 50.0, "≥50% reduction from baseline"),
        ("points:10", "points", 10.0, "≥10-point reduction from baseline"),
        (" pct : 27.5 ", "pct", 27.5, "≥27.5% reduction from baseline"),
    ],
)
def test_response_rule_parse(text, kind, threshold, words):
    rule = ResponseRule.parse(text)
    assert (rule.kind, rule.threshold) == (kind, threshold)
    assert rule.describe() == words
    assert ResponseRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "response rule must look like 'pct:30' or 'points:10', got '30'"),
        ("percent:30", "response rule must look like"),
        ("pct:-5", "response rule must look like"),
        ("pct:0", "response threshold must be positive, got 0.0"),
        ("pct:150", "a percentage threshold must be at most 100, got 150.0"),
    ],
)
def test_response_rule_parse_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        ResponseRule.parse(text)


def test_response_rule_rejects_unknown_kind():
    with pytest.raises(ValueError, match=r"response kind must be one of \('pct', 'points'\)"):
        ResponseRule("ratio", 30)


# Defaults from the clinical reference: PCL-5 >= 30% response and < 33 remission; the
# depression and anxiety scales >= 50%, with PHQ-9/GAD-7 < 5, BDI-II <= 13, MADRS <= 12.
@pytest.mark.parametrize(
    ("instrument", "pct", "below"),
    [
        ("PCL-5", 30.0, 33.0),
        ("PHQ-9", 50.0, 5.0),
        ("GAD-7", 50.0, 5.0),
        ("BDI-II", 50.0, 14.0),
        ("MADRS", 50.0, 13.0),
    ],
)
def test_instrument_defaults(instrument, pct, below):
    d = OutcomeDefinitions.for_instrument(instrument)
    assert d.response == ResponseRule("pct", pct)
    assert d.remission_below == below
    assert d.remission_requires_baseline_at_or_above == below
    assert instrument_defaults(instrument)[:2] == (pct, below)


def test_defaults_are_pcl5():
    d = OutcomeDefinitions()
    assert d.instrument == "PCL-5"
    assert d.response == ResponseRule("pct", 30.0)
    assert (d.meaningful_points, d.reliability_r, d.reliability_sd) == (10, 0.82, None)
    assert d.baseline_lookback_days == 30
    assert d.induction_sessions == {"iv_ketamine": 6, "esketamine_nasal": 8}
    assert (d.not_on_track_points, d.not_on_track_sessions) == (10, 4)


def test_overrides_and_string_rule():
    d = OutcomeDefinitions.for_instrument("PCL-5", response="points:10", remission_below=28)
    assert d.response == ResponseRule("points", 10.0)
    assert d.remission_requires_baseline_at_or_above == 28
    assert "Yale KPE" in d.describe()["response"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instrument": "HAM-D"}, "unknown instrument 'HAM-D'"),
        ({"reliability_r": 1.0}, "reliability_r must be between 0 and 1, got 1.0"),
        ({"reliability_sd": 0}, "reliability_sd must be positive, got 0"),
        ({"baseline_lookback_days": -1}, "baseline_lookback_days must be 0 or more, got -1"),
        ({"ci_method": "wald"}, "ci_method must be one of"),
        ({"meaningful_points": 0}, "meaningful_points must be positive, got 0"),
        (
            {"windows": (Window("a", 7, 4, 10), Window("a", 14, 11, 17))},
            r"window labels must be unique, got \['a', 'a'\]",
        ),
    ],
)
def test_definitions_reject(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OutcomeDefinitions(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("w", 7, 8, 10), r"window 'w' needs low <= target_day <= high, got 8, 7, 10"),
        (("w", 0, 0, 2), r"window 'w' must start on day 1 or later"),
    ],
)
def test_window_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        Window(*args)


# The windows of the issue: 24h 1-2, week 1 4-10, weeks 2-3 +-3, week 4 21-35, later +-7.
@pytest.mark.parametrize(
    ("label", "target", "low", "high"),
    [
        ("24h", 1, 1, 2),
        ("week 1", 7, 4, 10),
        ("week 2", 14, 11, 17),
        ("week 3", 21, 18, 24),
        ("week 4", 28, 21, 35),
        ("week 8", 56, 49, 63),
        ("week 12", 84, 77, 91),
        ("week 16", 112, 105, 119),
        ("week 24", 168, 161, 175),
        ("week 36", 252, 245, 259),
        ("week 52", 364, 357, 371),
    ],
)
def test_default_windows(label, target, low, high):
    assert Window(label, target, low, high) in DEFAULT_WINDOWS


def test_describe_is_json_with_sources():
    text = OutcomeDefinitions().describe()
    json.dumps(text)
    assert text["response"] == (
        "≥30% reduction from baseline (Feder et al. 2021, Am J Psychiatry 178:193; "
        "Osmind real-world cohort)"
    )
    assert "Bovin" in text["remission"]
    assert "doi:10.1037/0022-006X.59.1.12" in text["reliable_change"]
    assert "doi:10.3389/fpsyg.2013.00863" in text["effect_sizes"]
    assert len(text["timepoints"]) == len(DEFAULT_WINDOWS)


def test_describe_every_instrument():
    for name in ("PHQ-9", "GAD-7", "BDI-II", "MADRS"):
        text = OutcomeDefinitions.for_instrument(name).describe()
        assert text["response"].startswith("≥50% reduction from baseline")
