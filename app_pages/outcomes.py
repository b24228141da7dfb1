"""Outcomes: scores over time, response and remission by timepoint, clusters and items."""

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.definitions import ResponseRule
from analytics.core.instruments import get_instrument
from analytics.core.patient_table import PatientTable, patient_index
from analytics.core.stats import rate
from analytics.metrics.outcomes import timepoint_outcomes_from
from analytics.metrics.pcl5_depth import cluster_change_from, item_change_from, items_moved_most
from analytics.metrics.timepoints import follow_up_known
from analytics.metrics.trajectories import mean_trajectory_from, patient_trajectories_from
from analytics.reference.published import published_benchmarks
from charts import figures
from ui import auth, results
from ui import components as ui
from ui.cohort import get_context
from ui.glossary import glossary_links
from ui.settings import current_definitions


@st.cache_resource(max_entries=4, show_spinner=False)
def _instrument_patients(version: str, _data) -> tuple[PatientTable, list[str], np.ndarray]:
    """Which patients have an assessment of each instrument, once per data version: a table of
    the clinic's patients (for the cohort's mask), the instruments, and a row of flags over the
    patients per instrument."""
    index = patient_index(_data)
    a = _data.assessments
    codes = index.positions(a["patient_id"])
    instrument, names = pd.factorize(a["instrument"])
    known = (codes >= 0) & (instrument >= 0)
    has = np.zeros((len(names), len(index)), dtype=bool)
    has[instrument[known], codes[known]] = True
    return PatientTable.from_facts(index, []), [str(name) for name in names], has


def _instruments(context) -> list[str]:
    """The instruments with at least one assessment in the cohort (no copy of its tables)."""
    patients, names, has = _instrument_patients(context.loaded.version, context.loaded.data)
    present = (has & context.keep(patients)).any(axis=1)  # the cohort's mask is shared
    return sorted(name for name, found in zip(names, present) if found)


# the default timepoint one day after the first session, which a published "after the first
# infusion" rate compares with
FIRST_SESSION_TIMEPOINT = "24h"

auth.require_page("outcomes")
context = get_context()
ui.page_header("Outcomes", context, caption="How scores change over the course of treatment.")
if ui.empty_state(context):
    st.stop()

present = _instruments(context)
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
for column in context.loaded.data.extra_patient_columns:
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
    definitions = current_definitions(instrument)
except ValueError as error:
    st.error(f"A setting was not accepted: {error}. Fix it on the Settings page.")
    st.stop()
described = definitions.describe()


# ---------------------------------------------------------------------------- trajectories
st.subheader(f"Mean {instrument} over time")
axis = "session" if x_axis == "Session number" else "week"
by = None if group_choice == "none" else group_choice.removeprefix("extra:")
x_title = "Sessions given before the score" if axis == "session" else "Weeks since first session"
means = results.cohort_result(
    mean_trajectory_from, context, definitions, axis=axis, by=by, include_overall=False
)
min_n = definitions.min_patients
total_range = (
    float(get_instrument(instrument).total_min),
    float(get_instrument(instrument).total_max),
)
if means.empty:
    st.info("No patient in this cohort has a baseline and a later score.")
else:
    # every bin is drawn; those of fewer than min_n patients as open grey points off the line
    fig = results.figure(
        figures.mean_score_figure,
        means,
        x="x",
        group="group" if by else None,
        y_title=f"Mean {instrument} total (points)",
        x_title=x_title,
        min_n=min_n,
        scale=total_range,
        cut=(definitions.remission_below, f"remission: below {definitions.remission_below:g}"),
    )
    st.caption(
        f"The average {instrument} score at each "
        f"{'week since the first session' if axis == 'week' else 'session number'} "
        f"({'week' if axis == 'week' else 'session'} 0 is before the first dose); lower is "
        f"better, and a score below the dashed line ({definitions.remission_below:g}) counts as "
        "remission."
    )
    ui.show_figure(fig, means, "mean_scores")
    with st.expander("How this is computed", icon=":material/info:"):
        st.markdown(
            "Patients with a baseline; each counts once per "
            f"{'week' if axis == 'week' else 'session'}"
            + (" (days 1-3 are a bin of their own, drawn at 0.3 weeks)" if axis == "week" else "")
            + ". The band is the 95% confidence interval of the mean (from Student's t), drawn "
            f"within the score's range ({total_range[0]:g}-{total_range[1]:g}); the download "
            f"has the full interval. Points of fewer than {min_n} patients are open grey "
            "points labelled too few patients, and a mean of fewer than 3 patients has no "
            f"interval. Baseline: {described['baseline']}."
        )
        glossary_links(st, "baseline", "confidence-interval", "too-few-patients")

# ---------------------------------------------------------------------------- spaghetti
with st.expander("Individual patients (pseudonymous ids)", icon=":material/timeline:"):
    series = results.cohort_result(
        patient_trajectories_from, context, definitions, axis=axis, by=by
    )
    if series.empty:
        st.caption("No scores to draw.")
    else:
        ids = pd.Index(series["patient_id"].unique()).sort_values()
        how_many = st.slider(
            "Patients shown", 1, min(200, len(ids)), min(40, len(ids)), key="spaghetti_n"
        )
        # an evenly spaced pick, so the same patients stay on screen between reruns
        picked = ids[:: max(len(ids) // how_many, 1)][:how_many]
        shown = series[series["patient_id"].isin(picked)]
        fig = results.figure(
            figures.spaghetti_figure,
            shown,
            x="x",
            group="group" if by else None,
            x_title=x_title,
            y_title=f"{instrument} total (points)",
        )
        ui.show_figure(fig, shown, "patient_scores")


# ---------------------------------------------------------------------------- rates
def _rates_sentence(timepoints, view: str) -> str:
    """The chart shown in one sentence, at week 4 (or the first timepoint with a score)."""
    scored = [tp for tp in timepoints if tp.response.n]
    if not scored:
        return "No timepoint has an observed score in this cohort."
    tp = next((tp for tp in scored if tp.label == "week 4"), scored[0])
    rule = definitions.response
    by = f"{rule.threshold:g}{'%' if rule.kind == 'pct' else ' points'}"
    observed, itt, did = {
        "better": (
            tp.response,
            tp.response_itt,
            f"responded ({instrument} down by at least {by})",
        ),
        "change": (
            tp.meaningful,
            tp.meaningful_itt,
            f"improved by at least {definitions.meaningful_points:g} points on the {instrument}",
        ),
        "worse": (
            getattr(tp, "deterioration", None),
            None,
            f"got worse by the response rule ({instrument} up by at least {by})",
        ),
    }[view]
    if observed is None or not observed.n:
        return f"No patient was scored at {tp.label}."
    text = (
        f"Of the {observed.n:,} patients scored at {tp.label}, {observed.k:,} "
        f"({figures.format_percent(observed.rate)}) {did}"
    )
    if itt is not None and itt.n:
        text += (
            f"; counting every patient due then, scored or not (intention to treat), "
            f"{itt.k:,} of {itt.n:,} ({figures.format_percent(itt.rate)})"
        )
        return (
            text + ". Each timepoint has two bars: observed (the patients scored then) and "
            "intention to treat (every patient due then)."
        )
    return text + ". Among observed patients only: an unscored patient was not seen to worsen."


def _said_in(population: str, source: str) -> bool:
    """Whether every word of ``population`` but the small ones is already in ``source``."""
    small = {"for", "the", "of", "in", "with", "and"}
    words = set(source.lower().replace(",", " ").split())
    return {w for w in population.lower().split() if w not in small} <= words


def _published_marks(labels: list[str]) -> list[figures.Reference]:
    """Published response rates that compare like with like: the PCL-5 with the ≥30% rule in
    force, from a real-world IV ketamine cohort (another population: for scale, not a target),
    drawn over the matching bar only. Its response after the first infusion matches the 24-hour
    timepoint; its response "by infusion 6" counts anyone who ever responded by then, not who
    responds at one time, and Feder 2021 rated the CAPS-5: both stay in the table only."""
    if instrument != "PCL-5" or definitions.response != ResponseRule("pct", 30.0):
        return []
    if FIRST_SESSION_TIMEPOINT not in labels:
        return []
    published = published_benchmarks()
    row = published[
        published["measure"].str.contains("30% PCL-5", regex=False)
        & published["measure"].str.endswith("after infusion 1")
    ]
    if len(row) != 1:
        return []
    return [
        figures.Reference.from_benchmark(
            row.iloc[0],
            label="Osmind IV ketamine, after infusion 1",
            facet="Response",
            at=FIRST_SESSION_TIMEPOINT,
        )
    ]


rate_rows = []
all_results = results.cohort_result(timepoint_outcomes_from, context, definitions)
for tp in all_results:
    for measure, observed, itt in (
        ("Response", tp.response, tp.response_itt),
        ("Remission", tp.remission, tp.remission_itt),
        ("Meaningful change", tp.meaningful, tp.meaningful_itt),
    ):
        for population, r in (("observed", observed), ("itt", itt)):
            rate_rows.append(
                {
                    "timepoint": tp.label,
                    "measure": measure,
                    "population": population,
                    **r.to_dict(),
                    "not_yet_due": tp.not_yet_due if population == "itt" else 0,
                }
            )
    # Getting worse, beside getting better: observed patients only (an unscored patient has
    # not been seen to worsen).
    for measure, worse in (
        ("Worse by the response rule", getattr(tp, "deterioration", None)),
        (
            f"Worse by ≥{definitions.meaningful_points:g} points",
            getattr(tp, "meaningful_worsening", None),
        ),
    ):
        if worse is not None:
            rate_rows.append(
                {
                    "timepoint": tp.label,
                    "measure": measure,
                    "population": "observed",
                    **worse.to_dict(),
                }
            )
    rc = tp.reliable_change
    if rc.improved is not None:
        rate_rows.append(
            {
                "timepoint": tp.label,
                "measure": "Reliable improvement",
                "population": "observed",
                **rate(rc.improved, rc.n, method=definitions.ci_method).to_dict(),
            }
        )
rates = pd.DataFrame(rate_rows)
if rates.empty:
    st.info("No timepoint has an observed score in this cohort.")
else:
    rates = rates[rates["n"] > 0]
    worse = f"Worse by ≥{definitions.meaningful_points:g} points"
    # Two panels at a time: six panels of eleven timepoints left no room for their n at 1024 px.
    views = {
        "better": ("Response and remission", ["Response", "Remission"]),
        "change": ("Meaningful and reliable change", ["Meaningful change", "Reliable improvement"]),
        "worse": ("Getting worse", ["Worse by the response rule", worse]),
    }
    view = st.radio(
        "Show",
        list(views),
        format_func=lambda v: views[v][0],
        horizontal=True,
        key="outcomes_rates_view",
        help="Every measure is in the download under the chart, whichever is shown.",
    )
    st.caption(_rates_sentence(all_results, view))
    # One measure a chart, full width: eleven timepoints of two bars need it for their n.
    measures = [m for m in views[view][1] if (rates["measure"] == m).any()]
    marks = _published_marks(list(rates["timepoint"].astype(str))) if view == "better" else None
    for number, measure in enumerate(measures, start=1):
        fig = results.figure(
            figures.rate_bars_figure,
            rates[rates["measure"] == measure],
            x_title="Timepoint",
            min_n=min_n,
            references=marks,
        )
        last = number == len(measures)
        # the download under the last chart holds every measure, whichever is shown
        ui.show_figure(
            fig,
            rates if last else None,
            "rates_by_timepoint" if last else f"rates_by_timepoint_{number}",
        )
    waiting = [(tp.label, tp.not_yet_due) for tp in all_results if tp.not_yet_due]
    if not follow_up_known(context.loaded.data):
        st.caption(
            "Intention to treat: these files give no follow-up times (no dates, and no column "
            "of days each patient was followed), so every patient with a baseline who started "
            "treatment counts at every timepoint, including those who started too recently to "
            "be due."
        )
    elif waiting:
        st.caption(
            "Intention to treat counts the patients due at each timepoint: scored there, or "
            "followed to the end of its window. Not yet due (started too recently, left out "
            "of the intention-to-treat bars): "
            + ", ".join(f"{n} at {label}" for label, n in waiting)
            + "."
        )
    reliable = [tp.reliable_change for tp in all_results if tp.reliable_change.threshold_points]
    with st.expander("How this is computed", icon=":material/info:"):
        threshold = (
            f" For this cohort that is a fall of more than {reliable[0].threshold_points:.1f} "
            f"points (test-retest reliability r = {reliable[0].r:g}, baseline SD "
            f"{reliable[0].sd:.1f})."
            if reliable
            else ""
        )
        st.markdown(
            f"- **Response**: {described['response']}.\n"
            f"- **Remission**: {described['remission']}.\n"
            f"- **Meaningful change**: {described['meaningful']}.\n"
            "- **Reliable improvement**: a fall too large to be the questionnaire's measurement "
            "error alone, which would give one this size less than 1 time in 20 (the Jacobson "
            f"& Truax 1991 reliable change index).{threshold}\n"
            "- **Worse by the response rule**: the response rule turned round (a rise instead of "
            f"a drop); **worse by ≥{definitions.meaningful_points:g} points**: a rise of at least "
            "the meaningful change; both among observed patients only.\n"
            "- **Observed** counts the patients with a baseline and a score at the timepoint; "
            "**intention to treat (ITT)** counts every patient with a baseline who started "
            "treatment and was due at the timepoint, a patient with no score counting as not "
            "responding.\n"
            "- Each bar prints its n and carries a 95% confidence interval, the "
            f"{described['ci']}; "
            f"bars of fewer than {min_n} patients are grey and hatched (too few patients)."
        )
        glossary_links(st, "response", "remission", "intention-to-treat", "reliable-change")

with st.expander("Published figures (other populations)", icon=":material/menu_book:"):
    st.caption(
        "Trials and real-world cohorts set beside a clinic's numbers for context only: "
        "different patients, instruments and schedules."
    )
    published = published_benchmarks()
    # One column for the study: the source without its DOI (kept in the reference module and
    # the glossary), then who was treated unless the source's own words already say it.
    sources = published["source"].str.split(r"\. doi:", regex=True).str[0]
    study = [
        source if _said_in(population, source) else f"{source}: {population}"
        for source, population in zip(sources, published["population"], strict=True)
    ]
    notes = published["note"].str.replace(
        r"^other population; not comparable one-to-one;?\s*", "", regex=True
    )
    notes = notes.str.replace("ci_low/ci_high hold", "the bounds are", regex=False)
    shown = pd.DataFrame(
        {
            "Study": study,
            "Measure": published["measure"].str.replace(">=", "≥", regex=False),
            "Figure (95% CI or range)": [
                ui.published_figure_text(r.value, r.unit, r.ci_low, r.ci_high)
                for r in published.itertuples(index=False)
            ],
            "Patients": [ui.format_count(n) if pd.notna(n) else "–" for n in published["n"]],
            "Note": [n[:1].upper() + n[1:] for n in notes],
        }
    )
    st.table(shown, hide_index=True)  # text that wraps: no column is cut at 1024 px

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
    st.caption(
        f"The average change from baseline to {timepoint} in each group of PTSD symptoms and "
        "in single questions; a bar to the left is an improvement."
    )
    spec = get_instrument(instrument)
    clusters = results.cohort_result(cluster_change_from, context, definitions)
    items = results.cohort_result(item_change_from, context, definitions)
    # One above the other: the item names are long, and side by side at 1024 px they were cut.
    d1, d2 = st.container(), st.container()
    with d1:
        at = clusters[clusters["timepoint"] == timepoint]
        if at.empty:
            st.caption("No cluster scores at this timepoint.")
        else:
            fig = results.figure(
                figures.change_bars_figure,
                at,
                category="label",
                title=f"DSM-5 symptom clusters at {timepoint}",
                min_n=min_n,
            )
            ui.show_figure(fig, at, "cluster_change")
    with d2:
        top = items_moved_most(items, timepoint, top=5)
        flagged = items[(items["timepoint"] == timepoint) & (items["flag"] != "")]
        shown = pd.concat([flagged, top]).drop_duplicates("measure")
        if shown.empty:
            st.caption("No item scores at this timepoint.")
        else:
            item_span = float(spec.item_max - spec.item_min)
            fig = results.figure(
                figures.change_bars_figure,
                shown,
                category="label",
                title=f"Sleep, intrusions and the items that moved most at {timepoint}",
                min_n=min_n,
                scale=(-item_span, item_span),  # an item moves at most its range
            )
            ui.show_figure(fig, items[items["timepoint"] == timepoint], "item_change")
    with st.expander("How this is computed", icon=":material/info:"):
        st.markdown(
            "Patients with the cluster or question answered on both the baseline and the "
            "timepoint form. The line on each bar is the 95% confidence interval of the mean "
            "change (from Student's t; none for fewer than 3 patients). Each bar prints its n; "
            f"bars of fewer than {min_n} patients are grey and hatched. Shown: sleep and "
            "intrusive memories, and the five questions that moved most."
        )
        glossary_links(st, "confidence-interval", "too-few-patients")
