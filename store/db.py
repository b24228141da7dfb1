"""The engine: SQLite in WAL mode with real transactions, or PostgreSQL; schema by Alembic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.config import ROOT, database_url, lock_timeout
from store.failures import StorageError, database_label, storage_failures

__all__ = [
    "dispose_engines",
    "get_engine",
    "known_revisions",
    "make_engine",
    "open_store",
    "short_write",
    "upgrade",
    "write_transaction",
]

# Any fixed number: the advisory lock that serialises writers on PostgreSQL.
_WRITE_LOCK = 7_215_001
_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: :func:`store.config.database_url`), schema untouched.

    SQLite gets write-ahead logging (readers do not block the importer), foreign keys, a busy
    timeout (:func:`store.config.lock_timeout`), and transactions that begin at BEGIN rather
    than at the first write, so an import is one transaction from its first read to its commit.

    Raises
    ------
    StorageError
        When the SQLite file's folder cannot be created.
    """
    url = url or database_url()
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # a stopped server fails the first connection within seconds, not minutes
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    if parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError("unopenable", database_label(parsed)) from error
    timeout = lock_timeout()
    engine = sa.create_engine(url, connect_args={"timeout": timeout})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # The driver's own transaction handling starts transactions late and commits DDL
        # implicitly; take it over (SQLAlchemy docs, "Serializable isolation / Savepoints").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer takes the write lock at BEGIN, so it never has to upgrade a stale snapshot.
        write = conn.get_execution_options().get("store_write", False)
        if write:  # the wait in force now, not when the pooled connection was opened
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that changes clinic data; writers queue behind each other.

    SQLite: ``BEGIN IMMEDIATE`` (the write lock from the start). PostgreSQL: a transaction-level
    advisory lock, so two imports never compare against each other's half-written rows. Either
    waits at most :func:`store.config.lock_timeout` seconds for another writer.

    Raises
    ------
    StorageError
        When the database is locked, read-only, unreachable or full; the transaction is rolled
        back, so nothing of it is stored.
    """
    waited = lock_timeout()
    with storage_failures(engine.url, waited=waited), engine.connect() as conn:
        conn.execution_options(store_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # lock_timeout bounds the wait for the advisory lock too
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{int(waited * 1000)}ms'"))
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
            yield conn


@contextmanager
def short_write(engine: Engine) -> Iterator[Connection]:
    """A short transaction that reads, then writes a few rows (a sign-in, a user, a session).

    SQLite: ``BEGIN IMMEDIATE``, so that what it read is still the newest state when it writes
    (a deferred transaction whose snapshot another writer has overtaken cannot write at all,
    and the audit chain must extend its newest entry). PostgreSQL: an ordinary transaction,
    which does not queue behind an import's advisory lock.
    """
    with storage_failures(engine.url, waited=lock_timeout()), engine.connect() as conn:
        conn.execution_options(store_write=True)
        with conn.begin():
            yield conn


def alembic_config():
    """The Alembic configuration of this project (``alembic.ini``, ``migrations/``)."""
    # Alembic is imported here, not at module level: only migrations need it, and keeping it
    # off the import path keeps the sign-in screen quick.
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema of ``engine`` to ``revision``."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


# The newest revision in migrations/versions (tests/store/test_schema.py checks it against
# Alembic's own view). A database already there is opened without importing Alembic at all.
HEAD_REVISION = "0007"


def current_revision(engine: Engine) -> str | None:
    """The schema revision ``engine`` is at, or None for a database Alembic never touched."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def has_batches(engine: Engine) -> bool:
    """True once anything (the sample or an import) was ever stored; a cheap first-start test."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT 1 FROM batches LIMIT 1")).first() is not None


def known_revisions() -> frozenset[str]:
    """Every revision in ``migrations/versions`` (Alembic's own view)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def open_store(url: str | None = None) -> Engine:
    """An engine whose schema is at the newest revision.

    Raises
    ------
    StorageError
        When the database cannot be opened, reached or migrated, or holds a schema revision this
        code does not know (written by a newer version).
    """
    engine = make_engine(url)
    with storage_failures(engine.url):
        revision = current_revision(engine)
        if revision == HEAD_REVISION:
            return engine
        if revision is not None and revision not in known_revisions():
            engine.dispose()
            raise StorageError(
                "schema", database_label(engine.url), revision=revision, head=HEAD_REVISION
            )
        upgrade(engine)
    return engine


def dispose_engines() -> None:
    """Close every engine :func:`get_engine` opened (tests, and before forking workers)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def get_engine() -> Engine:
    """The configured store, opened (and migrated) once per process."""
    url = database_url()
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = open_store(url)
        return _ENGINES[url]
