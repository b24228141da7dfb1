"""``python -m analytics report``: the board report from a folder or the database, audited."""

from __future__ import annotations

import pytest

from cli.main import main
from store.audit import read_audit
from store.db import dispose_engines


@pytest.fixture()
def stored(app_env):
    """The commands' database: a copy of the prepared one, the sample clinic loaded."""
    yield app_env
    dispose_engines()


def audit_exports():
    entries = read_audit(action="export")
    return [(row.username, row.detail) for row in entries.itertuples()]


def test_report_of_the_database_is_written_and_audited(stored, tmp_path, capsys):
    out = tmp_path / "board.pdf"
    assert main(["report", "--out", str(out), "--user", "director-test"]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    printed = capsys.readouterr().out
    assert "board report of 250 patients (All patients); small-cell suppression on" in printed
    (user, detail), *_ = audit_exports()
    assert user == "director-test"
    assert detail == {
        "what": "board report",
        "file": "board.pdf",
        "cohort": "All patients",
        "instrument": "PCL-5",
        "suppression": True,
        "source": "database",
    }


def test_report_of_a_folder_takes_the_sidebars_filters(stored, tmp_path, capsys):
    out = tmp_path / "iv.pdf"
    argv = ["report", str(stored), "--out", str(out), "--route", "iv_ketamine", "--no-suppress"]
    assert main(argv) == 0
    assert "of 147 patients (IV ketamine); small-cell suppression OFF" in capsys.readouterr().out
    (_, detail), *_ = audit_exports()
    assert detail["cohort"] == "IV ketamine"
    assert detail["suppression"] is False
    assert detail["source"] == "folder"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "report.txt"], "--out must name a .pdf file"),
        (["--out", "r.pdf", "--route", "oral_ketamine"], "--route"),
        (["--out", "r.pdf", "--by", "shoe_size"], "cannot group by 'shoe_size'"),
    ],
)
def test_bad_options_are_refused_in_words(stored, tmp_path, capsys, argv, message):
    argv = [a if not a.endswith((".pdf", ".txt")) else str(tmp_path / a) for a in argv]
    assert main(["report", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pdf"))
    assert audit_exports() == []
