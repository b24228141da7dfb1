"""``python -m bench`` (``make bench``): time every step at every size, write ``bench/results.md``.

Each step runs in a process of its own (its peak memory is its own), several times; the table
gives the median. The week-4 response rate is computed by us and by DuckDB and the two must
agree exactly (k and n), or the run fails. At the largest size the steps of :data:`PROFILED` are
profiled with pyinstrument and the top of each profile goes into the results.

Whole commands (``python -m analytics import | summary``) are timed as processes of their own
beside DuckDB's floors on the same files (:mod:`bench.processes`), each page's first render and
five users on two app processes sharing one PostgreSQL in Chromium (:mod:`bench.browser`,
:mod:`bench.multi_user`); the issue's table at the largest size closes the results.

Text below the ``<!-- notes -->`` line of an existing ``results.md`` (the explanations written
by hand) is kept when the file is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.generate import DATA_DIR, SIZES, clinic_dir
from bench.page_calls import DASHBOARD_PAGES
from bench.processes import PROCESS_STEPS, check_against_duckdb, time_process_steps
from bench.steps import STEPS, prepare, run_in_subprocess

RESULTS = Path(__file__).resolve().parent / "results.md"
# Profiled at the largest size: the steps whose targets are hardest to reach.
PROFILED = ("summary", "import", "week4_ours", "patient_table", "filter_outcomes", "filter_safety")
NOTES_MARK = "<!-- notes -->"
PACKAGES = ("pandas", "numpy", "pyarrow", "scipy", "pandera", "streamlit", "duckdb", "pyinstrument")

# Targets at the largest size (from the issue).
TARGET_IMPORT_VS_PARSE = 3.0
TARGET_WEEK4_VS_DUCKDB = 2.0
TARGET_SUMMARY_S = 5.0
TARGET_PEAK_MB = 4096.0
TARGET_FILTER_S = 0.5
TARGET_RENDER_S = 3.0
TARGET_REPORT_S = 30.0
# The issue's table, whole process against whole process at 100,000 patients.
TARGET_IMPORT_VS_DUCKDB_LOAD = 10.0
TARGET_IMPORT_PEAK_MB = 3072.0
TARGET_SUMMARY_DB_VS_DUCKDB = 1.5
TARGET_SUMMARY_DIR_VS_DUCKDB = 3.0
TARGET_PAGE_RENDER_S = 3.0
TARGET_STORE_LOAD_S = 20.0


def machine() -> dict:
    """Cores, memory, CPU model, OS, Python and library versions, load average now."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def shape(n_patients: int) -> dict:
    """Rows per table of the clinic's upload files (header lines excluded)."""
    rows: dict[str, int] = {}
    for path in sorted(clinic_dir(n_patients).glob("*.csv")):
        table = path.stem.rsplit("_", 1)[0] if path.stem[-1].isdigit() else path.stem
        with path.open("rb") as f:
            rows[table] = rows.get(table, 0) + sum(1 for _ in f) - 1
    return rows


def profile(step: str, n_patients: int, lines: int = 45) -> str:
    """The top ``lines`` of a pyinstrument profile of one run of ``step``."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "bench.steps", "profile", step, str(n_patients)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"(profile failed: {done.stderr[-500:]})"
    return "\n".join(done.stdout.splitlines()[:lines])


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def write_results(report: dict, path: Path = RESULTS) -> None:
    """Write ``results.md`` from ``report``, keeping hand-written notes below the mark."""
    notes = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if NOTES_MARK in text:
            notes = text[text.index(NOTES_MARK) :]
    m = report["machine"]
    sizes = report["sizes"]
    out = ["# Benchmark results", ""]
    out.append(
        f"Written by `make bench` (`python -m bench`) on {report['finished']} UTC, "
        f"{report['elapsed_min']:.0f} minutes."
    )
    out += [
        "",
        "## Machine",
        "",
        f"- {m['cores']} cores ({m['cpu'] or 'model unknown'}), {m['memory']} memory; {m['os']}",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Load average (1, 5, 15 min) at the start: {_load(report['load_start'])}; at the end: "
        f"{_load(m['load'])}. The machine is shared: wall times carry other work's noise, so "
        "CPU seconds are given too.",
        "",
        "## Clinics",
        "",
        "Generated by `bench.generate` (seeded `analytics.sample.generate_clinic`, plus "
        "maintenance sessions every 14 days until each patient has 20), written to CSV once "
        "and reused. Files over 90 MB are split into parts (the dashboard's upload limit is "
        "100 MB a file; the importer joins the parts).",
        "",
        "| patients | " + " | ".join(_tables(report)) + " | per patient |",
        "|---:|" + "---:|" * (len(_tables(report)) + 1),
    ]
    for n in sizes:
        rows = report["shape"][str(n)]
        per = ", ".join(
            f"{rows.get(t, 0) / n:.1f} {t}" for t in ("sessions", "assessments") if t in rows
        )
        cells = " | ".join(f"{rows.get(t, 0):,}" for t in _tables(report))
        out.append(f"| {n:,} | {cells} | {per} |")
    out += [
        "",
        "## Steps",
        "",
        "Median wall time over the runs, median CPU seconds (all threads), and the peak resident "
        "memory of the step's process (it includes loading the step's input, e.g. the imported "
        "clinic for the summaries).",
        "",
        "| step | " + " | ".join(f"{n:,} patients" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for step, words in STEPS.items():
        cells = [_cell(report["steps"].get(f"{step}@{n}")) for n in sizes]
        out.append(f"| `{step}`: {words} | " + " | ".join(cells) + " |")
    out += _processes_section(report)
    out += _growth_section(report)
    browser = report.get("browser", {})
    if browser:
        out += [
            "",
            "## Overview in the browser",
            "",
            "Chromium (headless) through Playwright, signed in as a director: seconds from "
            "pressing *Sign in* to the first headline metric being visible. *cold*: a new "
            "server with nothing prepared (the clinic is read from the store's snapshot and the "
            "Overview's per-patient parts are computed); *warm*: a second visit to the same "
            "server; *restart*: a new server that finds the parts the cold visit kept on disk, "
            "as the first visit after an import on the Data page does (the import prepares "
            "them). These three press *Sign in* as soon as the form is drawn, so they wait for "
            "the server's start-up (imports, then the clinic and its per-patient table read "
            "into memory). *ready*: a new server again, signed in once its start-up is over "
            "(the server prints `Ready:`), as a person who types for a few seconds finds it. "
            "*database load*: putting the clinic into the app's SQLite database "
            "(`store.ensure_sample`, what a first start does, snapshot included).",
            "",
            "In brackets: from opening the app's address (the sign-in form, typing and, for "
            "*ready*, the wait for the start-up included).",
            "",
            "| patients | database load | cold | warm | restart | ready |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for n, t in browser.items():
            if "error" in t:
                out.append(f"| {int(n):,} | {t['error']} | | | | |")
            else:
                cells = [
                    _fmt(t.get(k))
                    + (
                        f" ({_fmt(t[f'{k}_from_navigation'])})"
                        if f"{k}_from_navigation" in t
                        else ""
                    )
                    for k in ("cold", "warm", "restart", "ready")
                ]
                out.append(
                    f"| {int(n):,} | {_fmt(t.get('store_load'))} | " + " | ".join(cells) + " |"
                )
    out += _pages_section(report.get("browser", {}))
    out += _multi_user_section(report.get("multi_user"))
    out += _outcomes_section(report.get("outcomes"))
    out += ["", "## The issue's table: whole processes at the largest size", ""]
    out += _issue_table(report)
    out += ["", "## Targets", ""]
    out += _targets(report)
    out += ["", "## Week-4 response: ours against DuckDB", ""]
    for n in sizes:
        ours = report["steps"].get(f"week4_ours@{n}", {}).get("result")
        ref = report["steps"].get(f"week4_duckdb_csv@{n}", {}).get("result")
        out.append(f"- {n:,} patients: ours k/n = {ours}, DuckDB k/n = {ref}")
    for step, text in report.get("profiles", {}).items():
        out += ["", f"## Profile: `{step}` at {max(sizes):,} patients (pyinstrument)", ""]
        out += ["```", text, "```"]
    out += ["", notes or NOTES_MARK, ""]
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")


def _cell(r: dict | None) -> str:
    """A timed row's cell: median wall, CPU, runs and peak memory."""
    if r is None:
        return "–"
    return (
        f"{_fmt(r['median'])} (cpu {_fmt(r['median_cpu'])}, {r['runs']} runs, "
        f"{r['peak_mb']:,.0f} MB)"
    )


def _processes_section(report: dict) -> list[str]:
    """Whole commands (:mod:`bench.processes`), one row each, a column per size."""
    found = report.get("processes", {})
    if not found:
        return []
    sizes = report["sizes"]
    out = [
        "",
        "## Whole commands against DuckDB",
        "",
        "Each a process of its own, timed from its start to its exit (Python's start-up and "
        "imports included) with `os.wait4`: median wall time, median CPU seconds (user and "
        "system, every thread), the process's peak resident memory. The summaries' week-4 "
        "response and nausea k/n equal DuckDB's at every size (checked by the run).",
        "",
        "| command | " + " | ".join(f"{n:,} patients" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for step, words in PROCESS_STEPS.items():
        cells = [_cell(found.get(f"{step}@{n}")) for n in sizes]
        out.append(f"| `{step}`: {words} | " + " | ".join(cells) + " |")
    checks = []
    for n in sizes:
        duck = found.get(f"duckdb_counts@{n}", {}).get("result")
        if duck:
            checks.append(
                f"- {n:,} patients: week-4 response k/n {duck['week_4_response']}, nausea "
                f"{duck['nausea_patients']} (ours and DuckDB's)"
            )
    return out + ([""] + checks if checks else [])


def fitted_growth(points: list[tuple[int, float]]) -> dict | None:
    """Least squares ``t = start + per_patient * n`` over ``points`` (patients, seconds), and the
    log-log slope between the two largest sizes (1: linear); None with fewer than 2 points."""
    points = sorted(p for p in points if p[1] is not None)
    if len(points) < 2:
        return None
    import math

    ns = [float(n) for n, _ in points]
    ts = [t for _, t in points]
    mean_n, mean_t = sum(ns) / len(ns), sum(ts) / len(ts)
    spread = sum((n - mean_n) ** 2 for n in ns)
    per = sum((n - mean_n) * (t - mean_t) for n, t in zip(ns, ts, strict=True)) / spread
    (n1, t1), (n2, t2) = points[-2], points[-1]
    slope = math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and t2 > 0 else None
    return {"start": mean_t - per * mean_n, "per_patient": per, "exponent": slope}


# What the growth table fits: (label, where the numbers are, key, measure)
_GROWTH = (
    ("import (whole command)", "processes", "import_cli", "median"),
    ("summary from the database (whole command)", "processes", "summary_db_cli", "median"),
    ("summary from a folder (whole command)", "processes", "summary_dir_cli", "median"),
    ("re-import of the same export", "processes", "reimport_same_cli", "median"),
    ("import of a monthly export (+10%)", "processes", "reimport_monthly_cli", "median"),
    ("per-patient table (in process)", "steps", "patient_table", "median"),
    ("import's peak memory (MB)", "processes", "import_cli", "peak_mb"),
)


def _growth_section(report: dict) -> list[str]:
    sizes = report["sizes"]
    if len(sizes) < 2:
        return []
    out = [
        "",
        "## Growth with patients",
        "",
        "Fitted by least squares as *start + per patient x n* over the sizes measured; the "
        "exponent is the log-log slope between the two largest sizes (1 is linear growth).",
        "",
        "| measure | " + " | ".join(f"{n:,}" for n in sizes) + " | start | per 1,000 patients "
        "| exponent |",
        "|---|" + "---:|" * (len(sizes) + 3),
    ]
    for label, where, key, measure in _GROWTH:
        rows = [report.get(where, {}).get(f"{key}@{n}") for n in sizes]
        points = [(n, r[measure]) for n, r in zip(sizes, rows, strict=True) if r]
        fit = fitted_growth(points)
        if fit is None:
            continue
        show = (lambda x: f"{x:,.0f}") if measure == "peak_mb" else _fmt
        cells = " | ".join(show(r[measure]) if r else "–" for r in rows)
        exponent = "–" if fit["exponent"] is None else f"{fit['exponent']:.2f}"
        out.append(
            f"| {label} | {cells} | {show(fit['start'])} | {show(fit['per_patient'] * 1000)} "
            f"| {exponent} |"
        )
    return out


def _pages_section(browser: dict) -> list[str]:
    """Each page's first render after sign-in (:func:`bench.browser.page_render_times`)."""
    rows = [(n, t["pages"]) for n, t in browser.items() if isinstance(t.get("pages"), dict)]
    if not rows:
        return []
    out = [
        "",
        "## Each page's first render after sign-in",
        "",
        "A server started on a store an import prepared (the per-patient table kept on disk), one "
        "tab signed in as a director once the server's start-up is over (*ready* above): the "
        "Overview timed from *Sign in*, then every other page once, from the click on its "
        "link. *server*: the script run (rerun request to *script finished*); *on screen*: "
        "from the click until the run is over and every chart is drawn.",
        "",
        "| patients | page | server | on screen |",
        "|---:|---|---:|---:|",
    ]
    for n, pages in rows:
        for page, t in pages.items():
            out.append(
                f"| {int(n):,} | {page} | {_fmt(t.get('server'))} | {_fmt(t.get('on_screen'))} |"
            )
    return out


def _multi_user_section(found: dict | None) -> list[str]:
    """Five users on two processes sharing one PostgreSQL (:mod:`bench.multi_user`)."""
    if not found:
        return []
    out = ["", "## Several app processes on one PostgreSQL", ""]
    if "error" in found:
        return [*out, f"Not measured: {found['error']}"]
    out += [
        f"{found['processes']} Streamlit processes (two ports, no proxy) on one PostgreSQL "
        f"database holding {found['patients']:,} patients (imported with `python -m analytics "
        f"import`: {_fmt(found['import_s'])}, peak {found['import_peak_mb']:,.0f} MB). "
        f"{found['users']} signed-in users in one Chromium, each on a process of the two in "
        "turn, switching pages and setting and clearing a site filter for "
        f"{found['rounds']} rounds. A page time runs from the click to the script run's end "
        "(read from the page's websocket).",
        "",
        "| actions | median | 95th percentile | slowest |",
        "|---:|---:|---:|---:|",
        f"| {found['actions']} | {_fmt(found['median'])} | {_fmt(found['p95'])} | "
        f"{_fmt(found['max'])} |",
    ]
    seen = found.get("seen_by_other")
    if seen:
        out += [
            "",
            f"An import through one process ({seen['patients_after']:,} patients after it) was "
            f"on the other's next page load: {seen['ok']}.",
        ]
    return out


def _issue_table(report: dict) -> list[str]:
    """The issue's table: each row measured at the largest size, its floor, goal and verdict."""
    n = max(report["sizes"])
    p = report.get("processes", {})
    s = report["steps"]

    def row(step: str) -> dict | None:
        return p.get(f"{step}@{n}")

    def ratio(mine: dict | None, floor: dict | None) -> str:
        if not mine or not floor:
            return "–"
        text = f"{mine['median'] / floor['median']:.1f}x"
        if mine.get("median_cpu") and floor.get("median_cpu"):
            text += f" (CPU {mine['median_cpu'] / floor['median_cpu']:.1f}x)"
        return text

    out = [
        f"At {n:,} patients. Ratios of median wall times, CPU seconds' ratio in brackets.",
        "",
        "| step | ours | DuckDB | ratio | goal | verdict |",
        "|---|---|---|---|---|---|",
    ]
    imp, load = row("import_cli"), row("duckdb_load")
    if imp:
        ok = (
            load is not None
            and imp["median"] <= TARGET_IMPORT_VS_DUCKDB_LOAD * load["median"]
            and imp["peak_mb"] < TARGET_IMPORT_PEAK_MB
        )
        out.append(
            f"| `python -m analytics import DIR` into a fresh database | {_cell(imp)} | "
            f"{_cell(load)} | {ratio(imp, load)} | <= {TARGET_IMPORT_VS_DUCKDB_LOAD:g}x, peak < "
            f"{TARGET_IMPORT_PEAK_MB / 1024:g} GB | {_verdict(ok)} |"
        )
    counts = row("duckdb_counts")
    for step, label, goal in (
        ("summary_db_cli", "`summary --json` from the database", TARGET_SUMMARY_DB_VS_DUCKDB),
        ("summary_dir_cli", "`summary DIR --json` from a CSV folder", TARGET_SUMMARY_DIR_VS_DUCKDB),
    ):
        mine = row(step)
        if mine:
            ok = counts is not None and mine["median"] <= goal * counts["median"]
            out.append(
                f"| {label} | {_cell(mine)} | {_cell(counts)} | {ratio(mine, counts)} | "
                f"<= {goal:g}x | {_verdict(ok)} |"
            )
    filters = {
        page: s.get(f"filter_{page}@{n}") for page in DASHBOARD_PAGES if s.get(f"filter_{page}@{n}")
    }
    if filters:
        worst = max(r["median"] for r in filters.values())
        cells = ", ".join(f"{page.capitalize()} {_fmt(r['median'])}" for page, r in filters.items())
        out.append(
            f"| filter change, every dashboard page (server part) | {cells} | – | – | "
            f"< {TARGET_FILTER_S * 1000:.0f} ms each | {_verdict(worst < TARGET_FILTER_S)} |"
        )
    b = report.get("browser", {}).get(str(n), {})
    pages = b.get("pages") if isinstance(b.get("pages"), dict) else None
    if pages:
        worst = max(t["on_screen"] for t in pages.values())
        cells = ", ".join(f"{page} {_fmt(t['on_screen'])}" for page, t in pages.items())
        out.append(
            f"| first render of each page after sign-in (on screen) | {cells} | – | – | "
            f"< {TARGET_PAGE_RENDER_S:g} s | {_verdict(worst < TARGET_PAGE_RENDER_S)} |"
        )
    if b.get("store_load") is not None:
        out.append(
            f"| `make bench`'s database load (`store.ensure_sample`) | {_fmt(b['store_load'])} "
            f"| – | – | < {TARGET_STORE_LOAD_S:g} s | "
            f"{_verdict(b['store_load'] < TARGET_STORE_LOAD_S)} |"
        )
    for step, label in (
        ("reimport_same_cli", "the same export imported again"),
        ("reimport_monthly_cli", "a monthly export with 10% new patients"),
    ):
        mine = row(step)
        if mine and imp:
            out.append(
                f"| {label} | {_cell(mine)} | – | {mine['median'] / imp['median']:.2f}x the "
                "first import | in proportion to what changed | see the notes |"
            )
    return out


def _outcomes_section(outcomes: dict | None) -> list[str]:
    """The sample clinic's most used screens in the browser (:func:`bench.browser.outcomes_times`)."""
    if not outcomes:
        return []
    from bench.browser import FILTER_FLOOR_S, SWITCH_FLOOR_S

    out = [
        "",
        "## Outcomes in the browser (sample clinic, 250 patients)",
        "",
        "One server, one Chromium tab signed in as a director; rounds alternate between the "
        "Overview and Outcomes. *server*: the script run, from the tab's rerun request to the "
        "server's *script finished* on the page's websocket; *CPU*: the server process's CPU "
        "seconds meanwhile (every thread; steadier than wall time on a busy machine); "
        "*browser*: from the click to the run's end. Medians.",
        "",
    ]
    if "error" in outcomes:
        return [*out, f"Not measured: {outcomes['error']}"]
    s = outcomes["summary"]
    out += [
        "| screen | server | CPU | browser | floor |",
        "|---|---:|---:|---:|---|",
        f"| first switch to Outcomes (its numbers computed) | {_fmt(s['first_switch'])} | "
        f"{_fmt(s['first_switch_cpu'])} | | < {_fmt(SWITCH_FLOOR_S)} |",
        f"| switch to Outcomes, later rounds ({s['runs'] - 1}) | {_fmt(s['switch'])} | "
        f"{_fmt(s['switch_cpu'])} | {_fmt(s['switch_browser'])} | < {_fmt(SWITCH_FLOOR_S)}: "
        f"{_verdict(s['switch_met'])} |",
        f"| cohort filter change on Outcomes (set a site, clear it) | {_fmt(s['filter'])} | "
        f"{_fmt(s['filter_cpu'])} | {_fmt(s['filter_browser'])} | < {_fmt(FILTER_FLOOR_S)}: "
        f"{_verdict(s['filter_met'])} |",
        f"| sign-in form, new tab (browser cache warm) | | | {_fmt(s['sign_in_form_new_tab'])} | |",
        f"| sign-in form, new browser (cache empty) | | | "
        f"{_fmt(s['sign_in_form_new_browser'])} | |",
    ]
    return out


def _load(load) -> str:
    return "unknown" if not load else ", ".join(f"{x:.1f}" for x in load)


def _tables(report: dict) -> list[str]:
    names = []
    for rows in report["shape"].values():
        names += [t for t in rows if t not in names]
    return names


def _targets(report: dict) -> list[str]:
    n = max(report["sizes"])
    s = report["steps"]

    def median(step: str) -> float | None:
        r = s.get(f"{step}@{n}")
        return None if r is None else r["median"]

    def cpu(step: str) -> float | None:
        r = s.get(f"{step}@{n}")
        return None if r is None else r.get("median_cpu")

    def cpu_ratio(step: str, reference: str) -> str:
        mine, theirs = cpu(step), cpu(reference)
        return f" (CPU {mine / theirs:.1f}x)" if mine and theirs else ""

    lines = [
        f"At {n:,} patients; ratios of median wall times, with the ratio of CPU seconds (all "
        "threads) beside them.",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    parse, imp = median("parse_pyarrow"), median("import")
    if parse and imp:
        ratio = imp / parse
        lines.append(
            f"| import and validation <= {TARGET_IMPORT_VS_PARSE:g}x the pyarrow parse | "
            f"{_fmt(imp)} / {_fmt(parse)} = {ratio:.1f}x{cpu_ratio('import', 'parse_pyarrow')} | "
            f"{_verdict(ratio <= TARGET_IMPORT_VS_PARSE)} |"
        )
    ours, ref = median("week4_ours"), median("week4_duckdb_csv")
    if ours and ref:
        ratio = ours / ref
        table = median("week4_duckdb_table")
        extra = f"; {ours / table:.1f}x the query on a loaded table" if table else ""
        lines.append(
            f"| week-4 response rate <= {TARGET_WEEK4_VS_DUCKDB:g}x the DuckDB query over the "
            f"CSV | {_fmt(ours)} / {_fmt(ref)} = {ratio:.1f}x"
            f"{cpu_ratio('week4_ours', 'week4_duckdb_csv')}{extra} | "
            f"{_verdict(ratio <= TARGET_WEEK4_VS_DUCKDB)} |"
        )
    summary = median("summary")
    if summary is not None:
        lines.append(
            f"| whole summary < {TARGET_SUMMARY_S:g} s | {_fmt(summary)} | "
            f"{_verdict(summary < TARGET_SUMMARY_S)} |"
        )
    report_s = median("board_report")
    if report_s is not None:
        lines.append(
            f"| board report PDF < {TARGET_REPORT_S:g} s (per-patient table, summary, charts, "
            f"pages) | {_fmt(report_s)} | {_verdict(report_s < TARGET_REPORT_S)} |"
        )
    peaks = [r["peak_mb"] for key, r in s.items() if key.endswith(f"@{n}")]
    if peaks:
        peak = max(peaks)
        lines.append(
            f"| peak memory < {TARGET_PEAK_MB / 1024:g} GB (largest of any step) | "
            f"{peak:,.0f} MB | {_verdict(peak < TARGET_PEAK_MB)} |"
        )
    for page in DASHBOARD_PAGES:
        flt = median(f"filter_{page}")
        if flt is not None:
            lines.append(
                f"| filter change on the warm {page.capitalize()} page < "
                f"{TARGET_FILTER_S * 1000:.0f} ms (the cohort's mask, then every analytics call "
                f"the page makes) | {_fmt(flt)} (cpu {_fmt(cpu(f'filter_{page}'))}) | "
                f"{_verdict(flt < TARGET_FILTER_S)} |"
            )
    b = report.get("browser", {}).get(str(n))
    if b and "error" not in b:
        # An import through the Data page prepares the Overview before it reports success, so
        # a user's first render after an import is the "restart" case: the prepared parts are
        # read back. "cold" is a database filled outside the app, with nothing prepared.
        first, ready = b["restart"], b.get("ready")
        lines.append(
            f"| Overview's first render < {TARGET_RENDER_S:g} s | after an import or a restart "
            f"{_fmt(first)} (signed in at once), {_fmt(ready)} (once the server is ready); "
            f"cold (nothing prepared) {_fmt(b['cold'])}; warm {_fmt(b['warm'])} | "
            f"{_verdict(first < TARGET_RENDER_S)} (signed in at once); "
            f"{_verdict(ready is not None and ready < TARGET_RENDER_S)} (once ready); "
            f"{_verdict(b['cold'] < TARGET_RENDER_S)} (cold) |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--runs", type=int, default=5, help="runs below 100,000 patients")
    parser.add_argument("--runs-large", type=int, default=3, help="runs at 100,000 or more")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--browser-sizes", default="10000,100000")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--processes", default=",".join(PROCESS_STEPS), help="whole commands to time ('' for none)"
    )
    parser.add_argument(
        "--no-multi-user", action="store_true", help="skip the two-process PostgreSQL benchmark"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--from-json", type=Path, help="rewrite results.md from a saved results.json, no runs"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        write_results(json.loads(args.from_json.read_text()), args.out)
        print(f"wrote {args.out}")
        return 0
    sizes = [int(x) for x in args.sizes.split(",") if x]
    steps = [x for x in args.steps.split(",") if x]
    started = time.monotonic()
    report = {
        "machine": machine(),
        "load_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "sizes": sizes,
        "shape": {},
        "steps": {},
        "processes": {},
    }
    processes = [x for x in args.processes.split(",") if x]
    for n in sizes:
        print(f"preparing {n:,} patients", flush=True)
        prepare(n)
        report["shape"][str(n)] = shape(n)
        for step in steps:
            runs = args.runs_large if n >= 100_000 else args.runs
            result = run_in_subprocess(step, n, runs)
            report["steps"][f"{step}@{n}"] = result
            print(f"  {step:20s} {_fmt(result['median']):>10s}  {result['peak_mb']:,.0f} MB")
        if processes:
            runs = args.runs_large if n >= 100_000 else args.runs
            found = time_process_steps(n, runs, processes)
            for key, result in found.items():
                print(
                    f"  {key.split('@')[0]:20s} {_fmt(result['median']):>10s}  "
                    f"{result['peak_mb']:,.0f} MB",
                    flush=True,
                )
            report["processes"].update(found)
            check_against_duckdb(report["processes"], n)
        ours = report["steps"].get(f"week4_ours@{n}", {}).get("result")
        for ref in ("week4_duckdb_csv", "week4_duckdb_table"):
            theirs = report["steps"].get(f"{ref}@{n}", {}).get("result")
            if ours is not None and theirs is not None and list(ours) != list(theirs):
                raise SystemExit(f"{ref} at {n}: DuckDB gives {theirs}, we give {ours}")
    if not args.no_profile:
        report["profiles"] = {step: profile(step, max(sizes)) for step in PROFILED if step in steps}
    if not args.no_browser:
        report["browser"] = {}
        for n in (int(x) for x in args.browser_sizes.split(",") if x):
            if n not in sizes:
                continue
            print(f"browser at {n:,} patients", flush=True)
            from bench.browser import overview_render_times

            try:
                report["browser"][str(n)] = overview_render_times(n)
            except Exception as error:  # noqa: BLE001 - a missing browser is reported, not fatal
                report["browser"][str(n)] = {"error": f"{type(error).__name__}: {error}"[:200]}
    if not args.no_browser and not args.no_multi_user:
        n = max(sizes)
        print(f"several processes on one PostgreSQL at {n:,} patients", flush=True)
        from bench.multi_user import multi_user_times

        try:
            report["multi_user"] = multi_user_times(n)
        except Exception as error:  # noqa: BLE001 - no PostgreSQL or browser is reported
            report["multi_user"] = {"error": f"{type(error).__name__}: {error}"[:300]}
    if not args.no_browser:
        print("browser: Outcomes on the sample clinic", flush=True)
        from bench.browser import outcomes_times, summarise_outcomes_times

        try:
            found = outcomes_times(args.runs)
            report["outcomes"] = {"summary": summarise_outcomes_times(found), "runs": found}
        except Exception as error:  # noqa: BLE001 - a missing browser is reported, not fatal
            report["outcomes"] = {"error": f"{type(error).__name__}: {error}"[:200]}
    report["machine"]["load"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report["finished"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    report["elapsed_min"] = (time.monotonic() - started) / 60
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "results.json").write_text(json.dumps(report, indent=1, default=str))
    write_results(report, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
