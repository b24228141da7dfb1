"""The commands on hostile files: every command reads the same files, says what is wrong in
words, and writes nothing a spreadsheet would run."""

import pytest

from cli.main import main
from store.db import dispose_engines
from store.history import list_batches
from store.users import USERNAME_RULE, list_users
from tests.store.fixtures import engine_fixture, url_text  # noqa: F401

ASSESSMENTS = "patient_id,assessment_date,instrument,total\nA,2025-01-06,PCL-5,50\n"
DOB = "patient_id,session_date,route,dob\nA,2025-01-06,IV ketamine,1980-01-01\n"
DOB_RULE = "error: SESSIONS.CSV, column 'dob': may identify patients"


@pytest.fixture()
def database(engine, monkeypatch):
    """The commands' DATABASE_URL points at the test engine."""
    monkeypatch.setenv("DATABASE_URL", url_text(engine))
    yield engine
    dispose_engines()


@pytest.fixture()
def upper_case_export(tmp_path):
    """A folder whose sessions file has an upper-case suffix and a date-of-birth column."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "SESSIONS.CSV").write_text(DOB)
    (folder / "assessments.csv").write_text(ASSESSMENTS)
    return folder


@pytest.mark.parametrize(
    "command, stream, last_line",
    [
        ("validate", "out", "1 error(s); nothing was imported."),
        ("import", "err", "1 error(s); nothing was imported."),
    ],
)
def test_upper_case_csv_is_read_by_validate_and_import_alike(
    database, upper_case_export, capsys, command, stream, last_line
):
    assert main([command, str(upper_case_export)]) == 1
    printed = getattr(capsys.readouterr(), stream)
    assert DOB_RULE in printed
    assert printed.strip().splitlines()[-1] == last_line
    assert list_batches(database).empty


@pytest.mark.parametrize(
    "content, message",
    [
        # a header, then a lone byte-order mark (two files pasted together)
        (b"record_id,redcap_event_name\n\xef\xbb\xbf", "has a header but no data rows"),
        (b"record_id,redcap_event_name\n\xef\xbb\xbf\n", "has a header but no data rows"),
        # a 50,000-character cell is named, not repeated
        (
            b"record_id,redcap_event_name\n" + b"x" * 50_000 + b",baseline_arm_1\n",
            "row 2, column 'record_id': this cell has 50,000 characters; at most 1,000",
        ),
        (
            b"record_id," + b"h" * 2_000 + b"\n1,baseline_arm_1\n",
            "row 1: the header of column 2 (B) has 2,000 characters; at most 1,000",
        ),
    ],
)
def test_convert_redcap_reports_hostile_files_in_words(tmp_path, capsys, content, message):
    export = tmp_path / "export.csv"
    export.write_bytes(content)
    out = tmp_path / "out"
    code = main(["convert-redcap", str(export), "--events", "baseline_arm_1=0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert message in err
    assert "Traceback" not in err and "xxxxxxxxxx" not in err and "hhhhhhhhhh" not in err
    assert str(tmp_path) not in err
    assert not out.exists()


def test_convert_redcap_of_a_missing_file_says_so(tmp_path, capsys):
    code = main(["convert-redcap", str(tmp_path / "nope.csv"), "--events", "a=0", "--out", "x"])
    assert code == 2
    assert capsys.readouterr().err == "error: nope.csv is not a file\n"


@pytest.mark.parametrize(
    "files, message",
    [
        ({"sessions.csv": b"patient_id,session_date,route\n\xef\xbb\xbf"}, "no data rows"),
        (
            {"sessions.csv": b"patient_id,session_date,route\n" + b"P" * 1_001 + b",x,y\n"},
            "this cell has 1,001 characters; at most 1,000 are allowed in one cell",
        ),
    ],
)
def test_validate_reports_hostile_files_in_words(tmp_path, capsys, files, message):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert message in out
    assert "PPPPPPPPPP" not in out


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://example.com","click")', "+1+1", "-A1", "@SUM(A1)", "ann smith"],
)
def test_users_add_refuses_unsafe_names(database, capsys, name):
    assert main(["users", "add", "--role", "staff", "--", name]) == 1
    assert capsys.readouterr().err == f"error: user name refused: {USERNAME_RULE}\n"
    assert list_users(database).empty
