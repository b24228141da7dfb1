"""Cohorts & patients: groups side by side, attrition, patients not on track, one patient."""

import pandas as pd
import streamlit as st

from analytics.metrics.attrition import attrition_flow_from
from analytics.metrics.groups import group_outcomes_from
from analytics.metrics.not_on_track import not_on_track_from, not_on_track_rule
from analytics.metrics.safety import effect_label
from analytics.report.cohort import describe_cohort, filters_slug
from analytics.report.patient_export import patient_export_sheets
from charts import figures
from documents.workbook import export_file_bytes
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.glossary import glossary_links
from ui.settings import current_definitions

auth.require_page("cohorts")
context = get_context()
ui.page_header(
    "Cohorts & patients", context, caption="For clinicians: who is doing well, who is not."
)
if ui.empty_state(context):
    st.stop()
try:
    definitions = current_definitions("PCL-5")
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
described = definitions.describe()
min_n = definitions.min_patients
RULE = definitions.response
RESPONSE = f"PCL-5 down by at least {RULE.threshold:g}{'%' if RULE.kind == 'pct' else ' points'}"
labels = [w.label for w in definitions.windows]

# Column titles in words; a column missing from an upload is left out.
# Seven narrow columns fit the 1024 px screen; the download keeps every column.
TRACK_TITLES = {
    "patient_id": "Patient",
    "baseline": "Baseline",
    "latest_score": "Latest score",
    "change": "Change",
    "latest_day": "Day",
    "flagged_by": "Flagged",
    "route": "Route",
}
FLAGGED_BY = {
    "sessions": f"After {definitions.not_on_track_sessions} sessions",
    "sessions and week 2": "Both",
    "week 2": "At week 2",
}
TRACK_COLUMNS = {
    "Patient": st.column_config.TextColumn(width=64, pinned=True),
    "Baseline": st.column_config.NumberColumn(format="%.0f", width=64),
    "Latest score": st.column_config.NumberColumn(
        format="%.0f", width=86, help="The most recent PCL-5 score."
    ),
    "Change": st.column_config.NumberColumn(
        format="%+.0f", width=58, help="Latest score minus baseline, in points: below 0 is better."
    ),
    "Day": st.column_config.NumberColumn(
        width=44, help="The day of the latest score, counted from the first session (day 0)."
    ),
    "Flagged": st.column_config.TextColumn(
        width=84,
        help=f"Which check flagged the patient: after {definitions.not_on_track_sessions} "
        "sessions, at week 2, or both.",
    ),
    "Route": st.column_config.TextColumn(width=162),
}
EFFECT_TITLES = {
    "day": "Day",
    "session_number": "Session",
    "effect": "Side effect",
    "severity": "Severity",
    "serious": "Serious",
}
YES_NO = {True: "Yes", False: "No"}


def _readable(frame: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    """``frame``'s columns named in ``titles``, in that order, under those titles; numbers
    rounded to one decimal (scores, never more precise than the form)."""
    kept = [c for c in titles if c in frame and frame[c].notna().any()]
    out = frame[kept].rename(columns=titles)
    floats = out.select_dtypes("float").columns
    out[floats] = out[floats].round(1)
    return out


def _same_throughout(sessions: pd.DataFrame) -> str:
    """The route, site and clinician when every session shares them: said once, not per row."""
    said = []
    for column, word in (("route", ""), ("site", "site "), ("clinician", "clinician ")):
        values = sessions[column].dropna().unique() if column in sessions else []
        if len(values) == 1:
            value = figures.route_label(values[0]) if column == "route" else values[0]
            said.append(f"{word}{value}")
    return f"Every session: {', '.join(said)}." if said else ""


def _pressure(systolic: pd.Series, diastolic: pd.Series) -> pd.Series:
    """Blood pressure as "120/77" (mmHg), "–" when a reading is missing."""
    known = systolic.notna() & diastolic.notna()
    text = systolic.round().astype("Int64").astype(str) + "/"
    text += diastolic.round().astype("Int64").astype(str)
    return text.where(known, "–")


def _session_rows(sessions: pd.DataFrame) -> pd.DataFrame:
    """One patient's sessions for reading: doses and pressures joined into one cell each, yes/no
    fields in words, and the route, site and clinician only when they change."""
    out = pd.DataFrame({"Day": sessions["day"], "Session": sessions["session_number"]})
    if "phase" in sessions and sessions["phase"].notna().any():
        out["Phase"] = sessions["phase"].str.capitalize()
    for column, title in (("route", "Route"), ("site", "Site"), ("clinician", "Clinician")):
        if column in sessions and sessions[column].dropna().nunique() > 1:
            values = sessions[column]
            out[title] = values.map(figures.route_label) if column == "route" else values
    if "dose_mg" in sessions and sessions["dose_mg"].notna().any():
        dose = sessions["dose_mg"].map(lambda v: "–" if pd.isna(v) else f"{v:g} mg")
        if "dose_mg_per_kg" in sessions:
            per_kg = sessions["dose_mg_per_kg"].map(
                lambda v: "" if pd.isna(v) else f" ({v:.2g} mg/kg)"
            )
            dose = dose + per_kg
        out["Dose"] = dose
    if {"bp_systolic_pre", "bp_diastolic_pre"} <= set(sessions):
        out["BP before"] = _pressure(sessions["bp_systolic_pre"], sessions["bp_diastolic_pre"])
    if {"bp_systolic_peak", "bp_diastolic_peak"} <= set(sessions):
        out["BP peak"] = _pressure(sessions["bp_systolic_peak"], sessions["bp_diastolic_peak"])
    if "dissociation_cadss" in sessions and sessions["dissociation_cadss"].notna().any():
        out["CADSS"] = sessions["dissociation_cadss"].map(
            lambda v: "–" if pd.isna(v) else f"{v:.0f}"
        )
    for column, title in (("dissociation", "Dissociation"), ("sedation", "Sedation")):
        if column in sessions and sessions[column].notna().any():
            out[title] = sessions[column].map(YES_NO).fillna("–")
    return out


tab_groups, tab_funnel, tab_track, tab_patient = st.tabs(
    ["Compare groups", "Attrition", "Not on track", "One patient"]
)

# ---------------------------------------------------------------------------- groups
with tab_groups:
    columns = ["route", *context.loaded.data.extra_patient_columns]
    g1, g2 = st.columns(2)
    by = g1.selectbox(
        "Compare by",
        columns,
        key="cohort_by",
        format_func=lambda c: c.replace("_", " ").capitalize(),
    )
    timepoint = g2.selectbox(
        "Timepoint",
        labels,
        index=labels.index("week 4") if "week 4" in labels else 0,
        key="cohort_tp",
    )
    table = results.cohort_result(group_outcomes_from, context, definitions, by)
    at = table[table["timepoint"] == timepoint]
    if by == "route":
        at = at.assign(group=at["group"].map(figures.route_label))
    tidy = pd.concat(
        [
            at.assign(
                population="observed",
                k=at["responders"],
                n=at["n"],
                rate=at["response_rate"],
                ci_low=at["response_ci_low"],
                ci_high=at["response_ci_high"],
            ),
            at.assign(
                population="itt",
                k=at["responders_itt"],
                n=at["patients"],
                rate=at["response_itt_rate"],
                ci_low=at["response_itt_ci_low"],
                ci_high=at["response_itt_ci_high"],
            ),
        ]
    )[["group", "population", "k", "n", "rate", "ci_low", "ci_high"]]
    tidy = tidy[tidy["n"] > 0].assign(measure=f"Response at {timepoint}")
    if tidy.empty:
        st.info(f"Nobody in this cohort was scored at {timepoint}.")
    else:
        fig = results.figure(
            figures.rate_bars_figure,
            tidy,
            x="group",
            x_title=by.replace("_", " ").capitalize(),
            y_title="Responders (%)",
            min_n=min_n,
        )
        st.caption(
            f"The share of patients in each group who responded at {timepoint} "
            f"({RESPONSE}): observed counts the patients scored then, intention to treat "
            "every patient due then, scored or not."
        )
        if at["small"].any():
            st.warning(
                "Some groups have fewer than 11 patients: read their rates with care, and do "
                "not publish them (so few patients could be recognised).",
                icon=":material/warning:",
            )
        ui.show_figure(fig, at, f"groups_{by}")
        with st.expander("How this is computed", icon=":material/info:"):
            st.markdown(
                f"**Response**: {described['response']}. **Populations**: "
                f"{described['populations']}. Each bar carries its numbers and a 95% "
                f"confidence interval, the {described['ci']}; bars of fewer than {min_n} "
                "patients are grey and hatched (too few). Groups of fewer than 11 patients are "
                "flagged as US Medicare (CMS) small-cell rules would flag them."
            )
            glossary_links(st, "response", "intention-to-treat", "too-few-patients")

# ---------------------------------------------------------------------------- attrition
with tab_funnel:
    flow = (
        results.cohort_result(attrition_flow_from, context, definitions)
        if "week 4" in labels
        else None
    )
    if flow is None:
        st.info(
            'The funnel\'s "scored at week 4" step needs the week-4 window; it is not in the '
            "definitions in force (Settings)."
        )
    elif flow.empty or not (flow["n"] > 0).any():
        st.info("No patient has a session yet.")
    else:
        overall = flow[flow["route"] == flow["route"].iloc[0]]
        funnel = overall[overall["step"] != "stopped_after_first"].rename(
            columns={"label": "stage", "k": "n_stage"}
        )
        fig = results.figure(figures.funnel_figure, funnel.assign(n=funnel["n_stage"]), min_n=min_n)
        st.caption(
            f"How many of the {int(overall['n'].iloc[0]):,} patients who started reached each "
            "step. Each step is counted on its own, so a patient can be scored at week 4 "
            "without having completed induction. Induction: "
            + ", ".join(
                f"{figures.route_label(r)} {n} sessions"
                for r, n in described["induction_sessions"].items()
            )
            + "."
        )
        ui.show_figure(fig, flow, "attrition")
        stopped = overall[overall["step"] == "stopped_after_first"]
        if not stopped.empty:
            ui.rate_metric(
                st,
                "Stopped after the first session",
                stopped.iloc[0][["k", "n", "rate", "ci_low", "ci_high"]].to_dict(),
                help="Patients with exactly one session, among those who started.",
                min_n=min_n,
            )
        # every route starts at 100%, so the first step says nothing by route
        by_route = flow[
            (flow["route"] != flow["route"].iloc[0]) & (flow["step"] != "started")
        ].assign(measure=lambda f: f["label"], population="observed")
        if by_route["route"].nunique() > 1:
            fig = results.figure(
                figures.rate_bars_figure,
                by_route[by_route["n"] > 0].assign(group=lambda f: f["route"]),
                x="route",
                facet="measure",
                colour="group",
                x_title="",
                y_title="Patients who started (%)",
                min_n=min_n,
            )
            # the legend names the routes; the notes under the panels stay
            fig.update_xaxes(tickvals=[])
            ui.show_figure(fig, by_route, "attrition_by_route")

# ---------------------------------------------------------------------------- not on track
with tab_track:
    # custom windows without week 2: the sessions rule alone
    track_week = "week 2" if "week 2" in labels else None
    st.caption(f"Not on track: {not_on_track_rule(definitions, week=track_week)}")
    track = results.cohort_result(not_on_track_from, context, definitions, week=track_week)
    if track.empty:
        st.success("Every patient with enough sessions or weeks of follow-up is on track.")
    else:
        st.caption(
            f"{len(track):,} patients, the smallest improvement (or the largest worsening) first."
        )
        shown = _readable(
            track.assign(
                # the brand in brackets is the one thing a narrow column can lose
                route=track["route"].map(lambda r: figures.route_label(r).split(" (")[0]),
                flagged_by=track["flagged_by"].map(FLAGGED_BY).fillna(track["flagged_by"]),
            ),
            TRACK_TITLES,
        )
        st.dataframe(shown, hide_index=True, width="stretch", column_config=TRACK_COLUMNS)
        ui.download_table(track, "not_on_track")

# ---------------------------------------------------------------------------- one patient
with tab_patient:
    # the cohort's ids from the per-patient table: no copy of the cohort's tables
    people = results.patient_table(context, definitions)
    ids = pd.Series(people.index.ids[context.keep(people)], dtype="string")
    help_text = "The id as it was uploaded; no names or dates are kept."
    if len(ids) <= 2000:
        pid = st.selectbox(
            "Patient (pseudonymous id)", ids.tolist(), key="cohort_patient", help=help_text
        )
    else:
        # a list of 100,000 ids is too heavy for a drop-down
        pid = st.text_input(
            "Patient (pseudonymous id)",
            value=ids.iloc[0],
            key="cohort_patient_id",
            help=help_text,
        ).strip()
        if pid not in set(ids):
            st.warning(f"No patient {pid!r} in this cohort.")
            st.stop()
    one = context.loaded.data.with_patients([pid])
    scores = one.assessments[["day", "instrument", "total"]].rename(columns={"total": "score"})
    sessions = one.sessions[["day", "session_number", "route"]]
    effects = one.side_effects[["day", "effect"]].assign(
        effect=lambda f: f["effect"].map(effect_label)
    )
    fig = results.figure(
        figures.patient_timeline_figure,
        scores.dropna(subset=["score"]),
        sessions,
        effects,
        title=f"Patient {pid}",
    )
    st.plotly_chart(fig, key="chart_patient_timeline", config={"displaylogo": False})
    st.caption(
        f"PCL-5 and other scores over time, with each session and side effect on the same "
        f"days (day 0 is the first session). {_same_throughout(one.sessions)}"
    )
    sessions = _session_rows(one.sessions)
    st.markdown("**Sessions**")
    if sessions.empty:
        st.caption("No sessions recorded.")
    else:
        st.table(sessions, hide_index=True)  # wraps: nine columns fit at 1024 px
    st.markdown("**Side effects**")
    if one.side_effects.empty:
        st.caption("No side effects recorded.")
    else:
        st.table(
            _readable(
                one.side_effects.assign(
                    effect=one.side_effects["effect"].map(effect_label),
                    severity=one.side_effects["severity"].str.capitalize(),
                    serious=one.side_effects["serious"].map(YES_NO),
                ),
                EFFECT_TITLES,
            ),
            hide_index=True,
        )

# ---------------------------------------------------------------------------- per-patient export
EXPORT_ROLES = ("director", "clinician")
user = auth.run_user()
if user is not None and user.role in EXPORT_ROLES:
    st.subheader("Per-patient export")
    st.caption(
        "One row per patient of this cohort: route, descriptions, baseline, and at each "
        "timepoint the score, the change and whether the patient was scored, due, a responder, "
        "a remitter, meaningfully or reliably better or worse (1 or 0, blank where it does not "
        "apply); then time to response, loss of response and relapse, sessions, each side "
        "effect's sessions and blood pressure per session. A spreadsheet recomputes every "
        "headline rate from it; the Excel file adds the summary and what every column means. "
        "The rows are patient-level pseudonymous data that small-cell suppression cannot apply "
        "to: keep them inside the clinic, or share them only under a data use agreement. Each "
        "download is recorded in the audit log."
    )
    export_suppress = st.toggle(
        "Suppress small cells (<11) in the summary sheet",
        value=True,
        key="export_suppress",
        help="The Excel file's Summary sheet shows counts from 1 to 10, and whatever would give "
        "them back, as <11 (the CMS cell-size rule). The patients' rows are never suppressed.",
    )
    export_cohort = describe_cohort(context.filters)
    slug = filters_slug(context.filters)
    stem = f"patients{'_' + slug if slug else ''}"

    def _export(suffix: str) -> bytes:
        table = results.patient_table(context, definitions)
        export = patient_export_sheets(
            table, context.keep(table), definitions, suppress=export_suppress, cohort=export_cohort
        )
        return export_file_bytes(export.sheets(), suffix)

    csv_column, xlsx_column = st.columns(2)
    for column, suffix, label, icon in (
        (csv_column, ".csv", "Per-patient export (CSV)", ":material/download:"),
        (xlsx_column, ".xlsx", "Per-patient export (Excel)", ":material/table_view:"),
    ):
        with column:
            auth.audited_download(
                label,
                lambda suffix=suffix: _export(suffix),
                file_name=stem + suffix,
                rows=context.n_patients,
                action="export",
                detail={
                    "what": "patient export",
                    "cohort": export_cohort,
                    "suppression": bool(export_suppress) if suffix == ".xlsx" else False,
                },
                key=f"cohorts_export_{suffix[1:]}",
                icon=icon,
            )
