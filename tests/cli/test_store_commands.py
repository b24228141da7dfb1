"""The headless commands on the configured database: import, imports, rollback, users, summary."""

import json

import pytest

from cli.main import main
from store.clinic import load_clinic
from store.db import dispose_engines
from store.history import list_batches
from store.users import authenticate
from tests.store.fixtures import SAMPLE, engine_fixture, url_text  # noqa: F401


@pytest.fixture()
def database(engine, monkeypatch):
    """The commands' DATABASE_URL points at the test engine."""
    monkeypatch.setenv("DATABASE_URL", url_text(engine))
    yield engine
    dispose_engines()


def write_export(folder, sessions: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "sessions.csv").write_text(sessions)
    (folder / "assessments.csv").write_text(
        "patient_id,assessment_date,instrument,total\nA,2025-01-06,PCL-5,50\n"
    )


SESSIONS = "patient_id,session_date,route\nA,2025-01-06,IV ketamine\nA,2025-01-08,IV ketamine\n"


def test_import_history_and_rollback(database, tmp_path, capsys):
    write_export(tmp_path / "export", SESSIONS)
    assert main(["import", str(tmp_path / "export"), "--user", "nightly"]) == 0
    assert "Batch 1: 4 rows added, 0 unchanged, 0 conflicting." in capsys.readouterr().out
    assert main(["import", str(tmp_path / "export"), "--user", "nightly"]) == 0
    assert "Batch 2: 0 rows added, 4 unchanged, 0 conflicting." in capsys.readouterr().out
    assert main(["imports", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(b["batch_id"], b["username"], b["rows_added"]) for b in history] == [
        (2, "nightly", 0),
        (1, "nightly", 4),
    ]
    assert main(["rollback", "1", "--user", "nightly"]) == 0
    assert "Rolled back batch 1: removed 1 patients, 2 sessions" in capsys.readouterr().out
    assert main(["rollback", "1"]) == 1
    assert "error: batch 1 was rolled back already" in capsys.readouterr().err


def test_import_with_errors_exits_1_and_stores_nothing(database, tmp_path, capsys):
    write_export(tmp_path / "bad", "patient_id,session_date\nA,2025-01-06\n")
    assert main(["import", str(tmp_path / "bad")]) == 1
    assert "nothing was imported" in capsys.readouterr().err
    assert list_batches(database).empty


def test_conflicts_can_be_replaced_from_the_command_line(database, tmp_path, capsys):
    write_export(tmp_path / "one", SESSIONS)
    write_export(tmp_path / "two", SESSIONS.replace("IV ketamine\n", "Spravato\n", 1))
    main(["import", str(tmp_path / "one")])
    assert main(["import", str(tmp_path / "two"), "--conflicts", "replace"]) == 0
    out = capsys.readouterr().out
    assert "1 conflict(s) wait for a decision (1 whole patients)" in out
    assert "Conflicts: 1 replaced, 0 kept." in out
    assert load_clinic(database).sessions["route"].tolist() == ["esketamine_nasal", "iv_ketamine"]


def test_summary_from_the_database_equals_the_folder(database, capsys):
    assert main(["summary", str(SAMPLE), "--json"]) == 0
    from_folder = capsys.readouterr().out
    assert main(["summary", "--json"]) == 1
    assert "the database holds no data" in capsys.readouterr().err
    assert main(["import", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert main(["summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(from_folder)


def test_summary_from_the_database_adds_up_the_table_the_import_kept(
    database, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["summary", str(SAMPLE), "--json"]) == 0
    from_folder = json.loads(capsys.readouterr().out)
    assert main(["import", str(SAMPLE)]) == 0
    assert len(list((tmp_path / "cache").glob("patients-*"))) == 1  # kept by the import
    capsys.readouterr()

    def not_loaded(*args, **kwargs):
        raise AssertionError("the summary loaded the clinic instead of reading its table")

    monkeypatch.setattr("store.clinic.load_clinic", not_loaded)
    assert main(["summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_folder
    # a kept table changed on disk is refused: the clinic is loaded and the table worked out
    monkeypatch.undo()
    monkeypatch.setenv("DATABASE_URL", url_text(database))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    kept = next((tmp_path / "cache").glob("patients-*")) / "patients.parquet"
    kept.write_bytes(kept.read_bytes() + b"changed")
    assert main(["summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_folder


def test_users_commands(database, capsys, monkeypatch):
    assert main(["users", "add", "dana", "--role", "director"]) == 0
    out = capsys.readouterr().out
    password = out.split("Password (shown once): ")[1].strip()
    assert authenticate("dana", password, engine=database).role == "director"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long new password\n"))
    assert main(["users", "passwd", "dana", "--password-stdin"]) == 0
    assert "shown once" not in capsys.readouterr().out
    assert authenticate("dana", "a long new password", engine=database) is not None
    assert main(["users", "remove", "dana"]) == 1
    assert "error: the last director cannot be removed" in capsys.readouterr().err
    assert main(["users", "list"]) == 0
    assert capsys.readouterr().out.split() == ["dana", "director"]


def test_users_unlock_lets_the_director_sign_in_from_a_guessing_address(database, capsys):
    from store.audit import read_audit
    from store.users import add_user, login

    add_user("director", "correct horse battery", "director", engine=database)
    for _ in range(6):
        login("director", "a wrong password", client="203.0.113.9", engine=database)
    waiting = login("director", "correct horse battery", client="203.0.113.9", engine=database)
    assert waiting.retry_at is not None and not waiting.ok
    assert main(["users", "--user", "root", "unlock", "director"]) == 0
    assert capsys.readouterr().out == "Sign-in waits cleared for director (1 address).\n"
    assert login("director", "correct horse battery", client="203.0.113.9", engine=database).ok
    entry = read_audit(database, action="login_unblocked")
    assert entry["username"].tolist() == ["root"]
    assert entry["detail"].tolist() == [{"username": "director", "clients": 1}]
