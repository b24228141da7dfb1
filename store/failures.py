"""Storage failures as sentences: what went wrong with which database, and what to do.

A database that is locked, read-only, missing, stopped, full or from a newer version of the
dashboard makes SQLAlchemy raise an ``OperationalError`` whose text is the driver's ("database
is locked", "attempt to write a readonly database", "connection refused", ...). Neither the
command line nor the dashboard shows that: :func:`storage_error` turns it into a
:class:`StorageError`, one sentence naming the database without its credentials, saying that
nothing was changed (every write is one transaction, rolled back on failure) and what to do.

The kinds, and how each is recognised (SQLite's message or PostgreSQL's SQLSTATE):

========== ============================================= =========================================
kind       SQLite                                        PostgreSQL
========== ============================================= =========================================
locked     "database is locked" (busy timeout spent)     55P03 lock_not_available (lock_timeout)
read_only  "attempt to write a readonly database"        25006 read_only_sql_transaction, 42501
unopenable "unable to open database file", "file is not  3D000 invalid_catalog_name, 28xxx
           a database", a folder that cannot be made     (authentication)
unreachable                                              08xxx, "connection refused", "timeout"
disk_full  "database or disk is full", "disk I/O error"  53100 disk_full, 53xxx
schema     an Alembic revision this code does not know   the same
========== ============================================= =========================================
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

__all__ = [
    "KINDS",
    "StorageError",
    "database_label",
    "storage_error",
    "storage_failure_sentence",
    "storage_failures",
]

KINDS = ("locked", "read_only", "unopenable", "unreachable", "disk_full", "schema")

# What to do, by kind; the database and the wait are filled in by StorageError.
_SENTENCES = {
    "locked": (
        "The database {db} is busy: another import or program held its write lock for the "
        "whole {waited} this one waited. Nothing was changed. Try again once the other import "
        "has finished; if none is running, close any other program that has the database open."
    ),
    "read_only": (
        "The database {db} can be read but not written (a read-only file, folder or disk, or a "
        "database account without permission to write). Nothing was changed. Ask whoever runs "
        "the server to make it writable, then try again."
    ),
    "unopenable": (
        "The database {db} could not be opened: the file or its folder cannot be created or "
        "read, it is not a database, or the server refused the account. Nothing was changed. "
        "Check DATABASE_URL and the file's folder, then try again."
    ),
    "unreachable": (
        "The database server {db} could not be reached: it may be stopped, or the address or "
        "port may be wrong. Nothing was changed. Start the server or correct DATABASE_URL, then "
        "try again."
    ),
    "disk_full": (
        "The disk holding the database {db} is full, or refused to take more data. Nothing was "
        "changed. Free some space (or raise the limit on the database's size), then try again."
    ),
    "schema": (
        "The database {db} was set up by a different version of the dashboard (its schema "
        "revision is {revision}; this version knows revisions up to {head}). Nothing was "
        "changed. Update the dashboard to the version that wrote the database, or point "
        "DATABASE_URL at the right database."
    ),
}

_SQLITE_TEXT = (
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("readonly database", "read_only"),
    ("read-only", "read_only"),
    ("unable to open database file", "unopenable"),
    ("file is not a database", "unopenable"),
    ("database disk image is malformed", "unopenable"),
    ("database or disk is full", "disk_full"),
    ("disk i/o error", "disk_full"),
)
_POSTGRES_STATE = (
    ("55P03", "locked"),
    ("25006", "read_only"),
    ("42501", "read_only"),
    ("3D000", "unopenable"),
    ("28", "unopenable"),
    ("53", "disk_full"),
    ("08", "unreachable"),
)
_POSTGRES_TEXT = (
    # refusals at connection time carry no SQLSTATE in psycopg: told by the server's words
    ("does not exist", "unopenable"),  # database "clinic" / role "clinic" does not exist
    ("authentication failed", "unopenable"),
    ("connection refused", "unreachable"),
    ("could not connect", "unreachable"),
    ("timeout expired", "unreachable"),
    ("server closed the connection", "unreachable"),
    ("no such file or directory", "unreachable"),  # a Unix socket with no server behind it
    ("could not translate host name", "unreachable"),
    ("lock timeout", "locked"),
    ("read-only transaction", "read_only"),
    ("permission denied", "read_only"),
    ("no space left on device", "disk_full"),
)


class StorageError(RuntimeError):
    """A storage failure said as one sentence; ``kind`` is one of :data:`KINDS`.

    Parameters
    ----------
    kind : str
        What went wrong (see the module docstring).
    database : str
        The database, as :func:`database_label` names it (never with a password).
    waited : float, optional
        Seconds a ``locked`` write waited for the lock.
    revision, head : str, optional
        For ``schema``: the database's revision and the newest this code knows.
    """

    def __init__(
        self,
        kind: str,
        database: str,
        *,
        waited: float | None = None,
        revision: str | None = None,
        head: str | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown storage failure {kind!r}; kinds: {', '.join(KINDS)}")
        self.kind = kind
        self.database = database
        self.waited = waited
        sentence = _SENTENCES[kind].format(
            db=database,
            waited=_seconds(waited),
            revision=revision or "unknown",
            head=head or "unknown",
        )
        super().__init__(sentence)


def _seconds(waited: float | None) -> str:
    if waited is None:
        return "time"
    return f"{waited:g} second" + ("" if waited == 1 else "s")


def database_label(url: str | sa.URL) -> str:
    """The database as a user can recognise it: an SQLite file's path, or a server's URL
    without its account and password (``postgresql://db.example.org:5432/clinic``)."""
    parsed = sa.make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "(in memory)"
    # neither the account nor its password: the host, port and database tell which it is
    shown = sa.URL.create(
        parsed.get_backend_name(), host=parsed.host, port=parsed.port, database=parsed.database
    )
    return shown.render_as_string(hide_password=True)


def _driver_error(error: BaseException) -> BaseException | None:
    """The database driver's own exception behind ``error``, or None when it is not one.

    SQLAlchemy wraps the driver's errors; bulk writes through the driver's cursor (PostgreSQL's
    COPY) raise them bare.
    """
    if isinstance(error, sa.exc.DBAPIError):
        return error.orig
    if isinstance(error, sqlite3.Error):
        return error
    if type(error).__module__.partition(".")[0] == "psycopg" and hasattr(error, "sqlstate"):
        return error
    return None


def _kind_of(original: BaseException) -> str | None:
    state = getattr(original, "sqlstate", None)
    text = str(original).lower()
    if state:
        for prefix, kind in _POSTGRES_STATE:
            if state.startswith(prefix):
                return kind
    for table in (_SQLITE_TEXT, _POSTGRES_TEXT):
        for fragment, kind in table:
            if fragment in text:
                return kind
    return None


def storage_error(
    error: BaseException, url: str | sa.URL, *, waited: float | None = None
) -> StorageError | None:
    """``error`` as a :class:`StorageError` of database ``url``, or None when it is not a
    storage failure (a bug, a constraint, a file of the user's that cannot be written, ...).

    Parameters
    ----------
    error : BaseException
        What SQLAlchemy or the database driver raised.
    url : str or URL
        The database it was raised for.
    waited : float, optional
        The lock timeout in force, for the ``locked`` sentence.
    """
    if isinstance(error, StorageError):
        return error
    original = _driver_error(error)
    if original is None:
        return None
    kind = _kind_of(original)
    if kind is None:
        return None
    return StorageError(kind, database_label(url), waited=waited if kind == "locked" else None)


@contextmanager
def storage_failures(url: str | sa.URL, *, waited: float | None = None) -> Iterator[None]:
    """Re-raise a database failure inside the block as a :class:`StorageError`; others pass.

    Only the database driver's errors are translated (wrapped by SQLAlchemy or bare): an
    ``OSError`` raised by other code in the block is that code's own failure, not the
    database's.
    """
    try:
        yield
    except Exception as error:
        translated = storage_error(error, url, waited=waited)
        if translated is None:
            raise
        raise translated from error


def storage_failure_sentence(error: BaseException) -> str | None:
    """The sentence for a database failure (locked, read-only, stopped, full, ...), or None.

    Failures of writes arrive already said (:class:`StorageError`); those of reads are the
    driver's own errors, said here for the configured database. What the command line prints
    and what a page of the dashboard shows.
    """
    from store.config import database_url

    translated = storage_error(error, database_url())
    return None if translated is None else str(translated)
