"""The timed steps of the benchmark, each run in a process of its own for its peak memory.

``python -m bench.steps STEP N_PATIENTS RUNS`` runs one step ``RUNS`` times on the benchmark
clinic of ``N_PATIENTS`` and prints one JSON line: the run times (seconds), the result (so the
DuckDB reference can be checked against ours) and the process's peak resident memory.

Steps read their inputs from ``bench/data``: the upload CSV files (``clinic_N``), and the
imported clinic (``work_N/canonical.pkl``) and canonical scores (``work_N/canonical_scores.csv``)
that :func:`prepare` writes once, so a summary is not timed together with an import.
"""

from __future__ import annotations

import json
import pickle
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import ImportOptions, import_folder
from bench.generate import clinic_dir, ensure_clinic, work_dir
from bench.page_calls import DASHBOARD_PAGES

__all__ = [
    "IMPORT_OPTIONS",
    "STEPS",
    "cohort_ids",
    "filter_cohort",
    "load_clinic",
    "peak_memory_mb",
    "prepare",
    "profile_step",
    "run_in_subprocess",
    "run_step",
    "week4_response",
]

# The upload limit is per browser upload; a network's export (160 MB of sessions at 100,000
# patients) is imported here without it.
IMPORT_OPTIONS = ImportOptions(max_bytes=4 << 30)

STEPS = {
    "parse_pyarrow": "raw parse of the four CSV files with pyarrow.csv (the floor for reading)",
    "import": "full import and validation (analytics.ingest.importer.import_folder)",
    "summary": "full summary: every timepoint, durability, PCL-5 depth, safety",
    "summary_by_route": "the summary split by route (build_summary(by='route'))",
    "patient_table": "the per-patient table every page adds up (once per data version and "
    "definitions: a cold dashboard)",
    **{
        f"filter_{page}": f"a cohort filter change on the warm {page.capitalize()} page: the "
        "cohort's ids and mask, then every analytics call the page makes (recorded from the "
        "page itself), on the per-patient table"
        for page in DASHBOARD_PAGES
    },
    "filter_summary": "a cohort filter change on a page that recomputes: cut the clinic to the "
    "cohort, then the full summary",
    "board_report": "the board report PDF of the whole clinic: the per-patient table, the "
    "summary, small-cell suppression, every chart drawn by Chromium, the pages typeset",
    "week4_ours": "week-4 observed response rate, ours (timepoint_outcomes, one window)",
    "week4_duckdb_csv": "the same rate by a DuckDB SQL query over the canonical CSV",
    "week4_duckdb_table": "the same query over a DuckDB table already in memory",
}


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss`` is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(n_patients: int) -> Path:
    """Generate the clinic if needed, import it once and keep the canonical tables; the folder."""
    folder = ensure_clinic(n_patients)
    work = work_dir(n_patients)
    work.mkdir(parents=True, exist_ok=True)
    pickled = work / "canonical.pkl"
    scores = work / "canonical_scores.csv"
    made = (folder / "manifest.json").stat().st_mtime
    if not pickled.exists() or not scores.exists() or pickled.stat().st_mtime < made:
        result = import_folder(folder, options=IMPORT_OPTIONS)
        if result.data is None:
            errors = [str(p) for p in result.problems if p.severity == "error"][:5]
            raise RuntimeError(f"the benchmark clinic did not import: {errors}")
        with pickled.open("wb") as f:
            pickle.dump(result.data, f, protocol=pickle.HIGHEST_PROTOCOL)
        from bench.reference_duckdb import write_canonical_scores

        write_canonical_scores(result.data, scores)
    return folder


def load_clinic(n_patients: int) -> ClinicData:
    """The imported benchmark clinic (written by :func:`prepare`)."""
    with (work_dir(n_patients) / "canonical.pkl").open("rb") as f:
        return pickle.load(f)


def cohort_ids(data: ClinicData, members=None):
    """The ids of the first site in the sidebar's list (patients with a session there), found
    as the dashboard's site filter finds them: through the (site, patient) pairs it keeps per
    data version (:func:`ui.cohort.session_members`)."""
    from analytics.core.ids import isin_ids
    from ui.cohort import session_members

    members = session_members(data, "site") if members is None else members
    site = sorted(members["site"].unique())[0]
    ids = data.patients["patient_id"]
    return ids[isin_ids(ids, members.loc[members["site"] == site, "patient_id"])]


def filter_cohort(data: ClinicData) -> ClinicData:
    """The first site's cohort (:func:`cohort_ids`) cut out of the clinic."""
    return data.with_patients(cohort_ids(data))


def week4_response(data: ClinicData, definitions: OutcomeDefinitions | None = None):
    """Our week-4 observed response :class:`~analytics.core.stats.Rate`, computed as the outcome
    pages do, restricted to the one window."""
    from analytics.metrics.outcomes import timepoint_outcomes
    from bench.reference_duckdb import week_window

    definitions = definitions or OutcomeDefinitions()
    one = definitions.with_changes(windows=(week_window(definitions),))
    outcomes = timepoint_outcomes(data, one)
    return outcomes[0].response


def _parse_pyarrow(folder: Path):
    from pyarrow import csv

    return sum(csv.read_csv(path).num_rows for path in sorted(folder.glob("*.csv")))


def _setup(step: str, n_patients: int):
    """The step's callable, its inputs already in memory."""
    from analytics.report.summary import build_summary

    folder = clinic_dir(n_patients)
    definitions = OutcomeDefinitions()
    if step == "parse_pyarrow":
        return lambda: _parse_pyarrow(folder)
    if step == "import":

        def run():
            return import_folder(folder, options=IMPORT_OPTIONS).summary()

        return run
    if step.startswith("week4_duckdb"):
        import duckdb

        from bench.reference_duckdb import load_table, week_response_duckdb

        scores = work_dir(n_patients) / "canonical_scores.csv"
        con = duckdb.connect()
        if step == "week4_duckdb_csv":
            return lambda: week_response_duckdb(scores, definitions, connection=con)
        name = load_table(con, scores)
        return lambda: week_response_duckdb(name, definitions, connection=con)
    data = load_clinic(n_patients)
    if step == "summary":
        return lambda: build_summary(data, definitions)["counts"]
    if step == "summary_by_route":
        return lambda: sorted(build_summary(data, definitions, by="route")["groups"])
    if step == "patient_table":
        from analytics.report.patients import patient_table

        return lambda: len(patient_table(data, definitions))
    if step.startswith("filter_") and step.removeprefix("filter_") in DASHBOARD_PAGES:
        return _page_filter_change(data, step.removeprefix("filter_"))
    if step == "board_report":
        return lambda: _board_report(data, definitions)
    if step == "filter_summary":
        return lambda: build_summary(filter_cohort(data), definitions)["counts"]
    if step == "week4_ours":

        def run():
            rate = week4_response(data, definitions)  # once: k and n come from one computation
            return [rate.k, rate.n]

        return run
    raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")


def _board_report(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """What ``python -m analytics report`` does once the clinic is loaded."""
    from analytics.report.board_report import board_report_of
    from analytics.report.patients import patient_table
    from documents.board_report import board_report_pdf, chart_svgs, report_charts

    table = patient_table(data, definitions)
    report = board_report_of(
        table,
        table.keep(),
        definitions,
        clinic_name="Bench clinic",
        cohort="All patients",
        data_version="bench",
        made_by="bench",
    )
    svgs = chart_svgs(report_charts(report))  # raises without a Chromium: no partial timing
    pdf = board_report_pdf(report, svgs=svgs)
    return {"patients": int(table.keep().sum()), "charts": len(svgs), "pdf_bytes": len(pdf)}


def _page_filter_change(data: ClinicData, page: str):
    """A filter change on ``page``: the calls the page makes, replayed on the large clinic."""
    from analytics.report.patients import patient_table
    from bench.page_calls import record_page_calls
    from ui.cohort import session_members

    calls = record_page_calls([page])[page]
    # what the dashboard keeps per data version and definitions: one table per definitions
    tables = {}
    for call in calls:
        key = repr(call.definitions)
        if key not in tables:
            tables[key] = patient_table(data, call.definitions)
    members = session_members(data, "site")

    def run():
        ids = cohort_ids(data, members)
        # every table of one clinic has the same patient index: one mask serves them all
        keep = next(iter(tables.values())).keep(ids) if tables else None
        for call in calls:
            call(tables[repr(call.definitions)], keep)
        return {
            "calls": [call.name for call in calls],
            "patients": int(keep.sum()) if tables else 0,
        }

    return run


def run_step(step: str, n_patients: int, runs: int) -> dict:
    """Run ``step`` ``runs`` times in this process; times, result and peak memory."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    run = _setup(step, n_patients)
    setup_mb = peak_memory_mb()
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "step": step,
        "n_patients": n_patients,
        "runs": runs,
        "times": times,
        "median": statistics.median(times),
        # CPU seconds of every thread: steadier than wall time on a shared machine.
        "cpu": cpu,
        "median_cpu": statistics.median(cpu),
        "setup_peak_mb": setup_mb,
        "peak_mb": peak_memory_mb(),
        "result": result if isinstance(result, (int, list, dict)) else list(result),
    }


def run_in_subprocess(step: str, n_patients: int, runs: int, *, timeout: float = 3600) -> dict:
    """:func:`run_step` in a fresh Python process, so its peak memory is its own."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "bench.steps", step, str(n_patients), str(runs)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{step} at {n_patients} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile_step(step: str, n_patients: int) -> str:
    """A pyinstrument profile (text) of one run of ``step``, inputs loaded beforehand."""
    from pyinstrument import Profiler

    run = _setup(step, n_patients)
    profiler = Profiler(interval=0.005)
    profiler.start()
    run()
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    # paths relative to the project, so the results name no machine's folders
    return text.replace(str(Path(__file__).resolve().parent.parent) + "/", "")


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "profile":
        print(profile_step(argv[1], int(argv[2])))
        return 0
    if len(argv) != 3:
        print("usage: python -m bench.steps [profile] STEP N_PATIENTS [RUNS]", file=sys.stderr)
        return 2
    step, n, runs = argv[0], int(argv[1]), int(argv[2])
    print(json.dumps(run_step(step, n, runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
