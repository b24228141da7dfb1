"""Outcomes: scores over time, response and remission by timepoint, clusters and items."""

import pandas as pd
import streamlit as st

from ui import auth, figures, state
from ui import components as ui

# bins with fewer patients than this are too noisy to draw (the download keeps them)
MIN_BIN = 10


def _total_max(name: str) -> float | None:
    get_instrument = state.analytics_function("instruments", "get_instrument")
    return None if get_instrument is None else float(get_instrument(name).total_max)


auth.require_page("outcomes")
context = state.get_context()
ui.page_header("Outcomes", context, caption="How scores change over the course of treatment.")
if ui.empty_state(context):
    st.stop()

present = sorted(context.data.assessments["instrument"].dropna().unique().tolist())
if not present:
    st.info("No assessments in this cohort.")
    st.stop()
c1, c2, c3 = st.columns([1, 1, 1])
instrument = c1.selectbox(
    "Instrument",
    present,
    index=present.index("PCL-5") if "PCL-5" in present else 0,
    key="outcomes_instrument",
)
group_options = {"route": "Route", "none": "All patients together"}
for column in context.data.extra_patient_columns:
    group_options[f"extra:{column}"] = column.replace("_", " ").capitalize()
group_choice = c2.selectbox(
    "Compare by", list(group_options), format_func=group_options.get, key="outcomes_group"
)
x_axis = c3.radio(
    "Time axis",
    ["Weeks since first session", "Session number"],
    horizontal=True,
    key="outcomes_x",
    help="Session number counts the sessions given before the score.",
)

try:
    definitions = state.current_definitions(instrument)
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
if definitions is None:
    ui.not_available("Outcome definitions", "analytics.core.definitions")
    st.stop()
described = definitions.describe()
key = f"{context.key}|{instrument}"


# ---------------------------------------------------------------------------- trajectories
st.subheader(f"Mean {instrument} over time")
axis = "session" if x_axis == "Session number" else "week"
by = None if group_choice == "none" else group_choice.removeprefix("extra:")
x_title = "Sessions given before the score" if axis == "session" else "Weeks since first session"
means = state.call_cached(
    "trajectories", "mean_trajectory", f"{key}|mean|{axis}|{by}", context.data, definitions,
    axis=axis, by=by, include_overall=False,
)  # fmt: skip
if means is None:
    ui.not_available("Mean scores over time", "analytics.metrics.trajectories.mean_trajectory")
elif means.empty:
    st.info("No patient in this cohort has a baseline and a later score.")
elif not (means["n"] >= MIN_BIN).any():
    st.info(
        f"Every bin has fewer than {MIN_BIN} patients: too few for a mean worth drawing. The "
        "table below has them."
    )
    st.dataframe(means, hide_index=True)
    ui.download_table(means, "mean_scores")
else:
    fig = figures.mean_score_figure(
        means[means["n"] >= MIN_BIN],
        x="x",
        group="group" if by else None,
        y_title=f"Mean {instrument} total (points)",
        x_title=x_title,
    )
    total_max = _total_max(instrument)
    if total_max is not None:
        fig.update_yaxes(range=[0, total_max])
    st.caption(
        "Patients with a baseline; each counts once per bin. Mean with t-based 95% CI (band); "
        f"{'week' if axis == 'week' else 'session'} 0 is the baseline "
        f"({described['baseline']})"
        + ("; days 1-3 are a bin of their own at 0.3 weeks" if axis == "week" else "")
        + f". Bins with fewer than {MIN_BIN} patients are left off the chart (they are in the "
        "download)."
    )
    ui.show_figure(fig, means, "mean_scores")

# ---------------------------------------------------------------------------- spaghetti
with st.expander("Individual patients (pseudonymous ids)", icon=":material/timeline:"):
    series = state.call_cached(
        "trajectories", "patient_trajectories", f"{key}|series|{axis}|{by}", context.data,
        definitions, axis=axis, by=by,
    )  # fmt: skip
    if series is None or series.empty:
        st.caption("No scores to draw.")
    else:
        ids = pd.Index(series["patient_id"].unique()).sort_values()
        how_many = st.slider(
            "Patients shown", 1, min(200, len(ids)), min(40, len(ids)), key="spaghetti_n"
        )
        # an evenly spaced pick, so the same patients stay on screen between reruns
        picked = ids[:: max(len(ids) // how_many, 1)][:how_many]
        shown = series[series["patient_id"].isin(picked)]
        fig = figures.spaghetti_figure(
            shown,
            x="x",
            group="group" if by else None,
            x_title=x_title,
            y_title=f"{instrument} total (points)",
        )
        ui.show_figure(fig, shown, "patient_scores")

# ---------------------------------------------------------------------------- rates
st.subheader("Response, remission and change by timepoint")
rate_rows = []
all_results = (
    state.call_cached(
        "outcomes", "timepoint_outcomes", f"{key}|timepoints", context.data, definitions
    )
    or []
)
rate_fn = state.analytics_function("stats", "rate")
for tp in all_results:
    for measure, observed, itt in (
        ("Response", tp.response, tp.response_itt),
        ("Remission", tp.remission, tp.remission_itt),
        ("Meaningful change", tp.meaningful, tp.meaningful_itt),
    ):
        for population, r in (("observed", observed), ("itt", itt)):
            rate_rows.append(
                {"timepoint": tp.label, "measure": measure, "population": population, **r.to_dict()}
            )
    rc = tp.reliable_change
    if rc.improved is not None:
        rate_rows.append(
            {
                "timepoint": tp.label,
                "measure": "Reliable improvement",
                "population": "observed",
                **rate_fn(rc.improved, rc.n, method=definitions.ci_method).to_dict(),
            }
        )
rates = pd.DataFrame(rate_rows)
if rates.empty:
    st.info("No timepoint has an observed score in this cohort.")
else:
    rates = rates[rates["n"] > 0]
    fig = figures.rate_bars_figure(rates, x_title="Timepoint")
    st.caption(
        f"**Response**: {described['response']}. **Remission**: {described['remission']}. "
        f"**Meaningful**: {described['meaningful']}. **Reliable improvement**: "
        f"{described['reliable_change']}. Populations: {described['populations']}."
    )
    ui.show_figure(fig, rates, "rates_by_timepoint")
    reliable = [tp.reliable_change for tp in all_results if tp.reliable_change.threshold_points]
    if reliable:
        st.caption(
            f"Reliable change threshold: {reliable[0].threshold_points:.1f} points "
            f"(r = {reliable[0].r:g}, SD = {reliable[0].sd:.1f})."
        )

published = state.analytics_function("benchmarks", "published_benchmarks")
if published is not None:
    with st.expander("Published figures (other populations)", icon=":material/menu_book:"):
        st.caption(
            "Trials and real-world cohorts set beside a clinic's numbers for context only: "
            "different patients, instruments and schedules."
        )
        st.dataframe(
            published(),
            hide_index=True,
            width="stretch",
            column_config={
                "value": st.column_config.NumberColumn(format="%.3g"),
                "ci_low": st.column_config.NumberColumn(format="%.3g"),
                "ci_high": st.column_config.NumberColumn(format="%.3g"),
                "n": st.column_config.NumberColumn(format="%d"),
            },
        )

# ---------------------------------------------------------------------------- clusters and items
st.subheader("Symptom clusters and items")
if instrument != "PCL-5":
    st.caption("Cluster and item detail is shown for the PCL-5.")
else:
    timepoint = st.selectbox(
        "At timepoint",
        [w.label for w in definitions.windows],
        index=[w.label for w in definitions.windows].index("week 4")
        if "week 4" in [w.label for w in definitions.windows]
        else 0,
        key="depth_timepoint",
    )
    clusters = state.call_cached(
        "pcl5_depth", "cluster_change", f"{key}|clusters", context.data, definitions
    )
    items = state.call_cached(
        "pcl5_depth", "item_change", f"{key}|items", context.data, definitions
    )
    moved_most = state.analytics_function("pcl5_depth", "items_moved_most")
    d1, d2 = st.columns(2)
    with d1:
        if clusters is None:
            ui.not_available("Cluster B-E change", "analytics.metrics.pcl5_depth.cluster_change")
        else:
            at = clusters[clusters["timepoint"] == timepoint]
            if at.empty:
                st.caption("No cluster scores at this timepoint.")
            else:
                fig = figures.change_bars_figure(
                    at, category="label", title=f"DSM-5 symptom clusters at {timepoint}"
                )
                ui.show_figure(fig, at, "cluster_change")
    with d2:
        if items is None or moved_most is None:
            ui.not_available("Item change", "analytics.metrics.pcl5_depth.item_change")
        else:
            top = moved_most(items, timepoint, top=5)
            flagged = items[(items["timepoint"] == timepoint) & (items["flag"] != "")]
            shown = pd.concat([flagged, top]).drop_duplicates("measure")
            if shown.empty:
                st.caption("No item scores at this timepoint.")
            else:
                fig = figures.change_bars_figure(
                    shown,
                    category="label",
                    title=f"Sleep, intrusions and the items that moved most at {timepoint}",
                )
                ui.show_figure(fig, items[items["timepoint"] == timepoint], "item_change")
    st.caption(
        "Patients with the cluster or item answered on both the baseline and the timepoint form; "
        "t-based 95% CI of the mean change. Item 1: intrusive memories; item 20: sleep."
    )
