"""The audit log: append-only in the database itself, no secrets or patients in it."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from store.audit import read_audit, record_audit
from tests.store.fixtures import engine_fixture  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_entries_are_read_back_and_filtered(engine):
    for minutes, user, action in [
        (0, "dana", "login"),
        (5, "sam", "import"),
        (9, "dana", "export"),
    ]:
        record_audit(
            action,
            user=user,
            detail={"rows": minutes},
            engine=engine,
            clock=lambda m=minutes: T0 + timedelta(minutes=m),
        )
    everything = read_audit(engine)
    assert everything["action"].tolist() == ["export", "import", "login"]
    assert everything.loc[2, "at"] == T0
    assert read_audit(engine, username="dana")["action"].tolist() == ["export", "login"]
    assert read_audit(engine, action="import")["detail"].tolist() == [{"rows": 5}]
    window = read_audit(engine, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=9))
    assert window["action"].tolist() == ["import"]


@pytest.mark.parametrize("statement", ["UPDATE audit SET action = 'login'", "DELETE FROM audit"])
def test_the_database_refuses_to_change_the_log(engine, statement):
    record_audit("login", user="dana", engine=engine)
    with pytest.raises(sa.exc.DatabaseError, match="the audit log is append-only"):
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(read_audit(engine)) == 1


@pytest.mark.parametrize(
    "action, detail, error, match",
    [
        ("login", {"password": "x"}, ValueError, "may not hold 'password'"),
        ("export", {"patient_id": "P0001"}, ValueError, "may not hold 'patient_id'"),
        ("export", {"rows": {"nested": 1}}, TypeError, "must be a number, text or a list"),
        ("delete_everything", None, ValueError, "unknown audit action 'delete_everything'"),
    ],
)
def test_refused_entries(engine, action, detail, error, match):
    with pytest.raises(error, match=match):
        record_audit(action, user="dana", detail=detail, engine=engine)
    assert read_audit(engine).empty
