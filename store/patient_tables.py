"""The stored clinic's per-patient tables, kept on disk once per data version and definitions.

Every number is an aggregation of the clinic's per-patient table
(:func:`analytics.report.patients.patient_table`). Working it out for a large clinic takes
seconds; adding it up takes milliseconds. So the table is worked out once per data version and
definitions, right after an import (:func:`prepare_patient_table`), and kept in the cache folder
as Parquet and JSON (data, never code: nothing here unpickles a file). The dashboard and
``python -m analytics summary`` then read it back (:func:`stored_patient_table`) instead of
loading the clinic and working it out again.

The SHA-256 of every kept file is recorded in the database (:mod:`store.content`) with the data
version, and a kept table is read back only when each of its files still has its recorded
digest; anything else is logged by file name, ignored and worked out again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from analytics.core.patient_table import PatientTable
from store.config import ROOT, cache_dir, database_url
from store.content import (
    content_hashes,
    file_sha256,
    forget_content_hashes,
    record_content_hashes,
)

__all__ = [
    "HASH_KIND",
    "KEEP_TABLES",
    "SAMPLE_PREFIX",
    "analytics_version",
    "clinic_version",
    "keep_table",
    "kept_table_folder",
    "prepare_patient_table",
    "read_kept_table",
    "stored_patient_table",
]

KEEP_TABLES = 4  # per-patient tables kept on disk (data versions x definitions)
# The kind of the kept tables' records in the database's content_hashes table.
HASH_KIND = "patient_table"
SAMPLE_PREFIX = "sample-"
_FOLDER_PREFIX = "patients-"

logger = logging.getLogger(__name__)


@functools.cache
def analytics_version() -> str:
    """Fingerprint of the analytics code, so that tables kept on disk follow code changes."""
    h = hashlib.sha1()
    for path in sorted(ROOT.glob("analytics/**/*.py")):
        stat = path.stat()
        h.update(f"{path.relative_to(ROOT)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def clinic_version(
    engine: Engine | None = None, *, url: str | None = None, version: str | None = None
) -> tuple[str, str]:
    """The key the stored clinic's results are kept under, and its source.

    While the database holds only the sample clinic, the key is the digest of the sample's
    files and the analytics version, so its table can come from the disk across restarts and
    databases (source ``"sample"``). Any other content is keyed by the database and its data
    version (:func:`store.clinic.data_version`, which changes with every import, rollback and
    resolved conflict; source ``"database"``). ``url`` and ``version`` are the database's
    URL and data version when the caller has them already.
    """
    from store.clinic import data_version
    from store.history import batch_details, list_batches
    from store.sample import sample_loaded

    if sample_loaded(engine):
        active = list_batches(engine=engine)
        active = active[(active["status"] == "active") & (active["kind"] == "sample")]
        details = batch_details(int(active["batch_id"].iloc[0]), engine=engine)
        digests = sorted(f["sha256"] for f in details["files"])
        digest = hashlib.sha1("".join(digests).encode()).hexdigest()[:12]
        return f"{SAMPLE_PREFIX}{digest}-{analytics_version()}", "sample"
    where = url or (engine.url.render_as_string(hide_password=True) if engine else database_url())
    digest = hashlib.sha1(where.encode()).hexdigest()[:8]
    return f"db-{digest}-{version or data_version(engine)}", "database"


def kept_table_folder(version: str, definitions) -> Path:
    """Where the table of clinic ``version`` for ``definitions`` is kept."""
    key = f"{version}|{definitions!r}|{analytics_version()}"
    return cache_dir() / f"{_FOLDER_PREFIX}{hashlib.sha1(key.encode()).hexdigest()[:20]}"


def read_kept_table(folder: Path, *, engine: Engine | None = None) -> PatientTable | None:
    """The table kept in ``folder``, or None when it is missing, unverified or unreadable.

    Every file of the folder is read once and compared with the SHA-256 recorded for it in the
    database when it was kept; only those checked bytes are parsed (Parquet and JSON). A file
    without a record, a record without its file, or another digest is logged by file name and
    None is returned, so that the caller works the table out again.
    """
    try:
        files = {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir())}
    except FileNotFoundError:
        return None  # never kept: nothing to say
    except OSError as error:
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, error)
        return None
    try:
        recorded = content_hashes(HASH_KIND, folder.name, engine=engine)
    except Exception as error:  # noqa: BLE001 - without the records nothing is trusted
        logger.warning("could not check the kept per-patient table %s: %s", folder.name, error)
        return None
    problem = _unverified(files, recorded)
    if problem:
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, problem)
        return None
    try:
        return PatientTable.from_files(files)
    except Exception as error:  # noqa: BLE001 - from older code, or damaged: recompute
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, error)
        return None


def _unverified(files: dict[str, bytes], recorded: dict[str, str]) -> str | None:
    """Why ``files`` are not the ones recorded (naming a file, never its content), or None."""
    if not recorded:
        return "no content hashes were recorded for it"
    for name in sorted(files.keys() | recorded.keys()):
        if name not in recorded:
            return f"{name} has no recorded content hash"
        if name not in files:
            return f"{name} is missing"
        if hashlib.sha256(files[name]).hexdigest() != recorded[name]:
            return f"{name} does not match the content hash recorded when it was kept"
    return None


def keep_table(
    table: PatientTable, folder: Path, data_version: str, *, engine: Engine | None = None
) -> None:
    """Write ``table`` to ``folder`` whole or not at all, keeping the newest few tables.

    Once the folder is in place the SHA-256 of each of its files is recorded in the database
    with ``data_version`` (the clinic's); when that fails the folder is removed, since it would
    never be read back. Old tables pruned lose their records too. A disk that refuses costs
    only a recomputation later, so nothing here raises.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".part-"))
        try:
            table.write(part)
            digests = {file.name: file_sha256(file) for file in part.iterdir()}
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(part, folder)  # a reader sees no folder or the whole new one
        finally:
            shutil.rmtree(part, ignore_errors=True)
        kept = sorted(folder.parent.glob(f"{_FOLDER_PREFIX}*"), key=lambda p: p.stat().st_mtime)
        pruned = [old for old in kept[:-KEEP_TABLES] if old != folder]
        for old in pruned:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        return
    try:
        record_content_hashes(HASH_KIND, folder.name, digests, data_version, engine=engine)
    except Exception as error:  # noqa: BLE001 - an unrecorded table is only recomputed
        logger.warning(
            "could not record the kept per-patient table %s, so it is removed: %s",
            folder.name,
            error,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        forget_content_hashes(HASH_KIND, [old.name for old in pruned], engine=engine)
    except Exception as error:  # noqa: BLE001 - the pruned tables are gone either way
        logger.warning("could not remove the records of old per-patient tables: %s", error)


def stored_patient_table(
    definitions, *, version: str | None = None, data=None, engine: Engine | None = None
) -> PatientTable:
    """The stored clinic's table for ``definitions``: read back when kept, else worked out
    (from ``data`` when given, else from :func:`store.clinic.load_clinic`) and kept.

    Parameters
    ----------
    definitions : OutcomeDefinitions
    version : str, optional
        :func:`clinic_version`'s key, when the caller has it already.
    data : ClinicData, optional
        The stored clinic, when the caller has it loaded already.
    engine : Engine, optional
    """
    from analytics.report.patients import patient_table

    version = version or clinic_version(engine)[0]
    folder = kept_table_folder(version, definitions)
    table = read_kept_table(folder, engine=engine)
    if table is None:
        if data is None:
            from store.clinic import load_clinic

            data = load_clinic(engine)
        table = patient_table(data, definitions)
        keep_table(table, folder, version, engine=engine)
    return table


def prepare_patient_table(definitions, *, engine: Engine | None = None) -> None:
    """Work out and keep the stored clinic's table for ``definitions`` now (after an import),
    so that the first page and the first summary only add it up."""
    stored_patient_table(definitions, engine=engine)
