"""Columnar snapshots of the stored clinic, so that loading it does not re-read every SQL row.

:func:`store.clinic.load_clinic` turns millions of stored rows into the canonical frames; done
through SQL that costs tens of seconds at 100,000 patients. A snapshot is the result of that
load written once as Arrow IPC files (one per table, uncompressed, read memory-mapped: about
ten times quicker to turn back into pandas than Parquet), so that the next load of the same
data takes a fraction of a second.

A snapshot is a folder named by its **key**: a digest of the data version (the last batch and
its creation time, the rolled-back batches and the resolved conflicts with their times, see
:func:`snapshot_key`), the schema revision, the snapshot format, the pandas and pyarrow
versions and the source of the modules that shape the frames. Any import, rollback or resolved
conflict changes the key, and so does a code or library change, so a stale snapshot is never
served: it is simply not found. A snapshot is written into a temporary folder and renamed into
place, so it is never read half-written; one that is missing, incomplete or unreadable is
ignored and the clinic is read through SQL.

The SHA-256 of every file of a snapshot is recorded in the database once it is in place
(:mod:`store.content`, kind ``"snapshot"``), and a snapshot is only served when each file still
has the digest the loading transaction reads there: a file changed on disk, even at the same
size, or a snapshot without records, is ignored, removed and written again from SQL.

Where snapshots live (:func:`snapshot_folder`): beside an SQLite file (``var/clinic.sqlite``
gives ``var/clinic.sqlite-snapshots/``), or under ``var/snapshots/<digest of the URL>/`` for
other databases; ``SNAPSHOT_DIR`` names another parent folder, or ``off`` disables them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.config import ROOT, snapshot_parent
from store.content import (
    content_hashes_in,
    file_sha256,
    forget_content_hashes,
    record_content_hashes,
)
from store.models import Batch, Conflict

__all__ = [
    "FORMAT",
    "HASH_KIND",
    "TABLES",
    "prune_snapshots",
    "read_snapshot",
    "snapshot_folder",
    "snapshot_key",
    "write_snapshot",
]

logger = logging.getLogger(__name__)

# Bump when the layout of a snapshot folder changes (2: patients carry follow_up_days).
FORMAT = 2
TABLES = ("patients", "sessions", "assessments", "side_effects")
META = "meta.json"
# The kind of the snapshots' records in the content_hashes table.
HASH_KIND = "snapshot"
_TEMP_PREFIX = ".tmp-"
# The modules whose code decides what load_clinic returns: a change to any of them is a new key.
_SOURCES = (
    "store/clinic.py",
    "store/rows.py",
    "store/models.py",
    "store/snapshot.py",
    "analytics/core/contract.py",
)
_code_digest: str | None = None


def _code_fingerprint() -> str:
    """Digest of the snapshot format, the library versions and the shaping modules' source."""
    global _code_digest
    if _code_digest is None:
        import pyarrow as pa

        from store.db import HEAD_REVISION

        h = hashlib.sha256(f"{FORMAT}|{HEAD_REVISION}|{pd.__version__}|{pa.__version__}".encode())
        for name in _SOURCES:
            h.update((ROOT / name).read_bytes())
        _code_digest = h.hexdigest()
    return _code_digest


def snapshot_folder(engine: Engine) -> Path | None:
    """The folder holding ``engine``'s snapshots, or None when snapshots are off.

    Without ``SNAPSHOT_DIR``: beside an SQLite file (``<file>-snapshots``), under
    ``var/snapshots/<digest>`` for any other database, None for an in-memory SQLite database.
    With it: ``<SNAPSHOT_DIR>/<digest>``, the digest being that of the URL without password.
    """
    url = engine.url
    parent = snapshot_parent()
    if parent is False:
        return None
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        if parent is None:
            path = Path(url.database).resolve()
            return path.with_name(path.name + "-snapshots")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return (parent or ROOT / "var" / "snapshots") / digest


def snapshot_key(conn: Connection) -> str:
    """The key of the data ``conn`` sees, read inside the caller's (consistent) transaction.

    Built from the last batch that changed the data (id and creation time), the rolled-back
    batches (count and last time), the resolved conflicts (count and last time) and
    :func:`_code_fingerprint`. The times tell apart two databases at the same counts, such as a
    file deleted and created again.
    """
    batches = conn.execute(
        sa.select(
            sa.func.max(Batch.id).filter(Batch.changes_data.is_(True)),
            sa.func.count().filter(Batch.status == "rolled_back"),
            sa.func.max(Batch.rolled_back_at),
        )
    ).one()
    created = conn.execute(
        sa.select(Batch.created_at).where(Batch.id == batches[0])
    ).scalar_one_or_none()
    resolved = conn.execute(
        sa.select(sa.func.count(), sa.func.max(Conflict.resolved_at)).where(
            Conflict.status != "pending"
        )
    ).one()
    facts = [batches[0], str(created), batches[1], str(batches[2]), resolved[0], str(resolved[1])]
    h = hashlib.sha256(json.dumps(facts, default=str).encode())
    h.update(_code_fingerprint().encode())
    return h.hexdigest()[:32]


def _expected_columns(name: str, extra: tuple[str, ...]) -> list[str]:
    from analytics.core.contract import (
        ASSESSMENT_COLUMNS,
        FOLLOW_UP_COLUMN,
        PATIENT_BASE_COLUMNS,
        SESSION_COLUMNS,
        SIDE_EFFECT_COLUMNS,
    )

    return {
        "patients": [*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN, *extra],
        "sessions": SESSION_COLUMNS,
        "assessments": ASSESSMENT_COLUMNS,
        "side_effects": SIDE_EFFECT_COLUMNS,
    }[name]


def read_snapshot(
    folder: Path, key: str, extra: tuple[str, ...], conn: Connection
) -> dict[str, pd.DataFrame] | None:
    """The four frames of snapshot ``key``, or None when it is missing or not sound.

    Parameters
    ----------
    folder : Path
        :func:`snapshot_folder` of the database.
    key : str
        :func:`snapshot_key` of the data being loaded.
    extra : tuple of str
        The extra patient columns the database says the clinic has.
    conn : Connection
        The loading transaction: the files' recorded digests are read in it, beside the key.

    Returns
    -------
    dict of str to DataFrame, or None
        None when there is no snapshot of ``key``. None too (with a warning in the log naming
        the file, and the snapshot removed so that a sound one replaces it) when no digests were
        recorded for it, a file's SHA-256 is not the recorded one, or a file or its metadata is
        missing, truncated or unreadable, or the columns, dtypes, row counts or sizes differ
        from what the snapshot recorded.
    """
    path = folder / key
    if not (path / META).is_file():
        return None
    # Read outside the guard below: a database error is not a damaged snapshot.
    recorded = content_hashes_in(conn, HASH_KIND, key)
    try:
        import pyarrow as pa
        import pyarrow.feather as feather

        if not recorded:
            raise ValueError("no content hashes were recorded for it")
        # Each file is hashed once, and what is parsed is the very bytes that were hashed.
        meta_bytes = (path / META).read_bytes()
        _check_digest(META, hashlib.sha256(meta_bytes).hexdigest(), recorded)
        meta = json.loads(meta_bytes)
        if meta.get("key") != key or meta.get("format") != FORMAT:
            raise ValueError("the snapshot's metadata names another key or format")
        if tuple(meta.get("extra_patient_columns", ())) != tuple(extra):
            raise ValueError("the snapshot has other extra patient columns")
        frames = {}
        for name in TABLES:
            file = path / f"{name}.arrow"
            recorded_table = meta["tables"][name]
            if file.stat().st_size != recorded_table["bytes"]:
                raise ValueError(f"{file.name} is not the size it was written with")
            with pa.memory_map(str(file)) as source:
                buffer = source.read_buffer()
            _check_digest(file.name, hashlib.sha256(buffer).hexdigest(), recorded)
            table = feather.read_table(pa.BufferReader(buffer))
            table.validate()
            if table.num_rows != recorded_table["rows"]:
                raise ValueError(
                    f"{file.name} has {table.num_rows} rows, not {recorded_table['rows']}"
                )
            frame = table.to_pandas()
            if list(frame.columns) != _expected_columns(name, extra):
                raise ValueError(f"{file.name} does not have the canonical columns")
            if [str(d) for d in frame.dtypes] != recorded_table["dtypes"]:
                raise ValueError(f"{file.name} does not read back with its dtypes")
            frames[name] = frame
        return frames
    except Exception as error:  # noqa: BLE001 - any unreadable snapshot means "read SQL"
        logger.warning("ignoring (and removing) the clinic snapshot %s: %s", path.name, error)
        # Removed so that the load that follows writes a sound one in its place.
        shutil.rmtree(path, ignore_errors=True)
        return None


def _check_digest(name: str, digest: str, recorded: dict[str, str]) -> None:
    """Raise ValueError, naming the file only, when ``digest`` is not the one recorded."""
    if name not in recorded:
        raise ValueError(f"{name} has no recorded content hash")
    if digest != recorded[name]:
        raise ValueError(f"{name} does not match the content hash recorded when it was written")


def write_snapshot(
    folder: Path,
    key: str,
    frames: dict[str, pd.DataFrame],
    extra: tuple[str, ...],
    engine: Engine,
) -> Path | None:
    """Write snapshot ``key`` atomically and record its files' digests; its folder, or None.

    The files go into a temporary folder beside the final one, which is renamed into place
    once complete; then the SHA-256 of each file is recorded in ``engine``'s database
    (:func:`store.content.record_content_hashes`, a short transaction of its own). A snapshot
    of the same key written meanwhile by another process is kept (that process records it).
    Failing to write (a read-only disk, a full one) or to record is logged, never raised, and
    leaves no snapshot behind: the snapshot is only a shortcut.
    """
    target = folder / key
    if (target / META).is_file():
        return target
    temp = folder / f"{_TEMP_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
    try:
        import pyarrow as pa
        import pyarrow.feather as feather

        temp.mkdir(parents=True)
        meta = {"key": key, "format": FORMAT, "extra_patient_columns": list(extra), "tables": {}}
        digests = {}
        for name in TABLES:
            frame = frames[name]
            file = temp / f"{name}.arrow"
            table = pa.Table.from_pandas(frame, preserve_index=False)
            feather.write_feather(table, file, compression="uncompressed")
            digests[file.name] = file_sha256(file)
            meta["tables"][name] = {
                "rows": len(frame),
                "bytes": file.stat().st_size,
                "dtypes": [str(d) for d in frame.dtypes],
            }
        (temp / META).write_text(json.dumps(meta, indent=1))
        digests[META] = file_sha256(temp / META)
        try:
            os.rename(temp, target)
        except OSError:
            if not (target / META).is_file():
                raise
            shutil.rmtree(temp, ignore_errors=True)  # another process wrote the same key
            return target
    except Exception as error:  # noqa: BLE001 - a snapshot that cannot be written is skipped
        logger.warning("could not write the clinic snapshot %s: %s", key, error)
        shutil.rmtree(temp, ignore_errors=True)
        return None
    try:
        record_content_hashes(HASH_KIND, key, digests, key, engine=engine)
    except Exception as error:  # noqa: BLE001 - an unrecorded snapshot would never be served
        logger.warning(
            "could not record the content hashes of the clinic snapshot %s, so it is removed: %s",
            key,
            error,
        )
        shutil.rmtree(target, ignore_errors=True)
        return None
    return target


def prune_snapshots(folder: Path, keep: str, engine: Engine) -> None:
    """Remove every snapshot in ``folder`` but ``keep`` (and leftovers of interrupted writes),
    and the recorded digests of the snapshots removed.

    Called once ``keep`` is known to be the database's current key. A process still reading an
    older snapshot keeps its open files; a later reader of a removed one falls back to SQL.
    Failing to forget the digests is logged: records of a removed snapshot serve nothing.
    """
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    removed = []
    for entry in entries:
        if entry.name != keep and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    try:
        forget_content_hashes(HASH_KIND, removed, engine=engine)
    except Exception as error:  # noqa: BLE001 - the snapshots are gone either way
        logger.warning("could not remove the content hashes of old clinic snapshots: %s", error)
