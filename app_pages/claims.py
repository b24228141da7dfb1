"""Claims check: what the clinic's own data says about claims made to patients."""

import pandas as pd
import streamlit as st

from analytics.metrics.claims import claims_summary_from
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.settings import current_definitions

auth.require_page("claims")
context = get_context()
ui.page_header(
    "Claims check",
    context,
    caption="Two claims a ketamine clinic's patient page makes, checked against this clinic's "
    "own PCL-5 records.",
)
if ui.empty_state(context):
    st.stop()
try:
    definitions = current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
summary = results.cohort_result(claims_summary_from, context, definitions)

st.markdown(
    'The claim usually cites "research published in Clinical Neuropsychology"; the source is '
    "most likely Almeida et al. 2024 (*Clinical Neuropsychiatry* 21:22), a meta-analysis in which "
    "PCL-5 improved at 24 hours and at the 1-4 week endpoint, significantly only at the endpoint."
)

VERDICT_ICONS = {
    "supported": ":material/check_circle:",
    "partly supported": ":material/contrast:",
    "not supported": ":material/cancel:",
    "not enough data": ":material/help:",
}
TITLES = {
    "within_24h": "“PCL-5 scores improve within 24 hours”",
    "persisted_to_week_4": "“…and the improvement lasts through four weeks”",
}


def _p(value: float | None) -> str:
    if value is None:
        return "p not computed"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _mean_change(check: dict) -> str:
    if check.get("mean_change") is None:
        return "–"
    return f"{check['mean_change']:+.1f}"


for key, title in TITLES.items():
    check = summary.get(key)
    with st.container(border=True):
        st.subheader(title)
        if check is None:
            st.info(
                "This claim needs the 24-hour, week-1 and week-4 windows; they are not all "
                "in the definitions in force (Settings)."
            )
            continue
        verdict = check["verdict"]
        box = (
            st.success
            if verdict == "supported"
            else (st.warning if verdict in ("partly supported", "not enough data") else st.error)
        )
        box(f"**{verdict.capitalize()}.** {check['sentence']}", icon=VERDICT_ICONS.get(verdict))
        c1, c2, c3, c4 = st.columns(4)
        ci = (
            f"95% CI {check['change_ci_low']:+.1f} to {check['change_ci_high']:+.1f}"
            if check.get("change_ci_low") is not None
            else "CI not estimable"
        )
        ui.metric(
            c1,
            check["change_label"],
            _mean_change(check),
            help="Score minus baseline; negative = better. " + check["population"],
            wrap=True,
        )
        c1.caption(f"{ci}; n = {check['n']}")
        # Each label names its population: the Overview's "Scored at week 4" counts among
        # every patient who started, and its observed response among everyone scored.
        ui.rate_metric(
            c2,
            check["scored_label"],
            check["scored"],
            help="Patients with a baseline score who started treatment and have a score in "
            "the window; the rest are missing data, which can flatter a claim.",
            wrap=True,
        )
        ui.rate_metric(c3, check["response_label"], check["response"], wrap=True)
        if check.get("still_responding") is not None:
            ui.rate_metric(
                c4,
                "Early responders still responding",
                check["still_responding"],
                help="Intention to treat: " + ui.format_rate(check.get("still_responding_itt")),
                wrap=True,
            )
        else:
            ui.rate_metric(c4, check["response_itt_label"], check["response_itt"], wrap=True)
        st.caption(
            f"Paired t test {_p(check.get('p_value'))}; Wilcoxon signed-rank "
            f"{_p(check.get('p_wilcoxon'))}. Rule: {check['rule']}"
        )
        ui.download_table(
            pd.DataFrame([{k: v for k, v in check.items() if not isinstance(v, dict)}]),
            f"claim_{key}",
        )

st.caption(
    "Caveats: a clinic's patients are not a trial sample; patients who are not scored at a "
    "timepoint are missing, not failures, in the observed numbers; and no comparison group "
    "means improvement cannot be attributed to treatment alone."
)
