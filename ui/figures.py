"""Every chart of the dashboard: pure functions of tidy frames returning ``go.Figure``.

No function here calls Streamlit or computes a statistic; each draws columns the analytics
produced (means, rates, bounds). One label vocabulary and one colour map serve every chart, so
IV ketamine has the same colour on every page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "GROUP_PALETTE",
    "LABEL_REFERENCE_NAME",
    "POPULATION_COLOURS",
    "ROUTE_COLOURS",
    "counts_by_period_figure",
    "change_bars_figure",
    "colour_for",
    "distribution_figure",
    "funnel_figure",
    "km_figure",
    "mean_score_figure",
    "patient_timeline_figure",
    "rate_bars_figure",
    "route_label",
    "side_effect_figure",
    "spaghetti_figure",
]

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
ROUTE_COLOURS = {
    "iv_ketamine": "#0072B2",
    "esketamine_nasal": "#D55E00",
    "im_ketamine": "#009E73",
    "oral_ketamine": "#CC79A7",
    "sublingual_ketamine": "#E69F00",
    "intranasal_ketamine": "#56B4E9",
}
GROUP_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
POPULATION_COLOURS = {"observed": "#1f5f8b", "itt": "#9ab8cf"}
POPULATION_LABELS = {"observed": "Observed", "itt": "Intention to treat"}
ALL_PATIENTS = "All patients"
NEUTRAL = "#4d4d4d"
LABEL_REFERENCE_NAME = "Spravato label (trials; different population)"
# Histograms of more rows than this are binned before they reach the browser.
BIN_IN_BROWSER = 50_000

_FALLBACK_ROUTE_LABELS = {
    "iv_ketamine": "IV ketamine",
    "esketamine_nasal": "Esketamine nasal (Spravato)",
    "im_ketamine": "IM ketamine",
    "oral_ketamine": "Oral ketamine",
    "sublingual_ketamine": "Sublingual ketamine",
    "intranasal_ketamine": "Intranasal ketamine",
}
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=14, color="#222")


def route_label(code: str) -> str:
    """A route code in words, from :data:`analytics.ingest.vocabularies.ROUTES` when it is there."""
    try:
        from analytics.ingest.vocabularies import ROUTES
    except ImportError:
        ROUTES = {}
    label = ROUTES.get(code) if isinstance(ROUTES, dict) else None
    if isinstance(label, str):
        return label
    return _FALLBACK_ROUTE_LABELS.get(code, str(code).replace("_", " "))


def colour_for(group: str, index: int = 0) -> str:
    """The colour of a route code (fixed) or of the ``index``-th other group."""
    if group in ROUTE_COLOURS:
        return ROUTE_COLOURS[group]
    if group == ALL_PATIENTS:
        return NEUTRAL
    return GROUP_PALETTE[index % len(GROUP_PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _group_name(group) -> str:
    return route_label(group) if group in ROUTE_COLOURS else str(group)


def _groups(frame: pd.DataFrame, group: str | None) -> list[tuple[str, pd.DataFrame, str]]:
    if group is None or group not in frame:
        return [(ALL_PATIENTS, frame, NEUTRAL)]
    out = []
    for i, (value, part) in enumerate(frame.groupby(group, sort=True, dropna=False)):
        value = "unknown" if pd.isna(value) else value
        out.append((_group_name(value), part, colour_for(value, i)))
    return out


def _style(fig: go.Figure, *, title: str | None, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=17)) if title else None,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        margin=dict(l=70, r=30, t=80 if title else 50, b=70),
        hoverlabel=dict(font_size=13),
    )
    fig.update_xaxes(title_text=x_title, automargin=True, title_standoff=10)
    fig.update_yaxes(title_text=y_title, automargin=True, title_standoff=10)
    return fig


def _pct(x) -> str:
    return "–" if pd.isna(x) else f"{100 * x:.0f}%"


# --------------------------------------------------------------------------- activity
def counts_by_period_figure(
    frame: pd.DataFrame,
    *,
    period: str = "period",
    x_title: str = "Year",
    title: str | None = None,
) -> go.Figure:
    """New starts and sessions given per period, side by side.

    ``frame`` columns: ``period`` (label), ``new_starts``, ``sessions``.
    """
    # Short panel titles: the chart often sits in half a page. The caption beside it says that
    # sessions are counted by their patient's start year (calendar dates are not kept).
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.22,
        subplot_titles=("New patients", "Their sessions"),
    )
    x = frame[period].astype(str)
    fig.add_bar(
        x=x,
        y=frame["new_starts"],
        name="New starts",
        marker_color="#1f5f8b",
        hovertemplate="%{x}: %{y:,} new patients<extra></extra>",
        row=1,
        col=1,
    )
    fig.add_bar(
        x=x,
        y=frame["sessions"],
        name="Sessions",
        marker_color="#6a9fc4",
        hovertemplate="%{x}: %{y:,} sessions<extra></extra>",
        row=1,
        col=2,
    )
    _style(fig, title=title, x_title="", y_title="")
    fig.update_xaxes(title_text=x_title, type="category")
    fig.update_yaxes(title_text="Patients (count)", row=1, col=1)
    fig.update_yaxes(title_text="Sessions (count)", row=1, col=2)
    fig.update_layout(showlegend=False)
    return fig


# --------------------------------------------------------------------------- outcomes
def mean_score_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    y_title: str,
    x_title: str,
    group: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Mean score by time with its 95% CI band, one line per group.

    ``frame`` columns: ``x``, ``mean``, ``ci_low``, ``ci_high``, ``n`` and optionally ``group``.
    """
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        part = part.sort_values(x)
        band_x = pd.concat([part[x], part[x].iloc[::-1]])
        band_y = pd.concat([part["ci_high"], part["ci_low"].iloc[::-1]])
        fig.add_scatter(
            x=band_x,
            y=band_y,
            fill="toself",
            fillcolor=_rgba(colour, 0.18),
            mode="lines",
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
            name=f"{name} 95% CI",
        )
        fig.add_scatter(
            x=part[x],
            y=part["mean"],
            mode="lines+markers",
            name=name,
            legendgroup=name,
            line=dict(color=colour, width=2.5),
            marker=dict(size=7),
            customdata=part[["ci_low", "ci_high", "n"]].to_numpy(),
            hovertemplate=(
                f"{name}<br>{x_title}: %{{x}}<br>mean %{{y:.1f}} "
                "(95% CI %{customdata[0]:.1f}–%{customdata[1]:.1f})<br>n = %{customdata[2]}"
                "<extra></extra>"
            ),
        )
    return _style(fig, title=title, x_title=x_title, y_title=y_title)


def spaghetti_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    x_title: str,
    y_title: str,
    group: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """One thin line per patient (pseudonymous id), coloured by group.

    ``frame`` columns: ``patient_id``, ``x``, ``score`` and optionally ``group``. Patients are
    drawn as one trace per group (gaps between patients) so thousands of lines stay fast.
    """
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        # a blank row after each patient breaks the line between patients
        gaps = pd.DataFrame({"patient_id": part["patient_id"].unique(), "_gap": 1})
        joined = pd.concat([part[["patient_id", x, "score"]].assign(_gap=0), gaps])
        joined = joined.sort_values(["patient_id", "_gap", x], kind="stable")
        fig.add_scatter(
            x=joined[x],
            y=joined["score"],
            mode="lines+markers",
            name=name,
            line=dict(color=_rgba(colour, 0.45), width=1.2),
            marker=dict(size=4, color=colour),
            customdata=joined[["patient_id"]].to_numpy(),
            hovertemplate=(
                "patient %{customdata[0]}<br>" + x_title + ": %{x}<br>score %{y}<extra></extra>"
            ),
            connectgaps=False,
        )
    return _style(fig, title=title, x_title=x_title, y_title=y_title)


def rate_bars_figure(
    frame: pd.DataFrame,
    *,
    x: str = "timepoint",
    facet: str = "measure",
    colour: str = "population",
    x_title: str = "Timepoint",
    y_title: str = "Patients (%)",
    title: str | None = None,
) -> go.Figure:
    """Rates as bars with 95% CI error bars, one panel per ``facet`` value.

    ``frame`` columns: ``x``, ``facet``, ``colour``, ``rate``, ``ci_low``, ``ci_high``, ``k``,
    ``n`` (rates and bounds as proportions 0-1).
    """
    facets = list(dict.fromkeys(frame[facet])) if facet in frame else [""]
    # two panels a row keeps the timepoint labels legible
    n_cols = min(len(facets), 2) or 1
    n_rows = -(-len(facets) // n_cols) or 1
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        subplot_titles=[str(f) for f in facets],
        shared_yaxes=True,
        horizontal_spacing=0.05,
        vertical_spacing=0.22 / n_rows + 0.08,
    )
    colour_values = list(dict.fromkeys(frame[colour])) if colour in frame else [None]
    in_legend: set[str] = set()
    for index, facet_value in enumerate(facets):
        row, col = divmod(index, n_cols)
        part = frame[frame[facet] == facet_value] if facet in frame else frame
        for i, value in enumerate(colour_values):
            rows = part[part[colour] == value] if colour in part else part
            if rows.empty:
                continue
            name = POPULATION_LABELS.get(value, _group_name(value))
            c = POPULATION_COLOURS.get(value) or colour_for(value, i)
            fig.add_bar(
                x=rows[x].astype(str),
                y=100 * rows["rate"],
                name=name,
                legendgroup=name,
                showlegend=name not in in_legend,
                marker_color=c,
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=100 * (rows["ci_high"] - rows["rate"]),
                    arrayminus=100 * (rows["rate"] - rows["ci_low"]),
                    color="#333",
                    thickness=1.2,
                ),
                customdata=rows[["k", "n", "ci_low", "ci_high"]].to_numpy(),
                hovertemplate=(
                    f"{name}<br>%{{x}}: %{{y:.0f}}% (%{{customdata[0]}}/%{{customdata[1]}})"
                    "<br>95% CI %{customdata[2]:.0%}–%{customdata[3]:.0%}<extra></extra>"
                ),
                row=row + 1,
                col=col + 1,
            )
            in_legend.add(name)
    _style(fig, title=title, x_title="", y_title="")
    fig.update_layout(
        barmode="group",
        height=120 + 340 * n_rows,
        # the legend sits above the panel titles, in the figure's own margin
        legend=dict(yref="container", y=0.995, yanchor="top", orientation="h", x=0),
        margin=dict(t=110 if title else 80),
    )
    fig.update_xaxes(type="category")
    for r in range(1, n_rows + 1):
        fig.update_xaxes(title_text=x_title, row=r)
        fig.update_yaxes(title_text=y_title, row=r, col=1)
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    return fig


def change_bars_figure(
    frame: pd.DataFrame,
    *,
    category: str,
    x_title: str = "Mean change (points)",
    y_title: str = "",
    group: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Horizontal bars of mean change with 95% CI whiskers (clusters, items).

    ``frame`` columns: ``category``, ``mean_change``, ``ci_low``, ``ci_high``, ``n``.
    """
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        fig.add_bar(
            y=part[category].astype(str),
            x=part["mean_change"],
            orientation="h",
            name=name,
            marker_color=colour if group else "#1f5f8b",
            error_x=dict(
                type="data",
                symmetric=False,
                array=part["ci_high"] - part["mean_change"],
                arrayminus=part["mean_change"] - part["ci_low"],
                color="#333",
            ),
            customdata=part[["ci_low", "ci_high", "n"]].to_numpy(),
            hovertemplate=(
                "%{y}: %{x:.1f} points (95% CI %{customdata[0]:.1f}–%{customdata[1]:.1f})"
                "<br>n = %{customdata[2]}<extra></extra>"
            ),
        )
    _style(fig, title=title, x_title=x_title, y_title=y_title)
    fig.update_layout(barmode="group", showlegend=group is not None)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


# --------------------------------------------------------------------------- durability
def km_figure(
    frame: pd.DataFrame,
    *,
    group: str | None = None,
    medians: pd.DataFrame | None = None,
    y_title: str = "Still responding (%)",
    x_title: str = "Days since response",
    title: str | None = None,
) -> go.Figure:
    """Kaplan-Meier step curves with a 95% CI band and the median as a dashed line.

    ``frame`` columns: ``time``, ``survival``, ``ci_low``, ``ci_high``, ``at_risk`` and
    optionally ``group``. ``medians`` columns: ``median`` (days; NaN = not reached) and ``group``
    when grouped.
    """
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        part = part.sort_values("time")
        fig.add_scatter(
            x=pd.concat([part["time"], part["time"].iloc[::-1]]),
            y=100 * pd.concat([part["ci_high"], part["ci_low"].iloc[::-1]]),
            fill="toself",
            fillcolor=_rgba(colour, 0.16),
            mode="lines",
            line=dict(width=0, shape="hv"),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
            name=f"{name} 95% CI",
        )
        fig.add_scatter(
            x=part["time"],
            y=100 * part["survival"],
            mode="lines",
            line=dict(color=colour, width=2.5, shape="hv"),
            name=name,
            legendgroup=name,
            customdata=part[["ci_low", "ci_high", "at_risk"]].to_numpy(),
            hovertemplate=(
                f"{name}<br>day %{{x}}: %{{y:.0f}}% (95% CI %{{customdata[0]:.0%}}–"
                "%{customdata[1]:.0%})<br>at risk: %{customdata[2]}<extra></extra>"
            ),
        )
    if medians is not None:
        for i, row in enumerate(medians.itertuples(index=False)):
            if pd.notna(row.median):
                fig.add_vline(
                    x=row.median,
                    line=dict(dash="dash", color=NEUTRAL, width=1.5),
                    annotation_text=f"median {row.median:.0f} d",
                    annotation_position="top right" if i % 2 == 0 else "bottom right",
                )
    fig.add_hline(y=50, line=dict(dash="dot", color="#999", width=1))
    _style(fig, title=title, x_title=x_title, y_title=y_title)
    fig.update_yaxes(range=[0, 102], ticksuffix="%")
    return fig


# --------------------------------------------------------------------------- safety
def side_effect_figure(
    frame: pd.DataFrame,
    *,
    group: str | None = None,
    reference: pd.DataFrame | None = None,
    x_title: str = "Patients with the effect at least once (%)",
    title: str | None = None,
) -> go.Figure:
    """Side-effect rates as horizontal bars with CIs, beside the label's reference rates.

    ``frame`` columns: ``effect`` (label), ``rate``, ``ci_low``, ``ci_high``, ``k``, ``n`` and
    optionally ``group``. ``reference`` columns: ``effect``, ``rate`` (drawn as black diamonds
    named :data:`LABEL_REFERENCE_NAME`).
    """
    order = (
        frame.groupby("effect")["rate"].max().sort_values(ascending=False).index.tolist()
        if not frame.empty
        else []
    )
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        fig.add_bar(
            y=part["effect"],
            x=100 * part["rate"],
            orientation="h",
            name=name,
            marker_color=colour if group else "#1f5f8b",
            error_x=dict(
                type="data",
                symmetric=False,
                array=100 * (part["ci_high"] - part["rate"]),
                arrayminus=100 * (part["rate"] - part["ci_low"]),
                color="#333",
            ),
            customdata=part[["k", "n", "ci_low", "ci_high"]].to_numpy(),
            hovertemplate=(
                f"{name}<br>%{{y}}: %{{x:.0f}}% (%{{customdata[0]}}/%{{customdata[1]}})"
                "<br>95% CI %{customdata[2]:.0%}–%{customdata[3]:.0%}<extra></extra>"
            ),
        )
    if reference is not None and not reference.empty:
        ref = reference[reference["effect"].isin(order)] if order else reference
        fig.add_scatter(
            y=ref["effect"],
            x=100 * ref["rate"],
            mode="markers",
            name=LABEL_REFERENCE_NAME,
            marker=dict(
                symbol="diamond", size=12, color="black", line=dict(width=1, color="white")
            ),
            hovertemplate=LABEL_REFERENCE_NAME + "<br>%{y}: %{x:.0f}%<extra></extra>",
        )
    _style(fig, title=title, x_title=x_title, y_title="")
    fig.update_layout(barmode="group", height=max(380, 60 + 34 * max(len(order), 1)))
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed")
    fig.update_xaxes(ticksuffix="%", rangemode="tozero")
    return fig


def distribution_figure(
    frame: pd.DataFrame,
    *,
    value: str,
    x_title: str,
    y_title: str = "Sessions (count)",
    group: str | None = None,
    thresholds: Sequence[tuple[float, str]] = (),
    title: str | None = None,
) -> go.Figure:
    """A histogram of ``value`` (e.g. systolic rise) with labelled threshold lines.

    Up to ``BIN_IN_BROWSER`` rows go to the browser as they are; above that, the same 1-unit
    bins are counted here, so a million sessions do not travel as a million points.
    """
    fig = go.Figure()
    for name, part, colour in _groups(frame, group):
        values = part[value].dropna().to_numpy(float)
        if len(values) <= BIN_IN_BROWSER:
            fig.add_histogram(
                x=values,
                xbins=dict(size=1),
                name=name,
                marker_color=colour,
                opacity=0.75,
                hovertemplate=f"{name}<br>%{{x}}: %{{y}}<extra></extra>",
            )
            continue
        edges = np.arange(np.floor(values.min()), np.ceil(values.max()) + 2)
        counts, edges = np.histogram(values, bins=edges)
        fig.add_bar(
            x=edges[:-1],
            y=counts,
            width=1,
            name=name,
            marker_color=colour,
            opacity=0.75,
            hovertemplate=f"{name}<br>%{{x}}: %{{y}}<extra></extra>",
        )
    for x, label in thresholds:
        fig.add_vline(
            x=x,
            line=dict(dash="dash", color="#b22222"),
            annotation_text=label,
            annotation_position="top right",
        )
    _style(fig, title=title, x_title=x_title, y_title=y_title)
    fig.update_layout(barmode="overlay", bargap=0.05)
    return fig


# --------------------------------------------------------------------------- cohorts
def funnel_figure(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Attrition funnel. ``frame`` columns: ``stage``, ``n`` (and optionally ``pct``)."""
    fig = go.Figure(
        go.Funnel(
            y=frame["stage"],
            x=frame["n"],
            textinfo="value+percent initial",
            marker=dict(color="#1f5f8b"),
            hovertemplate="%{y}: %{x:,} patients (%{percentInitial:.0%} of first stage)"
            "<extra></extra>",
        )
    )
    _style(fig, title=title, x_title="Patients (count)", y_title="")
    return fig


def patient_timeline_figure(
    scores: pd.DataFrame,
    sessions: pd.DataFrame,
    effects: pd.DataFrame,
    *,
    title: str | None = None,
) -> go.Figure:
    """One patient: scores by instrument over days, sessions as ticks, side effects as marks.

    ``scores`` columns ``day``, ``instrument``, ``score``; ``sessions`` columns ``day``,
    ``route``, ``session_number``; ``effects`` columns ``day``, ``effect`` (label).
    """
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.75, 0.25],
        vertical_spacing=0.06,
    )
    for i, (instrument, part) in enumerate(scores.groupby("instrument", sort=True)):
        fig.add_scatter(
            x=part["day"],
            y=part["score"],
            mode="lines+markers",
            name=str(instrument),
            line=dict(color=GROUP_PALETTE[i % len(GROUP_PALETTE)], width=2.5),
            hovertemplate=f"{instrument}<br>day %{{x}}: %{{y}}<extra></extra>",
            row=1,
            col=1,
        )
    for i, (route, part) in enumerate(sessions.groupby("route", sort=True)):
        fig.add_scatter(
            x=part["day"],
            y=["Sessions"] * len(part),
            mode="markers",
            name=route_label(route),
            marker=dict(symbol="line-ns-open", size=16, color=colour_for(route, i)),
            customdata=part[["session_number"]].to_numpy(),
            hovertemplate="session %{customdata[0]}, day %{x}<extra></extra>",
            row=2,
            col=1,
        )
    if not effects.empty:
        grouped = effects.groupby("day")["effect"].agg(lambda s: ", ".join(map(str, s)))
        fig.add_scatter(
            x=grouped.index,
            y=["Side effects"] * len(grouped),
            mode="markers",
            name="Side effects",
            marker=dict(symbol="x", size=10, color="#b22222"),
            text=grouped.to_numpy(),
            hovertemplate="day %{x}: %{text}<extra></extra>",
            row=2,
            col=1,
        )
    _style(fig, title=title, x_title="", y_title="")
    fig.update_xaxes(title_text="Days since first session", row=2, col=1)
    fig.update_yaxes(title_text="Score (points)", rangemode="tozero", row=1, col=1)
    fig.update_layout(height=520)
    return fig
