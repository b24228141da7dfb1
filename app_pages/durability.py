"""Durability: how long response lasts, sustained response and relapse after remission."""

import streamlit as st

from analytics.metrics.durability import (
    durability_summary_from,
    event_curves_from,
    sustained_response_from,
)
from charts import figures
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.glossary import glossary_links
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
min_n = definitions.min_patients

group_by_route = st.toggle("Separate curves by route", key="durability_by_route")


def _km_frames(analysis: str):
    """The cohort's Kaplan-Meier curves of ``analysis`` (one per route when asked)."""
    by = "route" if group_by_route else None
    return results.cohort_result(event_curves_from, context, definitions, analysis, by=by)


m1, m2, m3 = st.columns(3)
ui.median_metric(
    m1,
    "Median time to loss of response",
    summary["loss_of_response"],
    "lost their response",
    help="Half of the responders no longer met the response rule by this many days after "
    "their first response. Feder et al. 2021 reported 27.5 days among ketamine responders "
    "(another population).",
)
ui.median_metric(
    m2,
    "Median time to relapse after remission",
    summary["relapse_after_remission"],
    "relapsed",
    help=f"Half of the patients who remitted (PCL-5 below {definitions.remission_below:g}) "
    "scored at or above it again by this many days. Albott et al. 2018 reported 41 days to "
    "PTSD relapse (another population).",
)
ui.median_metric(
    m3,
    "Median time to response",
    summary["time_to_response"],
    "responded",
    help="Half of the patients had responded by this many days after their first session.",
)
with st.expander("How this is computed", icon=":material/info:"):
    st.markdown(summary["definition"])
    st.caption(
        "Each curve is a Kaplan-Meier estimate: a patient still responding (or still in "
        "remission) at their last score counts up to that day and then leaves the count "
        "(censoring), instead of being left out. The 95% confidence interval of a median is "
        "where the curve's 95% band crosses 50%; the band in force is the "
        f"{definitions.km_band} method (a setting: log-log, as Stata and SAS; log, R's "
        "default; or plain), and the methods can give different intervals from the same "
        "patients."
    )
    glossary_links(st, "kaplan-meier", "censoring", "median-time", "sustained-response")

st.subheader("Time to loss of response")
curve, medians = _km_frames("loss_of_response")
if curve.empty:
    st.info("No responder has a later score yet: nothing to follow.")
else:
    fig = results.figure(
        figures.km_figure,
        curve,
        group="group" if group_by_route else None,
        medians=medians,
        min_n=min_n,
        y_title="Responders still responding (%)",
        x_title="Days since first response",
    )
    st.caption(
        "The share of responders still responding, by days since their first response; each "
        "step down is a patient whose score no longer met the response rule. The shaded band "
        "is the 95% confidence interval."
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
    fig = results.figure(
        figures.rate_bars_figure,
        table[table["n"] > 0],
        x_title="Timepoint",
        y_title="Week-4 responders (%)",
        min_n=min_n,
    )
    observed = sustained[(sustained["population"] == "observed") & (sustained["n"] > 0)]
    itt = sustained[(sustained["population"] == "intention to treat") & (sustained["n"] > 0)]
    st.caption(
        "Of the patients who responded at week 4: "
        + "; ".join(
            f"{int(row.k):,} of the {int(row.n):,} scored at {row.timepoint} "
            f"({figures.format_percent(row.rate)}) still responded"
            for row in observed.itertuples(index=False)
        )
        + ". Counting every week-4 responder due then, scored or not (intention to treat): "
        + "; ".join(
            f"{int(row.k):,} of {int(row.n):,} ({figures.format_percent(row.rate)}) at "
            f"{row.timepoint}"
            for row in itt.itertuples(index=False)
        )
        + "."
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
    fig = results.figure(
        figures.km_figure,
        curve,
        group="group" if group_by_route else None,
        medians=medians,
        min_n=min_n,
        y_title="Remitters still below the cut-point (%)",
        x_title="Days since first remission",
    )
    st.caption(
        "The share of patients who remitted still below the remission cut-point "
        f"({definitions.remission_below:g}), by days since they first remitted; each step down "
        "is a relapse. The shaded band is the 95% confidence interval."
    )
    ui.show_figure(fig, curve, "relapse_curve")
