"""Cohorts & patients: groups side by side, attrition, patients not on track, one patient."""

import pandas as pd
import streamlit as st

from analytics.metrics.attrition import attrition_flow_from
from analytics.metrics.groups import group_outcomes_from
from analytics.metrics.not_on_track import not_on_track_from, not_on_track_rule
from analytics.metrics.safety import effect_label
from ui import auth, figures, results
from ui import components as ui
from ui.cohort import get_context
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
labels = [w.label for w in definitions.windows]

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
        fig = figures.rate_bars_figure(
            tidy,
            x="group",
            x_title=by.replace("_", " ").capitalize(),
            y_title="Responders (%)",
            min_n=min_n,
        )
        st.caption(f"Response: {described['response']}. {described['populations']}.")
        if at["small"].any():
            st.warning(
                "Some groups have fewer than 11 patients: read their rates with care "
                "(and do not publish them; CMS small-cell policy).",
                icon=":material/warning:",
            )
        ui.show_figure(fig, at, f"groups_{by}")

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
        fig = figures.funnel_figure(funnel.assign(n=funnel["n_stage"]), min_n=min_n)
        st.caption(
            "Each step counted among patients who started; steps are counted independently. "
            "Induction: "
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
            fig = figures.rate_bars_figure(
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
        shown = track.drop(columns="rule").assign(route=track["route"].map(figures.route_label))
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "change": st.column_config.NumberColumn("change (points)", format="%+.0f"),
                "baseline": st.column_config.NumberColumn(format="%.0f"),
                "latest_score": st.column_config.NumberColumn(format="%.0f"),
            },
        )
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
    fig = figures.patient_timeline_figure(
        scores.dropna(subset=["score"]), sessions, effects, title=f"Patient {pid}"
    )
    st.plotly_chart(fig, key="chart_patient_timeline", config={"displaylogo": False})
    p1, p2 = st.columns(2)
    with p1:
        st.markdown("**Sessions**")
        st.dataframe(
            one.sessions.drop(columns="patient_id")
            .assign(route=one.sessions["route"].map(figures.route_label))
            .dropna(axis=1, how="all"),
            hide_index=True,
        )
    with p2:
        st.markdown("**Side effects**")
        st.dataframe(
            one.side_effects.drop(columns="patient_id")
            .assign(effect=one.side_effects["effect"].map(effect_label))
            .dropna(axis=1, how="all"),
            hide_index=True,
        )
