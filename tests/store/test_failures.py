"""Storage faults reproduced for real, each ending in a sentence, exit 1 and an unchanged store.

Every fault is made the way it happens in a clinic: another writer holding the lock, a file
the server may not write, a file size limit the import runs into, a database path that cannot
be opened, a PostgreSQL server stopped under the dashboard, a database from a newer version.
The command runs in a process of its own, as a nightly job would.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.db import HEAD_REVISION, open_store, write_transaction
from store.failures import KINDS, StorageError, database_label, storage_error
from tests.store.fixtures import ROOT, SAMPLE, engine_fixture, in_ci, url_text  # noqa: F401

COUNTED = ("batches", "audit", "patients", "sessions", "assessments")


def held(engine: sa.Engine) -> dict[str, int]:
    """Rows per table: what "the store as it was" means here."""
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in COUNTED}


def run_cli(*args: str, url: str, limit_bytes: int | None = None, **env: str):
    """``python -m analytics ARGS`` against ``url``; ``limit_bytes`` caps every file it writes."""

    def file_size_limit():  # in the child: writes past the limit fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "SNAPSHOT_DIR": "off", **env},
        preexec_fn=file_size_limit if limit_bytes else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


def said(result, *fragments: str) -> None:
    """Exit 1 with one sentence holding ``fragments``: no traceback, no password."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "clinic_test:clinic_test" not in result.stderr
    assert "Nothing was changed." in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def refusals(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT detail FROM audit WHERE action = 'import_refused'"))
        return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


def test_an_import_waiting_on_a_held_lock_gives_up_with_how_long_it_waited(engine):
    before = held(engine)
    # a real writer holds the write lock (SQLite's, or PostgreSQL's advisory lock) meanwhile
    with write_transaction(engine):
        result = run_cli("import", str(SAMPLE), url=url_text(engine), DATABASE_LOCK_TIMEOUT="1")
    said(result, "is busy", "for the whole 1 second this one waited", "Try again once")
    assert database_label(engine.url) in result.stderr
    assert held(engine) == before


@pytest.fixture()
def read_only(engine, tmp_path):
    """The URL of ``engine``'s database as a server that may only read it sees it.

    SQLite: the file made immutable (``chattr +i``, which binds root too) or, for another user,
    without write permission. PostgreSQL: the session read-only, as on a standby server.
    """
    if engine.dialect.name == "postgresql":
        url = engine.url
        options = f"{url.query.get('options', '')} -cdefault_transaction_read_only=on".strip()
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
        return
    engine.dispose()
    path = Path(engine.url.database)
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", path]).returncode:
            pytest.skip("this file system cannot make a file immutable")
        try:
            yield url_text(engine)
        finally:
            subprocess.run(["chattr", "-i", path], check=True)
        return
    path.chmod(0o444)
    try:
        yield url_text(engine)
    finally:
        path.chmod(0o644)


def test_an_import_into_a_read_only_database_is_refused(engine, read_only):
    before = held(engine)
    result = run_cli("import", str(SAMPLE), url=read_only)
    said(result, "can be read but not written", "make it writable")
    assert held(engine) == before


def test_an_import_that_fills_the_disk_of_sqlite_stores_nothing_and_is_audited(tmp_path):
    # SQLite only: a file size limit is the full disk the import's process sees
    engine = open_store(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    before = held(engine)
    limit = max(p.stat().st_size for p in tmp_path.iterdir() if p.is_file()) + 64 * 1024
    engine.dispose()
    result = run_cli("import", str(SAMPLE), url=url_text(engine), limit_bytes=limit)
    said(result, "is full, or refused to take more data", "Free some space")
    after = held(engine)
    assert {t: after[t] for t in COUNTED if t != "audit"} == {
        t: before[t] for t in COUNTED if t != "audit"
    }
    # the one small audit row still fits once the import's transaction is rolled back
    assert refusals(engine) == [
        {
            "files": ["assessments.csv", "patients.csv", "sessions.csv", "side_effects.csv"],
            "storage": "disk_full",
        }
    ]
    engine.dispose()


def test_a_database_that_cannot_be_opened_is_said_so(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    for url in (
        f"sqlite:///{tmp_path / 'notes.txt' / 'clinic.sqlite'}",  # its folder is a file
        f"sqlite:///{tmp_path}",  # a folder, not a file
    ):
        said(run_cli("imports", url=url), "could not be opened", "Check DATABASE_URL")


def test_a_database_from_a_newer_version_is_not_touched(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    before = held(engine)
    result = run_cli("import", str(SAMPLE), url=url_text(engine))
    said(result, "its schema revision is 0099", f"knows revisions up to {HEAD_REVISION}")
    assert held(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0099"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@dataclass
class OwnServer:
    """A PostgreSQL server started for one test: its URL, and how to stop it or run SQL."""

    folder: Path
    port: int
    pg_ctl: list
    psql: list

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@localhost:{self.port}/{database}"

    def sql(self, *statements: str) -> None:
        for statement in statements:
            subprocess.run([*self.psql, "-qc", statement], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "-m", "fast", "stop"], capture_output=True)


@pytest.fixture()
def own_postgres(tmp_path):
    """A PostgreSQL server of this test's own (initdb, pg_ctl), so that it can be stopped."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins or os.geteuid() != 0 or shutil.which("runuser") is None:
        if in_ci():
            pytest.fail("CI must be able to start a PostgreSQL server of its own (root, initdb)")
        pytest.skip("needs Debian's PostgreSQL server binaries and root to run them")
    bin_dir = bins[-1].parent
    folder = Path("/tmp") / f"clinic-pg-{os.getpid()}-{tmp_path.name}"
    folder.mkdir(mode=0o700)
    shutil.chown(folder, "postgres", "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    subprocess.run(
        [*as_postgres, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    server = OwnServer(
        folder,
        port,
        pg_ctl=[*as_postgres, bin_dir / "pg_ctl", "-D", data, "-w", "-l", folder / "log"],
        psql=[*as_postgres, bin_dir / "psql", "-h", "localhost", "-p", str(port), "-U", "postgres"],
    )
    options = f"-p {port} -k {folder} -c listen_addresses=localhost"
    subprocess.run([*server.pg_ctl, "-o", options, "start"], check=True, capture_output=True)
    try:
        yield server
    finally:
        server.stop()
        subprocess.run(["umount", folder / "small"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stopped_postgresql_server_is_said_so_and_loses_nothing(own_postgres):
    url = own_postgres.url()
    assert run_cli("import", str(SAMPLE), url=url).returncode == 0
    own_postgres.stop()
    said(run_cli("import", str(SAMPLE), url=url), "could not be reached", "Start the server")
    said(run_cli("summary", "--json", url=url), "could not be reached")


def test_an_import_that_fills_the_disk_of_postgresql_stores_nothing(own_postgres):
    # the clinic's tables on a file system of 3.5 MB: room for the schema, not for the sample
    small = own_postgres.folder / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3500k,mode=700", "tmpfs", small], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    shutil.chown(small, "postgres", "postgres")
    own_postgres.sql(
        f"CREATE TABLESPACE small LOCATION '{small}'", "CREATE DATABASE clinic TABLESPACE small"
    )
    url = own_postgres.url("clinic")
    assert run_cli("imports", url=url).returncode == 0  # the schema fits
    engine = sa.create_engine(url)
    before = held(engine)
    said(run_cli("import", str(SAMPLE), url=url), "is full, or refused to take more data")
    assert held(engine) == before
    engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_the_database_and_says_nothing_changed(kind):
    error = StorageError(kind, "/srv/clinic.sqlite", waited=30, revision="0099", head="0006")
    assert "/srv/clinic.sqlite" in str(error)
    assert "Nothing was changed." in str(error)


def test_a_server_is_named_without_its_account_or_password():
    url = "postgresql+psycopg://clinic:s3cret@db.example.org:5432/clinic?sslmode=require"
    assert database_label(url) == "postgresql://db.example.org:5432/clinic"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown storage failure 'slow'"):
        StorageError("slow", "x")


def test_errors_that_are_not_the_databases_pass_through():
    assert storage_error(ValueError("a bug"), "sqlite:///x") is None
    assert storage_error(OSError("report folder is read-only"), "sqlite:///x") is None
