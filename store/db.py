"""The engine: SQLite in WAL mode with real transactions, or PostgreSQL; schema by Alembic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.config import ROOT, database_url

__all__ = [
    "dispose_engines",
    "get_engine",
    "make_engine",
    "open_store",
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
    timeout, and transactions that begin at BEGIN rather than at the first write, so an import
    is one transaction from its first read to its commit.
    """
    url = url or database_url()
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # The driver's own transaction handling starts transactions late and commits DDL
        # implicitly; take it over (SQLAlchemy docs, "Serializable isolation / Savepoints").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer takes the write lock at BEGIN, so it never has to upgrade a stale snapshot.
        write = conn.get_execution_options().get("store_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that changes clinic data; writers queue behind each other.

    SQLite: ``BEGIN IMMEDIATE`` (the write lock from the start). PostgreSQL: a transaction-level
    advisory lock, so two imports never compare against each other's half-written rows.
    """
    with engine.connect() as conn:
        conn.execution_options(store_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
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
HEAD_REVISION = "0006"


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


def open_store(url: str | None = None) -> Engine:
    """An engine whose schema is at the newest revision."""
    engine = make_engine(url)
    if current_revision(engine) != HEAD_REVISION:
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
