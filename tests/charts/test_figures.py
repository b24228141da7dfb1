"""The dashboard's figures, checked on the figure object (traces, axes, colours), not pixels."""

import numpy as np
import pandas as pd
import pytest

from charts import figures


def _title(axis) -> str:
    """An axis title without the notes line under it."""
    return axis.title.text.split("<br>")[0]


def _notes(axis) -> str:
    return axis.title.text.split("<br>", 1)[1] if "<br>" in axis.title.text else ""


def _means(groups=("iv_ketamine", "esketamine_nasal")) -> pd.DataFrame:
    rows = []
    for g in groups:
        for day, mean in ((7, -8.0), (14, -12.0), (28, -18.0)):
            rows.append(
                {
                    "group": g,
                    "day": day,
                    "mean": mean,
                    "ci_low": mean - 3,
                    "ci_high": mean + 3,
                    "n": 20,
                }
            )
    return pd.DataFrame(rows)


def _rates() -> pd.DataFrame:
    rows = []
    for tp in ("week 1", "week 4"):
        for measure in ("Response", "Remission"):
            for population in ("observed", "itt"):
                # 10/15 = 66.7%, Wilson 41.7-84.8 (clinical reference check values)
                rows.append(
                    {
                        "timepoint": tp,
                        "measure": measure,
                        "population": population,
                        "k": 10,
                        "n": 15,
                        "rate": 10 / 15,
                        "ci_low": 0.417,
                        "ci_high": 0.848,
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "code, colour",
    [
        ("iv_ketamine", "#0072B2"),
        ("esketamine_nasal", "#D55E00"),
        (figures.ALL_PATIENTS, figures.NEUTRAL),
    ],
)
def test_route_colours_are_fixed(code, colour):
    assert figures.colour_for(code, index=5) == colour


def test_other_groups_cycle_through_the_palette():
    assert figures.colour_for("North", 0) == figures.GROUP_PALETTE[0]
    assert figures.colour_for("South", len(figures.GROUP_PALETTE)) == figures.GROUP_PALETTE[0]


@pytest.mark.parametrize(
    "code, label",
    [("iv_ketamine", "IV ketamine"), ("esketamine_nasal", "Esketamine")],
)
def test_route_labels_are_words(code, label):
    assert figures.route_label(code).startswith(label)


def test_mean_score_figure_has_a_band_and_a_line_per_group():
    fig = figures.mean_score_figure(
        _means(), x="day", group="group", y_title="Mean change (points)", x_title="Day"
    )
    assert len(fig.data) == 4  # band + line for each of two routes
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert {t.line.color for t in lines} == {"#0072B2", "#D55E00"}
    assert {t.name for t in lines} == {
        figures.route_label("iv_ketamine"),
        figures.route_label("esketamine_nasal"),
    }
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2 and all(t.hoverinfo == "skip" for t in bands)
    assert _title(fig.layout.xaxis) == "Day"
    assert fig.layout.yaxis.title.text == "Mean change (points)"
    assert "n in the hover" in _notes(fig.layout.xaxis)
    assert all("n = 20" in h and "95% CI" in h for h in lines[0].hovertext)


def test_mean_score_figure_without_groups_is_one_neutral_line():
    fig = figures.mean_score_figure(
        _means(("x",)).drop(columns="group"), x="day", y_title="y", x_title="x"
    )
    assert len(fig.data) == 2
    assert fig.data[1].line.color == figures.NEUTRAL


def test_rate_bars_have_ci_error_bars_and_a_panel_per_measure():
    fig = figures.rate_bars_figure(_rates())
    assert len(fig.data) == 4  # 2 measures x 2 populations
    assert {t.name for t in fig.data} == {"Observed", "Intention to treat"}
    bar = fig.data[0]
    assert bar.y[0] == pytest.approx(66.67, abs=0.01)
    assert bar.error_y.array[0] == pytest.approx(84.8 - 66.67, abs=0.01)
    assert bar.error_y.arrayminus[0] == pytest.approx(66.67 - 41.7, abs=0.01)
    assert fig.layout.yaxis.title.text == "Patients (%)"
    assert _title(fig.layout.xaxis) == "Timepoint"
    assert "n on each bar" in _notes(fig.layout.xaxis)
    assert list(bar.text) == ["n = 15", "n = 15"]
    assert list(fig.layout.yaxis.range) == [0, 100]
    # the legend lists each population once
    assert sum(bool(t.showlegend) for t in fig.data) == 2


def test_km_figure_draws_steps_a_band_and_the_median():
    curve = pd.DataFrame(
        {
            "time": [0, 10, 20, 30],
            "survival": [1.0, 0.8, 0.5, 0.4],
            "ci_low": [1.0, 0.6, 0.3, 0.2],
            "ci_high": [1.0, 0.9, 0.7, 0.6],
            "at_risk": [20, 15, 8, 4],
        }
    )
    fig = figures.km_figure(curve, medians=pd.DataFrame({"median": [20.0]}), min_n=4)
    assert len(fig.data) == 2
    assert fig.data[1].line.shape == "hv"
    assert fig.data[1].y[2] == pytest.approx(50.0)
    assert fig.data[1].name == "All patients (n = 20)"
    assert fig.layout.yaxis.title.text == "Still responding (%)"
    assert _title(fig.layout.xaxis) == "Days since response"
    assert any("median 20 d" in (a.text or "") for a in fig.layout.annotations)


def test_side_effect_figure_marks_the_label_reference():
    rates = pd.DataFrame(
        {
            "effect": ["Dissociation", "Nausea"],
            "rate": [0.5, 0.2],
            "ci_low": [0.4, 0.1],
            "ci_high": [0.6, 0.3],
            "k": [50, 20],
            "n": [100, 100],
        }
    )
    # Spravato label: dissociation 41%, nausea 28% (esketamine n = 346)
    reference = pd.DataFrame({"effect": ["Dissociation", "Nausea"], "rate": [0.41, 0.28]})
    fig = figures.side_effect_figure(rates, reference=reference)
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert fig.data[1].name == figures.LABEL_REFERENCE_NAME
    assert "different population" in figures.LABEL_REFERENCE_NAME
    assert list(fig.data[1].x) == pytest.approx([41.0, 28.0])
    assert _title(fig.layout.xaxis).endswith("(%)")
    assert list(fig.data[0].text) == ["50/100", "20/100"]


def test_side_effect_bars_by_route_use_route_colours():
    rates = pd.DataFrame(
        {
            "effect": ["Nausea", "Nausea"],
            "group": ["iv_ketamine", "esketamine_nasal"],
            "rate": [0.2, 0.3],
            "ci_low": [0.1, 0.2],
            "ci_high": [0.3, 0.4],
            "k": [2, 3],
            "n": [10, 10],
        }
    )
    fig = figures.side_effect_figure(rates, group="group")
    colours = {t.name: t.marker.color[0] for t in fig.data}
    assert colours[figures.route_label("esketamine_nasal")] == "#D55E00"
    assert colours[figures.route_label("iv_ketamine")] == "#0072B2"


def test_spaghetti_breaks_lines_between_patients():
    frame = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b"],
            "day": [0, 7, 0, 7],
            "score": [50, 40, 60, 30],
            "route": ["iv_ketamine"] * 4,
        }
    )
    fig = figures.spaghetti_figure(
        frame, x="day", group="route", x_title="Day", y_title="PCL-5 total (points)"
    )
    assert len(fig.data) == 1
    assert fig.data[0].name.endswith("(n = 2 patients)")
    y = list(fig.data[0].y)
    assert len(y) == 6 and pd.isna(y[2]) and pd.isna(y[5])
    assert fig.layout.yaxis.title.text == "PCL-5 total (points)"


def test_counts_by_period_titles_both_panels_without_axis_titles_between_them():
    frame = pd.DataFrame(
        {"period": ["2024", "2025"], "new_starts": [40, 60], "sessions": [300, 500]}
    )
    fig = figures.counts_by_period_figure(frame, x_title="Year")
    assert len(fig.data) == 2
    # at half of a 1024 px page a y-axis title of the second panel ran into the first panel's
    # bars: the panel titles say what is counted instead
    assert [a.text for a in fig.layout.annotations] == ["New patients", "Their sessions"]
    assert not fig.layout.yaxis.title.text and not fig.layout.yaxis2.title.text
    assert _title(fig.layout.xaxis) == "Year"
    assert _title(fig.layout.xaxis2) == "Year"
    assert list(fig.data[1].text) == ["300", "500"]
    # room above the tallest bar for its count
    assert fig.layout.yaxis2.range[1] > 500


def test_change_bars_and_funnel_and_timeline():
    change = pd.DataFrame(
        {
            "cluster": ["B", "C"],
            "mean_change": [-4.0, -2.0],
            "ci_low": [-5.0, -3.0],
            "ci_high": [-3.0, -1.0],
            "n": [30, 30],
        }
    )
    fig = figures.change_bars_figure(change, category="cluster")
    assert fig.data[0].orientation == "h"
    assert "points" in _title(fig.layout.xaxis)
    assert list(fig.data[0].text) == ["n = 30", "n = 30"]

    funnel = figures.funnel_figure(pd.DataFrame({"stage": ["Started", "Week 4"], "n": [10, 6]}))
    assert funnel.data[0].type == "funnel"
    # 10 patients started: enough at the default min_n
    assert funnel.data[0].marker.color == figures.NEUTRAL
    assert "10 patients" in funnel.data[0].hovertext[0]

    timeline = figures.patient_timeline_figure(
        pd.DataFrame({"day": [0, 7], "instrument": ["PCL-5"] * 2, "score": [50, 35]}),
        pd.DataFrame({"day": [0, 2], "route": ["iv_ketamine"] * 2, "session_number": [1, 2]}),
        pd.DataFrame({"day": [2], "effect": ["Nausea"]}),
    )
    assert [t.name for t in timeline.data] == [
        "PCL-5",
        figures.route_label("iv_ketamine"),
        "Side effects",
    ]
    assert timeline.data[1].marker.color == "#0072B2"
    assert timeline.layout.xaxis2.title.text == "Days since first session"


@pytest.mark.parametrize("rows, trace_type", [(200, "histogram"), (60_000, "bar")])
def test_large_histograms_are_binned_before_the_browser(rows, trace_type):
    frame = pd.DataFrame({"rise": [i % 50 for i in range(rows)], "route": "iv_ketamine"})
    fig = figures.distribution_figure(
        frame, value="rise", group="route", x_title="Systolic rise (mmHg)",
        thresholds=[(40, "40 mmHg")],
    )  # fmt: skip
    assert [t.type for t in fig.data] == [trace_type]
    assert fig.data[0].marker.color == "#0072B2"
    assert _title(fig.layout.xaxis) == "Systolic rise (mmHg)"
    assert fig.data[0].name == f"{figures.route_label('iv_ketamine')} (n = {rows:,})"
    assert fig.layout.yaxis.title.text == "Sessions (count)"
    if trace_type == "bar":
        # 60,000 values cycling 0..49: 1,200 in each 1-mmHg bin
        assert len(fig.data[0].y) == 50 and int(sum(fig.data[0].y)) == rows
        assert fig.data[0].y[0] == 1200


# --------------------------------------------------------------------------- small samples
def _one_rate(n: int, k: int | None = None, low: float = 0.2, high: float = 1.0):
    k = n if k is None else k
    return pd.DataFrame(
        {
            "timepoint": ["week 8"],
            "measure": ["Still responding"],
            "population": ["observed"],
            "k": [k],
            "n": [n],
            "rate": [k / n],
            "ci_low": [low],
            "ci_high": [high],
        }
    )


def _rate_bar(frame, **kw):
    return figures.rate_bars_figure(frame, **kw)


def _change_bar(frame, **kw):
    change = pd.DataFrame(
        {
            "label": ["B"],
            "mean_change": [-4.0],
            "ci_low": [-9.0],
            "ci_high": [1.0],
            "n": frame["n"].to_numpy(),
        }
    )
    return figures.change_bars_figure(change, category="label", **kw)


def _effect_bar(frame, **kw):
    return figures.side_effect_figure(frame.assign(effect="Nausea"), **kw)


BAR_FIGURES = [_rate_bar, _change_bar, _effect_bar]


@pytest.mark.parametrize("draw", BAR_FIGURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("n", "min_n", "grey", "words"),
    [
        # durability's "still responding at week 8: 100%" from one patient
        (1, 10, True, "too few patients (n = 1)"),
        (9, 10, True, "too few patients (n = 9)"),
        (10, 10, False, "n = 10"),
        # a clinic that sets a lower minimum
        (3, 3, False, "n = 3"),
    ],
)
def test_a_bar_of_too_few_patients_is_grey_and_says_so(draw, n, min_n, grey, words):
    fig = draw(_one_rate(n), min_n=min_n)
    bar = fig.data[0]
    assert (bar.marker.color[0] == figures.SMALL_COLOUR) is grey
    assert (bar.marker.pattern.shape[0] == "/") is grey
    assert words in bar.hovertext[0]
    if grey or draw is not _effect_bar:  # side-effect bars write k/n when there are enough
        assert bar.text[0] == words
    assert (f"fewer than {min_n} patients" in _notes(fig.layout.xaxis)) is grey


def _mean_points(n, low=30.0, high=50.0):
    return pd.DataFrame(
        {"x": [0.0, 4.0, 8.0], "label": ["baseline", "week 4", "week 8"], "mean": 40.0,
         "ci_low": low, "ci_high": high, "n": n}
    )  # fmt: skip


def _figures_with_every_kind_of_point():
    rates = pd.concat([_rates(), _one_rate(2).assign(measure="Response")])
    curve = pd.DataFrame(
        {"time": [0, 10, 20], "survival": [1.0, 0.6, 0.5], "ci_low": [1.0, 0.4, 0.2],
         "ci_high": [1.0, 0.8, 0.7], "at_risk": [20, 12, 4]}
    )  # fmt: skip
    effects = pd.DataFrame(
        {"effect": ["Nausea", "Dizziness"], "rate": [0.2, 0.5], "ci_low": [0.1, 0.1],
         "ci_high": [0.3, 0.9], "k": [20, 1], "n": [100, 2]}
    )  # fmt: skip
    return {
        "rates": figures.rate_bars_figure(rates),
        "means": figures.mean_score_figure(
            _mean_points([40, 12, 2]), x="x", x_title="Week", y_title="PCL-5"
        ),
        "grouped means": figures.mean_score_figure(
            _means().assign(n=[20, 20, 2, 20, 5, 1]),
            x="day", group="group", x_title="Day", y_title="PCL-5",
        ),
        "change": _change_bar(pd.DataFrame({"n": [4]})),
        "km": figures.km_figure(curve),
        "effects": figures.side_effect_figure(effects),
        "funnel": figures.funnel_figure(pd.DataFrame({"stage": ["a", "b"], "n": [5, 3]})),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_figures_with_every_kind_of_point()))
def test_every_drawn_trace_carries_its_n(name):
    fig = _figures_with_every_kind_of_point()[name]
    for trace in fig.data:
        if trace.hoverinfo == "skip":  # CI bands: their line's hover has the n
            continue
        said = " ".join(
            map(str, [*(trace.hovertext if trace.hovertext is not None else ()),
                      *(trace.text if trace.text is not None else ())])
        )  # fmt: skip
        assert "n = " in said or "at risk: " in said or "patients" in said, trace.name
    notes = _notes(fig.layout.xaxis)
    assert "n " in notes or "(n)" in notes


@pytest.mark.parametrize(
    ("n", "whisker"),
    [
        # n = 2: t(0.975, 1) = 12.7, a week-8 CI of -18.4 to 121.4 on a 0-80 scale
        (2, False),
        (1, False),
        (3, True),
    ],
)
def test_no_interval_is_drawn_for_a_mean_of_fewer_than_three(n, whisker):
    means = _mean_points([40, 40, n], low=-18.4, high=121.4)
    fig = figures.mean_score_figure(means, x="x", x_title="Week", y_title="PCL-5", min_n=1)
    line = next(t for t in fig.data if t.mode.startswith("lines+markers"))
    assert ("no interval" in line.hovertext[2]) is not whisker
    # the band covers only the points with an interval
    band = next(t for t in fig.data if t.fill == "toself")
    assert [v for v in band.x if v is not None] == ([0.0, 4.0, 8.0, 8.0, 4.0, 0.0] if whisker
                                                    else [0.0, 4.0, 4.0, 0.0])  # fmt: skip

    change = _change_bar(pd.DataFrame({"n": [n]}), min_n=1)
    assert bool(np.isfinite(change.data[0].error_x.array[0])) is whisker


def test_a_mean_of_too_few_patients_is_an_open_grey_point_off_the_line():
    fig = figures.mean_score_figure(
        _mean_points([40, 40, 4]), x="x", x_title="Week", y_title="PCL-5"
    )
    line, small = fig.data[1], fig.data[2]
    assert np.isnan(line.y[2]) and line.connectgaps is False
    assert small.marker.symbol == "circle-open" and list(small.x) == [8.0]
    assert "too few patients (n = 4)" in small.hovertext[0]
    assert "fewer than 10 patients" in _notes(fig.layout.xaxis)


@pytest.mark.parametrize(
    ("low", "high", "drawn", "words"),
    [
        # the week-8 mean: drawn from 0 to 80, the hover keeps the numbers
        (-18.4, 121.4, (0, 80), "95% CI -18.4 to 121.4; interval drawn clipped at 0.0 and 80.0"),
        (-2.0, 50.0, (0, 50), "interval drawn clipped at 0.0"),
        (30.0, 50.0, (30, 50), "95% CI 30.0 to 50.0)"),
    ],
)
def test_intervals_past_the_scale_are_clipped_in_the_drawing_and_say_so(low, high, drawn, words):
    means = _mean_points([40, 40, 40], low=low, high=high)
    fig = figures.mean_score_figure(means, x="x", x_title="Week", y_title="PCL-5", scale=(0, 80))
    band = next(t for t in fig.data if t.fill == "toself")
    ys = [v for v in band.y if v is not None]
    assert (min(ys), max(ys)) == pytest.approx(drawn)
    assert words in fig.data[1].hovertext[0]
    assert ("clipped" in _notes(fig.layout.xaxis)) is (drawn != (low, high))
    assert list(fig.layout.yaxis.range) == [0, 80]


def test_a_rate_interval_below_zero_is_clipped_at_zero_percent():
    # a Wald interval of 1/20 runs below zero
    fig = figures.rate_bars_figure(_one_rate(20, k=1, low=-0.046, high=0.146))
    bar = fig.data[0]
    assert bar.error_y.arrayminus[0] == pytest.approx(5.0)
    assert "interval drawn clipped at 0%" in bar.hovertext[0]
    assert "intervals clipped at 0%" in _notes(fig.layout.xaxis)


@pytest.mark.parametrize(
    ("formatted", "expected"),
    [
        (figures.format_percent(2.8e-17), "0%"),
        (figures.format_percent(-2.8e-17), "0%"),
        (figures.format_percent(0.0004, digits=1), "0.0%"),
        (figures.format_percent(0.0006, digits=1), "0.1%"),
        (figures.format_percent(0.667), "67%"),
        (figures.format_points(1e-12), "0.0"),
        (figures.format_points(-0.04), "0.0"),
        (figures.format_points(-0.04, signed=True), "0.0"),
        (figures.format_points(-4.06, signed=True), "-4.1"),
        (figures.format_points(float("nan")), "–"),
    ],
)
def test_tiny_values_are_written_as_zero(formatted, expected):
    assert formatted == expected


def test_a_tiny_interval_bound_reads_zero_in_the_hover_and_the_metric_caption():
    from ui.components import format_rate

    fig = figures.rate_bars_figure(_one_rate(20, k=0, low=2.8e-17, high=0.161))
    assert "95% CI 0% to 16%" in fig.data[0].hovertext[0]
    assert "e-" not in fig.data[0].hovertext[0]
    r = {"k": 0, "n": 20, "rate": 0.0, "ci_low": 2.8e-17, "ci_high": 0.161}
    assert format_rate(r) == "0% (0/20; 95% CI 0–16%)"
    assert format_rate(r | {"n": 3, "k": 3, "rate": 1.0}, min_n=10).startswith("too few")


def test_a_km_curve_goes_grey_where_too_few_are_at_risk():
    curve = pd.DataFrame(
        {"time": [0, 10, 20, 30], "survival": [1.0, 0.8, 0.5, 0.4],
         "ci_low": [1.0, 0.6, 0.3, 0.2], "ci_high": [1.0, 0.9, 0.7, 0.6],
         "at_risk": [20, 15, 8, 4]}
    )  # fmt: skip
    fig = figures.km_figure(curve)
    band, solid, tail = fig.data
    assert list(solid.x) == [0, 10] and list(tail.x) == [10, 20, 30]
    assert tail.line.dash == "dot" and tail.showlegend is False
    assert "at risk: 4 (too few patients)" in tail.hovertext[-1]


def test_a_funnel_of_too_few_starters_is_grey():
    fig = figures.funnel_figure(pd.DataFrame({"stage": ["Started", "Week 4"], "n": [3, 1]}))
    assert fig.data[0].marker.color == figures.SMALL_COLOUR
    assert "too few patients (n = 3)" in fig.data[0].hovertext[1]


def test_mean_line_over_categories_prints_every_n():
    # CADSS by session band: the x values are labels, evenly spaced, so every n is printed.
    frame = pd.DataFrame(
        {"band": ["1", "2-3", "4-6"], "mean": [8.0, 5.0, 3.0], "n": [40, 38, 35]}
        | {"ci_low": [6.0, 4.0, 2.0], "ci_high": [10.0, 6.0, 4.0]}
    )
    fig = figures.mean_score_figure(frame, x="band", x_title="Session", y_title="CADSS")
    assert [t for t in fig.data[-1].text if t] == ["n = 40", "n = 38", "n = 35"]


def test_a_small_mean_chart_keeps_every_n_in_the_hover():
    frame = pd.DataFrame(
        {"x": [0.0, 1.0, 2.0], "mean": [50.0, 40.0, 35.0], "n": [40, 38, 35]}
        | {"ci_low": [47.0, 37.0, 32.0], "ci_high": [53.0, 43.0, 38.0]}
    )
    fig = figures.mean_score_figure(frame, x="x", x_title="Weeks", y_title="PCL-5", print_n=False)
    line = fig.data[-1]
    assert "text" not in line.mode
    assert all(f"n = {n}" in hover for n, hover in zip(frame["n"], line.hovertext, strict=True))
    assert "n in the hover" in fig.layout.xaxis.title.text


def test_the_remission_cut_is_a_labelled_line():
    frame = pd.DataFrame(
        {"x": [0.0, 4.0], "mean": [50.0, 35.0], "n": [40, 38], "ci_low": [47.0, 32.0]}
        | {"ci_high": [53.0, 38.0]}
    )
    fig = figures.mean_score_figure(
        frame, x="x", x_title="Weeks", y_title="PCL-5", cut=(33, "remission: below 33")
    )
    (line,) = fig.layout.shapes
    assert (line.y0, line.y1, line.line.dash) == (33, 33, "dash")
    assert [a.text for a in fig.layout.annotations] == ["remission: below 33"]


# --------------------------------------------------------------------------- published marks
def _reference(**kw):
    # Osmind real-world PCL-5 response by infusion 6: 70% (no interval published)
    return figures.Reference(
        **{"label": "Osmind, by infusion 6", "value": 0.70, "source": "Osmind cohort"} | kw
    )


def test_a_published_rate_is_a_grey_dotted_line_of_diamonds_on_its_panel():
    fig = figures.rate_bars_figure(_rates(), references=[_reference(facet="Response")])
    (mark,) = [t for t in fig.data if t.meta and t.meta["meaning"] == "reference"]
    assert mark.name == "Published: Osmind, by infusion 6"
    assert list(mark.x) == ["week 1", "week 4"] and list(mark.y) == pytest.approx([70, 70])
    assert (mark.xaxis, mark.line.dash, mark.marker.symbol) == ("x", "dot", "diamond")
    assert mark.line.color == mark.marker.color == figures.colours.REFERENCE_COLOUR
    (label,) = [a for a in fig.layout.annotations if a.text.startswith("Osmind")]
    assert label.text == "Osmind, by infusion 6 70%"
    assert (label.xref, label.yref, label.y) == ("x domain", "y", 70)
    assert "Osmind cohort" in mark.hovertext[0] and "not a target" in mark.hovertext[0]


@pytest.mark.parametrize(
    ("facet", "panels"),
    [
        ("Response", ["x"]),
        ("Remission", ["x2"]),
        (None, ["x", "x2"]),
        ("Not a panel", []),
    ],
)
def test_a_reference_is_drawn_on_the_panel_it_names(facet, panels):
    fig = figures.rate_bars_figure(_rates(), references=[_reference(facet=facet)])
    marks = [t for t in fig.data if t.meta["meaning"] == "reference"]
    assert [t.xaxis for t in marks] == panels
    # one legend entry however many panels it is on
    assert sum(bool(t.showlegend) for t in marks) == min(len(panels), 1)


@pytest.mark.parametrize(
    ("cats", "band", "whisker"),
    [
        # Albott 2018: 12/15 in remission, Wilson 95% CI 54.8-93.0%
        (["week 1", "week 4"], True, False),
        (["week 4"], False, True),
    ],
)
def test_a_reference_interval_is_a_grey_band_or_a_whisker(cats, band, whisker):
    rates = _rates()[lambda f: f["timepoint"].isin(cats)]
    ref = _reference(label="Albott 2018", value=0.8, low=0.548, high=0.930, facet="Remission")
    fig = figures.rate_bars_figure(rates, references=[ref])
    marks = [t for t in fig.data if t.meta["meaning"] == "reference"]
    fills = [t for t in marks if t.fill == "toself"]
    assert bool(fills) is band
    if band:
        ys = list(fills[0].y)
        assert (min(ys), max(ys)) == pytest.approx((54.8, 93.0))
        assert fills[0].fillcolor == figures.colours.rgba(figures.colours.REFERENCE_COLOUR, 0.15)
    line = marks[-1]
    assert bool(line.error_y.visible) is whisker
    assert "95% CI 55% to 93%" in line.hovertext[0]


def test_the_label_reference_and_a_published_rate_look_alike():
    rates = _rates()
    effects = pd.DataFrame(
        {"effect": ["Nausea"], "rate": [0.2], "ci_low": [0.1], "ci_high": [0.3], "k": [20]}
        | {"n": [100]}
    )
    label = figures.side_effect_figure(
        effects, reference=pd.DataFrame({"effect": ["Nausea"], "rate": [0.28]})
    ).data[-1]
    published = figures.rate_bars_figure(rates, references=[_reference()]).data[-1]
    for part in ("symbol", "color", "size"):
        assert getattr(label.marker, part) == getattr(published.marker, part)
    assert label.meta == published.meta == {"meaning": "reference"}
    assert "Spravato label" in label.hovertext[0] and "28%" in label.hovertext[0]


def test_a_benchmark_row_becomes_a_reference_without_its_doi():
    from analytics.reference.published import published_benchmarks

    rows = published_benchmarks()
    feder = rows[rows["measure"].str.contains("ketamine arm")].iloc[0]
    ref = figures.Reference.from_benchmark(feder, label="Feder 2021, ketamine", facet="Response")
    assert ref.value == pytest.approx(10 / 15)
    assert (ref.low, ref.high) == pytest.approx((0.417, 0.848), abs=0.001)
    assert "doi" not in ref.source.lower() and ref.source.startswith("Feder et al. 2021")
    assert "doi" not in ref.hover().lower()
    days = rows[rows["unit"] == "days"].iloc[0]
    with pytest.raises(ValueError, match=r"only a proportion can be drawn .* in days"):
        figures.Reference.from_benchmark(days, label="Feder median")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"value": 70.0}, r"value must be a proportion between 0 and 1, got 70.0"),
        ({"value": float("nan")}, r"value must be a proportion between 0 and 1"),
        ({"low": 0.5}, r"give both low and high, or neither"),
        ({"low": 0.8, "high": 0.9}, r"value 0.7 is outside its interval 0.8 to 0.9"),
        ({"high": 1.2, "low": 0.5}, r"high must be a proportion between 0 and 1"),
    ],
)
def test_a_reference_that_is_not_a_proportion_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _reference(**kw)


@pytest.mark.parametrize(
    ("references", "rows"),
    [
        ([], 1),
        # two long published names wrap the legend onto more rows, each with its own room
        ([_reference(label="Osmind, PCL-5 response by infusion 6 (real-world cohort)"),
          _reference(label="Feder 2021, CAPS-5 response after six infusions")], 3),
    ],
)  # fmt: skip
def test_the_rate_legend_is_horizontal_with_room_for_every_row(references, rows):
    fig = figures.rate_bars_figure(_rates(), references=references)
    assert fig.layout.legend.orientation == "h"
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert "Observed" in names and "Intention to treat" in names
    assert figures.legend_rows(names) == rows
    assert fig.layout.margin.t == 80 + figures.LEGEND_ROW * (rows - 1)


def test_a_long_panel_title_wraps_instead_of_running_off_the_chart():
    rates = _one_rate(20).assign(measure="Scored at week 4, of patients who started and were due")
    fig = figures.rate_bars_figure(rates)
    assert fig.layout.annotations[0].text == (
        "Scored at week 4, of patients who<br>started and were due"
    )


# --------------------------------------------------------------------------- built as Plotly builds
# The charts are built as plain dicts validated once (Plotly's own helpers validate on every
# call); these pin the dicts to what Plotly's helpers would have made of the same arguments.
def _layout_of(fig) -> dict:
    drawn = fig.to_plotly_json()["layout"]
    drawn.pop("template", None)
    return drawn


@pytest.mark.parametrize(
    "grid",
    [
        # the grids the charts draw: rate panels (one, two, three or four facets), activity
        # counts side by side, the patient chart's scores over its sessions
        dict(rows=1, cols=1, titles=["Response"], shared_yaxes=True,
             horizontal_spacing=0.05, vertical_spacing=0.30),
        dict(rows=1, cols=2, titles=["Response", "Remission"], shared_yaxes=True,
             horizontal_spacing=0.05, vertical_spacing=0.30),
        dict(rows=2, cols=2, titles=["Response", "Remission<br>at week 4", "Third"],
             shared_yaxes=True, horizontal_spacing=0.05, vertical_spacing=0.19),
        dict(rows=3, cols=2, titles=list("abcde"), shared_yaxes=True,
             horizontal_spacing=0.05, vertical_spacing=0.22 / 3 + 0.08),
        dict(rows=1, cols=2, titles=["New patients", "Their sessions"],
             horizontal_spacing=0.14),
        dict(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25],
             vertical_spacing=0.06),
        dict(rows=2, cols=3, titles=["", "b"]),
        dict(rows=3, cols=1),
    ],
)  # fmt: skip
def test_a_subplot_grid_is_the_one_make_subplots_builds(grid):
    from plotly.subplots import make_subplots

    args = dict(grid)
    titles = args.pop("titles", None)
    expected = _layout_of(make_subplots(**args, subplot_titles=titles))
    axes, annotations = figures.subplot_grid(**args, titles=titles)
    assert {**axes, **({"annotations": annotations} if annotations else {})} == expected


@pytest.mark.parametrize(
    ("ours", "plotly_call"),
    [
        (lambda: figures.hline(33.0, {"color": "black"}, "remission", font={"size": 11}),
         lambda f: f.add_hline(y=33.0, line={"color": "black"}, annotation_text="remission",
                               annotation_position="top right", annotation_font={"size": 11})),
        (lambda: figures.hline(50, {"dash": "dot"}),
         lambda f: f.add_hline(y=50, line={"dash": "dot"})),
        (lambda: figures.vline(40, {"width": 1.2}, "40 mmHg"),
         lambda f: f.add_vline(x=40, line={"width": 1.2}, annotation_text="40 mmHg",
                               annotation_position="top right")),
        (lambda: figures.vline(55.0, {"width": 1.5}, "median 55 d", top=False),
         lambda f: f.add_vline(x=55.0, line={"width": 1.5}, annotation_text="median 55 d",
                               annotation_position="bottom right")),
    ],
)  # fmt: skip
def test_a_line_across_the_plot_is_the_one_plotly_draws(ours, plotly_call):
    import plotly.graph_objects as go

    expected = go.Figure()
    plotly_call(expected)
    shape, words = ours()
    drawn = go.Figure(layout={"shapes": [shape], "annotations": [words] if words else []})
    assert _layout_of(drawn) == _layout_of(expected)


def test_every_chart_is_drawn_in_the_white_template_and_owns_its_copy():
    import plotly.io as pio

    fig = figures.rate_bars_figure(_rates())
    assert (
        fig.to_plotly_json()["layout"]["template"] == pio.templates["plotly_white"].to_plotly_json()
    )
    fig.update_layout(template_layout_font_size=30)
    assert pio.templates["plotly_white"].layout.font.size is None


def test_a_reference_at_one_category_is_drawn_over_that_bar_only():
    rates = _rates()
    fig = figures.rate_bars_figure(rates, references=[_reference(facet="Response", at="week 1")])
    (mark,) = [t for t in fig.data if t.name.startswith("Published")]
    assert list(mark.x) == ["week 1"]
    assert mark.error_y.visible is False  # no interval published: a diamond, no whisker
    # a category the chart does not have draws no mark
    fig = figures.rate_bars_figure(rates, references=[_reference(at="week 99")])
    assert not [t for t in fig.data if t.name.startswith("Published")]
