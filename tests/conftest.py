"""Fixtures for the dashboard tests: the sample clinic folder and the running app."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The committed sample clinic, or a freshly generated one when it is not there yet."""
    folder = ROOT / "data" / "sample"
    if not any(folder.glob("*.csv")):
        from analytics.sample import generate_clinic, write_clinic

        folder = tmp_path_factory.mktemp("sample")
        write_clinic(folder, generate_clinic(250))
    return folder


@pytest.fixture()
def app_env(sample_dir, monkeypatch) -> Path:
    """Point the app at the sample clinic (the loader reads DASHBOARD_SAMPLE_DIR)."""
    monkeypatch.setenv("DASHBOARD_SAMPLE_DIR", str(sample_dir))
    return sample_dir
