"""Small render helpers shared by the pages: banners, rate metrics, downloads, empty states.

They only format numbers that the analytics computed; they never compute one. Every number
goes through :func:`charts.figures.format_percent` or :func:`charts.figures.format_points`, so a value
within rounding of zero reads 0, never "2.8e-17" or "-0%".
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, is_dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.core.spreadsheet import csv_bytes
from charts.figures import TOO_FEW, format_percent, format_points
from ui import auth
from ui.clinic import Loaded
from ui.cohort import (
    CohortFilters,
    PageContext,
    active_filters,
    clear_filters,
    describe_filters,
    filter_line,
    filters_slug,
)
from ui.labels import readable_table

__all__ = [
    "as_rate",
    "data_banner",
    "download_frame",
    "download_name",
    "download_table",
    "empty_state",
    "format_count",
    "format_mean",
    "KM_BAND_HELP",
    "format_points",
    "published_figure_text",
    "format_rate",
    "median_caption",
    "median_metric",
    "page_header",
    "PLAIN_TABLE_ROWS",
    "metric",
    "rate_metric",
    "rows_table",
    "sample_banner_text",
    "show_figure",
]


def as_rate(value: Any) -> dict | None:
    """A ``Rate`` dataclass or a RATE dict as a plain dict (None stays None)."""
    if value is None:
        return None
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, dict):
        return value
    return None


def _pct(x: float | None) -> str:
    return format_percent(x)


def format_rate(value: Any, *, min_n: int | None = None) -> str:
    """``"67% (10/15; 95% CI 42–85%)"``, or ``"no patients"`` when the denominator is 0.

    With ``min_n``, a rate of fewer patients starts with "too few patients: ". A bound within
    rounding of zero reads 0% (:func:`charts.figures.format_percent`).
    """
    r = as_rate(value)
    if r is None:
        return "not available"
    if not r.get("n"):
        return "no patients"
    if r.get("suppressed"):
        return f"suppressed (n = {r['n']})"
    low, high = r.get("ci_low"), r.get("ci_high")
    interval = (
        f"; 95% CI {_pct(low).rstrip('%')}–{_pct(high)}"
        if low is not None and high is not None
        else ""
    )
    text = f"{_pct(r['rate'])} ({int(r['k'])}/{int(r['n'])}{interval})"
    if min_n is not None and int(r["n"]) < min_n:
        return f"{TOO_FEW}: {text}"
    return text


def format_count(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{int(value):,}"


def format_mean(value: Any, n: Any = None, *, digits: int = 1, min_n: int | None = None) -> str:
    """A mean in points, "–" when missing; with ``min_n``, "too few patients (n = 2)" below it."""
    if min_n is not None and n is not None and int(n) < min_n:
        return f"{TOO_FEW} (n = {int(n)})"
    return format_points(value, digits)


# How each Kaplan-Meier band is named under a median, for a reader who does not use R.
_BAND_WORDS = {
    "log-log": "log-log method",
    "log": "log method, R's default",
    "plain": "plain method",
}
KM_BAND_HELP = (
    "The interval is where the curve's 95% band crosses 50%. The band's method is an outcome "
    "definition: log-log (our default, as Stata and SAS), log (R's default) or plain; they can "
    "give different intervals from the same patients."
)


def median_caption(stats: dict, events: str) -> str:
    """A Kaplan-Meier median's interval and n in words.

    Examples
    --------
    >>> median_caption({"n": 223, "events": 158, "median_days": 10.0, "median_reached": True,
    ...                 "median_ci_low": 7.0, "median_ci_high": 14.0}, "responded")
    '95% CI 7–14 days (223 patients, 158 responded).'
    """
    if not stats or not stats.get("n"):
        return "No patient to follow."
    low, high = stats.get("median_ci_low"), stats.get("median_ci_high")
    counts = f"{stats['n']:,} patients, {stats['events']:,} {events}"
    if not stats.get("median_reached"):
        return f"Fewer than half {events} by their last score ({counts})."
    if low is not None and high is not None:
        interval = f"95% CI {low:.0f}–{high:.0f} days"
    elif low is not None:
        interval = f"95% CI from {low:.0f} days to beyond the last score"
    else:
        interval = "95% CI could not be estimated"
    return f"{interval} ({counts})."


def median_metric(container, label: str, stats: dict, events: str, *, help: str) -> None:
    """One Kaplan-Meier median as a metric, its interval and n underneath in words (the
    same words on every page that shows it)."""
    if not stats or not stats.get("n"):
        value = "n/a"
    else:
        value = f"{stats['median_days']:.0f} days" if stats["median_reached"] else "not reached"
    metric(container, label, value, help=help, wrap=True)
    container.caption(median_caption(stats, events))


def published_figure_text(value: Any, unit: str, low: Any = None, high: Any = None) -> str:
    """A published figure in words: "67% (42–85%)", "33.3 points (23.0–43.5)", "27.5 days".

    Examples
    --------
    >>> published_figure_text(0.6667, "proportion", 0.417, 0.848)
    '67% (42–85%)'
    >>> published_figure_text(27.5, "days")
    '27.5 days'
    """
    if unit == "proportion":
        text = format_percent(value)
        if not (_blank(low) or _blank(high)):
            text += f" ({format_percent(low).rstrip('%')}–{format_percent(high)})"
        return text
    text = f"{format_points(value)} {unit}"
    if not (_blank(low) or _blank(high)):
        text += f" ({format_points(low)}–{format_points(high)})"
    return text


def _blank(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def metric(
    container,
    label: str,
    value: str,
    *,
    help: str | None = None,
    wrap: bool = False,
    shown: str | None = None,
) -> None:
    """``container.metric``; with ``wrap``, a label too long for one line is written above the
    number in full (a metric's own label is cut at the column's edge, and a label that names
    its population must not lose it). With ``shown``, that short name is written above the
    number instead, and ``label`` stays the metric's own name (what a screen reader says and
    the tests look up): under a heading "Intention to treat", "Response" is enough."""
    if not wrap and shown is None:
        container.metric(label, value, help=help)
        return
    container.markdown(f"<small>{shown or label}</small>", help=help, unsafe_allow_html=True)
    container.metric(label, value, label_visibility="collapsed")


def rate_metric(
    container,
    label: str,
    value: Any,
    *,
    help: str | None = None,
    wrap: bool = False,
    min_n: int | None = None,
    shown: str | None = None,
) -> None:
    """A metric whose value is the rate and whose caption carries k/n and the CI.

    With ``min_n``, a rate of fewer patients is not shown as a headline number: the metric
    reads "too few" and the caption gives the rate with its n. ``shown`` is as in
    :func:`metric`.
    """
    r = as_rate(value)
    if r is None:
        metric(container, label, "n/a", help=help, wrap=wrap, shown=shown)
        container.caption("not available yet")
        return
    n = int(r.get("n") or 0)
    text = _pct(r.get("rate")) if n else "–"
    if n and min_n is not None and n < min_n:
        text = "too few"
    metric(container, label, text, help=help, wrap=wrap, shown=shown)
    container.caption(format_rate(r, min_n=min_n))


def _clear_sample() -> None:
    from store import clear_sample

    clear_sample(auth.run_user())


# What the sample banner tells each role it can do (a clinician has no Data page, and staff
# see no outcomes, so neither is sent where it cannot go).
SAMPLE_BANNER = {
    "director": (
        "**Sample data — synthetic clinic.** Every patient here is generated. Import your "
        "clinic's files on the Data page to see your own outcomes (the first import replaces "
        "the sample), or clear the sample below."
    ),
    "clinician": (
        "**Sample data — synthetic clinic.** Every patient here is generated, to show what the "
        "dashboard does. Your clinic's outcomes appear here once the director or staff import "
        "its files."
    ),
    "staff": (
        "**Sample data — synthetic clinic.** Import your clinic's files on this page; the first "
        "import replaces the sample. The outcomes are then seen by the clinicians and the "
        "director."
    ),
}


def sample_banner_text(role: str | None) -> str:
    """The sample banner for ``role`` (a role not listed gets the clinician's, which sends
    nobody anywhere)."""
    return SAMPLE_BANNER.get(role or "", SAMPLE_BANNER["clinician"])


def data_banner(loaded: Loaded) -> None:
    """Say which clinic is on screen; the synthetic sample is always labelled as such.

    The sample banner says what the signed-in role can do about it; a director also gets the
    one click that removes the sample from the database.
    """
    if loaded.source == "sample":
        user = auth.run_user()
        role = getattr(user, "role", None)
        st.info(sample_banner_text(role), icon=":material/science:")
        if role == "director":
            st.button(
                "Clear the sample data",
                key="clear_sample",
                on_click=_clear_sample,
                icon=":material/delete_sweep:",
                help="Removes the made-up clinic from the database; it is not loaded again.",
            )
    elif loaded.source == "database":
        st.caption(f"Showing: {loaded.label}")
    else:
        st.warning(f"No clinic data loaded. {loaded.note}", icon=":material/info:")


def page_header(title: str, context: PageContext, *, caption: str | None = None) -> None:
    """The page's title, caption, data banner and, when a cohort filter is on, one line naming
    each filter ("IV ketamine · North · 40 of 250 patients") with a button that clears them."""
    st.title(title)
    if caption:
        st.caption(caption)
    data_banner(context.loaded)
    if context.filters.active:
        line, clear = st.columns([3, 1], vertical_alignment="center")
        line.markdown(
            ":material/filter_alt: **Cohort:** "
            + filter_line(context.filters, context.n_patients, len(context.loaded.data.patients))
        )
        clear.button(
            "Clear filters",
            key="clear_filters",
            on_click=clear_filters,
            icon=":material/filter_alt_off:",
            help="Show every patient again.",
        )


def empty_state(context: PageContext) -> bool:
    """Render the empty state and return True when the cohort has no patients."""
    if not context.empty:
        return False
    if context.loaded.source == "none":
        st.info("Nothing to show yet: upload a clinic on the Data page.", icon=":material/upload:")
    else:
        st.info(
            "No patients match the cohort filters in the sidebar.", icon=":material/filter_alt:"
        )
    return True


def download_name(name: str, filters: CohortFilters | None) -> str:
    """The file name of a download: the table's name, then the active filters as a slug.

    Examples
    --------
    >>> download_name("outcomes", CohortFilters(routes=("iv_ketamine",), years=(2025,)))
    'outcomes_iv-ketamine_2025.csv'
    >>> download_name("outcomes", None)
    'outcomes.csv'
    """
    slug = filters_slug(filters) if filters is not None else ""
    return f"{name}_{slug}.csv" if slug else f"{name}.csv"


def download_frame(
    frame: pd.DataFrame, filters: CohortFilters | None, *, labels=None
) -> pd.DataFrame:
    """The table a download holds: :func:`ui.labels.readable_table`, and with a filter on, a
    last column "Cohort" that names the filters on every row.

    The filters are a column, not a sentence above the header: a spreadsheet (and any program
    reading the file) takes the first line as the column titles, so sorting, filtering and
    pivoting work as on any other table, and a row copied elsewhere keeps its cohort.
    """
    table = readable_table(frame, labels=labels)
    if filters is not None:
        table["Cohort"] = " · ".join(describe_filters(filters))
    return table


def _download_bytes(frame: pd.DataFrame, filters, labels) -> bytes:
    return csv_bytes(download_frame(frame, filters, labels=labels))


def download_table(
    frame: pd.DataFrame | None,
    name: str,
    *,
    label: str | None = None,
    labels=None,
    cohort: bool = True,
) -> None:
    """A CSV download of the table behind a chart; each click is audited.

    The file holds the table as a person reads it (:func:`download_frame`: human column
    titles, rates as percentages beside k and n, numbers rounded) and its name carries the
    active cohort filters (:func:`download_name`); ``cohort=False`` for a table that is not
    about the cohort (an import's validation report). ``labels`` gives titles of this table's
    own. Text cells a spreadsheet would run as formulas are written with a leading apostrophe
    (:func:`analytics.core.spreadsheet.csv_bytes`)."""
    if frame is None or frame.empty:
        return
    filters = active_filters() if cohort else None
    file_name = download_name(name, filters)
    auth.audited_download(
        label or f"Download {file_name}",
        # built when clicked, on Streamlit's own thread: most runs never need the file
        functools.partial(_download_bytes, frame, filters, labels),
        file_name=file_name,
        rows=len(frame),
        mime="text/csv",
        key=f"download_{name}",
        icon=":material/download:",
    )


# Rows a plain table shows; past this a table is a scrolling grid (see :func:`rows_table`).
PLAIN_TABLE_ROWS = 50


def rows_table(frame: pd.DataFrame, *, height: int = 420) -> None:
    """A table of rows (one per event, say) whose length the clinic decides.

    Up to :data:`PLAIN_TABLE_ROWS` rows it is a plain table, whose text wraps so that no column
    is cut at 1024 px. Past that it is a grid ``height`` pixels high that scrolls, sorts and
    searches: a network's thousands of rows laid out as one page-long table keep the browser
    busy for seconds, while the grid draws only the rows in view.
    """
    if len(frame) <= PLAIN_TABLE_ROWS:
        st.table(frame, hide_index=True)
    else:
        st.dataframe(frame, hide_index=True, width="stretch", height=height)


def show_figure(fig: go.Figure, table: pd.DataFrame | None, name: str, *, labels=None) -> None:
    """A chart with the CSV download of its table under it."""
    st.plotly_chart(fig, key=f"chart_{name}", config={"displaylogo": False})
    download_table(table, name, labels=labels)
