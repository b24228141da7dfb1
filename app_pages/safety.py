"""Safety: side effects per patient and per session, blood pressure, dissociation, serious
events."""

import pandas as pd
import streamlit as st

from analytics.metrics.safety import (
    blood_pressure_rates_from,
    cadss_by_session_band_from,
    cadss_trend_from,
    effect_label,
    effect_rates_from,
    exposure_from,
    serious_events_from,
    systolic_rises_from,
)
from analytics.reference.spravato_label import label_reference
from charts import figures
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.glossary import glossary_links
from ui.settings import current_definitions

auth.require_page("safety")
context = get_context()
ui.page_header(
    "Safety",
    context,
    caption="Side effects counted two ways, never mixed: per patient (at least once) and per "
    "session.",
)
if ui.empty_state(context):
    st.stop()
try:
    # Safety's numbers do not depend on the outcome definitions; the per-patient table is the
    # one the other pages read.
    definitions = current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
min_n = definitions.min_patients
if results.cohort_result(exposure_from, context, definitions)["sessions"] == 0:
    st.info("This upload has no sessions table, so there is nothing to count side effects over.")
    st.stop()


# ---------------------------------------------------------------------------- side effects
def _top_effect_sentence(table: pd.DataFrame, level: str) -> str:
    """The most frequent side effect in words, with its k and n."""
    # the reported effects only: the session form's yes/no fields are another measure
    overall = table[(table["n"] > 0) & ~table["code"].str.endswith("_flag")]
    if "group" in overall:
        return (
            "Each bar is the share of "
            + ("patients with the effect at least once" if level == "patient" else "sessions")
            + " in one group; the legend names the groups."
        )
    if overall.empty:
        return "No side effect reported for this cohort."
    top = overall.sort_values("rate", ascending=False).iloc[0]
    unit = "patients" if level == "patient" else "sessions"
    when = " at least once" if level == "patient" else ""
    return (
        f"Reported most often: {top['effect']}, for {int(top['k']):,} of {int(top['n']):,} "
        f"{unit}{when} ({figures.format_percent(top['rate'])})."
    )


st.subheader("Side effects")
s1, s2 = st.columns(2)
level = s1.radio(
    "Count",
    ["patient", "session"],
    format_func={"patient": "Per patient (at least once)", "session": "Per session"}.get,
    horizontal=True,
    key="safety_level",
    help="Per patient: patients with the effect at least once / patients with a session (what "
    "the label reports). Per session: sessions with the effect / sessions given.",
)
split = s2.radio(
    "Split by",
    ["none", "route", "session_band"],
    format_func={"none": "Nothing", "route": "Route", "session_band": "Session number"}.get,
    horizontal=True,
    key="safety_split",
)
by = None if split == "none" else split
rates = results.cohort_result(effect_rates_from, context, definitions, by=by)
if rates.empty:
    st.info("No side effects recorded for this cohort.")
else:
    table = rates[rates["level"] == level].copy()
    table["code"] = table["effect"]
    table["effect"] = table["code"].map(effect_label)
    reference = None
    if level == "patient":
        ref = label_reference()
        reference = pd.DataFrame(
            {"effect": ref["effect"].map(effect_label), "rate": ref["esketamine_pct"] / 100}
        )
    fig = results.figure(
        figures.side_effect_figure,
        table,
        group="group" if by else None,
        reference=reference,
        x_title=(
            "Patients with the effect at least once (%)"
            if level == "patient"
            else "Sessions with the effect (%)"
        ),
        min_n=min_n,
        unit="patients" if level == "patient" else "sessions",
    )
    st.caption(_top_effect_sentence(table, level))
    ui.show_figure(fig, table.drop(columns="code"), f"side_effects_{level}")
    with st.expander("How this is computed", icon=":material/info:"):
        st.markdown(
            "**Per patient**: patients with the effect at least once, among patients with at "
            "least one session (what the Spravato label reports). **Per session**: sessions "
            "with the effect, among sessions given. Each bar carries its numbers and a 95% "
            f"confidence interval; bars of fewer than {min_n} patients are grey (too few).\n\n"
            + (
                "**The diamonds**: the Spravato label's short-term trials in "
                "treatment-resistant depression (346 patients on esketamine): a different "
                "population and design, shown as context, not a target.\n\n"
                if level == "patient"
                else ""
            )
            + "**Dissociation and sedation are each counted two ways, never merged**: as a "
            "reported side effect (as the label counts them), and as the session's own yes/no "
            "field on the monitoring form (REMS), among the sessions where it was recorded."
        )
        glossary_links(st, "dissociation", "confidence-interval")

# ---------------------------------------------------------------------------- blood pressure
st.subheader("Blood pressure")
bp_rates = results.cohort_result(blood_pressure_rates_from, context, definitions)
rises = results.cohort_result(systolic_rises_from, context, definitions)
MEASURES = {
    "pre_dose_above": "Pre-dose BP above 140/90 (150 systolic at 65+)",
    "rise": "Rise of ≥ 40 systolic and/or ≥ 25 diastolic",
    "systolic_rise": "Systolic rise ≥ 40 mmHg",
    "diastolic_rise": "Diastolic rise ≥ 25 mmHg",
}
if bp_rates.empty or not (bp_rates["n"] > 0).any():
    st.info("No blood-pressure readings recorded for this cohort.")
else:
    cols = st.columns(2)
    for col, measure in zip(cols, ("pre_dose_above", "rise")):
        row = bp_rates[(bp_rates["measure"] == measure) & (bp_rates["level"] == "session")]
        if not row.empty:
            ui.rate_metric(
                col,
                MEASURES[measure] + " (sessions)",
                row.iloc[0][["k", "n", "rate", "ci_low", "ci_high"]].to_dict(),
                wrap=True,  # the label is the threshold: cut at 1024 px, it would say nothing
                help=(
                    "Sessions whose blood pressure before the dose was above the threshold, "
                    "among sessions with a pre-dose reading. The phase 3 trials held the dose "
                    "above 140/90 (150 systolic at 65+)."
                    if measure == "pre_dose_above"
                    else "Sessions whose peak pressure rose this much over the pre-dose "
                    "reading, among sessions with both readings. The Spravato label reports "
                    "8-19% of esketamine patients with a rise this size."
                ),
            )
    if not rises.empty:
        fig = results.figure(
            figures.distribution_figure,
            rises,
            value="systolic_rise",
            group="route",
            x_title="Systolic rise, peak minus pre-dose (mmHg)",
            thresholds=[(40, "40 mmHg")],
            min_n=min_n,
        )
        st.caption(
            "How far systolic pressure rose from before the dose to its peak, one count per "
            "session; the line marks a rise of 40 mmHg."
        )
        ui.show_figure(fig, bp_rates, "blood_pressure")

# ---------------------------------------------------------------------------- CADSS
st.subheader("Dissociation (CADSS score) over sessions")
cadss = results.cohort_result(cadss_by_session_band_from, context, definitions)
if cadss.empty:
    st.info("No CADSS scores recorded for this cohort.")
else:
    fig = results.figure(
        figures.mean_score_figure,
        cadss.rename(columns={"n_patients": "n"}),
        x="band",
        x_title="Session number band",
        y_title="Mean CADSS (0-92 points)",
        min_n=min_n,
        scale=(0, 92),
    )
    fig.update_xaxes(type="category")
    trend = results.cohort_result(cadss_trend_from, context, definitions)
    if trend.mean_change is not None:
        ci = (
            f" (95% CI {ui.format_points(trend.change_ci_low)} to "
            f"{ui.format_points(trend.change_ci_high)})"
            if trend.change_ci_low is not None and trend.paired_n >= 3
            else ""
        )
        few = f", {figures.TOO_FEW}" if trend.paired_n < min_n else ""
        st.caption(
            "The average dissociation score (CADSS, 0-92; higher is more dissociation) at each "
            f"band of session numbers. In the {trend.paired_n:,} patients scored at session 1 "
            f"and at session {trend.late_session} or later{few}, it changed by "
            f"{ui.format_points(trend.mean_change, signed=True)} points on average{ci}."
        )
    ui.show_figure(fig, cadss, "cadss_by_session")
    with st.expander("How this is computed", icon=":material/info:"):
        st.markdown(
            "Each patient counts once per band of session numbers. The band around the line "
            "is the 95% confidence interval of the mean (from Student's t); bands of fewer "
            f"than {min_n} patients are open grey points, and a mean of fewer than 3 patients "
            "has no interval."
        )
        glossary_links(st, "dissociation", "confidence-interval")

# ---------------------------------------------------------------------------- serious events
SERIOUS_TITLES = {
    "patient_id": "Patient",
    "day": "Day",
    "session_number": "Session",
    "route": "Route",
    "effect": "Side effect",
    "severity": "Severity",
}
st.subheader("Serious events")
serious = results.cohort_result(serious_events_from, context, definitions)
if serious.empty:
    st.caption("No side effect marked serious in this cohort.")
else:
    st.caption(f"{len(serious):,} side effects marked serious, one row each.")
    shown = serious.assign(
        effect=serious["effect"].map(effect_label),
        route=serious["route"].map(figures.route_label),
        severity=serious["severity"].str.capitalize(),
    ).rename(columns=SERIOUS_TITLES)[list(SERIOUS_TITLES.values())]
    ui.rows_table(shown)  # a few wrap in a table; a network's thousands scroll in a grid
    ui.download_table(shown, "serious_events")
