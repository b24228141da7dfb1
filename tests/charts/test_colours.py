"""One colour, one meaning: the palettes of charts.colours, and every figure the app draws.

The issue this guards against: dark and light blue were observed and intention to treat on
Outcomes but new patients and sessions on Activity; orange was Spravato on one page and PHQ-9
on the patient chart, where blue was both PCL-5 and IV sessions. Each figure below is built
from the sample clinic the way its page builds it; each trace says what its colour means in
``meta["meaning"]``, and a bar or point drawn in the too-few grey must say "too few" in its
own words.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.metrics.activity import activity_by_period
from analytics.metrics.attrition import attrition_flow_from
from analytics.metrics.durability import event_curves_from, sustained_response_from
from analytics.metrics.groups import group_outcomes_from
from analytics.metrics.outcomes import timepoint_outcomes_from
from analytics.metrics.pcl5_depth import cluster_change_from, item_change_from
from analytics.metrics.safety import (
    cadss_by_session_band_from,
    effect_label,
    effect_rates_from,
    systolic_rises_from,
)
from analytics.metrics.trajectories import mean_trajectory_from, patient_trajectories_from
from analytics.reference.published import published_benchmarks
from analytics.reference.spravato_label import label_reference
from charts import colours, figures

DEFS = OutcomeDefinitions.for_instrument("PCL-5")


# --------------------------------------------------------------------------- the palettes
def _palette_colours() -> list[tuple[str, str, str]]:
    """(meaning, key, colour) for every colour the vocabulary defines."""
    return [
        (meaning, key, colours.normalise(colour))
        for meaning, palette in colours.MEANINGS.items()
        for key, colour in palette.items()
    ]


def test_no_colour_of_the_vocabulary_has_two_meanings():
    owners = defaultdict(set)
    for meaning, key, colour in _palette_colours():
        owners[colour].add(f"{meaning}:{key}")
    shared = {colour: sorted(keys) for colour, keys in owners.items() if len(keys) > 1}
    assert shared == {}


@pytest.mark.parametrize(
    ("palette", "keys"),
    [
        (colours.ROUTE, set(figures.FALLBACK_ROUTE_LABELS)),
        (colours.POPULATION, {"observed", "itt"}),
        (colours.INSTRUMENT, {"PCL-5", "PHQ-9", "GAD-7", "BDI-II", "MADRS", "CADSS"}),
        (colours.ACTIVITY, {"new_patients", "sessions"}),
        (colours.EVENT, {"side_effect"}),
    ],
)
def test_each_meaning_has_a_colour_for_every_value(palette, keys):
    assert set(palette) == keys


def test_the_pages_names_still_give_the_vocabulary():
    assert figures.ROUTE_COLOURS is colours.ROUTE
    assert figures.POPULATION_COLOURS is colours.POPULATION
    assert figures.GROUP_PALETTE == colours.GROUP_PALETTE
    assert figures.SMALL_COLOUR == colours.SMALL_COLOUR
    assert figures.colour_for("iv_ketamine") == colours.ROUTE["iv_ketamine"]
    # a route given in words keeps its colour (Cohorts passes labels, Durability codes)
    assert figures.colour_for("IV ketamine", 3) == colours.ROUTE["iv_ketamine"]


def test_figures_hold_no_colour_of_their_own():
    import inspect
    import re

    source = inspect.getsource(figures)
    assert re.findall(r"#[0-9a-fA-F]{3,8}\b", source) == []
    assert re.findall(r"rgba?\(\s*\d", source) == []


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("#0072B2", "#0072b2"),
        ("#0072b2", "#0072b2"),
        ("rgba(0,114,178,0.18)", "#0072b2"),
        ("rgb(0, 114, 178)", "#0072b2"),
        ("#fff", "#ffffff"),
        ("white", "#ffffff"),
    ],
)
def test_a_colour_is_compared_whatever_its_spelling(spelling, expected):
    assert colours.normalise(spelling) == expected


def test_a_colour_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match=r"'bluish' is not a colour of the form #rrggbb"):
        colours.normalise("bluish")


@pytest.mark.parametrize(
    ("background", "ink"),
    [
        (colours.ROUTE["iv_ketamine"], colours.PAPER),
        (colours.POPULATION["observed"], colours.PAPER),
        # the light intention-to-treat yellow and the too-few grey take dark text
        (colours.POPULATION["itt"], colours.INK),
        (colours.SMALL_COLOUR, colours.INK),
    ],
)
def test_text_on_a_bar_is_the_ink_that_reads(background, ink):
    assert colours.text_on(background) == ink


# --------------------------------------------------------------------------- the figures
@pytest.fixture(scope="module")
def clinic(sample_dir):
    from analytics.ingest.importer import import_folder
    from analytics.report.patients import patient_table

    data = import_folder(sample_dir).data
    table = patient_table(data, DEFS)
    return data, table, table.keep(None)


def _outcome_rates(table, keep) -> pd.DataFrame:
    """Outcomes' response and remission bars, observed and intention to treat."""
    rows = []
    for tp in timepoint_outcomes_from(table, keep, DEFS):
        for measure, observed, itt in (
            ("Response", tp.response, tp.response_itt),
            ("Remission", tp.remission, tp.remission_itt),
        ):
            for population, r in (("observed", observed), ("itt", itt)):
                rows.append(
                    {"timepoint": tp.label, "measure": measure, "population": population}
                    | r.to_dict()
                )
    rates = pd.DataFrame(rows)
    return rates[rates["n"] > 0]


def _group_rates(table, keep) -> pd.DataFrame:
    """Cohorts' response by route, observed and intention to treat."""
    at = group_outcomes_from(table, keep, DEFS, "route")
    at = at[at["timepoint"] == "week 4"].assign(group=lambda f: f["group"].map(figures.route_label))
    tidy = pd.concat(
        [
            at.assign(population="observed", k=at["responders"], rate=at["response_rate"],
                      ci_low=at["response_ci_low"], ci_high=at["response_ci_high"]),
            at.assign(population="itt", k=at["responders_itt"], n=at["patients"],
                      rate=at["response_itt_rate"], ci_low=at["response_itt_ci_low"],
                      ci_high=at["response_itt_ci_high"]),
        ]
    )[["group", "population", "k", "n", "rate", "ci_low", "ci_high"]]  # fmt: skip
    return tidy[tidy["n"] > 0].assign(measure="Response at week 4")


def _side_effects(table, keep, by):
    rates = effect_rates_from(table, keep, DEFS, by=by)
    rates = rates[rates["level"] == "patient"].assign(
        effect=lambda f: f["effect"].map(effect_label)
    )
    ref = label_reference()
    reference = pd.DataFrame(
        {"effect": ref["effect"].map(effect_label), "rate": ref["esketamine_pct"] / 100}
    )
    return figures.side_effect_figure(
        rates, group="group" if by else None, reference=reference, min_n=10
    )


def _km(table, keep, by):
    curve, medians = event_curves_from(table, keep, DEFS, "loss_of_response", by=by)
    return figures.km_figure(curve, group="group" if by else None, medians=medians)


def _attrition(table, keep):
    flow = attrition_flow_from(table, keep, DEFS)
    overall = flow[flow["route"] == flow["route"].iloc[0]]
    funnel = overall[overall["step"] != "stopped_after_first"].rename(
        columns={"label": "stage", "k": "n_stage"}
    )
    by_route = flow[(flow["route"] != flow["route"].iloc[0]) & (flow["step"] != "started")]
    by_route = by_route.assign(measure=by_route["label"], population="observed")
    return (
        figures.funnel_figure(funnel.assign(n=funnel["n_stage"])),
        figures.rate_bars_figure(
            by_route[by_route["n"] > 0].assign(group=lambda f: f["route"]),
            x="route",
            facet="measure",
            colour="group",
        ),
    )


def _timeline(data):
    """The patient chart of a patient with PCL-5, PHQ-9, sessions and side effects."""
    pid = data.side_effects["patient_id"].iloc[0]
    one = data.with_patients([pid])
    scores = one.assessments[["day", "instrument", "total"]].rename(columns={"total": "score"})
    effects = one.side_effects[["day", "effect"]].assign(
        effect=lambda f: f["effect"].map(effect_label)
    )
    return figures.patient_timeline_figure(
        scores.dropna(subset=["score"]), one.sessions[["day", "session_number", "route"]], effects
    )


def _benchmarks() -> list[figures.Reference]:
    rows = published_benchmarks()
    osmind = rows[rows["measure"].str.contains("by infusion 6")].iloc[0]
    albott = rows[rows["measure"].str.startswith("PTSD remission")].iloc[0]
    return [
        figures.Reference.from_benchmark(osmind, label="Osmind, by infusion 6", facet="Response"),
        figures.Reference.from_benchmark(albott, label="Albott 2018", facet="Remission"),
    ]


def _page_figures(data, table, keep) -> dict:
    """Every kind of figure the pages draw, from the sample clinic, as the pages call them."""
    means = mean_trajectory_from(table, keep, DEFS, axis="week", include_overall=False)
    by_route = mean_trajectory_from(
        table, keep, DEFS, axis="week", by="route", include_overall=False
    )
    activity = activity_by_period(data).assign(period=lambda f: f["year"].astype(str))
    clusters = cluster_change_from(table, keep, DEFS)
    items = item_change_from(table, keep, DEFS)
    cadss = cadss_by_session_band_from(table, keep, DEFS)
    sustained = sustained_response_from(table, keep, DEFS)
    sustained = sustained.assign(
        measure="Still responding",
        population=sustained["population"].replace({"intention to treat": "itt"}),
    )
    funnel, attrition_by_route = _attrition(table, keep)
    pcl5 = dict(y_title="Mean PCL-5", x_title="Weeks", scale=(0, 80), cut=(33, "remission"))
    return {
        "overview mean PCL-5": figures.mean_score_figure(means, x="x", print_n=False, **pcl5),
        "overview activity": figures.counts_by_period_figure(activity, period="period"),
        "outcomes mean by route": figures.mean_score_figure(by_route, x="x", group="group", **pcl5),
        "outcomes patients by route": figures.spaghetti_figure(
            patient_trajectories_from(table, keep, DEFS, axis="week", by="route"),
            x="x",
            group="group",
            x_title="Weeks",
            y_title="PCL-5",
        ),  # fmt: skip
        "outcomes rates": figures.rate_bars_figure(_outcome_rates(table, keep)),
        "outcomes rates with references": figures.rate_bars_figure(
            _outcome_rates(table, keep), references=_benchmarks()
        ),
        "outcomes clusters": figures.change_bars_figure(
            clusters[clusters["timepoint"] == "week 4"], category="label"
        ),
        "outcomes items": figures.change_bars_figure(
            items[items["timepoint"] == "week 4"], category="label"
        ),
        "durability curve": _km(table, keep, None),
        "durability curve by route": _km(table, keep, "route"),
        "durability sustained": figures.rate_bars_figure(sustained[sustained["n"] > 0]),
        "safety side effects": _side_effects(table, keep, None),
        "safety side effects by route": _side_effects(table, keep, "route"),
        "safety systolic rise": figures.distribution_figure(
            systolic_rises_from(table, keep, DEFS),
            value="systolic_rise",
            group="route",
            x_title="Systolic rise (mmHg)",
            thresholds=[(40, "40 mmHg")],
        ),  # fmt: skip
        "safety CADSS": figures.mean_score_figure(
            cadss.rename(columns={"n_patients": "n"}),
            x="band",
            x_title="Band",
            y_title="Mean CADSS",
            scale=(0, 92),
        ),  # fmt: skip
        "cohorts response by route": figures.rate_bars_figure(_group_rates(table, keep), x="group"),
        "cohorts funnel": funnel,
        "cohorts attrition by route": attrition_by_route,
        "cohorts patient timeline": _timeline(data),
    }


@pytest.fixture(scope="module")
def page_figures(clinic) -> dict:
    return _page_figures(*clinic)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _trace_colours(trace) -> list[tuple[str, int | None]]:
    """Every colour a trace draws, with the point it belongs to (None: the whole trace)."""
    found = []
    for path in ("marker.color", "line.color", "fillcolor", "marker.pattern.fgcolor"):
        obj = trace
        for part in path.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        if obj is None or (isinstance(obj, np.ndarray | list | tuple) and not len(obj)):
            continue
        if isinstance(obj, str):
            found.append((obj, None))
        else:
            found += [(c, i) for i, c in enumerate(obj) if isinstance(c, str)]
    return found


def _point_words(trace, i: int) -> str:
    return " ".join(
        str(_as_list(getattr(trace, k, None))[i : i + 1]) for k in ("text", "hovertext")
    )


def colour_meanings(figs: dict) -> dict[str, set[tuple[str, str]]]:
    """colour -> {(meaning, where it was seen)} over every trace of every figure.

    A trace's meaning is its ``meta["meaning"]``; a single bar or point in the too-few grey
    means "too few" only when its own text says so.
    """
    seen = defaultdict(set)
    for name, fig in figs.items():
        for trace in fig.data:
            meta = trace.meta or {}
            assert "meaning" in meta, f"{name}: trace {trace.name!r} does not say its meaning"
            for colour, i in _trace_colours(trace):
                meaning = meta["meaning"]
                if i is not None and colours.normalise(colour) in {
                    colours.normalise(colours.SMALL_COLOUR),
                    colours.normalise(colours.SMALL_EDGE),
                }:
                    assert "too few" in _point_words(trace, i), f"{name}: grey without words"
                    meaning = "too few"
                seen[colours.normalise(colour)].add((meaning, f"{name}: {trace.name}"))
    return seen


def test_every_page_figure_was_drawn_with_data(page_figures):
    assert all(len(fig.data) for fig in page_figures.values())


def test_no_colour_means_two_things_across_the_figures(page_figures):
    shared = {
        colour: sorted(where)
        for colour, where in colour_meanings(page_figures).items()
        if len({meaning for meaning, _ in where}) > 1
    }
    assert shared == {}


def test_every_colour_drawn_is_in_the_vocabulary(page_figures):
    known = {colour for _, _, colour in _palette_colours()}
    stray = {c: sorted(w)[:2] for c, w in colour_meanings(page_figures).items() if c not in known}
    assert stray == {}


def _colours_of(figs: dict, meaning: str) -> set[str]:
    return {
        colour
        for colour, where in colour_meanings(figs).items()
        if any(m == meaning for m, _ in where)
    }


# the pairs the issue saw sharing a colour, and those most likely to be confused
@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("population:observed", "activity:new_patients"),
        ("population:observed", "activity:sessions"),
        ("population:itt", "activity:new_patients"),
        ("population:itt", "activity:sessions"),
        ("instrument:PHQ-9", "route:esketamine_nasal"),
        ("instrument:PCL-5", "route:iv_ketamine"),
        ("population:observed", "all patients"),
        ("reference", "all patients"),
        ("reference", "too few"),
        ("event:side_effect", "route:esketamine_nasal"),
    ],
)
def test_two_meanings_the_issue_saw_together_have_their_own_colours(page_figures, one, other):
    ones, others = _colours_of(page_figures, one), _colours_of(page_figures, other)
    assert ones and others, "both meanings are drawn by some figure of the sample"
    assert ones.isdisjoint(others)


@pytest.mark.parametrize(
    ("meaning", "colour"),
    [
        ("population:observed", colours.POPULATION["observed"]),
        ("population:itt", colours.POPULATION["itt"]),
        ("route:iv_ketamine", colours.ROUTE["iv_ketamine"]),
        ("route:esketamine_nasal", colours.ROUTE["esketamine_nasal"]),
        ("instrument:PCL-5", colours.INSTRUMENT["PCL-5"]),
        ("instrument:PHQ-9", colours.INSTRUMENT["PHQ-9"]),
        ("activity:new_patients", colours.ACTIVITY["new_patients"]),
        ("activity:sessions", colours.ACTIVITY["sessions"]),
        ("event:side_effect", colours.EVENT["side_effect"]),
        ("reference", colours.REFERENCE_COLOUR),
        ("all patients", colours.ALL_PATIENTS_COLOUR),
    ],
)
def test_each_meaning_is_drawn_in_its_vocabulary_colour(page_figures, meaning, colour):
    assert _colours_of(page_figures, meaning) == {colours.normalise(colour)}


def test_the_meanings_of_a_figure_are_the_ones_its_page_shows(page_figures):
    meanings = {
        name: {(t.meta or {}).get("meaning") for t in fig.data}
        for name, fig in page_figures.items()
    }
    assert {"activity:new_patients", "activity:sessions"} == meanings["overview activity"]
    assert {"population:observed", "population:itt"} <= meanings["outcomes rates"]
    assert "reference" in meanings["outcomes rates with references"]
    assert {"instrument:PCL-5", "instrument:PHQ-9", "event:side_effect"} <= meanings[
        "cohorts patient timeline"
    ]
    assert any(m.startswith("route:") for m in meanings["cohorts patient timeline"])


def test_the_theme_colour_of_buttons_and_sliders_is_no_chart_colour(page_figures):
    import tomllib
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"
    if not config.is_file():
        pytest.skip("no Streamlit theme in this checkout")
    primary = tomllib.loads(config.read_text())["theme"]["primaryColor"]
    assert colours.normalise(primary) not in colour_meanings(page_figures)
