"""Benchmark clinics: the sample clinic scaled up, written to CSV once and reused.

:func:`analytics.sample.generate_clinic` gives about 10 sessions and 10 forms (5 PCL-5, 5 PHQ-9)
per patient. A clinic network keeps its patients on maintenance for longer, so
:func:`bench_clinic` can append maintenance sessions, every ``interval`` days after each
patient's last one, until every patient has ``min_sessions`` sessions. The appended rows copy the
patient's last session (route, dose, site, clinician), so they change no outcome definition.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.sample import TABLE_NAMES, generate_clinic, write_clinic

__all__ = [
    "DATA_DIR",
    "SIZES",
    "add_maintenance_sessions",
    "bench_clinic",
    "clinic_dir",
    "ensure_clinic",
    "monthly_export",
    "split_large_files",
    "work_dir",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
SIZES = (1_000, 10_000, 100_000)
SEED = 20_240_101
# The issue asks for about 20 sessions per patient at the top size.
MIN_SESSIONS = 20
MAINTENANCE_INTERVAL = 14
# The dashboard refuses a single upload over 100 MB; larger tables go in parts the importer
# joins (a folder may hold several files of one table).
PART_BYTES = 90 * 1024 * 1024


def add_maintenance_sessions(
    sessions: pd.DataFrame,
    *,
    min_sessions: int = MIN_SESSIONS,
    interval: int = MAINTENANCE_INTERVAL,
) -> pd.DataFrame:
    """``sessions`` (upload shape, ISO ``session_date``) with maintenance sessions appended.

    Every patient with fewer than ``min_sessions`` sessions gets copies of their last session
    dated ``interval``, ``2 * interval``, ... days later, marked ``phase = maintenance`` with no
    CADSS, sedation or dissociation recorded. Rows stay sorted by patient then date.

    Raises
    ------
    ValueError
        When ``min_sessions`` or ``interval`` is below 1.
    """
    if min_sessions < 1 or interval < 1:
        raise ValueError(
            f"min_sessions and interval must be at least 1, got {min_sessions} and {interval}"
        )
    if sessions.empty:
        return sessions
    last = sessions.drop_duplicates("patient_id", keep="last")
    counts = sessions.groupby("patient_id", sort=False).size().reindex(last["patient_id"])
    missing = np.maximum(min_sessions - counts.to_numpy(), 0)
    extra = last.loc[last.index.repeat(missing)].copy()
    # 1, 2, ... within each patient's block of appended rows.
    step = np.arange(len(extra)) - np.repeat(np.cumsum(missing) - missing, missing) + 1
    dates = pd.to_datetime(extra["session_date"]).to_numpy() + step * np.timedelta64(interval, "D")
    extra["session_date"] = pd.array(np.datetime_as_string(dates, unit="D"), dtype="string")
    extra["phase"] = "maintenance"
    for column in ("dissociation_cadss", "sedation", "dissociation"):
        extra[column] = pd.Series(pd.NA, index=extra.index, dtype=sessions[column].dtype)
    combined = pd.concat([sessions, extra], ignore_index=True)
    combined = combined.sort_values(["patient_id", "session_date"], kind="stable")
    combined = combined.reset_index(drop=True)
    combined.attrs = sessions.attrs
    return combined


def bench_clinic(n_patients: int, *, seed: int = SEED, min_sessions: int = MIN_SESSIONS) -> dict:
    """The upload tables of a benchmark clinic of ``n_patients`` (see the module docstring)."""
    tables = generate_clinic(n_patients, seed=seed)
    tables["sessions"] = add_maintenance_sessions(tables["sessions"], min_sessions=min_sessions)
    return tables


def clinic_dir(n_patients: int) -> Path:
    """The folder of the ``n_patients`` benchmark clinic's upload CSV files (nothing else)."""
    return DATA_DIR / f"clinic_{n_patients}"


def work_dir(n_patients: int) -> Path:
    """Where the benchmark keeps the imported clinic and the canonical scores of a size."""
    return DATA_DIR / f"work_{n_patients}"


def split_large_files(folder: Path, *, part_bytes: int = PART_BYTES) -> list[Path]:
    """Split every CSV file of ``folder`` larger than ``part_bytes`` into ``name_1.csv``,
    ``name_2.csv``, ... (each with the header, whole lines only); the parts written."""
    written = []
    for path in sorted(Path(folder).glob("*.csv")):
        if path.stat().st_size <= part_bytes:
            continue
        with path.open("rb") as f:
            header = f.readline()
            part, size, out = 0, part_bytes, None
            for line in f:
                if size + len(line) > part_bytes:
                    if out is not None:
                        out.close()
                    part += 1
                    target = path.with_name(f"{path.stem}_{part}.csv")
                    written.append(target)
                    out = target.open("wb")
                    out.write(header)
                    size = len(header)
                out.write(line)
                size += len(line)
            if out is not None:
                out.close()
        path.unlink()
    return written


def ensure_clinic(n_patients: int, *, folder: Path | None = None) -> Path:
    """Write the benchmark clinic's CSV files unless they are already there; the folder.

    The manifest records the seed and session floor; a folder made with other settings is
    rewritten.
    """
    out = Path(folder) if folder is not None else clinic_dir(n_patients)
    manifest = out / "manifest.json"
    wanted = {
        "seed": SEED,
        "min_sessions": MIN_SESSIONS,
        "n_patients": n_patients,
        "part_bytes": PART_BYTES,
    }
    if manifest.exists():
        made = json.loads(manifest.read_text(encoding="utf-8")).get("bench", {})
        if made == wanted and all(any(out.glob(f"{name}*.csv")) for name in TABLE_NAMES):
            return out
    for old in out.glob("*.csv"):
        old.unlink()
    write_clinic(out, bench_clinic(n_patients))
    split_large_files(out)
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    recorded["bench"] = wanted
    manifest.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    return out


def monthly_export(n_patients: int, *, every: int = 10) -> Path:
    """A later export of the ``n_patients`` clinic: the same files and one new patient for every
    ``every`` patients; the folder (made once, ``next_N``).

    The new patients are copies of every ``every``-th patient's rows in all four tables, their
    ids prefixed with ``N`` (so none is stored already), in ``<table>_next.csv`` files beside
    hard links to the export's own files: a network's monthly export that adds about 10% new
    rows and changes nothing stored.
    """
    from bench.floors_duckdb import table_files

    source = ensure_clinic(n_patients)
    out = DATA_DIR / f"next_{n_patients}"
    made = source / "manifest.json"
    marker = out / "made_from.json"
    wanted = {"manifest_mtime": made.stat().st_mtime, "every": every}
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.csv"):
        old.unlink()
    ids = pd.read_csv(source / "patients.csv", usecols=["patient_id"], dtype="string")
    chosen = set(ids["patient_id"].iloc[::every])
    for path in sorted(source.glob("*.csv")):
        target = out / path.name
        try:
            target.hardlink_to(path)
        except OSError:  # another file system: copy
            target.write_bytes(path.read_bytes())
    for name, parts in table_files(source).items():
        frames = [pd.read_csv(p, dtype="string", keep_default_na=False) for p in parts]
        rows = pd.concat(frames, ignore_index=True)
        rows = rows[rows["patient_id"].isin(chosen)]
        rows["patient_id"] = "N" + rows["patient_id"]
        rows.to_csv(out / f"{name}_next.csv", index=False, lineterminator="\n")
    marker.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    return out
