"""Engine fixtures for the storage tests: SQLite always, PostgreSQL when a server is given.

``TEST_DATABASE_URL`` names a PostgreSQL database the tests may create schemas in; each test
gets a fresh schema, dropped afterwards. Without it the PostgreSQL cases skip locally and fail
in CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.db import open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
BACKENDS = ["sqlite", "postgresql"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def postgres_url() -> str:
    """The PostgreSQL server for tests; skips (locally) or fails (in CI) without one."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return url
    if in_ci():
        pytest.fail("TEST_DATABASE_URL is not set: in CI the PostgreSQL tests must run")
    pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL tests run when it is)")


def url_text(engine: sa.Engine) -> str:
    """The engine's URL with its password, for a subprocess's DATABASE_URL."""
    return engine.url.render_as_string(hide_password=False)


def sample_files(folder: Path = SAMPLE) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@pytest.fixture(name="engine", params=BACKENDS)
def engine_fixture(request, tmp_path, monkeypatch):
    """A migrated, empty store on each backend.

    SQLite keeps its snapshots beside the file (in ``tmp_path``); PostgreSQL's go to
    ``tmp_path/snapshots`` rather than the project's ``var/``.
    """
    if request.param == "sqlite":
        eng = open_store(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
        yield eng
        eng.dispose()
        return
    base = sa.make_url(postgres_url())
    monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng = open_store(
        base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    )
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
