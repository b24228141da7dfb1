"""The SHA-256 of every file of a snapshot or a kept result, recorded in the database.

Files the dashboard keeps on disk to start quicker (the clinic's columnar snapshots, the kept
per-patient tables) are only trusted when each one still has the digest recorded here when it
was written. The database is the reference: someone who can rewrite a file in the snapshot or
cache folder, but not the database, cannot get a changed number served.

A record is ``(kind, key, file) -> sha256`` with the data version the files hold: ``kind`` names
what was kept (``"snapshot"``, ``"patient_table"``), ``key`` its folder, ``file`` the file's name
inside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.db import get_engine, short_write
from store.models import ContentHash

__all__ = [
    "content_hashes",
    "content_hashes_in",
    "file_sha256",
    "forget_content_hashes",
    "record_content_hashes",
]

# The widths of the table's columns (migration 0005).
_WIDTHS = {"kind": 32, "key": 64, "file": 200, "data_version": 64}


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path`` as hex, read in one pass."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _check_width(field: str, value: str) -> None:
    if len(value) > _WIDTHS[field]:
        raise ValueError(f"a content hash's {field} is at most {_WIDTHS[field]} characters long")


def record_content_hashes(
    kind: str,
    key: str,
    files: Mapping[str, str],
    data_version: str,
    *,
    engine: Engine | None = None,
) -> None:
    """Record ``files`` (file name to SHA-256) as the content of ``kind`` ``key``.

    One short transaction of its own: the records of ``kind`` ``key`` written before are
    replaced whole, so a folder written again never keeps the digest of a file it no longer has.

    Raises
    ------
    ValueError
        When a kind, key, file name or data version is longer than its column.
    """
    _check_width("kind", kind)
    _check_width("key", key)
    _check_width("data_version", data_version)
    for name in files:
        _check_width("file", name)
    now = datetime.now(UTC)
    rows = [
        {
            "kind": kind,
            "key": key,
            "file": name,
            "sha256": digest,
            "data_version": data_version,
            "created_at": now,
        }
        for name, digest in sorted(files.items())
    ]
    with short_write(engine or get_engine()) as conn:
        conn.execute(sa.delete(ContentHash).where(ContentHash.kind == kind, ContentHash.key == key))
        if rows:
            conn.execute(sa.insert(ContentHash), rows)


def content_hashes_in(conn: Connection, kind: str, key: str) -> dict[str, str]:
    """The recorded SHA-256 of each file of ``kind`` ``key``, read in the caller's transaction."""
    rows = conn.execute(
        sa.select(ContentHash.file, ContentHash.sha256).where(
            ContentHash.kind == kind, ContentHash.key == key
        )
    ).all()
    return {file: digest for file, digest in rows}


def content_hashes(kind: str, key: str, *, engine: Engine | None = None) -> dict[str, str]:
    """The recorded SHA-256 of each file of ``kind`` ``key`` (empty when none was recorded)."""
    with (engine or get_engine()).connect() as conn, conn.begin():
        return content_hashes_in(conn, kind, key)


def forget_content_hashes(kind: str, keys: Iterable[str], *, engine: Engine | None = None) -> None:
    """Remove the records of ``kind`` for each of ``keys`` (folders that were removed)."""
    keys = sorted({k for k in keys if len(k) <= _WIDTHS["key"]})
    if not keys:
        return
    with short_write(engine or get_engine()) as conn:
        conn.execute(
            sa.delete(ContentHash).where(ContentHash.kind == kind, ContentHash.key.in_(keys))
        )
