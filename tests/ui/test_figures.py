"""The dashboard's figures, checked on the figure object (traces, axes, colours), not pixels."""

import pandas as pd
import pytest

from ui import figures


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
    assert fig.layout.xaxis.title.text == "Day"
    assert fig.layout.yaxis.title.text == "Mean change (points)"
    assert "n = " in lines[0].hovertemplate and "95% CI" in lines[0].hovertemplate


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
    assert fig.layout.xaxis.title.text == "Timepoint"
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
    fig = figures.km_figure(curve, medians=pd.DataFrame({"median": [20.0]}))
    assert len(fig.data) == 2
    assert fig.data[1].line.shape == "hv"
    assert fig.data[1].y[2] == pytest.approx(50.0)
    assert fig.layout.yaxis.title.text == "Still responding (%)"
    assert fig.layout.xaxis.title.text == "Days since response"
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
    assert fig.layout.xaxis.title.text.endswith("(%)")


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
    colours = {t.name: t.marker.color for t in fig.data}
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
    y = list(fig.data[0].y)
    assert len(y) == 6 and pd.isna(y[2]) and pd.isna(y[5])
    assert fig.layout.yaxis.title.text == "PCL-5 total (points)"


def test_counts_by_period_titles_both_axes():
    frame = pd.DataFrame(
        {"period": ["2024", "2025"], "new_starts": [40, 60], "sessions": [300, 500]}
    )
    fig = figures.counts_by_period_figure(frame, x_title="Year")
    assert len(fig.data) == 2
    assert fig.layout.yaxis.title.text == "Patients (count)"
    assert fig.layout.yaxis2.title.text == "Sessions (count)"
    assert fig.layout.xaxis.title.text == "Year"
    assert fig.layout.xaxis2.title.text == "Year"


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
    assert "points" in fig.layout.xaxis.title.text

    funnel = figures.funnel_figure(pd.DataFrame({"stage": ["Started", "Week 4"], "n": [10, 6]}))
    assert funnel.data[0].type == "funnel"

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
    assert fig.layout.xaxis.title.text == "Systolic rise (mmHg)"
    assert fig.layout.yaxis.title.text == "Sessions (count)"
    if trace_type == "bar":
        # 60,000 values cycling 0..49: 1,200 in each 1-mmHg bin
        assert len(fig.data[0].y) == 50 and int(sum(fig.data[0].y)) == rows
        assert fig.data[0].y[0] == 1200
