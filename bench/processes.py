"""Whole commands timed as a user runs them, each a process of its own, against DuckDB's floors.

Every step starts ``python -m ...`` and waits for it with :func:`os.wait4`, which gives the
process's own wall time, CPU seconds (user and system, every thread) and peak resident memory:
nothing of the benchmark's own process is counted, and start-up (imports included) is.

- ``import_cli``: ``python -m analytics import DIR`` into a new SQLite database (what a network
  does with its first export): read, validate every cell, store, prepare the per-patient table.
- ``summary_db_cli``: ``python -m analytics summary --json`` from that database.
- ``summary_dir_cli``: ``python -m analytics summary DIR --json`` from the CSV folder.
- ``reimport_same_cli``: the same export imported again into a copy of that database.
- ``reimport_monthly_cli``: a later export with 10% new patients
  (:func:`bench.generate.monthly_export`) imported into a copy of that database.
- ``duckdb_load`` and ``duckdb_counts``: :mod:`bench.floors_duckdb`, the floors.

The week-4 response and nausea k/n of ``summary_db_cli`` and ``summary_dir_cli`` must equal
DuckDB's (:func:`check_against_duckdb`), or the benchmark fails.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.floors_duckdb import definition_parameters
from bench.generate import DATA_DIR, clinic_dir, monthly_export

__all__ = [
    "PROCESS_STEPS",
    "check_against_duckdb",
    "home_database_url",
    "rates_of_summary",
    "run_command",
    "store_env",
    "time_process_steps",
]

ROOT = Path(__file__).resolve().parents[1]

PROCESS_STEPS = {
    "import_cli": "`python -m analytics import DIR` into a new SQLite database: read, validate "
    "every cell, store in one transaction, keep the snapshot and the per-patient table",
    "duckdb_load": "DuckDB: `CREATE TABLE ... AS SELECT * FROM read_csv(...)` of the same CSV "
    "files into a database file (types sniffed, nothing checked): the floor for the import",
    "summary_db_cli": "`python -m analytics summary --json` from the database",
    "summary_dir_cli": "`python -m analytics summary DIR --json` from the CSV folder",
    "duckdb_counts": "DuckDB: rows per table, week-4 response and nausea per patient straight "
    "from the CSV files (bench/floors_duckdb.py): the floor for the summaries",
    "reimport_same_cli": "the same export imported again into the database (nothing changed: "
    "the data version, snapshot and kept per-patient table stay)",
    "reimport_monthly_cli": "a later export with 10% new patients imported into the database",
}


def run_command(argv: list[str], env: dict | None = None, *, timeout: float = 3600) -> dict:
    """Run ``argv`` from the project's folder; its wall and CPU seconds, peak MB and output.

    Raises
    ------
    RuntimeError
        When the command fails or runs past ``timeout`` seconds (it is killed).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -9
                raise RuntimeError(f"{' '.join(argv[1:4])} ran past {timeout:g} s")
            time.sleep(0.01)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[1:4])} failed ({process.returncode}):\n{stderr[-2000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,  # KB on Linux
        "stdout": stdout,
    }


def home_database_url(home: Path) -> str:
    """The address of the SQLite store a benchmark keeps under ``home``."""
    return f"sqlite:///{home / 'clinic.sqlite'}"


def store_env(home: Path, database_url: str | None = None) -> dict:
    """The environment of a command on the store under ``home`` (its SQLite file, or
    ``database_url``), with its own disk cache."""
    return {
        **os.environ,
        "DATABASE_URL": database_url or home_database_url(home),
        "DASHBOARD_CACHE_DIR": str(home / "cache"),
        "HOME": str(home),
    }


def _fresh_copy(base: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    return target


def rates_of_summary(summary: dict) -> dict:
    """The week-4 observed response and nausea per patient ``[k, n]`` of a summary's JSON."""
    week = next(t for t in summary["timepoints"] if t["label"] == "week 4")["response"]
    nausea = next(e for e in summary["side_effects"] if e["effect"] == "nausea")["patients"]
    return {
        "week_4_response": [week["k"], week["n"]],
        "nausea_patients": [nausea["k"], nausea["n"]],
    }


def check_against_duckdb(results: dict, n_patients: int) -> None:
    """Raise ``SystemExit`` unless both summaries give DuckDB's k and n at ``n_patients``."""
    duck = results.get(f"duckdb_counts@{n_patients}", {}).get("result")
    for step in ("summary_db_cli", "summary_dir_cli"):
        ours = results.get(f"{step}@{n_patients}", {}).get("result")
        if duck is None or ours is None:
            continue
        for rate in ("week_4_response", "nausea_patients"):
            if list(ours[rate]) != list(duck[rate]):
                raise SystemExit(
                    f"{step} at {n_patients}: {rate} is {ours[rate]}, DuckDB gives {duck[rate]}"
                )


def _summarised(step: str, n_patients: int, runs: list[dict], result) -> dict:
    return {
        "step": step,
        "n_patients": n_patients,
        "runs": len(runs),
        "times": [r["wall"] for r in runs],
        "median": statistics.median(r["wall"] for r in runs),
        "cpu": [r["cpu"] for r in runs],
        "median_cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "result": result,
    }


def time_process_steps(n_patients: int, runs: int, steps=tuple(PROCESS_STEPS)) -> dict:
    """Each of ``steps`` run ``runs`` times at ``n_patients``; ``{"step@n": result}``.

    The imports run first: the database of the last ``import_cli`` run is the one the summary
    reads and the re-imports start from (copied afresh for each run).
    """
    python = sys.executable
    folder = clinic_dir(n_patients)
    work = DATA_DIR / f"processes_{n_patients}"
    base = work / "imported"
    out: dict = {}
    user = ["--user", "bench"]
    if "import_cli" in steps or not (base / "clinic.sqlite").exists():
        done = []
        for _ in range(runs if "import_cli" in steps else 1):
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir(parents=True)
            done.append(
                run_command(
                    [python, "-m", "analytics", "import", str(folder), *user], store_env(base)
                )
            )
        if "import_cli" in steps:
            out[f"import_cli@{n_patients}"] = _summarised("import_cli", n_patients, done, None)
    if "duckdb_load" in steps:
        target = work / "duckdb.db"
        done = [
            run_command([python, "-m", "bench.floors_duckdb", "load", str(folder), str(target)])
            for _ in range(runs)
        ]
        rows = json.loads(done[-1]["stdout"])
        out[f"duckdb_load@{n_patients}"] = _summarised("duckdb_load", n_patients, done, rows)
        target.unlink(missing_ok=True)
    parameters = json.dumps(definition_parameters())
    commands = {
        "summary_db_cli": ([python, "-m", "analytics", "summary", "--json"], store_env(base)),
        "summary_dir_cli": (
            [python, "-m", "analytics", "summary", str(folder), "--json"],
            store_env(work / "unused"),
        ),
        "duckdb_counts": (
            [python, "-m", "bench.floors_duckdb", "counts", str(folder), parameters],
            None,
        ),
    }
    for step, (argv, env) in commands.items():
        if step not in steps:
            continue
        done = [run_command(argv, env) for _ in range(runs)]
        found = json.loads(done[-1]["stdout"])
        result = found if step == "duckdb_counts" else rates_of_summary(found)
        out[f"{step}@{n_patients}"] = _summarised(step, n_patients, done, result)
    shutil.rmtree(work / "unused", ignore_errors=True)
    later = {"reimport_same_cli": folder}
    if "reimport_monthly_cli" in steps:
        later["reimport_monthly_cli"] = monthly_export(n_patients)
    for step, export in later.items():
        if step not in steps:
            continue
        done = []
        for _ in range(runs):
            home = _fresh_copy(base, work / "again")
            # kept tables are keyed by the database's address as well as its data version, so
            # the copy's is worked out first (untimed): the store as its own import left it
            run_command([python, "-m", "analytics", "summary", "--json"], store_env(home))
            done.append(
                run_command(
                    [python, "-m", "analytics", "import", str(export), *user], store_env(home)
                )
            )
        out[f"{step}@{n_patients}"] = _summarised(step, n_patients, done, None)
        shutil.rmtree(work / "again", ignore_errors=True)
    return out


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    found = time_process_steps(size, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    for key, row in found.items():
        print(
            f"{key:32s} {row['median']:8.2f} s  cpu {row['median_cpu']:8.2f} s  "
            f"{row['peak_mb']:7.0f} MB  {row['result'] or ''}"
        )
    check_against_duckdb(found, size)
