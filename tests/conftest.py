"""Fixtures for the dashboard tests: the sample clinic, a throwaway database, the running app.

No test touches the developer's database: ``DATABASE_URL`` points at a temporary SQLite file,
copied for each test from one prepared per session (sample loaded, one user per role).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples every run, so a red build is reproducible;
# locally they explore new ones each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
# Per-patient tables kept by the tests (and the servers they start) go to a folder of this run,
# not to the developer's var/cache.
os.environ.setdefault("DASHBOARD_CACHE_DIR", tempfile.mkdtemp(prefix="dashboard-cache-"))
# The committed synthetic clinic: the one sample folder every test reads (through the
# ``sample_dir`` fixture, or this name where a module-level parameter needs it).
SAMPLE = ROOT / "data" / "sample"
# One account per role in the prepared database (passwords only valid in these tests).
TEST_USERS = {
    "director": ("director-test", "director-password"),
    "clinician": ("clinician-test", "clinician-password"),
    "staff": ("staff-test", "staff-password-1"),
}


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The committed sample clinic, or a freshly generated one when it is not there yet."""
    folder = SAMPLE
    if not any(folder.glob("*.csv")):
        from analytics.sample import generate_clinic, write_clinic

        folder = tmp_path_factory.mktemp("sample")
        write_clinic(folder, generate_clinic(250))
    return folder


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def prepared_db(tmp_path_factory, sample_dir) -> Path:
    """A database file with the sample clinic and the users of :data:`TEST_USERS`."""
    from store.db import open_store
    from store.sample import ensure_sample
    from store.users import add_user

    path = tmp_path_factory.mktemp("db") / "prepared.sqlite"
    engine = open_store(sqlite_url(path))
    ensure_sample(sample_dir, engine=engine)
    for role, (name, password) in TEST_USERS.items():
        add_user(name, password, role, actor="test", engine=engine)
    # closing the last connection checkpoints the write-ahead log into the file
    engine.dispose()
    return path


@pytest.fixture()
def app_env(sample_dir, prepared_db, tmp_path, monkeypatch) -> Path:
    """Point the app at the sample clinic and at a fresh copy of the prepared database."""
    path = tmp_path / "clinic.sqlite"
    shutil.copyfile(prepared_db, path)
    monkeypatch.setenv("DATABASE_URL", sqlite_url(path))
    monkeypatch.setenv("DASHBOARD_SAMPLE_DIR", str(sample_dir))
    return sample_dir


@pytest.fixture()
def conflicting_upload(app_env, tmp_path):
    """Import a small clinic, then return the same export with one session's peak systolic
    pressure raised by 9 mmHg: importing it gives exactly one conflict to decide."""
    from analytics.sample import generate_clinic, write_clinic
    from store import import_upload

    folder = tmp_path / "export"
    folder.mkdir()
    write_clinic(folder, generate_clinic(5, seed=3))
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}
    assert import_upload(files, "staff-test").ok
    text = files["sessions.csv"].decode().splitlines()
    row = text[1].split(",")
    column = text[0].split(",").index("bp_systolic_peak")
    row[column] = str(int(row[column]) + 9)
    files["sessions.csv"] = "\n".join([text[0], ",".join(row), *text[2:]]).encode()
    return files
