"""The Alembic revisions build exactly the models' schema; configuration in one place."""

import argparse
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.config import DEFAULT_SQLITE_PATH, database_url, session_ttl
from store.db import HEAD_REVISION, alembic_config, current_revision, open_store
from store.models import Base
from tests.store.fixtures import engine_fixture  # noqa: F401


def test_migrations_build_the_models_schema(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_head_revision_constant_is_alembics_head(engine):
    # open_store skips Alembic when the database is at HEAD_REVISION, so the two must agree
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
    assert current_revision(engine) == HEAD_REVISION


def test_a_fresh_database_is_migrated_on_open(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert current_revision(engine) == HEAD_REVISION
    assert "batches" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_downgrade_removes_every_table(engine):
    config = alembic_config()
    # as `alembic -x force=yes downgrade base`: the audit log is dropped only when forced
    config.cmd_opts = argparse.Namespace(x=["force=yes"])
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}


def test_a_database_holding_an_import_upgrades_to_whether_batches_changed_data(engine):
    # revision 0007 adds batches.changes_data beside the rows that refer to the batches
    from store.clinic import data_version
    from store.db import upgrade
    from store.imports import import_upload
    from tests.store.fixtures import DIRECTOR, sample_files

    first = import_upload(sample_files(), DIRECTOR, engine=engine)
    version = data_version(engine)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    assert "changes_data" not in {c["name"] for c in sa.inspect(engine).get_columns("batches")}
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, changes_data FROM batches")).all()
    assert [(i, bool(c)) for i, c in stored] == [(first.batch_id, True)]
    assert data_version(engine) == version


@pytest.mark.parametrize(
    "environ, url",
    [
        ({}, f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        ({"DATABASE_URL": "  "}, f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        ({"DATABASE_URL": "postgres://u:p@db/clinic"}, "postgresql+psycopg://u:p@db/clinic"),
        ({"DATABASE_URL": "postgresql://u:p@db/clinic"}, "postgresql+psycopg://u:p@db/clinic"),
        ({"DATABASE_URL": "sqlite:////srv/clinic.sqlite"}, "sqlite:////srv/clinic.sqlite"),
    ],
)
def test_database_url(environ, url):
    assert database_url(environ) == url


def test_the_default_database_is_ignored_by_git():
    gitignore = (DEFAULT_SQLITE_PATH.parents[1] / ".gitignore").read_text().splitlines()
    assert "var/" in gitignore


@pytest.mark.parametrize(
    "raw, expected",
    [(None, timedelta(minutes=60)), ("15", timedelta(minutes=15))],
)
def test_session_ttl(raw, expected):
    assert session_ttl({} if raw is None else {"SESSION_TTL_MINUTES": raw}) == expected


@pytest.mark.parametrize(
    "raw, match",
    [
        ("soon", "SESSION_TTL_MINUTES must be a whole number, not 'soon'"),
        ("0", "SESSION_TTL_MINUTES must be positive, not 0"),
    ],
)
def test_session_ttl_refuses(raw, match):
    with pytest.raises(ValueError, match=match):
        session_ttl({"SESSION_TTL_MINUTES": raw})


@pytest.mark.parametrize(
    "module",
    [
        "store.imports",
        "store.conflicts",
        "store.rollbacks",
        "store.history",
        "store.clinic",
        "store.sample",
        "store.users",
        "store.audit",
    ],
)
def test_every_public_function_is_documented(module):
    import importlib
    import inspect
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "storage.md").read_text()
    mod = importlib.import_module(module)
    functions = [n for n in mod.__all__ if inspect.isfunction(getattr(mod, n))]
    assert [n for n in functions if f"{n}(" not in docs] == []
