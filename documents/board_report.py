"""The board report as a PDF: the dashboard's own figures, laid out by Typst.

:func:`board_report_pdf` takes a :class:`analytics.report.board_report.BoardReport` (the
numbers, already suppressed when the report leaves the clinic), draws its charts with
:mod:`charts.figures` as SVG through kaleido (which drives the machine's Chromium), and
typesets ``board_report.typ`` with Typst. Every word and number reaches Typst as JSON, so a
clinic name or a column value is always text, never markup.

Without a Chromium to draw with, the report is still made: each chart's place says why it is
missing, and the tables under it carry every number.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from analytics.report.board_report import BoardReport
from analytics.report.summary import definition_name
from charts import figures

__all__ = [
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "ChartsUnavailable",
    "TITLE",
    "UNNAMED_CLINIC",
    "board_report_pdf",
    "chart_svgs",
    "format_ci",
    "format_k_of_n",
    "format_rate_cell",
    "format_share",
    "report_charts",
    "report_document",
]

TEMPLATE = Path(__file__).with_name("board_report.typ")
# Charts are drawn at this size in CSS pixels and scaled to the text width (17.4 cm).
CHART_WIDTH = 1000
CHART_HEIGHT = 430
TITLE = "Treatment outcomes and safety"
# Drawing the charts of a 100,000-patient report takes about 3 s; a Chromium that hangs should
# not hold the report for ever.
CHART_TIMEOUT_S = 120.0
# The cover's name when the clinic's name is not set.
UNNAMED_CLINIC = "Clinic name not set"
DASHES = ("solid", "dash", "dot", "dashdot")


class ChartsUnavailable(RuntimeError):
    """The charts could not be drawn (no Chromium for kaleido to drive)."""


# ---------------------------------------------------------------------------- numbers in words
def _number(value) -> float | None:
    if value is None or isinstance(value, str):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def format_share(value) -> str:
    """A proportion as a percentage with one decimal: ``0.5732`` -> ``"57.3%"``; ``"<11"`` for a
    suppressed rate is left to the k/n column, so a missing share is a dash.

    Examples
    --------
    >>> format_share(0.57324), format_share(None)
    ('57.3%', '–')
    """
    value = _number(value)
    return "–" if value is None else f"{100 * value:.1f}%"


def format_k_of_n(rate: dict | None) -> str:
    """``"90/157"``; a suppressed count stays ``"<11"``.

    Examples
    --------
    >>> format_k_of_n({"k": 90, "n": 157}), format_k_of_n({"k": "<11", "n": 250})
    ('90/157', '<11/250')
    """
    if not rate:
        return "–"
    return f"{_count(rate.get('k'))}/{_count(rate.get('n'))}"


def _count(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{int(value):,}"


def format_rate_cell(rate: dict | None) -> str:
    """A rate and its counts in one table cell: ``"57.3% (90/157)"``; a dash without a rate.

    Examples
    --------
    >>> format_rate_cell({"k": 90, "n": 157, "rate": 0.5732}), format_rate_cell(None)
    ('57.3% (90/157)', '–')
    """
    if not rate:
        return "–"
    return f"{format_share(rate.get('rate'))} ({format_k_of_n(rate)})"


def format_ci(rate: dict | None) -> str:
    """The 95% CI of a rate: ``"49.5%–64.8%"``; a dash when there is none (suppressed, n = 0).

    Examples
    --------
    >>> format_ci({"ci_low": 0.49512, "ci_high": 0.64811})
    '49.5%–64.8%'
    """
    if not rate:
        return "–"
    low, high = _number(rate.get("ci_low")), _number(rate.get("ci_high"))
    if low is None or high is None:
        return "–"
    return f"{format_share(low)}–{format_share(high)}"


def _days(value) -> str:
    value = _number(value)
    return "–" if value is None else f"{value:g} days"


def _median_cells(block: dict | None) -> tuple[str, str, str]:
    """A Kaplan-Meier median as (value, events/n, 95% CI) cells."""
    if not block:
        return "–", "–", "–"
    events = f"{_count(block.get('events'))}/{_count(block.get('n'))} events"
    if not block.get("median_reached"):
        return "not reached", events, "–"
    low, high = _number(block.get("median_ci_low")), _number(block.get("median_ci_high"))
    ci = "–" if low is None else f"{low:g}–{'not reached' if high is None else f'{high:g}'} days"
    return _days(block.get("median_days")), events, ci


# ---------------------------------------------------------------------------- charts
def _print_style(fig: go.Figure, height: int = CHART_HEIGHT) -> go.Figure:
    """The figure for paper: white, a fixed size, and no note pointing to a hover that paper
    does not have (the tables beside each chart give every n)."""
    fig.for_each_xaxis(lambda axis: axis.update(title_text=_paper_title(axis.title.text)))
    fig.update_layout(
        width=CHART_WIDTH,
        height=height,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=70, r=30, t=40, b=70),
    )
    return fig


def _paper_title(text: str | None) -> str | None:
    """An axis title without its notes about the hover ("n in the hover")."""
    if not text:
        return text
    lines = []
    for line in text.split("<br>"):
        line = re.sub(r",? *(every n |at risk )?in the hover", "", line)
        if re.sub(r"<[^>]+>", "", line).strip() in ("", "n"):
            continue
        lines.append(line)
    return "<br>".join(lines)


def _dashed_by_group(fig: go.Figure) -> go.Figure:
    """Give each group's lines a dash of their own, so the routes read apart in greyscale."""
    dash_of: dict[str, str] = {}
    for trace in fig.data:
        group = trace.legendgroup or trace.name
        if getattr(trace, "mode", None) and "lines" in trace.mode and group:
            dash = dash_of.setdefault(group, DASHES[len(dash_of) % len(DASHES)])
            trace.line.dash = dash
    return fig


def _drawn(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a chart can draw: a rate and a numeric k and n (suppressed cells are not)."""
    if frame.empty:
        return frame
    numeric = (
        pd.to_numeric(frame["k"], errors="coerce").notna()
        & pd.to_numeric(frame["n"], errors="coerce").notna()
    )
    drawn = frame[numeric & frame["rate"].notna()].copy()
    for column in ("k", "n"):
        drawn[column] = drawn[column].astype(int)
    return drawn[drawn["n"] > 0]


def report_charts(report: BoardReport) -> dict[str, go.Figure]:
    """The report's charts, from the same figure functions the dashboard draws with."""
    frames = report.frames
    out: dict[str, go.Figure] = {}
    min_n = report.min_n
    means = frames["means_by_group"]
    if not means.empty:
        fig = figures.mean_score_figure(
            means,
            x="x",
            group="group",
            y_title=f"Mean {report.instrument} total (points)",
            x_title="Weeks since first session",
            min_n=min_n,
            scale=(0, 80) if report.instrument == "PCL-5" else None,
        )
        out["means"] = _dashed_by_group(_print_style(fig))
    rates = _drawn(frames["rates_by_timepoint"])
    if not rates.empty:
        fig = figures.rate_bars_figure(rates, x_title="Timepoint", min_n=min_n)
        out["rates"] = _print_style(fig, 520)
    curve = frames["durability_curve"]
    if not curve.empty:
        fig = figures.km_figure(
            curve,
            medians=frames["durability_medians"],
            min_n=min_n,
            y_title="Responders still responding (%)",
            x_title="Days since first response",
        )
        out["durability"] = _print_style(fig)
    funnel = _drawn(frames["funnel"])
    if not funnel.empty:
        fig = figures.funnel_figure(
            funnel.rename(columns={"label": "stage"}).assign(n=funnel["k"]), min_n=min_n
        )
        out["funnel"] = _print_style(fig, 360)
    effects = _drawn(frames["side_effects"])
    effects = effects[effects["level"] == "patient"] if not effects.empty else effects
    if not effects.empty:
        reference = effects.dropna(subset=["label_pct"])
        fig = figures.side_effect_figure(
            effects.assign(effect=effects["label"]),
            reference=pd.DataFrame(
                {"effect": reference["label"], "rate": reference["label_pct"] / 100}
            ),
            min_n=min_n,
        )
        out["side_effects"] = _print_style(fig, max(360, 34 * len(effects) + 160))
    return out


def chart_svgs(charts: dict[str, go.Figure], *, timeout: float = CHART_TIMEOUT_S) -> dict[str, str]:
    """Each chart as SVG text, drawn by kaleido in one Chromium for all of them.

    The drawing runs on a thread of its own with its own event loop, so it works the same
    from the command line, a Streamlit script thread, or under a running loop.

    Raises
    ------
    ChartsUnavailable
        When kaleido cannot start a Chromium (none installed, or it will not run), or the
        drawing takes longer than ``timeout`` seconds.
    """
    if not charts:
        return {}
    import asyncio
    import concurrent.futures

    import kaleido

    async def draw() -> dict[str, str]:
        async with kaleido.Kaleido(n=1) as k:
            out = {}
            for key, fig in charts.items():
                opts = dict(format="svg", width=fig.layout.width, height=fig.layout.height)
                svg = await k.calc_fig(fig, opts=opts)
                out[key] = svg.decode("utf-8") if isinstance(svg, bytes) else str(svg)
            return out

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(asyncio.run, draw()).result(timeout=timeout)
    except concurrent.futures.TimeoutError as error:
        raise ChartsUnavailable(f"the charts took over {timeout:g} s to draw") from error
    except Exception as error:  # kaleido raises its own and Chromium's errors alike
        raise ChartsUnavailable(f"the charts could not be drawn ({error})") from error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------- the document


def _definition_rows(definitions: dict) -> list[list[str]]:
    """Every definition in force, word for word as the summary gives it."""
    rows = [["Definition", "In force for this report"]]
    for key, value in definitions.items():
        name = definition_name(key)
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif key == "induction_sessions" and isinstance(value, dict):
            value = "; ".join(f"{figures.route_label(k)}: {v} sessions" for k, v in value.items())
        elif isinstance(value, dict):
            value = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items())
        rows.append([name, str(value)])
    return rows


def _headline_rows(report: BoardReport) -> list[list[str]]:
    rows = [["Measure", "Value", "k/n", "95% CI", "Counted among"]]
    for row in report.headline:
        if "count" in row:
            rows.append([row["measure"], _count(row["count"]), "", "", row["population"]])
        elif "median" in row:
            value, events, ci = _median_cells(row["median"])
            rows.append([row["measure"], value, events, ci, row["population"]])
        else:
            r = row["rate"]
            rows.append(
                [
                    row["measure"],
                    format_share((r or {}).get("rate")),
                    format_k_of_n(r),
                    format_ci(r),
                    row["population"],
                ]
            )
    return rows


def _means_table(report: BoardReport) -> dict:
    means = report.frames["means_by_group"]
    weeks = ["baseline", "week 1", "week 2", "week 4", "week 8", "week 12"]
    columns = [_by_words(report).capitalize(), *[w.capitalize() for w in weeks]]
    rows = [columns]
    if not means.empty:
        for group, part in means.groupby("group", sort=True):
            by_label = part.set_index("label")
            cells = [_group_words(report, group)]
            for week in weeks:
                if week in by_label.index:
                    row = by_label.loc[week]
                    cells.append(f"{row['mean']:.1f} (n = {int(row['n']):,})")
                else:
                    cells.append("–")
            rows.append(cells)
    widths = [1.6, *[1.0] * len(weeks)]  # fractions of the width
    return {"columns": widths, "rows": rows}


def _by_words(report: BoardReport) -> str:
    """What the groups are, in words: "route" or "sex" (a patients column's name)."""
    return (report.by or "route").replace("_", " ")


def _group_words(report: BoardReport, value) -> str:
    return figures.route_label(value) if (report.by or "route") == "route" else str(value)


def _group_table(report: BoardReport) -> list[list[str]]:
    rows = [
        [
            _by_words(report).capitalize(),
            "Patients",
            "Response at week 4, observed",
            "Response at week 4, ITT",
            "Remission at week 4, observed",
        ]
    ]
    for row in report.frames["groups"].to_dict("records"):
        cells = [_group_words(report, row["group"]), _count(row["patients"])]
        for key in ("response", "response_itt", "remission"):
            cells.append(format_rate_cell(row.get(key)))
        rows.append(cells)
    return rows


def _rates_rows(report: BoardReport) -> list[list[str]]:
    rows = [
        [
            "Timepoint",
            "Scored",
            "Response, observed",
            "Response, ITT",
            "Remission, observed",
            "Remission, ITT",
        ]
    ]
    for tp in report.summary["timepoints"]:
        cells = [tp["label"], _count(tp.get("n"))]
        for key in ("response", "response_itt", "remission", "remission_itt"):
            cells.append(format_rate_cell(tp.get(key)))
        rows.append(cells)
    return rows


def _durability_rows(report: BoardReport) -> list[list[str]]:
    durability = report.summary["durability"]
    rows = [["Measure", "Value", "k/n", "95% CI", "Counted among"]]
    for name, key, among in (
        ("Median time to response", "time_to_response", "patients with a baseline"),
        ("Median time to loss of response", "loss_of_response", "patients who responded"),
        (
            "Median time to relapse after remission",
            "relapse_after_remission",
            "patients who remitted",
        ),
    ):
        value, events, ci = _median_cells(durability.get(key))
        rows.append([name, value, events, ci, among + " (Kaplan-Meier)"])
    for population, key in (("observed", "sustained"), ("intention to treat", "sustained_itt")):
        for week, r in (durability.get(key) or {}).items():
            among = (
                "week-4 responders scored then"
                if population == "observed"
                else "week-4 responders due then, scored or not"
            )
            rows.append(
                [
                    f"Still responding at {week}, {population}",
                    format_share(r.get("rate")),
                    format_k_of_n(r),
                    format_ci(r),
                    among,
                ]
            )
    return rows


def _funnel_rows(report: BoardReport) -> list[list[str]]:
    rows = [["Step", "Patients", "Share", "95% CI"]]
    for row in report.frames["funnel"].to_dict("records"):
        rows.append([row["label"], _count(row["k"]), format_share(row["rate"]), format_ci(row)])
    return rows


def _pct(value) -> str:
    value = _number(value)
    return "–" if value is None else f"{value:g}%"


def _side_effect_rows(report: BoardReport) -> list[list[str]]:
    rows = [
        [
            "Side effect",
            "Patients (at least once)",
            "95% CI",
            "Sessions",
            "95% CI",
            "Label: esketamine / placebo",
        ]
    ]
    effects = report.frames["side_effects"]
    if effects.empty:
        return rows
    patients = effects[effects["level"] == "patient"].set_index("effect")
    sessions = effects[effects["level"] == "session"].set_index("effect")
    order = patients.assign(order=pd.to_numeric(patients["rate"], errors="coerce")).sort_values(
        "order", ascending=False, na_position="last"
    )
    for effect, row in order.iterrows():
        s = sessions.loc[effect].to_dict() if effect in sessions.index else None
        p = row.to_dict()
        label = (
            f"{_pct(row['label_pct'])} / {_pct(row['placebo_pct'])}"
            if _number(row["label_pct"]) is not None
            else "not in the label"
        )
        rows.append(
            [
                row["label"],
                format_rate_cell(p),
                format_ci(p),
                format_rate_cell(s),
                format_ci(s),
                label,
            ]
        )
    return rows


def _blood_pressure_rows(report: BoardReport) -> list[list[str]]:
    rows = [["Flag", "Sessions", "95% CI", "Patients (at least once)", "95% CI"]]
    bp = report.frames["blood_pressure"]
    for flag, part in bp.groupby("flag", sort=False):
        cells = [flag]
        for level in ("sessions", "patients"):
            r = part[part["level"] == level].to_dict("records")
            r = r[0] if r else None
            cells += [format_rate_cell(r), format_ci(r)]
        rows.append(cells)
    return rows


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def report_document(report: BoardReport, svgs: dict[str, str] | None) -> dict:
    """Everything the Typst layout prints, as plain JSON-ready data (strings and lists)."""
    summary = report.summary
    definitions = summary["definitions"]
    thresholds = (summary.get("blood_pressure") or {}).get("thresholds") or {}
    bp_label = (summary.get("blood_pressure") or {}).get("label_reference") or {}
    suppression = report.suppression
    if suppression["applied"]:
        statement = (
            f"Applied. {suppression['rule']} {suppression['cells_suppressed']} values in this "
            "report are shown as <11 or left out of the charts. A value shown as <11 may be "
            "larger: a few are hidden only so that a small one cannot be worked out from a "
            "total."
        )
    else:
        statement = (
            "Not applied: counts from 1 to 10 are shown. This report is for use inside the "
            "clinic only."
        )
    routes = ", ".join(figures.route_label(r) for r in report.routes) or "none recorded"
    return {
        "title": TITLE,
        "subtitle": f"{report.instrument} outcomes, side effects and blood pressure",
        "clinic_name": report.clinic_name or UNNAMED_CLINIC,
        "made_by": report.made_by,
        "footer": f"Made {report.made_on} · data version {report.data_version}",
        "cover": [
            ["Cohort", report.cohort],
            ["Period", report.period],
            ["Patients", _count(report.n_patients)],
            ["Routes", routes],
            ["Data version", report.data_version],
            ["Made on", report.made_on],
            ["Made by", report.made_by],
        ],
        "suppression_statement": statement,
        "cover_note": (
            "De-identified clinic data: patients are counted, never named. Every rate is "
            "given with its count (k of n) and its 95% confidence interval "
            f"({definitions.get('ci', 'Wilson score interval')}). The definitions in force are "
            "listed at the end of the report."
        ),
        "headline_note": (
            "Each rate says who it counts. Observed rates count the patients scored at the "
            "timepoint; intention-to-treat (ITT) rates count every patient with a baseline who "
            "started and was due, a patient with no score counting as not responding."
        ),
        "headline": _headline_rows(report),
        "means": {
            "title": f"Mean {report.instrument} over time, by {_by_words(report)}",
            "caption": (
                f"The average {report.instrument} total by week since the first session (week "
                "0 is before the first dose; lower is better), one line per "
                + (
                    "route of the first session"
                    if report.by in (None, "route")
                    else _by_words(report)
                )
                + ", with the 95% confidence interval of the mean as a band; open grey points "
                f"are weeks of fewer than {report.min_n} patients. The table gives each mean "
                "and its n."
            ),
            **_means_table(report),
        },
        "groups": {
            "title": f"Week 4 by {_by_words(report)}",
            "caption": (
                "Each group's patients and week-4 outcomes. A group of fewer than 11 patients "
                "is too small to compare; every group's reliable change uses the whole "
                "cohort's baseline SD."
            ),
            "rows": _group_table(report) if report.by else [],
        },
        "rates": {
            "caption": (
                "Response: "
                + definitions["response"]
                + ". Remission: "
                + definitions["remission"]
                + ". Dark bars count the patients scored at the "
                "timepoint (observed), light bars every patient due then, scored or not "
                "(ITT). Whiskers are 95% confidence intervals; each bar carries its n."
            ),
            "rows": _rates_rows(report),
        },
        "durability": {
            "caption": (
                "Of the patients who responded, the share still responding by days since their "
                "first response (Kaplan-Meier, with its 95% band; a patient still responding at "
                "the last score counts up to that day). "
                + summary["durability"].get("definition", "")
            ),
            "rows": _durability_rows(report),
        },
        "funnel": {
            "caption": (
                "Patients who started treatment and how many reached each step; each step is "
                "counted on its own. Induction: "
                + "; ".join(
                    f"{figures.route_label(r)} {n} sessions"
                    for r, n in (definitions.get("induction_sessions") or {}).items()
                )
                + "."
            ),
            "rows": _funnel_rows(report),
        },
        "side_effects": {
            "caption": (
                "Side effects reported in the clinic's records, per patient (at least once, "
                "among patients with a session) and per session (among sessions given). The "
                "chart shows the share of patients, with the Spravato label's esketamine rate "
                "as a grey diamond."
            ),
            "rows": _side_effect_rows(report),
            "label_note": (
                "Label: SPRAVATO prescribing information (Janssen), adverse reactions in "
                "short-term trials of esketamine with an oral antidepressant in "
                "treatment-resistant depression (n = 346) against placebo (n = 222): a different "
                "population and design, not a clinic. The label reports patients, not sessions."
            ),
        },
        "blood_pressure": {
            "caption": (
                "Sessions with each flag among sessions with the readings it needs, and "
                "patients with it at least once. Pre-dose threshold: "
                f"{thresholds.get('systolic_pre_max', 140):g}/"
                f"{thresholds.get('diastolic_pre_max', 90):g} mmHg "
                f"({thresholds.get('systolic_pre_max_older', 150):g} systolic from age "
                f"{thresholds.get('older_age', 65)}); rise: "
                f"{thresholds.get('rise_systolic', 40):g} mmHg systolic or "
                f"{thresholds.get('rise_diastolic', 25):g} mmHg diastolic above the pre-dose "
                "reading."
            ),
            "rows": _blood_pressure_rows(report),
            "label_note": (
                f"Label: {bp_label.get('measure', 'a rise')} in "
                f"{_pct(bp_label.get('esketamine_pct_low'))}-"
                f"{_pct(bp_label.get('esketamine_pct_high'))} of esketamine patients against "
                f"{_pct(bp_label.get('placebo_pct_low'))}-{_pct(bp_label.get('placebo_pct_high'))}"
                f" on placebo ({bp_label.get('source', 'SPRAVATO prescribing information')}): "
                "a different population and design."
                if bp_label
                else ""
            ),
        },
        "claims_note": (
            "Two claims a clinic is often asked to back, checked against this cohort's own "
            "data by a fixed rule, stated under each verdict."
        ),
        "claims": [
            {
                "claim": _sentence_case(str(c.get("claim") or "")),
                "verdict": str(c.get("verdict") or ""),
                "reason": str(c.get("verdict_reason") or ""),
                "rule": str(c.get("rule") or ""),
            }
            for c in report.claims
        ],
        "definitions": _definition_rows(definitions),
        "caveats": list(report.caveats),
        "charts": svgs or {},
        "charts_missing": (
            "This chart could not be drawn on the machine that made the report (no Chromium "
            "for the chart renderer); the table below carries every number."
        ),
    }


def board_report_pdf(
    report: BoardReport, *, draw_charts: bool = True, svgs: dict[str, str] | None = None
) -> bytes:
    """The board report as PDF bytes.

    Parameters
    ----------
    report : BoardReport
        From :func:`analytics.report.board_report.board_report_of`.
    draw_charts : bool, default True
        Draw the charts (needs Chromium). When they cannot be drawn the report is made
        without them, each chart's place saying so.
    svgs : dict of str, optional
        The charts already drawn (:func:`chart_svgs` of :func:`report_charts`).

    Returns
    -------
    bytes
        A PDF: A4, page numbers on every page, fonts embedded.
    """
    import typst

    if svgs is None:
        svgs = {}
        if draw_charts:
            try:
                svgs = chart_svgs(report_charts(report))
            except ChartsUnavailable:
                svgs = {}
    data = json.dumps(report_document(report, svgs), allow_nan=False, default=str)
    return typst.compile(TEMPLATE.read_bytes(), sys_inputs={"data": data})
