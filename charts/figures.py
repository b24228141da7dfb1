"""Every chart of the dashboard: pure functions of tidy frames returning ``go.Figure``.

No function here calls Streamlit or computes a statistic; each draws columns the analytics
produced (means, rates, bounds). One label vocabulary serves every chart, and every colour
comes from :mod:`charts.colours`, one palette per meaning: IV ketamine has the same colour on every
page, and no other meaning (a population, an instrument, a count) uses it. Each trace says
what its colour means in ``meta["meaning"]`` ("route:iv_ketamine", "population:itt",
"reference", "too few"), which the colour tests read.

Published figures (:class:`Reference`, the Spravato label's rates) are grey diamonds, on a
dotted line with a grey band for their interval on charts of rates, the source in the hover.

Small samples never look like facts:

- every bar or point carries its n (on the bar, or in the hover with the axis title saying so);
- an estimate from fewer than ``min_n`` patients is drawn grey and hatched (or as an open grey
  marker) and labelled "too few patients (n = 3)";
- a mean of fewer than :data:`MIN_N_FOR_INTERVAL` patients has no interval drawn;
- an interval running past the scale (0-100% for rates, an instrument's 0-80) is clipped in the
  drawing only, and the hover and the axis note say so: the numbers themselves are never
  clipped;
- values within rounding of zero are written 0 (:func:`format_percent`, :func:`format_points`),
  never "2.8e-17" or "-0".
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from analytics.core.stats import MIN_N_FOR_INTERVAL
from charts import colours
from charts.colours import CUT_COLOUR, GROUP_PALETTE, SMALL_COLOUR

__all__ = [
    "GROUP_PALETTE",
    "LABEL_REFERENCE_NAME",
    "MIN_N_FOR_INTERVAL",
    "POPULATION_COLOURS",
    "REFERENCE_NAME",
    "Reference",
    "SMALL_COLOUR",
    "TOO_FEW",
    "ROUTE_COLOURS",
    "counts_by_period_figure",
    "change_bars_figure",
    "colour_for",
    "distribution_figure",
    "format_percent",
    "format_points",
    "funnel_figure",
    "km_figure",
    "meaning_of",
    "mean_score_figure",
    "n_label",
    "patient_timeline_figure",
    "rate_bars_figure",
    "route_label",
    "side_effect_figure",
    "spaghetti_figure",
]

# The colours live in charts.colours, one palette per meaning; these names are kept for the pages.
ROUTE_COLOURS = colours.ROUTE
POPULATION_COLOURS = colours.POPULATION
POPULATION_LABELS = {"observed": "Observed", "itt": "Intention to treat"}
ALL_PATIENTS = "All patients"
NEUTRAL = colours.ALL_PATIENTS_COLOUR
LABEL_REFERENCE_NAME = "Spravato label (trials; different population)"
# Histograms of more rows than this are binned before they reach the browser.
BIN_IN_BROWSER = 50_000
# Estimates from fewer patients than a chart's min_n: light grey, hatched, and said in words.
SMALL_PATTERN = "/"
TOO_FEW = "too few patients"
# Below these a value is rounding noise (a proportion of 2.8e-17, a change of -0.01 points).
TINY_PROPORTION = 0.0005
TINY_POINTS = 0.05
NOTE_STYLE = f"font-size:12px;color:{colours.INK_SOFT}"
CLIPPED_AT = "interval drawn clipped at "

FALLBACK_ROUTE_LABELS = {
    "iv_ketamine": "IV ketamine",
    "esketamine_nasal": "Esketamine nasal (Spravato)",
    "im_ketamine": "IM ketamine",
    "oral_ketamine": "Oral ketamine",
    "sublingual_ketamine": "Sublingual ketamine",
    "intranasal_ketamine": "Intranasal ketamine",
}
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=14, color=colours.INK)


def route_label(code: str) -> str:
    """A route code in words, from :data:`analytics.ingest.vocabularies.ROUTES` when it is there."""
    try:
        from analytics.ingest.vocabularies import ROUTES
    except ImportError:
        ROUTES = {}
    label = ROUTES.get(code) if isinstance(ROUTES, dict) else None
    if isinstance(label, str):
        return label
    return FALLBACK_ROUTE_LABELS.get(code, str(code).replace("_", " "))


def _route_code(group) -> str | None:
    """The route code of ``group``, given as a code or in words ("IV ketamine"), else None."""
    if group in ROUTE_COLOURS:
        return group
    for code in ROUTE_COLOURS:
        if group == route_label(code) or group == FALLBACK_ROUTE_LABELS[code]:
            return code
    return None


def colour_for(group: str, index: int = 0) -> str:
    """The colour of a route (fixed, by code or in words) or of the ``index``-th other group.

    Other groups (sites, severity bands) take :data:`charts.colours.GROUP_PALETTE` in order, which
    no route, population or instrument shares.
    """
    code = _route_code(group)
    if code is not None:
        return ROUTE_COLOURS[code]
    if group == ALL_PATIENTS:
        return NEUTRAL
    return GROUP_PALETTE[index % len(GROUP_PALETTE)]


def meaning_of(group, index: int = 0) -> str:
    """What the colour of ``group`` means, as carried in each trace's ``meta["meaning"]``:
    ``"route:iv_ketamine"``, ``"all patients"``, or ``"group 2"`` (an arbitrary group's colour
    says only its place in the legend)."""
    code = _route_code(group)
    if code is not None:
        return f"route:{code}"
    if group == ALL_PATIENTS:
        return "all patients"
    return f"group {index % len(GROUP_PALETTE) + 1}"


def _meta(meaning: str) -> dict:
    """A trace's ``meta``: the meaning of its colour, read by the colour tests (not drawn)."""
    return {"meaning": meaning}


_rgba = colours.rgba


def _group_name(group) -> str:
    return route_label(group) if group in ROUTE_COLOURS else str(group)


def _groups(frame: pd.DataFrame, group: str | None) -> list[tuple[str, pd.DataFrame, str, str]]:
    """(name in words, rows, colour, meaning of the colour) per group, in order."""
    if group is None or group not in frame:
        return [(ALL_PATIENTS, frame, NEUTRAL, "all patients")]
    out = []
    for i, (value, part) in enumerate(frame.groupby(group, sort=True, dropna=False)):
        value = "unknown" if pd.isna(value) else value
        out.append((_group_name(value), part, colour_for(value, i), meaning_of(value, i)))
    return out


# Every chart is drawn in Plotly's "plotly_white" template.
_TEMPLATE = "plotly_white"


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """The figure of ``data`` (one dict a trace, with its ``type``) and ``layout``, in the
    plotly_white template.

    Every chart is built as plain dicts and validated once, here: Plotly validates the whole
    figure again on each ``add_trace``, ``update_layout``, ``add_annotation`` and
    ``make_subplots``, which made the five charts of Outcomes cost 0.2-0.4 CPU s a run instead
    of 0.06 s.
    """
    fig = go.Figure(data=data, layout=layout)
    # The registered template is set as Plotly sets its default one (BaseFigure.
    # _initialize_layout_template): as a copy of its JSON, not copied and validated again as
    # setting it by name does (11 ms a figure, under 1 ms so). Plotly is pinned; a test checks
    # the template drawn is plotly_white's and that the figure owns its copy.
    fig.layout._validate = False
    try:
        fig.layout.template = pio.templates[_TEMPLATE]
    finally:
        fig.layout._validate = fig._validate
    return fig


def _merged(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra`` as ``update_layout`` merges: dicts key by key, the rest
    replaced; neither is changed.

    Examples
    --------
    >>> _merged({"legend": {"x": 0, "y": 1}, "height": 300}, {"legend": {"y": 0.9}})
    {'legend': {'x': 0, 'y': 0.9}, 'height': 300}
    """
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _axis(title: str) -> dict:
    """An axis titled ``title``, 10 px off the ticks, with the margin the title needs."""
    return {"title": {"text": title, "standoff": 10}, "automargin": True}


def _layout(
    *,
    title: str | None,
    x_title: str,
    y_title: str,
    axes: dict[str, dict] | None = None,
    **more,
) -> dict:
    """The layout every chart shares: the app's type, the title at the left, a horizontal
    legend above the plot, hover text in 13 px; each axis of ``axes`` (``{"xaxis": {...}}``,
    the single pair by default) titled ``x_title`` or ``y_title``; ``more`` merged over it."""
    layout = {
        "font": FONT,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "margin": {"l": 70, "r": 30, "t": 80 if title else 50, "b": 70},
        "hoverlabel": {"font": {"size": 13}},
    }
    if title:
        layout["title"] = {"text": title, "x": 0, "xanchor": "left", "font": {"size": 17}}
    for name, axis in (axes or {"xaxis": {}, "yaxis": {}}).items():
        layout[name] = {**axis, **_axis(x_title if name.startswith("x") else y_title)}
    return _merged(layout, more)


def hline(
    y, line: dict, text: str | None = None, font: dict | None = None
) -> tuple[dict, dict | None]:
    """A line across the plot at ``y`` (and its words at the right end, just above it), as
    ``add_hline(annotation_position="top right")`` draws it: (shape, annotation or None)."""
    shape = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=y, y1=y, line=line)
    if text is None:
        return shape, None
    words = dict(text=text, showarrow=False, xref="x domain", x=1, xanchor="right")
    words |= dict(yref="y", y=y, yanchor="bottom")
    return shape, words | ({"font": font} if font is not None else {})


def vline(x, line: dict, text: str | None = None, *, top: bool = True) -> tuple[dict, dict | None]:
    """A line up the plot at ``x`` and its words just right of it at the top (or bottom), as
    ``add_vline(annotation_position="top right")`` draws it: (shape, annotation or None)."""
    shape = dict(type="line", xref="x", x0=x, x1=x, yref="y domain", y0=0, y1=1, line=line)
    if text is None:
        return shape, None
    words = dict(text=text, showarrow=False, xref="x", x=x, xanchor="left", yref="y domain")
    return shape, words | (dict(y=1, yanchor="top") if top else dict(y=0, yanchor="bottom"))


def _axis_names(index: int) -> tuple[str, str]:
    """The x and y axis ids of the ``index``-th subplot (from 1): ``("x", "y")``, ``("x2",
    "y2")``..."""
    suffix = "" if index == 1 else str(index)
    return f"x{suffix}", f"y{suffix}"


def subplot_grid(
    rows: int,
    cols: int,
    *,
    horizontal_spacing: float | None = None,
    vertical_spacing: float | None = None,
    row_heights: Sequence[float] | None = None,
    shared_xaxes: bool = False,
    shared_yaxes: bool = False,
    titles: Sequence[str] | None = None,
) -> tuple[dict[str, dict], list[dict]]:
    """The axes (``{"xaxis": {...}, "yaxis": {...}, "xaxis2": ...}``) and title annotations
    of ``make_subplots`` with these arguments, computed as Plotly computes them (subplots
    numbered from the top left, row by row), without building a figure.

    Shared x axes match the bottom row's and hide their tick labels; shared y axes match the
    first column's.
    """
    hs = 0.2 / cols if horizontal_spacing is None else horizontal_spacing
    if vertical_spacing is None:
        vs = (0.3 if titles is None else 0.5) / rows  # titled rows get more room between them
    else:
        vs = vertical_spacing
    widths = [(1.0 - hs * (cols - 1)) / cols] * cols
    if row_heights is None:
        heights = [(1.0 - vs * (rows - 1)) / rows] * rows
    else:
        total = float(sum(row_heights))
        heights = [(1.0 - vs * (rows - 1)) * (h / total) for h in row_heights][::-1]

    def _clamped(y: float) -> float:
        # Plotly's rounding of values within 0.01 past the edges
        return 0.0 if -0.01 < y < 0.0 else 1.0 if 1.0 < y < 1.01 else y

    axes: dict[str, dict] = {}
    domains = []
    for r in range(rows):
        below = rows - 1 - r  # rows under this one
        y_start = sum(heights[:below]) + below * vs
        y_domain = [_clamped(y_start + 0.0), _clamped(y_start + heights[-1 - r] - 0.0)]
        for c in range(cols):
            x_start = sum(widths[:c]) + c * hs
            x_domain = [x_start + 0.0, x_start + widths[c] - 0.0]
            x, y = _axis_names(r * cols + c + 1)
            axes[f"xaxis{x[1:]}"] = {"anchor": y, "domain": x_domain}
            axes[f"yaxis{y[1:]}"] = {"anchor": x, "domain": y_domain}
            domains.append((x_domain, y_domain))
    if shared_xaxes:
        for c in range(cols):
            first = _axis_names((rows - 1) * cols + c + 1)[0]
            for r in range(rows - 1):
                x = _axis_names(r * cols + c + 1)[0]
                axes[f"xaxis{x[1:]}"] |= {"matches": first, "showticklabels": False}
    if shared_yaxes:
        for r in range(rows):
            first = _axis_names(r * cols + 1)[1]
            for c in range(1, cols):
                y = _axis_names(r * cols + c + 1)[1]
                axes[f"yaxis{y[1:]}"] |= {"matches": first, "showticklabels": False}
    annotations = [
        dict(
            text=text,
            showarrow=False,
            font=dict(size=16),
            xref="paper",
            x=sum(x_domain) / 2.0,
            xanchor="center",
            yref="paper",
            y=y_domain[1],
            yanchor="bottom",
        )
        for text, (x_domain, y_domain) in zip(titles or (), domains)
        if text
    ]
    return axes, annotations


def _missing(x) -> bool:
    return x is None or bool(pd.isna(x))


def _rounded(x: float, digits: int, tolerance: float, *, signed: bool = False) -> str:
    # |x| under the tolerance, and anything that rounds to zero, is written "0" (never "-0")
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    if abs(x) < tolerance or float(text) == 0:
        return f"{0:.{digits}f}"
    return text


def format_percent(p, digits: int = 0) -> str:
    """A proportion (0-1) as a percentage; within :data:`TINY_PROPORTION` of zero it is "0%".

    Examples
    --------
    >>> format_percent(2.8e-17), format_percent(-1e-9), format_percent(0.6667)
    ('0%', '0%', '67%')
    >>> format_percent(None)
    '–'
    """
    if _missing(p):
        return "–"
    return _rounded(100 * float(p), digits, 100 * TINY_PROPORTION) + "%"


def format_points(x, digits: int = 1, *, signed: bool = False) -> str:
    """A score or change in points; within :data:`TINY_POINTS` of zero it is "0.0".

    Examples
    --------
    >>> format_points(-1e-12), format_points(38.333), format_points(-4, signed=True)
    ('0.0', '38.3', '-4.0')
    """
    if _missing(x):
        return "–"
    return _rounded(float(x), digits, TINY_POINTS, signed=signed)


_pct = format_percent


def n_label(n, min_n: int = 10, *, unit: str = "patients") -> str:
    """``"n = 57"``, or ``"too few patients (n = 3)"`` below ``min_n``.

    Examples
    --------
    >>> n_label(57), n_label(3), n_label(4, 5, unit="sessions")
    ('n = 57', 'too few patients (n = 3)', 'too few sessions (n = 4)')
    """
    n = 0 if _missing(n) else int(n)
    if n < min_n:
        return f"too few {unit} (n = {n:,})"
    return f"n = {n:,}"


def _bounds(low, high) -> tuple[float | None, float | None]:
    """Both bounds as floats, or (None, None) when either is missing."""
    return (None, None) if _missing(low) or _missing(high) else (float(low), float(high))


def _too_few(n, min_n: int) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(n), errors="coerce").fillna(0), float) < min_n


def _interval_text(low, high, fmt, clipped: str = "") -> str:
    if _missing(low) or _missing(high):
        return "no interval"
    return f"95% CI {fmt(low)} to {fmt(high)}" + (f"; {clipped}" if clipped else "")


def _clipped_bounds(
    low: np.ndarray, high: np.ndarray, scale: tuple[float, float] | None, fmt
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The bounds as drawn (clipped to ``scale``) and, per bound, the words saying so."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    if scale is None:
        return low, high, [""] * len(low)
    bottom, top = scale
    with np.errstate(invalid="ignore"):
        under, over = low < bottom, high > top
    words = []
    for u, o in zip(under, over):
        ends = [fmt(bottom)] * bool(u) + [fmt(top)] * bool(o)
        words.append(CLIPPED_AT + " and ".join(ends) if ends else "")
    return np.where(under, bottom, low), np.where(over, top, high), words


def _notes(
    *, measure: str, min_n: int, small: bool, clipped: Sequence[str], unit: str = "patients"
) -> list[str]:
    """The words under a chart: where n is, what grey means, whether an interval was clipped."""
    notes = [measure]
    if small:
        notes.append(f"grey, hatched: fewer than {min_n} {unit} (too few to read as a result)")
    ends = {e for w in clipped if w for e in w.removeprefix(CLIPPED_AT).split(" and ")}
    if ends:
        ordered = sorted(ends, key=lambda e: float(e.rstrip("%")))
        notes.append(f"intervals clipped at {' and '.join(ordered)} in the drawing only")
    return notes


def _with_notes(title: str, notes: Sequence[str]) -> str:
    """An axis title with the chart's notes in a smaller line under it."""
    # one note a line: a chart in half a page would cut a long line off at both ends
    lines = "<br>".join(f"<span style='{NOTE_STYLE}'>{note}</span>" for note in notes)
    return f"{title}<br>{lines}" if title else lines


def _bar_colours(colour: str, small: np.ndarray) -> dict:
    """Marker settings of bars: the group's colour, or grey and hatched where n is too small."""
    return dict(
        color=[SMALL_COLOUR if s else colour for s in small],
        # the hatching's colour per bar too, so a bar of enough patients carries no grey
        pattern=dict(
            shape=[SMALL_PATTERN if s else "" for s in small],
            fgcolor=[colours.SMALL_EDGE if s else colour for s in small],
        ),
    )


def _whisker(above, below, colour: str, **style) -> dict:
    """An asymmetric error bar of ``above``/``below`` lengths in ``colour`` (one style for
    every interval the charts draw; ``style`` adds e.g. ``thickness`` or ``visible``)."""
    return dict(type="data", symmetric=False, array=above, arrayminus=below, color=colour, **style)


def _bar_text(n, min_n: int, unit: str = "patients", *, colour: str, upright: bool = False) -> dict:
    """The n written on each bar (inside when it fits, else beside it), in the ink that reads
    on the bar's ``colour`` (dark on grey and light bars, white on dark ones). ``upright``
    writes it along a vertical bar, where grouped bars are too narrow for the words across
    them; the text is never shrunk out of sight."""
    small = _too_few(n, min_n)
    ink = colours.text_on(colour)
    return dict(
        text=[n_label(v, min_n, unit=unit) for v in n],
        textposition="auto",
        insidetextanchor="start",
        insidetextfont=dict(color=[colours.INK if s else ink for s in small], size=12),
        outsidetextfont=dict(color=colours.INK, size=12),
        textangle=-90 if upright else 0,
        constraintext="none",
        cliponaxis=False,
    )


# --------------------------------------------------------------------------- activity
def counts_by_period_figure(
    frame: pd.DataFrame,
    *,
    period: str = "period",
    x_title: str = "Year",
    title: str | None = None,
) -> go.Figure:
    """New starts and sessions given per period, side by side, each bar with its count.

    ``frame`` columns: ``period`` (label), ``new_starts``, ``sessions``. Counts are not
    estimates, so no bar is greyed.
    """
    # The panel titles say what is counted; no y-axis titles: at half of a 1024 px page the
    # second panel's title ran into the first panel's bars. The caption beside the chart says
    # that sessions are counted by their patient's start year (calendar dates are not kept).
    axes, titles = subplot_grid(
        1, 2, horizontal_spacing=0.14, titles=("New patients", "Their sessions")
    )
    x = frame[period].astype(str)
    data = []
    for col, column, name, key, unit in (
        (1, "new_starts", "New patients", "new_patients", "new patients"),
        (2, "sessions", "Sessions", "sessions", "sessions"),
    ):
        x_axis, y_axis = _axis_names(col)
        data.append(
            dict(
                type="bar",
                x=x,
                y=frame[column],
                name=name,
                marker_color=colours.ACTIVITY[key],
                meta=_meta(f"activity:{key}"),
                text=[_count_text(v) for v in frame[column]],
                textposition="outside",
                cliponaxis=False,
                textfont=dict(size=12, color=colours.INK),
                hovertemplate=f"%{{x}}: %{{y:,}} {unit}<extra></extra>",
                xaxis=x_axis,
                yaxis=y_axis,
            )
        )
        # headroom for the count printed above the tallest bar
        top = pd.to_numeric(frame[column], errors="coerce").max()
        top = float(top) if pd.notna(top) and top > 0 else 1.0
        axes[f"xaxis{x_axis[1:]}"]["type"] = "category"
        axes[f"yaxis{y_axis[1:]}"]["range"] = [0, 1.15 * top]
    layout = _layout(
        title=title, x_title=x_title, y_title="", axes=axes, annotations=titles, showlegend=False
    )
    layout["xaxis"]["title"]["text"] = _with_notes(x_title, ["count on each bar"])
    return _figure(data, layout)


def _count_text(value) -> str:
    """A count with thousands separators ("1,204"); a missing count is "–"."""
    return "–" if _missing(value) else f"{int(value):,}"


# --------------------------------------------------------------------------- outcomes
def _x_words(part: pd.DataFrame, x: str) -> list[str]:
    if "label" in part:
        return [str(v) for v in part["label"]]
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in part[x]]


def _runs(flags: np.ndarray) -> list[np.ndarray]:
    """Positions of each run of consecutive True values."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int), [0]])))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2])]


def mean_score_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    y_title: str,
    x_title: str,
    group: str | None = None,
    title: str | None = None,
    min_n: int = 10,
    scale: tuple[float, float] | None = None,
    print_n: bool = True,
    cut: tuple[float, str] | None = None,
) -> go.Figure:
    """Mean score by time with its 95% CI band, one line per group; every point says its n.

    ``frame`` columns: ``x``, ``mean``, ``ci_low``, ``ci_high``, ``n`` and optionally ``group``
    and ``label`` (the bin's name, shown in the hover).

    Points of fewer than ``min_n`` patients are open grey markers off the line, labelled "too
    few patients (n = 3)". Points of fewer than :data:`MIN_N_FOR_INTERVAL` patients get no
    interval, and open grey points no whisker (the hover gives it). With ``scale`` (e.g.
    ``(0, 80)`` for the PCL-5) the y axis spans it and the band is clipped to it in the
    drawing, which the hover and the note under the chart say. With one line and ``print_n``,
    the n is also printed beside the points far enough apart to read; otherwise (several
    lines, or a chart too small to print on) every n is in the hover. ``cut``: a score and its
    words, drawn as a labelled dashed line across the chart (the remission cut-point,
    "remission: below 33").
    """
    data = []
    groups = _groups(frame, group)
    fmt = format_points
    any_small, clipped_words = False, []
    for name, part, colour, meaning in groups:
        part = part.sort_values(x)
        n = part["n"].to_numpy()
        small = _too_few(n, min_n)
        any_small |= bool(small.any())
        low = part["ci_low"].to_numpy(float)
        high = part["ci_high"].to_numpy(float)
        # no interval for a mean of fewer than three, whatever the table says
        no_ci = _too_few(n, MIN_N_FOR_INTERVAL) | np.isnan(low) | np.isnan(high)
        low, high = np.where(no_ci, np.nan, low), np.where(no_ci, np.nan, high)
        draw_low, draw_high, clipped = _clipped_bounds(low, high, scale, fmt)
        # the note speaks of drawn intervals only; open grey points have none on the chart
        clipped_words += [c for c, s in zip(clipped, small) if not s]
        xs, words = part[x].to_numpy(), _x_words(part, x)
        hover = [
            f"{name}<br>{x_title}: {w}<br>mean {fmt(m)} "
            f"({_interval_text(lo, hi, fmt, c)})<br>{n_label(k, min_n)}"
            for w, m, lo, hi, c, k in zip(words, part["mean"], low, high, clipped, n)
        ]
        # the band over runs of solid points with an interval; None between runs
        band_x: list = []
        band_y: list = []
        lone = np.zeros(len(part), dtype=bool)
        for run in _runs(~small & ~no_ci):
            if len(run) == 1:
                lone[run] = True  # a single point: a whisker, not a band
                continue
            band_x += [*xs[run], *xs[run][::-1], None]
            band_y += [*draw_high[run], *draw_low[run][::-1], None]
        if band_x:
            data.append(
                dict(
                    type="scatter",
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
                    meta=_meta(meaning),
                )
            )
        # a lone solid point gets a whisker; open grey points none (their hover has it)
        whisker = ~no_ci & lone & ~small
        mean = part["mean"].to_numpy(float)
        label_points = len(groups) == 1 and print_n
        labelled = _labelled(xs, small)
        data.append(
            dict(
                type="scatter",
                x=xs,
                y=np.where(small, np.nan, mean),
                mode="lines+markers+text" if label_points else "lines+markers",
                name=name,
                legendgroup=name,
                line=dict(color=colour, width=2.5),
                marker=dict(size=7),
                meta=_meta(meaning),
                connectgaps=False,
                text=[
                    n_label(k, min_n) if room else "" for k, room in zip(n, labelled, strict=True)
                ],
                # above and below by turns, so the labels of close bins do not overlap
                textposition=[
                    ("top center", "bottom center")[i % 2] for i in np.cumsum(labelled) - 1
                ],
                textfont=dict(size=10, color=colours.INK_SOFT),
                error_y=_whisker(
                    np.where(whisker, draw_high - mean, np.nan),
                    np.where(whisker, mean - draw_low, np.nan),
                    colour,
                    thickness=1.2,
                ),
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
        if small.any():
            data.append(
                dict(
                    type="scatter",
                    x=xs[small],
                    y=mean[small],
                    mode="markers",
                    name=f"{name}: {TOO_FEW}",
                    legendgroup=name,
                    showlegend=False,
                    marker=dict(
                        size=8, symbol="circle-open", color=colours.SMALL_EDGE, line=dict(width=1.5)
                    ),
                    meta=_meta("too few"),
                    text=[n_label(k, min_n) for k in n[small]],
                    hovertext=np.asarray(hover, dtype=object)[small],
                    hovertemplate="%{hovertext}<extra></extra>",
                )
            )
    notes = _notes(
        measure=(
            "n on the points, every n in the hover"
            if len(groups) == 1 and print_n
            else "n in the hover"
        ),
        min_n=min_n,
        small=False,
        clipped=clipped_words,
    )
    if any_small:
        notes.insert(1, f"open grey: fewer than {min_n} patients")
    layout = _layout(title=title, x_title=_with_notes(x_title, notes), y_title=y_title)
    if scale is not None:
        layout["yaxis"]["range"] = [float(scale[0]), float(scale[1])]
    if cut is not None:
        line, words = hline(
            float(cut[0]),
            dict(color=CUT_COLOUR, dash="dash", width=1.2),
            cut[1],
            font=dict(size=11, color=CUT_COLOUR),
        )
        layout |= {"shapes": [line], "annotations": [words]}
    return _figure(data, layout)


def _labelled(xs, small: np.ndarray) -> np.ndarray:
    """Which solid points of a line print their n: :func:`_spaced_out` among the points of
    enough patients (the grey ones carry their own label in the hover)."""
    at = _positions(xs)
    out = np.zeros(len(at), dtype=bool)
    # spaced on the whole axis, so the grey points' stretch still counts in the width
    width = float(np.nanmax(at) - np.nanmin(at)) if len(at) else 0.0
    out[~small] = _spaced_out(at[~small], span=width)
    return out


def _positions(xs) -> np.ndarray:
    """Where each point sits along the x axis: its value, or its place in order when the x
    values are categories ("1", "2-3"), which a category axis spaces evenly."""
    try:
        return np.asarray(xs, dtype=float)
    except (TypeError, ValueError):
        return np.arange(len(xs), dtype=float)


def _spaced_out(xs, share: float = 0.05, *, span: float | None = None) -> np.ndarray:
    """Which points of a line get a printed label: each at least ``share`` of ``span`` (the
    axis's width; the points' own range by default) from the last one labelled, so close bins
    (day 1, week 1) do not print over each other; the others keep their n in the hover.

    Examples
    --------
    >>> _spaced_out(np.array([0.0, 0.29, 1, 2, 3, 4, 8, 12, 16, 24])).tolist()
    [True, False, False, True, False, True, True, True, True, True]
    >>> _spaced_out(np.array(["1", "2-3", "4-6"], dtype=object)).tolist()
    [True, True, True]
    """
    at = _positions(xs)
    keep = np.zeros(len(at), dtype=bool)
    if not len(at):
        return keep
    gap = share * (float(np.nanmax(at) - np.nanmin(at)) if span is None else span)
    last = -np.inf
    for i, x in enumerate(at):  # a few dozen bins
        if x - last >= gap:
            keep[i] = True
            last = x
    return keep


def _lines_per_patient(part: pd.DataFrame, x: str) -> tuple[np.ndarray, ...]:
    """x, score and patient id of each point, patient by patient (in id order) and in order
    of x within a patient, with a blank point after each patient so one trace draws a
    separate line per patient; and the number of patients.

    Examples
    --------
    >>> part = pd.DataFrame({"patient_id": ["P2", "P1", "P1"], "x": [0, 4, 1], "score": [9, 7, 8]})
    >>> xs, scores, ids, n = _lines_per_patient(part, "x")
    >>> xs.tolist(), ids.tolist(), n
    ([1.0, 4.0, nan, 0.0, nan], ['P1', 'P1', 'P1', 'P2', 'P2'], 2)
    """
    ids, patient = np.unique(part["patient_id"].to_numpy(dtype=object), return_inverse=True)
    xs, scores = part[x].to_numpy(), part["score"].to_numpy(float)
    order = np.lexsort((xs, patient))  # stable: points at the same x keep their order
    # each point moves down one place for every patient before it (their blank points)
    at = np.arange(len(order)) + patient[order]
    blank = np.cumsum(np.bincount(patient, minlength=len(ids))) + np.arange(len(ids))
    size = len(order) + len(ids)
    out_x = np.full(size, np.nan, dtype=float if xs.dtype.kind in "iuf" else object)
    out_score = np.full(size, np.nan)
    out_id = np.empty(size, dtype=object)
    out_x[at], out_score[at], out_id[at] = xs[order], scores[order], ids[patient[order]]
    out_id[blank] = ids
    return out_x, out_score, out_id, len(ids)


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
    drawn as one trace per group (gaps between patients) so thousands of lines stay fast; each
    group's name in the legend says how many patients it draws.
    """
    data = []
    for name, part, colour, meaning in _groups(frame, group):
        xs, scores, patients, n_patients = _lines_per_patient(part, x)
        data.append(
            dict(
                type="scatter",
                x=xs,
                y=scores,
                mode="lines+markers",
                name=f"{name} (n = {n_patients:,} patients)",
                line=dict(color=_rgba(colour, 0.45), width=1.2),
                marker=dict(size=4, color=colour),
                meta=_meta(meaning),
                customdata=patients[:, None],
                hovertemplate=(
                    "patient %{customdata[0]}<br>" + x_title + ": %{x}<br>score %{y}<extra></extra>"
                ),
                connectgaps=False,
            )
        )
    layout = _layout(title=title, x_title=x_title, y_title=y_title, showlegend=True)
    return _figure(data, layout)


def _rate_bars(rows: pd.DataFrame, labels, name: str, min_n: int, unit: str = "patients"):
    """What a bar chart of rates draws for ``rows`` (``k``, ``n``, ``rate``, ``ci_low``,
    ``ci_high``): n, which bars are too small, the rates, the bounds clipped to 0-100% with the
    words for each clipped one, and each bar's hover (rate, k/n, interval, n)."""
    n = rows["n"].to_numpy()
    rate = rows["rate"].to_numpy(float)
    low, high, clipped = _clipped_bounds(
        rows["ci_low"], rows["ci_high"], (0.0, 1.0), format_percent
    )
    hover = [
        f"{name}<br>{label}: {format_percent(r)} ({int(k)}/{int(m)})<br>"
        f"{_interval_text(lo, hi, format_percent, cw)}<br>{n_label(m, min_n, unit=unit)}"
        for label, r, k, m, lo, hi, cw in zip(
            labels, rate, rows["k"], n, rows["ci_low"], rows["ci_high"], clipped, strict=True
        )
    ]
    return n, _too_few(n, min_n), rate, low, high, clipped, hover


# --------------------------------------------------------------------------- references
REFERENCE_NAME = "Published"
# Every published mark: a grey diamond (and a dotted line across a panel of rates), so the
# Spravato label on Safety and a trial on Outcomes read as the same kind of thing.
REFERENCE_MARKER = dict(
    symbol="diamond",
    size=11,
    color=colours.REFERENCE_COLOUR,
    line=dict(width=1.5, color=colours.PAPER),
)
_DOI = re.compile(r"[.;,]?\s*(doi:|https?://doi\.org/)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    """A published rate drawn beside the clinic's own, for scale only.

    Attributes
    ----------
    label : str
        The few words on the chart and in the legend ("Osmind, PCL-5 response by infusion 6").
    value : float
        The published rate as a proportion in [0, 1].
    low, high : float or None
        Its 95% CI (or published range) as proportions; drawn as a grey band when both given.
    source : str
        Who published it, in words, for the hover ("Feder et al. 2021, randomised trial").
        A DOI in it is dropped: the chart names the source, the glossary gives the citation.
    facet : str or None
        The panel it belongs to (a value of ``rate_bars_figure``'s ``facet`` column, e.g.
        "Response"); None draws it on every panel.
    at : str or None
        The one category it compares with (a timepoint such as "24h"): the mark is drawn over
        that bar only, with its interval as a whisker. None draws it across the panel. A
        panel without that category draws no mark.
    """

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    source: str = ""
    facet: str | None = None
    at: str | None = None

    def __post_init__(self):
        for name in ("value", "low", "high"):
            v = getattr(self, name)
            if v is None:
                continue
            if not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= 1:
                raise ValueError(
                    f"Reference {self.label!r}: {name} must be a proportion between 0 and 1, "
                    f"got {v!r}"
                )
        if (self.low is None) != (self.high is None):
            raise ValueError(f"Reference {self.label!r}: give both low and high, or neither")
        if self.low is not None and not self.low <= self.value <= self.high:
            raise ValueError(
                f"Reference {self.label!r}: value {self.value:g} is outside its interval "
                f"{self.low:g} to {self.high:g}"
            )

    @classmethod
    def from_benchmark(
        cls, row, *, label: str, facet: str | None = None, at: str | None = None
    ) -> Reference:
        """A reference from one row of
        :func:`analytics.reference.published.published_benchmarks` (a proportion row).

        The hover names the source and population in words; the DOI is left out.
        """
        get = row.get if hasattr(row, "get") else lambda k: getattr(row, k)
        if get("unit") != "proportion":
            raise ValueError(
                f"Reference {label!r}: only a proportion can be drawn on a chart of rates, "
                f"this figure is in {get('unit')}"
            )
        low, high = get("ci_low"), get("ci_high")
        bounds = (None, None) if _missing(low) or _missing(high) else (float(low), float(high))
        source = _DOI.sub("", str(get("source"))).strip().rstrip(".")
        population = get("population")
        if not _missing(population) and population:
            source = f"{source}<br>{population}"
        return cls(label, float(get("value")), *bounds, source=source, facet=facet, at=at)

    def hover(self) -> str:
        """The words shown on hovering the mark."""
        interval = (
            f" ({_interval_text(self.low, self.high, format_percent)})"
            if self.low is not None
            else ""
        )
        lines = [f"{self.label}: {format_percent(self.value)}{interval}", self.source]
        lines.append("published figure, another population: for scale, not a target")
        return "<br>".join(line for line in lines if line)


def _reference_marks(
    ref: Reference, cats: list[str], index: int, *, show_legend: bool
) -> tuple[list[dict], dict]:
    """One published rate on the ``index``-th panel of rate bars: a grey diamond over each
    category on a dotted line, its interval as a grey band (a whisker when the panel has one
    category), its label and value written at the panel's left edge. (traces, annotation)."""
    x_axis, y_axis = _axis_names(index)
    y = 100 * ref.value
    has_ci = ref.low is not None
    if ref.at is not None:
        cats = [ref.at]
    traces = []
    if has_ci and len(cats) > 1:
        traces.append(
            dict(
                type="scatter",
                x=[*cats, *cats[::-1]],
                y=[100 * ref.high] * len(cats) + [100 * ref.low] * len(cats),
                fill="toself",
                fillcolor=colours.rgba(colours.REFERENCE_COLOUR, 0.15),
                mode="lines",
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=f"reference {ref.label}",
                name=f"{ref.label} 95% CI",
                meta=_meta("reference"),
                xaxis=x_axis,
                yaxis=y_axis,
            )
        )
    whisker = has_ci and len(cats) == 1
    traces.append(
        dict(
            type="scatter",
            x=cats,
            y=[y] * len(cats),
            mode="lines+markers",
            name=f"{REFERENCE_NAME}: {ref.label}",
            legendgroup=f"reference {ref.label}",
            showlegend=show_legend,
            line=dict(color=colours.REFERENCE_COLOUR, dash="dot", width=1.5),
            marker=REFERENCE_MARKER,
            error_y=_whisker(
                [100 * ref.high - y] if whisker else [],
                [y - 100 * ref.low] if whisker else [],
                colours.REFERENCE_COLOUR,
                thickness=1.2,
                visible=whisker,
            ),
            hovertext=[ref.hover()] * len(cats),
            hovertemplate="%{hovertext}<extra></extra>",
            meta=_meta("reference"),
            xaxis=x_axis,
            yaxis=y_axis,
        )
    )
    # the label at the panel's left edge, just above the line, on a veil of paper so it
    # reads over the bars it crosses
    # (a mark over one bar is labelled beside it instead)
    label = dict(
        text=f"{ref.label} {format_percent(ref.value)}",
        xref=f"{x_axis} domain" if ref.at is None else x_axis,
        x=0.01 if ref.at is None else ref.at,
        xanchor="left",
        xshift=0 if ref.at is None else 10,
        yref=y_axis,
        y=y,
        yanchor="bottom",
        showarrow=False,
        font=dict(size=11, color=colours.INK_SOFT),
        bgcolor=colours.rgba(colours.PAPER, 0.8),
        borderpad=1,
    )
    return traces, label


# A horizontal legend wraps into rows: the height of one, and the width the chart has at the
# narrowest page the app supports (1024 px less the sidebar).
LEGEND_ROW = 24
LEGEND_WIDTH = 620


# A panel of a two-panel row is about 300 px wide at 1024 px: longer titles wrap, not cut.
PANEL_TITLE_CHARS = 38


def _wrapped(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters with ``<br>``.

    Examples
    --------
    >>> _wrapped("Scored at week 4, of patients who started and were due", 38)
    'Scored at week 4, of patients who<br>started and were due'
    """
    return "<br>".join(textwrap.wrap(text, width)) or text


def legend_rows(names: Sequence[str], width: int = LEGEND_WIDTH) -> int:
    """How many rows a horizontal legend of ``names`` takes in ``width`` pixels (about 7 px a
    character at 14 px type, and 40 px for each entry's swatch and gap).

    Examples
    --------
    >>> legend_rows(["Observed", "Intention to treat"])
    1
    >>> legend_rows(["Observed", "Intention to treat", "Published: " + "x" * 60])
    2
    """
    rows, used = 1, 0
    for name in names:
        entry = 40 + 7 * len(name)
        if used and used + entry > width:
            rows, used = rows + 1, 0
        used += entry
    return rows


def rate_bars_figure(
    frame: pd.DataFrame,
    *,
    x: str = "timepoint",
    facet: str = "measure",
    colour: str = "population",
    x_title: str = "Timepoint",
    y_title: str = "Patients (%)",
    title: str | None = None,
    min_n: int = 10,
    references: Sequence[Reference] | None = None,
) -> go.Figure:
    """Rates as bars with 95% CI error bars, one panel per ``facet`` value; n on each bar.

    ``frame`` columns: ``x``, ``facet``, ``colour``, ``rate``, ``ci_low``, ``ci_high``, ``k``,
    ``n`` (rates and bounds as proportions 0-1). A bar of fewer than ``min_n`` patients is grey
    and hatched and says "too few patients (n = 3)". Bounds outside 0-100% are clipped in the
    drawing only, and the hover says so.

    ``references``: published rates (:class:`Reference`) drawn on their panel as grey
    diamonds on a dotted line with a grey band for their interval, labelled on the chart and in
    the legend ("Published: ..."), the source in the hover. A reference whose ``facet`` names
    no panel is not drawn.
    """
    facets = list(dict.fromkeys(frame[facet])) if facet in frame else [""]
    # two panels a row keeps the timepoint labels legible
    n_cols = min(len(facets), 2) or 1
    n_rows = -(-len(facets) // n_cols) or 1
    axes, annotations = subplot_grid(
        n_rows,
        n_cols,
        titles=[_wrapped(str(f), PANEL_TITLE_CHARS) for f in facets],
        shared_yaxes=True,
        horizontal_spacing=0.05,
        vertical_spacing=0.22 / n_rows + 0.08,
    )
    colour_values = list(dict.fromkeys(frame[colour])) if colour in frame else [None]
    in_legend: set[str] = set()
    any_small, clipped_words = False, []
    data = []
    for index, facet_value in enumerate(facets):
        x_axis, y_axis = _axis_names(index + 1)
        part = frame[frame[facet] == facet_value] if facet in frame else frame
        for i, value in enumerate(colour_values):
            rows = part[part[colour] == value] if colour in part else part
            if rows.empty:
                continue
            name = POPULATION_LABELS.get(value, _group_name(value))
            if value in POPULATION_COLOURS:
                c, meaning = POPULATION_COLOURS[value], f"population:{value}"
            else:
                c, meaning = colour_for(value, i), meaning_of(value, i)
            labels = rows[x].astype(str)
            n, small, rate, low, high, clipped, hover = _rate_bars(rows, labels, name, min_n)
            any_small |= bool(small.any())
            clipped_words += clipped
            data.append(
                dict(
                    type="bar",
                    x=labels,
                    y=100 * rate,
                    name=name,
                    legendgroup=name,
                    showlegend=name not in in_legend,
                    marker=_bar_colours(c, small),
                    meta=_meta(meaning),
                    error_y=_whisker(
                        100 * (high - rate),
                        100 * (rate - low),
                        colours.INK,
                        thickness=1.2,
                    ),
                    **_bar_text(n, min_n, colour=c, upright=True),
                    customdata=rows[["k", "n", "ci_low", "ci_high"]].to_numpy(),
                    hovertext=hover,
                    hovertemplate="%{hovertext}<extra></extra>",
                    xaxis=x_axis,
                    yaxis=y_axis,
                )
            )
            in_legend.add(name)
        cats = list(dict.fromkeys(part[x].astype(str))) if x in part else []
        for ref in references or ():
            if cats and ref.facet in (None, facet_value) and ref.at in (None, *cats):
                traces, label = _reference_marks(
                    ref, cats, index + 1, show_legend=ref.label not in in_legend
                )
                data += traces
                annotations.append(label)
                in_legend.add(ref.label)
    # The legend sits above the panel titles in the figure's own margin, in a row that wraps:
    # full names, never cut ("Observed", "Intention to treat"), with room for every row.
    rows_of_legend = legend_rows([t["name"] for t in data if t.get("showlegend") is not False])
    # a wrapped title of the first row of panels reaches up into the margin
    wraps = any("<br>" in a["text"] for a in annotations[:n_cols])
    notes = _notes(measure="n on each bar", min_n=min_n, small=any_small, clipped=clipped_words)
    for name, axis in axes.items():
        if name.startswith("x"):
            axis["type"] = "category"
        else:
            axis |= {"range": [0, 100], "ticksuffix": "%"}
    layout = _layout(
        title=title,
        x_title=x_title,
        y_title="",
        axes=axes,
        annotations=annotations,
        barmode="group",
        height=120 + 340 * n_rows + LEGEND_ROW * (rows_of_legend - 1),
        legend=dict(yref="container", y=0.995, yanchor="top", orientation="h", x=0),
        margin=dict(t=(110 if title else 80) + LEGEND_ROW * (rows_of_legend - 1) + 18 * wraps),
    )
    for r in range(n_rows):
        # the y title on the first panel of each row; the notes once, under the bottom-left
        layout[f"yaxis{_axis_names(r * n_cols + 1)[1][1:]}"]["title"]["text"] = y_title
    bottom_left = _axis_names((n_rows - 1) * n_cols + 1)[0]
    layout[f"xaxis{bottom_left[1:]}"]["title"]["text"] = _with_notes(x_title, notes)
    return _figure(data, layout)


def change_bars_figure(
    frame: pd.DataFrame,
    *,
    category: str,
    x_title: str = "Mean change (points)",
    y_title: str = "",
    group: str | None = None,
    title: str | None = None,
    min_n: int = 10,
    scale: tuple[float, float] | None = None,
) -> go.Figure:
    """Horizontal bars of mean change with 95% CI whiskers (clusters, items); n on each bar.

    ``frame`` columns: ``category``, ``mean_change``, ``ci_low``, ``ci_high``, ``n``. A bar of
    fewer than ``min_n`` patients is grey and hatched ("too few patients (n = 3)"); fewer than
    :data:`MIN_N_FOR_INTERVAL` has no whisker. With ``scale`` (the change's possible range,
    e.g. ``(-80, 80)``), whiskers are clipped to it in the drawing only.
    """
    data = []
    any_small, clipped_words = False, []
    for name, part, colour, meaning in _groups(frame, group):
        n = part["n"].to_numpy()
        small = _too_few(n, min_n)
        any_small |= bool(small.any())
        mean = part["mean_change"].to_numpy(float)
        no_ci = _too_few(n, MIN_N_FOR_INTERVAL)
        low = np.where(no_ci, np.nan, part["ci_low"].to_numpy(float))
        high = np.where(no_ci, np.nan, part["ci_high"].to_numpy(float))
        draw_low, draw_high, clipped = _clipped_bounds(low, high, scale, format_points)
        clipped_words += clipped
        hover = [
            f"{cat}: {format_points(m, signed=True)} points "
            f"({_interval_text(lo, hi, format_points, cw)})<br>{n_label(k, min_n)}"
            for cat, m, lo, hi, cw, k in zip(
                part[category].astype(str), mean, low, high, clipped, n
            )
        ]
        data.append(
            dict(
                type="bar",
                y=part[category].astype(str),
                x=mean,
                orientation="h",
                name=name,
                marker=_bar_colours(colour, small),
                meta=_meta(meaning),
                error_x=_whisker(
                    draw_high - mean,
                    mean - draw_low,
                    colours.INK,
                ),
                **_bar_text(n, min_n, colour=colour),
                customdata=part[["ci_low", "ci_high", "n"]].to_numpy(),
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    notes = _notes(measure="n on each bar", min_n=min_n, small=any_small, clipped=clipped_words)
    layout = _layout(
        title=title,
        x_title=_with_notes(x_title, notes),
        y_title=y_title,
        barmode="group",
        showlegend=group is not None,
        # the category names get the room they need rather than being cut at the left edge
        yaxis=dict(autorange="reversed", type="category", automargin=True),
    )
    # every category name shown: a row of room each (Plotly drops every other label otherwise)
    categories = frame[category].nunique() if category in frame else 0
    if categories > 8:
        layout["height"] = 120 + 30 * categories
    return _figure(data, layout)


# --------------------------------------------------------------------------- durability
def km_figure(
    frame: pd.DataFrame,
    *,
    group: str | None = None,
    medians: pd.DataFrame | None = None,
    y_title: str = "Still responding (%)",
    x_title: str = "Days since response",
    title: str | None = None,
    min_n: int = 10,
) -> go.Figure:
    """Kaplan-Meier step curves with a 95% CI band and the median as a dashed line.

    ``frame`` columns: ``time``, ``survival``, ``ci_low``, ``ci_high``, ``at_risk`` and
    optionally ``group``. ``medians`` columns: ``median`` (days; NaN = not reached) and ``group``
    when grouped.

    Each curve's legend name carries its n (the patients at risk at its start); the hover gives
    the number still at risk. Where fewer than ``min_n`` are at risk the curve goes on as a
    grey dotted step without a band ("too few patients at risk").
    """
    data = []
    any_small = False
    for name, part, colour, meaning in _groups(frame, group):
        part = part.sort_values("time")
        at_risk = part["at_risk"].to_numpy()
        small = _too_few(at_risk, min_n)
        any_small |= bool(small.any())
        start = int(at_risk[0]) if len(at_risk) else 0
        label = f"{name} (n = {start:,})"
        solid = part[~small]
        hover = [
            f"{name}<br>day {t:g}: {format_percent(s)} "
            f"({_interval_text(lo, hi, format_percent)})<br>at risk: {int(k):,}"
            + (f" ({TOO_FEW})" if k < min_n else "")
            for t, s, lo, hi, k in zip(
                part["time"], part["survival"], part["ci_low"], part["ci_high"], at_risk
            )
        ]
        hover = np.asarray(hover, dtype=object)
        if not solid.empty:
            low, high, _ = _clipped_bounds(solid["ci_low"], solid["ci_high"], (0, 1), str)
            data.append(
                dict(
                    type="scatter",
                    x=pd.concat([solid["time"], solid["time"].iloc[::-1]]),
                    y=100 * np.concatenate([high, low[::-1]]),
                    fill="toself",
                    fillcolor=_rgba(colour, 0.16),
                    mode="lines",
                    line=dict(width=0, shape="hv"),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                    name=f"{name} 95% CI",
                    meta=_meta(meaning),
                )
            )
            data.append(
                dict(
                    type="scatter",
                    x=solid["time"],
                    y=100 * solid["survival"],
                    mode="lines",
                    line=dict(color=colour, width=2.5, shape="hv"),
                    meta=_meta(meaning),
                    name=label,
                    legendgroup=name,
                    customdata=solid[["ci_low", "ci_high", "at_risk"]].to_numpy(),
                    hovertext=hover[~small],
                    hovertemplate="%{hovertext}<extra></extra>",
                )
            )
        if small.any():
            # the tail starts at the last solid step, so the curve stays one line
            first = int(np.flatnonzero(small)[0])
            tail = slice(max(first - 1, 0), None)
            data.append(
                dict(
                    type="scatter",
                    x=part["time"].iloc[tail],
                    y=100 * part["survival"].iloc[tail],
                    mode="lines",
                    line=dict(color=colours.SMALL_EDGE, width=2, shape="hv", dash="dot"),
                    meta=_meta("too few"),
                    name=f"{label}: fewer than {min_n} at risk" if solid.empty else label,
                    legendgroup=name,
                    showlegend=solid.empty,
                    hovertext=hover[tail],
                    hovertemplate="%{hovertext}<extra></extra>",
                )
            )
    shapes, annotations = [], []
    if medians is not None:
        for i, row in enumerate(medians.itertuples(index=False)):
            if pd.notna(row.median):
                # a group's median in the group's colour; one curve's in the all-patients grey
                value = getattr(row, "group", ALL_PATIENTS) if group else ALL_PATIENTS
                line, words = vline(
                    row.median,
                    dict(dash="dash", color=colour_for(value, i), width=1.5),
                    f"median {row.median:.0f} d",
                    top=i % 2 == 0,
                )
                shapes.append(line)
                annotations.append(words)
    shapes.append(hline(50, dict(dash="dot", color=CUT_COLOUR, width=0.8))[0])
    notes = ["n at the start in the legend, at risk in the hover"]
    if any_small:
        notes.append(f"grey dotted: fewer than {min_n} patients at risk ({TOO_FEW})")
    layout = _layout(
        title=title,
        x_title=_with_notes(x_title, notes),
        y_title=y_title,
        yaxis=dict(range=[0, 102], ticksuffix="%"),
        shapes=shapes,
    )
    if annotations:
        layout["annotations"] = annotations
    return _figure(data, layout)


# --------------------------------------------------------------------------- safety
def side_effect_figure(
    frame: pd.DataFrame,
    *,
    group: str | None = None,
    reference: pd.DataFrame | None = None,
    x_title: str = "Patients with the effect at least once (%)",
    title: str | None = None,
    min_n: int = 10,
    unit: str = "patients",
) -> go.Figure:
    """Side-effect rates as horizontal bars with CIs, beside the label's reference rates.

    ``frame`` columns: ``effect`` (label), ``rate``, ``ci_low``, ``ci_high``, ``k``, ``n`` and
    optionally ``group``. ``reference`` columns: ``effect``, ``rate`` and optionally
    ``ci_low``, ``ci_high`` (drawn as grey diamonds with a whisker, as every published mark,
    named :data:`LABEL_REFERENCE_NAME`). Each bar says its k/n; a bar of fewer than ``min_n``
    ``unit`` (patients, or sessions when counting per session) is grey and hatched.
    """
    order = (
        frame.groupby("effect")["rate"].max().sort_values(ascending=False).index.tolist()
        if not frame.empty
        else []
    )
    data = []
    any_small, clipped_words = False, []
    for name, part, colour, meaning in _groups(frame, group):
        n, small, rate, low, high, clipped, hover = _rate_bars(
            part, part["effect"], name, min_n, unit
        )
        any_small |= bool(small.any())
        clipped_words += clipped
        text = _bar_text(n, min_n, unit, colour=colour)
        text["text"] = [
            f"{int(k)}/{int(m)}" if not s else n_label(m, min_n, unit=unit)
            for k, m, s in zip(part["k"], n, small)
        ]
        data.append(
            dict(
                type="bar",
                y=part["effect"],
                x=100 * rate,
                orientation="h",
                name=name,
                marker=_bar_colours(colour, small),
                meta=_meta(meaning),
                error_x=_whisker(
                    100 * (high - rate),
                    100 * (rate - low),
                    colours.INK,
                ),
                **text,
                customdata=part[["k", "n", "ci_low", "ci_high"]].to_numpy(),
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    if reference is not None and not reference.empty:
        ref = reference[reference["effect"].isin(order)] if order else reference
        has_ci = {"ci_low", "ci_high"} <= set(ref.columns)
        rate_ref = ref["rate"].to_numpy(float)
        low_ref = ref["ci_low"].to_numpy(float) if has_ci else np.full(len(ref), np.nan)
        high_ref = ref["ci_high"].to_numpy(float) if has_ci else np.full(len(ref), np.nan)
        # the same grey diamond as every published mark (rate bars' Reference)
        data.append(
            dict(
                type="scatter",
                y=ref["effect"],
                x=100 * rate_ref,
                mode="markers",
                name=LABEL_REFERENCE_NAME,
                marker=REFERENCE_MARKER,
                meta=_meta("reference"),
                error_x=_whisker(
                    100 * (high_ref - rate_ref),
                    100 * (rate_ref - low_ref),
                    colours.REFERENCE_COLOUR,
                    thickness=1.2,
                    visible=has_ci,
                ),
                hovertext=[
                    Reference(
                        str(e), float(r), *_bounds(lo, hi), source=LABEL_REFERENCE_NAME
                    ).hover()
                    for e, r, lo, hi in zip(ref["effect"], rate_ref, low_ref, high_ref)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    notes = _notes(
        measure=f"{unit} with the effect / {unit} counted (k/n) on each bar",
        min_n=min_n,
        small=any_small,
        clipped=clipped_words,
        unit=unit,
    )
    # each group's bar gets room for its k/n: 34 px a category, 22 more for each other group
    groups = max(frame[group].nunique(), 1) if group and group in frame else 1
    per_category = 34 + 22 * (groups - 1)
    layout = _layout(
        title=title,
        x_title=_with_notes(x_title, notes),
        y_title="",
        barmode="group",
        height=max(380, 90 + per_category * max(len(order), 1)),
        yaxis=dict(categoryorder="array", categoryarray=order, autorange="reversed"),
        xaxis=dict(ticksuffix="%", rangemode="tozero"),
    )
    return _figure(data, layout)


def distribution_figure(
    frame: pd.DataFrame,
    *,
    value: str,
    x_title: str,
    y_title: str = "Sessions (count)",
    group: str | None = None,
    thresholds: Sequence[tuple[float, str]] = (),
    title: str | None = None,
    min_n: int = 10,
    unit: str = "sessions",
) -> go.Figure:
    """A histogram of ``value`` (e.g. systolic rise) with labelled threshold lines.

    Each group's legend name carries its n (rows with a value, in ``unit``); a group of fewer
    than ``min_n`` is drawn grey. Up to ``BIN_IN_BROWSER`` rows go to the browser as they are;
    above that, the same 1-unit bins are counted here, so a million sessions do not travel as
    a million points.
    """
    data = []
    any_small = False
    for name, part, colour, meaning in _groups(frame, group):
        values = part[value].dropna().to_numpy(float)
        small = len(values) < min_n
        any_small |= small
        label = f"{name} ({n_label(len(values), min_n, unit=unit)})"
        colour = SMALL_COLOUR if small else colour
        meaning = "too few" if small else meaning
        hover = f"{label}<br>%{{x}}: %{{y}} {unit}<extra></extra>"
        if len(values) <= BIN_IN_BROWSER:
            data.append(
                dict(
                    type="histogram",
                    x=values,
                    xbins=dict(size=1),
                    name=label,
                    marker_color=colour,
                    meta=_meta(meaning),
                    opacity=0.75,
                    hovertemplate=hover,
                )
            )
            continue
        edges = np.arange(np.floor(values.min()), np.ceil(values.max()) + 2)
        counts, edges = np.histogram(values, bins=edges)
        data.append(
            dict(
                type="bar",
                x=edges[:-1],
                y=counts,
                width=1,
                name=label,
                marker_color=colour,
                meta=_meta(meaning),
                opacity=0.75,
                hovertemplate=hover,
            )
        )
    lines = [
        vline(x, dict(dash="dash", color=CUT_COLOUR, width=1.2), label) for x, label in thresholds
    ]
    notes = ["n of each group in the legend"]
    if any_small:
        notes.append(f"grey: fewer than {min_n} {unit}")
    layout = _layout(
        title=title,
        x_title=_with_notes(x_title, notes),
        y_title=y_title,
        barmode="overlay",
        bargap=0.05,
        showlegend=True,
    )
    if lines:
        layout["shapes"] = [line for line, _ in lines]
        layout["annotations"] = [words for _, words in lines]
    return _figure(data, layout)


# --------------------------------------------------------------------------- cohorts
def funnel_figure(frame: pd.DataFrame, *, title: str | None = None, min_n: int = 10) -> go.Figure:
    """Attrition funnel. ``frame`` columns: ``stage``, ``n`` (and optionally ``pct``).

    Each stage shows its count and its share of the first stage. When the first stage has
    fewer than ``min_n`` patients the shares are too few to read, so the funnel is grey and
    says so.
    """
    n = frame["n"].to_numpy()
    first = int(n[0]) if len(n) else 0
    small = first < min_n
    hover = [
        f"{stage}: {int(k):,} patients ({format_percent(k / first if first else None)} of "
        f"the first stage)" + (f"<br>{n_label(first, min_n)} at the first stage" if small else "")
        for stage, k in zip(frame["stage"], n)
    ]
    funnel = dict(
        type="funnel",
        y=frame["stage"],
        x=n,
        textinfo="value+percent initial",
        marker=dict(color=SMALL_COLOUR if small else NEUTRAL),
        meta=_meta("too few" if small else "all patients"),
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )
    notes = ["patients (n) and share of the first stage on each bar"]
    if small:
        notes.append(f"grey: fewer than {min_n} patients started ({TOO_FEW})")
    layout = _layout(title=title, x_title=_with_notes("Patients (count)", notes), y_title="")
    return _figure([funnel], layout)


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
    axes, _ = subplot_grid(2, 1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    data = []
    for instrument, part in scores.groupby("instrument", sort=True):
        data.append(
            dict(
                type="scatter",
                x=part["day"],
                y=part["score"],
                mode="lines+markers",
                name=str(instrument),
                line=dict(color=colours.instrument_colour(instrument), width=2.5),
                marker=dict(symbol=colours.instrument_symbol(instrument), size=8),
                meta=_meta(f"instrument:{instrument}"),
                hovertemplate=f"{instrument}<br>day %{{x}}: %{{y}}<extra></extra>",
                xaxis="x",
                yaxis="y",
            )
        )
    for i, (route, part) in enumerate(sessions.groupby("route", sort=True)):
        data.append(
            dict(
                type="scatter",
                x=part["day"],
                y=["Sessions"] * len(part),
                mode="markers",
                name=route_label(route),
                marker=dict(symbol="line-ns-open", size=16, color=colour_for(route, i)),
                meta=_meta(meaning_of(route, i)),
                customdata=part[["session_number"]].to_numpy(),
                hovertemplate="session %{customdata[0]}, day %{x}<extra></extra>",
                xaxis="x2",
                yaxis="y2",
            )
        )
    if not effects.empty:
        grouped = effects.groupby("day")["effect"].agg(lambda s: ", ".join(map(str, s)))
        data.append(
            dict(
                type="scatter",
                x=grouped.index,
                y=["Side effects"] * len(grouped),
                mode="markers",
                name="Side effects",
                marker=dict(symbol="x", size=10, color=colours.EVENT["side_effect"]),
                meta=_meta("event:side_effect"),
                text=grouped.to_numpy(),
                hovertemplate="day %{x}: %{text}<extra></extra>",
                xaxis="x2",
                yaxis="y2",
            )
        )
    layout = _layout(title=title, x_title="", y_title="", axes=axes, height=520)
    layout["xaxis2"]["title"]["text"] = "Days since first session"
    layout["yaxis"]["title"]["text"] = "Score (points)"
    layout["yaxis"]["rangemode"] = "tozero"
    return _figure(data, layout)
