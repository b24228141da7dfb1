"""Overview: the clinic director's one screen."""

import pandas as pd
import streamlit as st

from analytics.metrics.attrition import FLOW_STEPS
from analytics.report.overview import overview_of
from ui import auth, cohort, figures, results, settings
from ui import components as ui

auth.require_page("overview")
context = cohort.get_context()
ui.page_header(
    "Overview",
    context,
    caption="Patients, sessions and the headline outcomes of the cohort in the sidebar.",
)
if ui.empty_state(context):
    st.stop()

try:
    definitions = settings.current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
described = definitions.describe()
min_n = definitions.min_patients
TTR_HELP = (
    f"Days from the first session to the first PCL-5 score meeting the response rule "
    f"({described['response']}). Kaplan-Meier estimate: patients who have not responded are "
    "counted up to their last score (censored)."
)

# The cohort's rows of the per-patient table added up: a filter change costs no new analysis.
numbers = results.cohort_result(overview_of, context, definitions)
counts = numbers["counts"]
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Patients treated",
    ui.format_count(counts.get("patients")),
    help="Patients in the cohort (every patient id in the upload, after the filters).",
)
c2.metric(
    "Sessions given",
    ui.format_count(counts.get("sessions")),
    help="Treatment sessions recorded in sessions.csv.",
)
c3.metric(
    "Assessments",
    ui.format_count(counts.get("assessments")),
    help="Completed questionnaires of any instrument.",
)
baseline = numbers["baseline"]
c4.metric(
    "PCL-5 baseline, mean",
    ui.format_mean(baseline["mean"], baseline["n"], min_n=min_n) if baseline.get("n") else "–",
    help=f"Baseline: {described['baseline']}. n = {baseline.get('n', 0)}.",
)

st.subheader("Week 4 (PCL-5)")
week4 = numbers["timepoint"]
if not week4:
    st.info("No week-4 timepoint in the definitions in force.")
else:
    r1, r2, r3, r4 = st.columns(4)
    ui.rate_metric(
        r1,
        "Response, observed",
        week4.get("response"),
        min_n=min_n,
        help=f"{described['response']}. {described['populations']}",
    )
    ui.rate_metric(
        r2,
        "Response, intention to treat",
        week4.get("response_itt"),
        min_n=min_n,
        help=f"{described['response']}. {described['populations']}",
    )
    ui.rate_metric(
        r3,
        "Remission, observed",
        week4.get("remission"),
        min_n=min_n,
        help=f"Remission: {described['remission']}.",
    )
    ui.rate_metric(
        r4,
        "Remission, intention to treat",
        week4.get("remission_itt"),
        min_n=min_n,
        help=f"Remission: {described['remission']}.",
    )

st.subheader("Course of treatment")
d1, d2, d3 = st.columns(3)
ttr = numbers["time_to_response"]
if ttr.get("median_reached"):
    d1.metric(
        "Median time to response",
        f"{ttr['median_days']:.0f} days",
        help=f"{TTR_HELP} {ui.KM_BAND_HELP}",
    )
    d1.caption("Kaplan-Meier: " + ui.format_median(ttr, events="responded"))
elif ttr:
    d1.metric("Median time to response", "not reached", help=TTR_HELP)
    d1.caption("Kaplan-Meier: " + ui.format_median(ttr, events="responded"))
else:
    d1.metric("Median time to response", "n/a")
    d1.caption("No patient with a baseline and a later score in this cohort.")

ui.rate_metric(
    d2,
    "Completed induction",
    numbers["flow"]["completed_induction"],
    min_n=min_n,
    help="Patients who started and reached the induction session count of their route: "
    + ", ".join(f"{figures.route_label(k)} {v}" for k, v in described["induction_sessions"].items())
    + ".",
)
ui.rate_metric(
    d3,
    dict(FLOW_STEPS)["scored_week4"],
    numbers["flow"]["scored_timepoint"],
    min_n=min_n,
    help="Patients who started with a baseline and a PCL-5 score in the week-4 window, among "
    "all who started and were due by then (scored, or followed to the end of the window). "
    "Unscored patients are missing data, not failures.",
)

st.subheader("Side effects (share of patients, at least once)")
effects = numbers["side_effects"]  # reported effects; the sessions' yes/no flags are on Safety
if not effects:
    st.caption("No side effects recorded for this cohort.")
else:
    ranked = sorted(effects, key=lambda e: -((e.get("patients") or {}).get("rate") or 0))[:3]
    cols = st.columns(3)
    for col, effect in zip(cols, ranked):
        ui.rate_metric(
            col,
            effect.get("label") or effect["effect"].replace("_", " ").capitalize(),
            effect.get("patients"),
            min_n=min_n,
            help="Patients with the effect at least once / patients with at least one session. "
            f"Per session: {ui.format_rate(effect.get('sessions'))}.",
        )

left, right = st.columns(2)
with left:
    st.subheader("PCL-5 over time")
    means = numbers["mean_by_week"]
    if means.empty:
        st.caption("No patient in this cohort has a baseline and a later PCL-5 score.")
    else:
        fig = figures.mean_score_figure(
            means,
            x="x",
            y_title="Mean PCL-5 total (points)",
            x_title="Weeks since first session",
            min_n=min_n,
            scale=(0, 80),
            print_n=False,  # half a page wide: the labels would cover the points
            cut=(definitions.remission_below, f"remission: below {definitions.remission_below:g}"),
        )
        fig.update_layout(height=420, showlegend=False)
        st.caption(
            "Mean with t-based 95% CI, drawn clipped to the PCL-5's 0-80 (the download has the "
            f"full interval); week 0 is the baseline. Weeks of fewer than {min_n} patients are "
            "open grey points (too few patients); a mean of fewer than 3 has no interval."
        )
        ui.show_figure(fig, means, "overview_mean_pcl5")
with right:
    st.subheader("Activity")
    activity = numbers["activity"]
    if isinstance(activity, list) and activity:
        table = pd.DataFrame(activity)
        st.caption(
            "Patients whose first session fell in each period, and every session those patients "
            "were given, whenever it was: only the year (or month) of the first session is kept."
        )
        period = "month" if "month" in table and table["month"].notna().any() else "year"
        if period == "month":
            table["period"] = (
                table["year"].astype(str) + "-" + table["month"].astype(int).map("{:02d}".format)
            )
        else:
            table["period"] = table["year"].astype(str)
        fig = figures.counts_by_period_figure(
            table, period="period", x_title="Year" if period == "year" else "Month"
        )
        ui.show_figure(fig, table.drop(columns="period"), "activity")
    else:
        st.caption("No patient in this cohort has a known first-session year.")
