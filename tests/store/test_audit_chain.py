"""The audit trail is a hash chain: edits, forged entries and deletions are found and named."""

from __future__ import annotations

import argparse
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from cli.main import main
from store.audit import (
    GENESIS_HASH,
    AuditDropRefused,
    entry_hash,
    grant_application_role,
    read_audit,
    record_audit,
    verify_audit_chain,
)
from store.db import HEAD_REVISION, alembic_config, current_revision, dispose_engines, upgrade
from tests.store.fixtures import engine_fixture, url_text  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# What an attacker with the database's owner account runs around a change: the append-only
# triggers go, the change is made, the triggers come back.
DROP_TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"],
    "postgresql": ["DROP TRIGGER audit_no_change ON audit"],
}
CREATE_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgresql": [
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
    ],
}


def record_entries(engine, count: int = 4) -> None:
    for n in range(count):
        record_audit(
            "import",
            user="sam",
            detail={"rows": n, "files": ["sessions.csv"], "ratio": 0.5},
            engine=engine,
            clock=lambda n=n: T0 + timedelta(minutes=n, microseconds=n),
        )


def tamper(engine, *statements: str) -> None:
    """Run ``statements`` with the append-only triggers out of the way, as an attacker would."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for statement in [*DROP_TRIGGERS[dialect], *statements, *CREATE_TRIGGERS[dialect]]:
            conn.execute(sa.text(statement))


def resealed_entry_2(engine) -> str:
    """An UPDATE of entry 2 that also recomputes its seal from entry 1, as a careful forger."""
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT row_hash FROM audit WHERE id = 1")).scalar_one()
    second = read_audit(engine).set_index("id").loc[2]
    seal = entry_hash(
        first, id=2, at=second["at"], username="sam", action="import", detail={"rows": 0}
    )
    return f"""UPDATE audit SET detail = '{{"rows": 0}}', row_hash = '{seal}' WHERE id = 2"""


def test_a_fresh_chain_verifies(engine):
    assert verify_audit_chain(engine).ok
    record_entries(engine)
    check = verify_audit_chain(engine)
    assert (check.ok, check.checked, check.newest_id) == (True, 4, 4)
    assert check.sentence == "Audit trail intact: 4 entries checked."
    assert read_audit(engine)["id"].tolist() == [4, 3, 2, 1]


def test_each_seal_chains_to_the_one_before(engine):
    record_entries(engine, 2)
    with engine.connect() as conn:
        first, second = conn.execute(sa.text("SELECT row_hash FROM audit ORDER BY id")).scalars()
    assert first == entry_hash(
        GENESIS_HASH,
        id=1,
        at=T0,
        username="sam",
        action="import",
        detail={"rows": 0, "files": ["sessions.csv"], "ratio": 0.5},
    )
    assert second != first and len(second) == 64


def test_entries_written_inside_a_callers_transaction_are_chained(engine):
    record_entries(engine, 1)
    with engine.begin() as conn:
        record_audit("login", user="dana", conn=conn)
        record_audit("logout", user="dana", conn=conn)
    check = verify_audit_chain(engine)
    assert (check.ok, check.checked) == (True, 3)


def test_concurrent_writers_never_chain_to_the_same_entry(engine):
    # without the lock two writers would read the same newest entry and collide on its id + 1
    def write(worker: int) -> None:
        for n in range(5):
            record_audit("download", user=f"user{worker}", detail={"n": n}, engine=engine)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    check = verify_audit_chain(engine)
    assert (check.ok, check.checked, check.newest_id) == (True, 20, 20)


FORGED = (
    "INSERT INTO audit (at, username, action, detail{seal}) "
    "VALUES ('2025-12-24 23:59:00', 'mallory', 'rollback', '{{}}'{value})"
)


@pytest.mark.parametrize(
    "attack, broken, problem, sentence",
    [
        (
            lambda engine: [FORGED.format(seal="", value="")],
            5,
            "unsealed",
            "Entry 5 of the audit trail was forged: it has no seal, so it was added outside "
            "the application.",
        ),
        (
            lambda engine: [FORGED.format(seal=", row_hash", value=f", '{'ab' * 32}'")],
            5,
            "changed",
            "Entry 5 of the audit trail was changed or forged: its seal does not match its "
            "content and the entry before it.",
        ),
        (
            lambda engine: ["""UPDATE audit SET detail = '{"rows": 999}' WHERE id = 2"""],
            2,
            "changed",
            "Entry 2 of the audit trail was changed or forged",
        ),
        (
            lambda engine: ["UPDATE audit SET at = '2025-01-01 08:00:00' WHERE id = 3"],
            3,
            "changed",
            "Entry 3 of the audit trail was changed or forged",
        ),
        # a forger who reseals the edited entry breaks the chain at the next one
        (lambda engine: [resealed_entry_2(engine)], 3, "changed", "Entry 3 of the audit trail"),
        (
            lambda engine: ["DELETE FROM audit WHERE id = 2"],
            3,
            "deleted",
            "Entry 3 of the audit trail follows a deleted entry: entry 2 is missing.",
        ),
        (
            lambda engine: ["DELETE FROM audit WHERE id IN (2, 3)"],
            4,
            "deleted",
            "Entry 4 of the audit trail follows a deleted entry: entries 2 to 3 are missing.",
        ),
        (
            lambda engine: ["DELETE FROM audit WHERE id = 1"],
            2,
            "deleted",
            "Entry 2 of the audit trail follows a deleted entry: entry 1 is missing.",
        ),
    ],
    ids=[
        "forged-without-seal",
        "forged-with-unchained-seal",
        "detail-edited",
        "back-dated",
        "edited-and-resealed",
        "one-deleted",
        "two-deleted",
        "first-deleted",
    ],
)
def test_tampering_is_found_at_the_first_broken_entry(engine, attack, broken, problem, sentence):
    record_entries(engine)
    tamper(engine, *attack(engine))
    check = verify_audit_chain(engine)
    assert (check.ok, check.broken_id, check.problem) == (False, broken, problem)
    assert check.sentence.startswith(sentence)


def test_the_application_keeps_writing_after_a_forged_entry_and_the_forgery_stays_named(engine):
    record_entries(engine, 2)
    tamper(engine, FORGED.format(seal="", value=""))
    record_audit("login", user="dana", engine=engine)
    check = verify_audit_chain(engine)
    assert (check.broken_id, check.problem) == (3, "unsealed")
    assert read_audit(engine)["id"].tolist() == [4, 3, 2, 1]


def test_removing_the_newest_entries_is_seen_only_against_a_noted_seal(engine):
    # the documented limit: the rest of the chain is intact, the newest seal is not the same
    record_entries(engine)
    noted = verify_audit_chain(engine)
    tamper(engine, "DELETE FROM audit WHERE id = 4")
    check = verify_audit_chain(engine)
    assert check.ok
    assert (check.newest_id, check.newest_hash) != (noted.newest_id, noted.newest_hash)


# --------------------------------------------------------------------------- migrations
def migrate(engine, step, revision: str, *, force: bool = False) -> None:
    config = alembic_config()
    if force:
        config.cmd_opts = argparse.Namespace(x=["force=yes"])
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        step(config, revision)


def test_the_upgrade_seals_the_entries_already_written(engine):
    migrate(engine, command.downgrade, "0003", force=True)
    with engine.begin() as conn:
        for minute in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO audit (at, username, action, detail) "
                    f"VALUES ('2026-01-05 09:0{minute}:00.123456', 'dana', 'login', "
                    """'{"client": "10.0.0.1"}')"""
                )
            )
    upgrade(engine)
    record_audit("logout", user="dana", engine=engine)
    check = verify_audit_chain(engine)
    assert (check.ok, check.checked) == (True, 4)
    # and the append-only triggers are back
    with pytest.raises(sa.exc.DatabaseError, match="the audit log is append-only"):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit WHERE id = 1"))


@pytest.mark.parametrize(
    "start, target, match",
    [
        (None, "0003", "would remove the seals that make the audit trail tamper-evident"),
        (None, "base", "would remove the seals"),
        ("0001", "base", "would delete the audit log"),
    ],
)
def test_a_downgrade_that_destroys_the_audit_trail_is_refused_unless_forced(
    engine, start, target, match
):
    record_audit("login", user="dana", engine=engine)
    if start is not None:
        migrate(engine, command.downgrade, start, force=True)
    with pytest.raises(AuditDropRefused, match=match):
        migrate(engine, command.downgrade, target)
    assert current_revision(engine) == (start or HEAD_REVISION)
    assert len(read_audit(engine)) == 1


def test_a_forced_downgrade_keeps_the_triggers_of_the_older_schema(engine):
    record_audit("login", user="dana", engine=engine)
    migrate(engine, command.downgrade, "0003", force=True)
    with pytest.raises(sa.exc.DatabaseError, match="the audit log is append-only"):
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit SET action = 'logout'"))


# --------------------------------------------------------------------------- command line
@pytest.fixture()
def database(engine, monkeypatch):
    """The commands' DATABASE_URL points at the test engine."""
    monkeypatch.setenv("DATABASE_URL", url_text(engine))
    yield engine
    dispose_engines()


def test_audit_verify_command(database, capsys):
    record_entries(database, 3)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "Audit trail intact: 3 entries checked." in out
    assert "Newest entry: 3, seal " in out
    tamper(database, "DELETE FROM audit WHERE id = 2")
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "Entry 3 of the audit trail follows a deleted entry: entry 2 is missing." in out
    assert "Traceback" not in out


# --------------------------------------------------------------------------- PostgreSQL grants
@pytest.fixture()
def application_role(engine):
    """A role of its own for this test, with the application's privileges; dropped after."""
    if engine.dialect.name != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's; SQLite has none")
    role = f"clinic_app_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" NOLOGIN'))
        # membership lets the test's own login SET ROLE to it
        conn.execute(sa.text(f'GRANT "{role}" TO CURRENT_USER'))
    try:
        grant_application_role(engine, role)
        yield role
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))


@contextmanager
def connected_as(engine, role: str):
    """One transaction as ``role`` (SET LOCAL: the pooled connection is itself again after)."""
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
        yield conn


def test_the_application_role_adds_and_reads_audit_entries(engine, application_role):
    record_audit("login", user="dana", engine=engine)
    with connected_as(engine, application_role) as conn:
        record_audit("logout", user="dana", conn=conn)
        count = conn.execute(sa.text("SELECT count(*) FROM audit")).scalar_one()
        # and its own data tables stay fully writable
        conn.execute(sa.text("DELETE FROM login_throttle"))
    assert count == 2
    assert verify_audit_chain(engine).ok


@pytest.mark.parametrize(
    "statement, match",
    [
        ("UPDATE audit SET action = 'logout'", "permission denied for table audit"),
        ("DELETE FROM audit", "permission denied for table audit"),
        ("TRUNCATE audit", "permission denied for table audit"),
        ("DROP TABLE audit", "must be owner of table audit"),
        ("DROP TRIGGER audit_no_change ON audit", "must be owner of (table|relation) audit"),
    ],
)
def test_the_application_role_cannot_change_or_remove_the_audit_log(
    engine, application_role, statement, match
):
    record_audit("login", user="dana", engine=engine)
    with pytest.raises(sa.exc.ProgrammingError, match=match):
        with connected_as(engine, application_role) as conn:
            conn.execute(sa.text(statement))
    assert verify_audit_chain(engine).checked == 1


def test_grants_are_refused_on_sqlite(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    with pytest.raises(ValueError, match="exist only on PostgreSQL"):
        grant_application_role(engine, "clinic_app")
