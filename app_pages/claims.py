"""Claims check: what the clinic's own data says about claims made to patients."""

import pandas as pd
import streamlit as st

from analytics.metrics.claims import claims_summary_from
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.glossary import glossary_links
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

# Green only for a claim the data support; amber when only part of the rule holds.
VERDICT_BADGES = {
    "supported": ("Supported", ":material/check_circle:", "green"),
    "partly supported": ("Partly supported", ":material/contrast:", "orange"),
    "not supported": ("Not supported", ":material/cancel:", "red"),
    "not enough data": ("Not enough data", ":material/help:", "gray"),
}
TITLES = {
    "within_24h": "“PCL-5 scores improve within 24 hours”",
    "persisted_to_week_4": "“…and the improvement lasts through four weeks”",
}
ITT_HELP = (
    "Intention to treat: every patient with a baseline score who started treatment; a patient "
    "with no score in the window counts as not responding."
)


def _p(value: float | None) -> str:
    if value is None:
        return "p not computed"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _mean_change(check: dict) -> str:
    if check.get("mean_change") is None:
        return "–"
    return f"{check['mean_change']:+.1f}"


def _show_verdict(check: dict) -> None:
    """The verdict, its reason with the numbers, and the rule it follows, in body text."""
    label, icon, color = VERDICT_BADGES[check["verdict"]]
    st.badge(label, icon=icon, color=color)
    st.markdown(f"**{check['verdict_reason']}**")
    st.markdown(f"**The rule.** {check['rule']}")


def _show_numbers(check: dict) -> None:
    """Every number behind the verdict, each rate with k/n and its 95% CI."""
    ci = (
        f"95% CI {check['change_ci_low']:+.1f} to {check['change_ci_high']:+.1f} points"
        if check.get("change_ci_low") is not None
        else "CI not estimable"
    )
    rates = [
        (
            check["scored_label"],
            check["scored"],
            "Patients with a baseline score who started treatment and have a score in the "
            "window; the rest are missing data, which can flatter a claim.",
        ),
        (check["response_label"], check["response"], check["population"].capitalize() + "."),
        (check["response_itt_label"], check["response_itt"], ITT_HELP),
    ]
    if check.get("still_responding") is not None:
        rates += [
            (
                check["still_responding_label"],
                check["still_responding"],
                "Early responders who have a score at week 4.",
            ),
            (
                check["still_responding_itt_label"],
                check["still_responding_itt"],
                "Every early responder; one with no week-4 score counts as not responding.",
            ),
        ]
    cells = [c for _ in range((len(rates) + 2) // 2) for c in st.columns(2)]
    ui.metric(
        cells[0],
        check["change_label"],
        _mean_change(check),
        help="Score minus baseline; negative = better. " + check["population"].capitalize() + ".",
        wrap=True,
    )
    cells[0].caption(f"{ci}; {check['n']:,} patients")
    # Each label names its population: the Overview's week-4 response counts among everyone
    # scored at week 4, and its coverage among every patient who started.
    for cell, (label, value, help_text) in zip(cells[1:], rates):
        ui.rate_metric(
            cell, label, value, help=help_text, wrap=True, min_n=definitions.min_patients
        )
    with st.expander("How this is computed", icon=":material/info:"):
        st.markdown(
            "**Mean change** is each patient's score minus their baseline, averaged; negative "
            "is better. Its 95% confidence interval is from Student's t. Whether a fall this "
            "large could be chance if nothing changed on average: paired t test "
            f"{_p(check.get('p_value'))}; Wilcoxon signed-rank test (which does not assume "
            f"normally distributed changes) {_p(check.get('p_wilcoxon'))}.\n\n"
            "**Every rate** carries its numbers (patients with the outcome / patients counted) "
            f"and a 95% confidence interval, the {definitions.describe()['ci']}. "
            "**Observed** rates count the patients scored in the window; **intention to treat** "
            "counts every patient with a baseline who started treatment and was due, a "
            "patient with no score counting as not responding."
        )
        glossary_links(st, "observed", "intention-to-treat", "confidence-interval")


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
        # The verdict above its numbers: side by side at 1024 px, both wrapped to a word a line.
        _show_verdict(check)
        _show_numbers(check)
        ui.download_table(
            pd.DataFrame([{k: v for k, v in check.items() if not isinstance(v, dict)}]),
            f"claim_{key}",
        )

st.caption(
    "Caveats: a clinic's patients are not a trial sample; patients who are not scored at a "
    "timepoint are missing, not failures, in the observed numbers; and no comparison group "
    "means improvement cannot be attributed to treatment alone."
)
