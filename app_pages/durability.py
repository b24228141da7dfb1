"""Durability: how long response lasts, sustained response and relapse after remission."""

import streamlit as st

from analytics.metrics.durability import (
    durability_summary_from,
    event_curves_from,
    sustained_response_from,
)
from ui import auth, figures, results
from ui import components as ui
from ui.cohort import get_context
from ui.settings import current_definitions

auth.require_page("durability")
context = get_context()
ui.page_header(
    "Durability",
    context,
    caption="Among patients who responded, how long the response lasted (PCL-5).",
)
if ui.empty_state(context):
    st.stop()

try:
    definitions = current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
summary = results.cohort_result(durability_summary_from, context, definitions)
st.caption(summary["definition"])

group_by_route = st.toggle("Separate curves by route", key="durability_by_route")


def _km_frames(analysis: str):
    """The cohort's Kaplan-Meier curves of ``analysis`` (one per route when asked)."""
    by = "route" if group_by_route else None
    return results.cohort_result(event_curves_from, context, definitions, analysis, by=by)


def _median_metric(column, label: str, stats: dict, help: str | None = None) -> None:
    """One Kaplan-Meier median as a metric, its interval, band and n underneath."""
    value = f"{stats['median_days']:.0f} days" if stats["median_reached"] else "not reached"
    help_text = f"{help} {ui.KM_BAND_HELP}" if help else ui.KM_BAND_HELP
    ui.metric(column, label, value, help=help_text, wrap=True)
    column.caption(ui.format_median(stats))


m1, m2, m3 = st.columns(3)
_median_metric(
    m1,
    "Median time to loss of response",
    summary["loss_of_response"],
    help="Feder et al. 2021 reported 27.5 days among ketamine responders (other population).",
)
_median_metric(
    m2,
    "Median time to relapse after remission",
    summary["relapse_after_remission"],
    help="Albott et al. 2018 reported 41 days to PTSD relapse (other population).",
)
_median_metric(m3, "Median time to response", summary["time_to_response"])

st.subheader("Time to loss of response")
curve, medians = _km_frames("loss_of_response")
if curve.empty:
    st.info("No responder has a later score yet: nothing to follow.")
else:
    fig = figures.km_figure(
        curve,
        group="group" if group_by_route else None,
        medians=medians,
        min_n=definitions.min_patients,
        y_title="Responders still responding (%)",
        x_title="Days since first response",
    )
    ui.show_figure(fig, curve, "loss_of_response_curve")

st.subheader("Week-4 responders still responding later")
labels = [w.label for w in definitions.windows]
sustained = None
if "week 4" in labels and {"week 8", "week 12"} <= set(labels):
    sustained = results.cohort_result(sustained_response_from, context, definitions)
if sustained is None or sustained.empty or not (sustained["n"] > 0).any():
    st.info("No week-4 responders in this cohort.")
else:
    table = sustained.assign(
        measure="Still responding",
        population=sustained["population"].replace({"intention to treat": "itt"}),
    )
    fig = figures.rate_bars_figure(
        table[table["n"] > 0],
        x_title="Timepoint",
        y_title="Week-4 responders (%)",
        min_n=definitions.min_patients,
    )
    ui.show_figure(fig, sustained, "sustained_response")
    itt_rows = sustained["population"] == "intention to treat"
    waiting = sustained.loc[itt_rows & (sustained["not_yet_due"] > 0), "not_yet_due"]
    if len(waiting):
        st.caption(
            "Intention to treat counts the week-4 responders due at each timepoint (scored, or "
            "followed to the end of its window). Not yet due: "
            + ", ".join(
                f"{n} at {label}"
                for label, n in zip(sustained.loc[waiting.index, "timepoint"], waiting, strict=True)
            )
            + "."
        )

st.subheader("Relapse after remission")
curve, medians = _km_frames("relapse_after_remission")
if curve.empty:
    st.info("No remitter has a later score yet.")
else:
    fig = figures.km_figure(
        curve,
        group="group" if group_by_route else None,
        medians=medians,
        min_n=definitions.min_patients,
        y_title="Remitters still below the cut-point (%)",
        x_title="Days since first remission",
    )
    ui.show_figure(fig, curve, "relapse_curve")
