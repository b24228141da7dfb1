"""Settings: the outcome definitions every page uses, editable and resettable."""

import pandas as pd
import streamlit as st

from analytics.core.definitions import KM_BANDS, OutcomeDefinitions
from charts import figures
from ui import auth, settings

auth.require_page("settings")
st.title("Settings")
st.caption(
    "How response, remission and the timepoints are defined, for every page. A change "
    "applies to this session and is recorded in the audit log; the defaults follow published "
    "studies."
)

current = settings.settings()
defaults = OutcomeDefinitions.for_instrument("PCL-5")

# The timepoint editor's columns, in the order of a window's fields (label, target, low, high).
WINDOW_COLUMNS = ("Timepoint", "Target day", "From day", "To day")

RULES = {
    "default": "Each instrument's default (PCL-5 ≥30%; PHQ-9, GAD-7, BDI-II, MADRS ≥50%)",
    "pct:30": "≥30% reduction (ketamine PTSD literature; default for PCL-5)",
    "points:10": "≥10-point reduction (NCPTSD clinically meaningful; Yale KPE responder rule)",
    "pct:50": "≥50% reduction (depression convention)",
}

with st.form("settings_form"):
    st.subheader("Response and remission")
    rule_choice = st.selectbox(
        "Response rule",
        [*RULES, "custom"],
        index=list(RULES).index(current["response"] or "default")
        if (current["response"] or "default") in RULES
        else len(RULES),
        format_func=lambda k: RULES.get(k, "Custom (type below)"),
        help="A chosen rule applies to every instrument.",
        key="settings_response",
    )
    custom_rule = st.text_input(
        "Custom rule (pct:N or points:N)",
        value="" if (current["response"] or "default") in RULES else current["response"],
        help="For example pct:40 or points:15.",
        key="settings_custom_rule",
    )
    remission_default = st.checkbox(
        "Use the PCL-5 remission cut-point (below 33)",
        value=current["remission_cut"] is None,
        help="Probable-PTSD cut-point (Bovin et al. 2016). Other instruments keep their own: "
        "PHQ-9 and GAD-7 below 5, BDI-II 13 or less, MADRS 12 or less.",
    )
    remission_cut = st.number_input(
        "PCL-5 remission: score below",
        min_value=0.0,
        max_value=100.0,
        value=float(current["remission_cut"] or defaults.remission_below),
        step=1.0,
        help="Used only when the box above is unticked.",
    )
    st.subheader(
        "Reliable change",
        help="A change larger than the questionnaire's own measurement error (Jacobson & "
        "Truax 1991): it needs how well the score repeats (test-retest reliability) and how "
        "spread out the baseline scores are (SD).",
    )
    r1, r2 = st.columns(2)
    reliability_r = r1.number_input(
        "Test-retest reliability r",
        min_value=0.01,
        max_value=0.99,
        value=float(current["reliability_r"] or defaults.reliability_r),
        step=0.01,
        help="PCL-5 test-retest r = .82 (Blevins et al. 2015); alpha .94.",
    )
    sd_cohort = r2.checkbox(
        "Use the cohort's baseline SD (PCL-5)",
        value=current["sd_pre"] is None,
        help="The SD of baseline scores in the cohort. Unticked: the SD below.",
    )
    sd_pre = r2.number_input(
        "PCL-5 baseline SD (points)",
        min_value=0.1,
        max_value=50.0,
        value=float(current["sd_pre"] or 14.0),
        step=0.5,
    )
    st.subheader("Small samples and time to event")
    s1, s2 = st.columns(2)
    min_patients = s1.number_input(
        "Fewest patients for a solid bar",
        min_value=1,
        max_value=100,
        value=int(current.get("min_patients") or defaults.min_patients),
        step=1,
        key="settings_min_patients",
        help="Rates and means from fewer patients are drawn grey and labelled 'too few "
        "patients' (our default 10). The numbers are still shown, with their n.",
    )
    band_words = {
        "log-log": "Log-log (our default, as Stata and SAS)",
        "log": "Log (R survival's default)",
        "plain": "Plain (Greenwood, no transformation)",
    }
    km_band = s2.selectbox(
        "Interval of a median time (Kaplan-Meier)",
        list(KM_BANDS),
        index=list(KM_BANDS).index(current.get("km_band") or defaults.km_band),
        format_func=band_words.get,
        key="settings_km_band",
        help="How the 95% interval of each median time to loss of response, relapse or "
        "response is read from the survival curve. Printed with every median.",
    )
    st.subheader("Timepoint windows")
    st.caption(
        "A timepoint is the score nearest the target day within the window (days since the first "
        "session). Day 0 is the pre-dose baseline, so windows start on day 1 or later."
    )
    windows = current["windows"] or [
        (w.label, w.target_day, w.low, w.high) for w in defaults.windows
    ]
    window_table = st.data_editor(
        pd.DataFrame(windows, columns=list(WINDOW_COLUMNS)),
        num_rows="dynamic",
        hide_index=True,
        key="settings_windows",
        column_config={
            "Timepoint": st.column_config.TextColumn(required=True),
            "Target day": st.column_config.NumberColumn(step=1, required=True),
            "From day": st.column_config.NumberColumn(step=1, required=True),
            "To day": st.column_config.NumberColumn(step=1, required=True),
        },
    )
    submitted = st.form_submit_button(
        "Apply", type="primary", icon=":material/check:", key="settings_apply"
    )

if submitted:
    response = {"custom": custom_rule.strip(), "default": None}.get(rule_choice, rule_choice)
    rows = window_table.dropna()
    default_rows = [(w.label, w.target_day, w.low, w.high) for w in defaults.windows]
    window_rows = [
        (str(label), int(target), int(low), int(high))
        for label, target, low, high in rows[list(WINDOW_COLUMNS)].itertuples(index=False)
    ]
    values = {
        "response": response,
        "remission_cut": None if remission_default else remission_cut,
        "reliability_r": None if reliability_r == defaults.reliability_r else reliability_r,
        "sd_pre": None if sd_cohort else sd_pre,
        "windows": None if window_rows == default_rows else window_rows,
        "km_band": None if km_band == defaults.km_band else km_band,
        "min_patients": None if min_patients == defaults.min_patients else int(min_patients),
    }
    try:
        OutcomeDefinitions.for_instrument("PCL-5", **settings.definition_overrides(values, "PCL-5"))
    except ValueError as error:
        st.error(f"Not applied: {error}")
    else:
        settings.save_settings(values)
        changed = sorted(k for k in values if values[k] != current.get(k))
        # the audit takes numbers and text: windows are logged as their count
        logged = {k: v for k, v in values.items() if k != "windows" and v is not None}
        auth.audit(
            "settings_changed",
            changed=changed,
            windows=len(values["windows"]) if values["windows"] else "default",
            **logged,
        )
        st.success("Applied to every page.")
        st.rerun()

if st.button("Reset to defaults", icon=":material/restart_alt:", key="settings_reset"):
    settings.reset_settings()
    auth.audit("settings_changed", reset=True)
    st.session_state.pop("settings_windows", None)
    st.rerun()

st.subheader("Definitions in force")
# What each definition is called on screen; the order is the order shown.
DEFINITION_NAMES = {
    "response": "Response",
    "remission": "Remission",
    "meaningful": "Meaningful change",
    "reliable_change": "Reliable change",
    "baseline": "Baseline score",
    "timepoints": "Timepoints",
    "timepoint_rule": "Which score counts at a timepoint",
    "populations": "Observed and intention to treat",
    "intention_to_treat": "Intention to treat",
    "small_samples": "Small numbers",
    "ci": "95% confidence intervals",
    "km_band": "Median time to an event (Kaplan-Meier)",
    "effect_sizes": "Effect sizes",
    "induction_sessions": "Sessions of an induction course",
    "not_on_track": "Not on track",
    "instrument": "Questionnaire",
}
# The ones a reader needs first, in short: the rest (and every source) is in the expander.
SHORT = ("response", "remission", "meaningful", "baseline", "timepoints", "small_samples")


def _definition_text(name: str, text) -> str:
    if name == "induction_sessions" and isinstance(text, dict):
        return ", ".join(f"{figures.route_label(k)} {v}" for k, v in text.items())
    if isinstance(text, list):
        return "; ".join(map(str, text))
    if isinstance(text, dict):
        return ", ".join(f"{k} {v}" for k, v in text.items())
    return str(text)


def _short(name: str, text) -> str:
    """The definition without its source: the part before the bracketed reference."""
    if name == "timepoints" and isinstance(text, list):
        return ", ".join(str(t).split(":")[0] for t in text)
    return _definition_text(name, text).split(" (")[0]


try:
    definitions = settings.current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}")
else:
    described = definitions.describe()
    st.markdown(
        "\n".join(
            f"- **{DEFINITION_NAMES[name]}**: {_short(name, described[name])}"
            for name in SHORT
            if name in described
        )
    )
    with st.expander("How this is computed: every definition with its source"):
        for name, text in described.items():
            if name == "response_rule":
                continue  # the rule's code; "Response" above says it in words
            title = DEFINITION_NAMES.get(name, name.replace("_", " ").capitalize())
            st.markdown(f"**{title}**: {_definition_text(name, text)}")
