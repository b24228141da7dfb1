"""Overview: the clinic director's one screen."""

import pandas as pd
import streamlit as st

from analytics.metrics.attrition import FLOW_STEPS
from analytics.report.board_report import board_report_of
from analytics.report.cohort import describe_cohort
from analytics.report.overview import overview_of
from charts import figures
from documents.board_report import board_report_pdf
from store.config import clinic_name as default_clinic_name
from ui import auth, cohort, results, settings
from ui import components as ui
from ui.glossary import glossary_links

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
RULE = definitions.response
RESPONSE = f"PCL-5 down by at least {RULE.threshold:g}{'%' if RULE.kind == 'pct' else ' points'}"
REMISSION = f"PCL-5 below {definitions.remission_below:g}"
OBSERVED_HELP = "Observed: among the patients with a baseline and a PCL-5 score at week 4."
ITT_HELP = (
    "Intention to treat (ITT): among every patient with a baseline who started treatment and "
    "was due at week 4, scored or not; a patient with no score counts as not responding."
)


def _week4_sentence(response, remission) -> str:
    """The week-4 headline in words: "Of the 157 patients scored at week 4, 90 (57%) ..."."""
    response, remission = ui.as_rate(response) or {}, ui.as_rate(remission) or {}
    if not response.get("n"):
        return "No patient in this cohort was scored at week 4."
    few = " (too few patients to read as a rate)" if response["n"] < min_n else ""
    text = (
        f"Of the {int(response['n']):,} patients scored at week 4, {int(response['k']):,} "
        f"({figures.format_percent(response['rate'])}) responded ({RESPONSE}){few}"
    )
    if remission.get("n"):
        text += (
            f"; of the {int(remission['n']):,} who started at or above the cut-point, "
            f"{int(remission['k']):,} ({figures.format_percent(remission['rate'])}) remitted "
            f"({REMISSION})"
        )
    return text + "."


# The cohort's rows of the per-patient table added up: a filter change costs no new analysis.
numbers = results.cohort_result(overview_of, context, definitions)
counts = numbers["counts"]
c1, c2, c3, c4 = st.columns(4)
ui.metric(
    c1,
    "Patients treated",
    ui.format_count(counts.get("patients")),
    wrap=True,
    help="Patients in the cohort: every patient in the upload who matches the sidebar's filters.",
)
ui.metric(
    c2,
    "Sessions given",
    ui.format_count(counts.get("sessions")),
    wrap=True,
    help="Treatment sessions recorded for these patients.",
)
ui.metric(
    c3,
    "Assessments",
    ui.format_count(counts.get("assessments")),
    wrap=True,
    help="Completed questionnaires of any instrument.",
)
baseline = numbers["baseline"]
ui.metric(
    c4,
    "PCL-5 baseline, mean",
    ui.format_mean(baseline["mean"], baseline["n"], min_n=min_n) if baseline.get("n") else "–",
    shown="Baseline PCL-5",
    help=f"Mean PCL-5 total before the first dose (0-80 points; higher is worse), over "
    f"{baseline.get('n', 0):,} patients with a baseline score. Baseline: {described['baseline']}.",
)

st.subheader("Week 4 (PCL-5)")
week4 = numbers["timepoint"]
if not week4:
    st.info("No week-4 timepoint in the definitions in force.")
else:
    st.caption(_week4_sentence(week4.get("response"), week4.get("remission")))
    observed, itt = st.columns(2, gap="large")
    # the full names stay the metrics' own (the Claims check must never reuse them)
    for column, heading, help_text, key, response_label, remission_label in (
        (observed, "Observed", OBSERVED_HELP, "", "Response, observed", "Remission, observed"),
        (
            itt,
            "Intention to treat",
            ITT_HELP,
            "_itt",
            "Response, intention to treat",
            "Remission, intention to treat",
        ),
    ):
        column.markdown(f"**{heading}**", help=help_text)
        left, right = column.columns(2)
        ui.rate_metric(
            left,
            response_label,
            week4.get(f"response{key}"),
            shown="Response",
            min_n=min_n,
            help=f"Response: {RESPONSE} from baseline. {help_text}",
        )
        ui.rate_metric(
            right,
            remission_label,
            week4.get(f"remission{key}"),
            shown="Remission",
            min_n=min_n,
            help=f"Remission: {REMISSION}, among patients whose baseline was "
            f"{definitions.remission_requires_baseline_at_or_above:g} or more. {help_text}",
        )

st.subheader("Course of treatment")
d1, d2, d3 = st.columns(3)
ttr = numbers["time_to_response"]
TTR_LABEL = "Median time to response"
TTR_HELP = (
    f"Days from the first session to the first PCL-5 score meeting the response rule "
    f"({RESPONSE}). Kaplan-Meier estimate: a patient who has not responded yet counts up to "
    "the last score (censored)."
)
ui.median_metric(d1, TTR_LABEL, ttr, "responded", help=TTR_HELP)

ui.rate_metric(
    d2,
    "Completed induction",
    numbers["flow"]["completed_induction"],
    min_n=min_n,
    wrap=True,
    help="Patients who started and reached the induction session count of their route: "
    + ", ".join(
        f"{figures.route_label(k)} {v} sessions" for k, v in described["induction_sessions"].items()
    )
    + ".",
)
# A short name on screen, the population a hover away: the full name wrapped to three lines
# at 1024 px and pushed its number below the others of the row.
ui.rate_metric(
    d3,
    dict(FLOW_STEPS)["scored_week4"],
    numbers["flow"]["scored_timepoint"],
    shown="Scored at week 4",
    min_n=min_n,
    help=f"{dict(FLOW_STEPS)['scored_week4']}: patients who started with a baseline and a "
    "PCL-5 score in the week-4 window, among all who started and were due by then (scored, "
    "or followed to the end of the window). Unscored patients are missing data, not failures.",
)
st.subheader("Side effects (share of patients, at least once)")
effects = numbers["side_effects"]  # reported effects; the sessions' yes/no flags are on Safety
if not effects:
    st.caption("No side effects recorded for this cohort.")
else:
    ranked = sorted(effects, key=lambda e: -((e.get("patients") or {}).get("rate") or 0))[:3]
    st.caption("The three side effects reported for the most patients; Safety has them all.")
    cols = st.columns(3)
    for col, effect in zip(cols, ranked):
        ui.rate_metric(
            col,
            effect.get("label") or effect["effect"].replace("_", " ").capitalize(),
            effect.get("patients"),
            min_n=min_n,
            wrap=True,
            help="Patients with the effect at least once, among patients with at least one "
            f"session. Per session: {ui.format_rate(effect.get('sessions'))}.",
        )

# One above the other: side by side at 1024 px, the activity panels' axes ran into each other.
left, right = st.container(), st.container()
with left:
    st.subheader("PCL-5 over time")
    means = numbers["mean_by_week"]
    if means.empty:
        st.caption("No patient in this cohort has a baseline and a later PCL-5 score.")
    else:
        fig = results.figure(
            figures.mean_score_figure,
            means,
            x="x",
            y_title="Mean PCL-5 total (points)",
            x_title="Weeks since first session",
            min_n=min_n,
            scale=(0, 80),
            cut=(definitions.remission_below, f"remission: below {definitions.remission_below:g}"),
        )
        fig.update_layout(height=420, showlegend=False)
        st.caption(
            "The average PCL-5 score by week since the first session (week 0 is before the "
            "first dose); lower is better, and a score below the dashed line "
            f"({definitions.remission_below:g}) counts as remission."
        )
        ui.show_figure(fig, means, "overview_mean_pcl5")
        with st.expander("How this is computed", icon=":material/info:"):
            st.markdown(
                "Each patient with a baseline counts once per week. The band is the 95% "
                "confidence interval of the mean (from Student's t), drawn within the "
                "PCL-5's 0-80 range; the download has the full interval. "
                f"Weeks of fewer than {min_n} patients are open grey points (too few "
                "patients), and a mean of fewer than 3 patients has no interval. "
                f"Baseline: {described['baseline']}."
            )
            glossary_links(st, "baseline", "confidence-interval", "too-few-patients")
with right:
    st.subheader("Activity")
    activity = numbers["activity"]
    if isinstance(activity, list) and activity:
        table = pd.DataFrame(activity)
        st.caption(
            "New patients by the year (or month) of their first session, and every session "
            "those patients were given, whenever it was."
        )
        period = "month" if "month" in table and table["month"].notna().any() else "year"
        if period == "month":
            table["period"] = (
                table["year"].astype(str) + "-" + table["month"].astype(int).map("{:02d}".format)
            )
        else:
            table["period"] = table["year"].astype(str)
        fig = results.figure(
            figures.counts_by_period_figure,
            table,
            period="period",
            x_title="Year" if period == "year" else "Month",
        )
        ui.show_figure(fig, table.drop(columns="period"), "activity")
    else:
        st.caption("No patient in this cohort has a known first-session year.")

# ---------------------------------------------------------------------------- board report
REPORT_ROLES = ("director", "clinician")
user = auth.run_user()
if user is not None and user.role in REPORT_ROLES:
    st.subheader("Board report")
    st.caption(
        "A PDF of this cohort for a board or a payer: the headline numbers with their counts "
        "and 95% confidence intervals, the course of the PCL-5 by route, response and "
        "remission by timepoint, how long a response lasts, the attrition funnel, side "
        "effects and blood pressure beside the Spravato label, the claims check, and every "
        "definition in force. Making it takes a few seconds; it is recorded in the audit log."
    )
    clinic_name = st.text_input(
        "Clinic name on the cover",
        value=default_clinic_name(),
        key="report_clinic_name",
        max_chars=80,
        placeholder="e.g. Riverside Ketamine Clinic",
        help="Set once for everyone with the CLINIC_NAME setting of the server.",
    )
    # its own row: beside the name its label was cut at 1024 px
    suppress = st.toggle(
        "Suppress small cells (<11)",
        value=True,
        key="report_suppress",
        help="Counts from 1 to 10, and any rate or cell they could be worked out from, are "
        "shown as <11 (the CMS cell-size rule). Leave on for anything that leaves the clinic.",
    )
    cohort_words = describe_cohort(context.filters)

    def _report_pdf() -> bytes:
        table = results.patient_table(context, definitions)
        report = board_report_of(
            table,
            context.keep(table),
            definitions,
            clinic_name=clinic_name.strip(),
            cohort=cohort_words,
            data_version=context.loaded.version,
            made_by=user.username,
            suppress=suppress,
        )
        return board_report_pdf(report)

    slug = cohort.filters_slug(context.filters)
    auth.audited_download(
        "Download the board report (PDF)",
        _report_pdf,
        file_name=f"board-report{'_' + slug if slug else ''}.pdf",
        rows=int(counts.get("patients") or 0),
        action="export",
        detail={"what": "board report", "cohort": cohort_words, "suppression": bool(suppress)},
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key="overview_board_report",
    )
