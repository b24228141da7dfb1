"""Engine fixtures for the storage tests: SQLite always, PostgreSQL when a server is given.

``TEST_DATABASE_URL`` names a PostgreSQL database the tests may create schemas in; each test
gets a fresh schema, dropped afterwards. Without it the PostgreSQL cases skip locally and fail
in CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas.testing as pdt
import pytest
import sqlalchemy as sa

from store.db import open_store
from store.users import User
from tests.conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[2]
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
    if request.param == "postgresql":
        monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    with fresh_store(request.param, tmp_path / "clinic.sqlite") as eng:
        yield eng


@contextmanager
def fresh_store(backend: str, sqlite_path: Path):
    """A migrated, empty store: an SQLite file at ``sqlite_path``, or a new PostgreSQL schema
    (dropped afterwards)."""
    if backend == "sqlite":
        eng = open_store(f"sqlite:///{sqlite_path}")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    base = sa.make_url(postgres_url())
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


# The small upload both the batch and the snapshot tests store, and how they compare clinics.
DIRECTOR = User("dana", "director")
TABLES = ("patients", "sessions", "assessments", "side_effects")

SESSIONS = """patient_id,session_date,route,dose_mg
A,2025-01-06,IV ketamine,40
A,2025-01-08,IV ketamine,40
B,2025-02-03,IV ketamine,50
"""
ASSESSMENTS = """patient_id,assessment_date,instrument,total
A,2025-01-06,PCL-5,50
A,2025-01-20,PCL-5,30
B,2025-02-03,PCL-5,45
"""


def upload(sessions: str = SESSIONS, assessments: str = ASSESSMENTS, patients=None) -> dict:
    """CSV files as the uploader hands them over; ``patients`` adds a patients.csv."""
    files = {"sessions.csv": sessions.encode(), "assessments.csv": assessments.encode()}
    if patients is not None:
        files["patients.csv"] = patients.encode()
    return files


def assert_same_clinic(left, right) -> None:
    """Every table equal (dtypes included), and the clinic-level flags."""
    for name in TABLES:
        pdt.assert_frame_equal(getattr(left, name), getattr(right, name), obj=name)
    assert (left.has_sessions, left.months_kept, left.extra_patient_columns) == (
        right.has_sessions,
        right.months_kept,
        right.extra_patient_columns,
    )
