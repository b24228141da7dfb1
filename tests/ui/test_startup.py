"""The first start runs beside the sign-in form: ui.startup prepares the database once."""

import pytest

from tests.conftest import sqlite_url
from ui import startup


@pytest.fixture()
def url(tmp_path):
    return sqlite_url(tmp_path / "clinic.sqlite")


def test_a_first_start_loads_the_sample_and_prints_the_password_once(url, sample_dir, capsys):
    from store import list_batches
    from store.db import open_store

    assert startup.wait(url, str(sample_dir)) is True
    assert startup.first_start(url, str(sample_dir)) is True
    printed = capsys.readouterr().out
    assert "user name: director" in printed and "password:" in printed
    engine = open_store(url)
    try:
        batches = list_batches(engine=engine)
    finally:
        engine.dispose()
    assert batches["kind"].tolist() == ["sample"]
    # the same process does not prepare it twice
    assert startup.wait(url, str(sample_dir)) is True
    assert capsys.readouterr().out == ""


def test_a_second_process_start_is_not_a_first_start(url, sample_dir, tmp_path, capsys):
    assert startup.prepare_database(url, str(sample_dir)) is True
    capsys.readouterr()
    assert startup.prepare_database(url, str(sample_dir)) is False
    assert capsys.readouterr().out == ""


def test_an_empty_sample_folder_gives_an_empty_database(url, tmp_path):
    from store.db import has_batches, open_store

    empty = tmp_path / "no-sample"
    empty.mkdir()
    assert startup.prepare_database(url, str(empty)) is True
    engine = open_store(url)
    try:
        assert not has_batches(engine)
    finally:
        engine.dispose()


def test_a_failure_is_raised_where_it_is_awaited_and_tried_again(url, tmp_path):
    broken = tmp_path / "broken-sample"
    broken.mkdir()
    (broken / "sessions.csv").write_text("patient_id,session_date,route\nA1,not a date,IV\n")
    with pytest.raises(ValueError, match="does not import cleanly"):
        startup.wait(url, str(broken))
    assert startup.first_start(url, str(broken)) is False
    (broken / "sessions.csv").write_text("patient_id,session_date,route\nA1,2025-01-06,IV\n")
    assert startup.wait(url, str(broken)) is True  # a later run tries again


def test_the_sign_in_path_imports_no_pandas():
    import subprocess
    import sys

    code = (
        "import sys, ui.auth, ui.startup\n"
        "heavy = [m for m in ('pandas', 'sqlalchemy', 'analytics') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_warm_up_reads_the_clinic_into_memory_for_the_first_page(
    url, sample_dir, monkeypatch, capsys
):
    import store
    import store.patient_tables
    from analytics.core.definitions import OutcomeDefinitions
    from ui.clinic import active_clinic
    from ui.results import prepare_table

    monkeypatch.setenv("DATABASE_URL", url)
    assert startup.wait(url, str(sample_dir)) is True
    assert startup.warmed(url, str(sample_dir), timeout=300)
    assert "Ready: the clinic (250 patients) is loaded." in capsys.readouterr().out

    def read_again(*args, **kwargs):
        raise AssertionError("the first page read the clinic again")

    monkeypatch.setattr(store, "load_clinic", read_again)
    monkeypatch.setattr(store.patient_tables, "stored_patient_table", read_again)
    assert len(active_clinic().data.patients) == 250
    prepare_table(OutcomeDefinitions.for_instrument("PCL-5"))  # in memory: nothing read


def test_the_warm_up_leaves_another_database_alone(url, sample_dir, monkeypatch, capsys):
    # the pages read the configured database; a preparation of another one loads nothing
    monkeypatch.setenv("DATABASE_URL", url + ".other")
    startup.wait(url, str(sample_dir))
    assert startup.warmed(url, str(sample_dir), timeout=300)
    assert "Ready:" not in capsys.readouterr().out
    assert startup.warmed("sqlite:///never-begun.sqlite", str(sample_dir), timeout=0) is False
