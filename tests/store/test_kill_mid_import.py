"""A process killed in the middle of an import leaves the database exactly as before."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa

from analytics.sample import generate_clinic, write_clinic
from store.audit import read_audit
from store.clinic import load_clinic
from store.history import list_batches
from store.imports import import_upload
from store.models import DATA_TABLES
from tests.store.fixtures import ROOT, engine_fixture, url_text  # noqa: F401

# Imports the folder with every bulk insert followed by a marker file and a pause, so the test
# knows the transaction is open and has rows written when it kills the process.
SCRIPT = """
import pathlib, sys, time
from store import imports
from store.db import open_store

url, folder, marker = sys.argv[1:4]
engine = open_store(url)
insert = imports.insert_frame

def insert_and_wait(conn, table, frame):
    insert(conn, table, frame)
    # Written beside the marker and renamed, so the test never reads a half-written file.
    partial = pathlib.Path(marker + ".partial")
    partial.write_text(table.name)
    partial.replace(marker)
    time.sleep(0.5)

imports.insert_frame = insert_and_wait
files = {p.name: p.read_bytes() for p in sorted(pathlib.Path(folder).glob("*.csv"))}
imports.import_upload(files, "cli:kill-test", engine=engine)
print("committed")
"""


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clinic3000")
    write_clinic(folder, generate_clinic(3000))
    return folder


def snapshot(engine) -> dict:
    # Read through SQL, not the columnar snapshot: the tables themselves must be as before.
    clinic = load_clinic(engine, snapshot=False)
    with engine.connect() as conn:
        rows = {
            name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for name, t in DATA_TABLES.items()
        }
    return {
        "clinic": clinic,
        "rows": rows,
        "batches": list_batches(engine),
        "audit": len(read_audit(engine, limit=None)),
    }


def test_kill_mid_import_leaves_the_database_as_before(engine, big_export, tmp_path):
    small = {
        "sessions.csv": b"patient_id,session_date,route\nZ1,2025-01-06,IV ketamine\n",
        "assessments.csv": b"patient_id,assessment_date,total\nZ1,2025-01-06,40\n",
    }
    import_upload(small, "cli:setup", engine=engine)
    before = snapshot(engine)
    marker = tmp_path / "inserting"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url_text(engine), str(big_export), str(marker)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the import never reached its first insert: {err.decode()[-2000:]}")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert b"committed" not in out
    assert marker.read_text() in DATA_TABLES  # killed after writing rows, before the commit

    after = snapshot(engine)
    assert after["rows"] == before["rows"]
    assert after["audit"] == before["audit"]
    pdt.assert_frame_equal(after["batches"], before["batches"])
    for name in ("patients", "sessions", "assessments", "side_effects"):
        pdt.assert_frame_equal(getattr(after["clinic"], name), getattr(before["clinic"], name))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    # The store still works: the same import now succeeds.
    files = {p.name: p.read_bytes() for p in sorted(big_export.glob("*.csv"))}
    result = import_upload(files, "cli:retry", engine=engine)
    assert result.ok
    assert isinstance(load_clinic(engine).sessions, pd.DataFrame)
    assert len(load_clinic(engine).patients) == 3001
