"""A clinic's own export (``tests/data/clinic_export``) validates and imports from the command
line with no flags; an export whose dates leave the order open asks for ``--date-order``."""

import shutil
from pathlib import Path

from cli.main import main

EXPORT = Path(__file__).resolve().parents[1] / "data" / "clinic_export"


def test_validate_accepts_the_export_as_it_is(capsys):
    assert main(["validate", str(EXPORT)]) == 0
    out = capsys.readouterr().out
    assert "error" not in out.lower()


def test_import_batch_stores_the_export_as_it_is(app_env, capsys):
    assert main(["import", str(EXPORT), "--user", "cli:test"]) == 0
    out = capsys.readouterr().out
    assert "sessions: 536 added" in out and "patients: 60 added" in out


def test_dates_that_leave_the_order_open_need_date_order(tmp_path, capsys):
    # only days up to 12: 3/4/2025 could be 3 April or March 4
    shutil.copy(EXPORT / "Patient_Demographics.csv", tmp_path)
    (tmp_path / "Visits.csv").write_text("Patient ID,Visit Date,Medication\nP0001,3/4/2025,IV\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert "choose day-first or month-first" in capsys.readouterr().out
    assert main(["validate", str(tmp_path), "--date-order", "dmy"]) == 0
