"""A database that fails is a sentence on the page the user is on, never a traceback."""

import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store.db import dispose_engines

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture()
def stopped_server(monkeypatch, free_port):
    """DATABASE_URL names a PostgreSQL server that is not running (nothing on its port)."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://clinic:s3cret@localhost:{free_port}/clinic")
    dispose_engines()
    yield
    dispose_engines()


def test_the_sign_in_form_says_the_database_server_cannot_be_reached(stopped_server):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (error,) = at.error
    assert "could not be reached" in error.value
    assert "Nothing was changed." in error.value
    assert "s3cret" not in error.value and "clinic:" not in error.value
