"""Stored sessions: only the token's hash kept, idle expiry, touched once a minute, revoked."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from store.models import LoginSessionRow
from store.sessions import (
    TOUCH_INTERVAL,
    create_session,
    hash_token,
    purge_expired_sessions,
    resume_session,
    revoke_session,
    session_user,
    touch_session,
)
from store.users import User, add_user, change_role, first_director_pending, login, remove_user
from tests.store.fixtures import engine_fixture  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=30)
DIRECTOR = User("dana", "director")
CLINICIAN = User("cleo", "clinician")
PASSWORD = "correct horse battery"


@pytest.fixture()
def users(engine):
    for user in (DIRECTOR, CLINICIAN):
        add_user(user.username, PASSWORD, user.role, actor="test", engine=engine)
    return engine


def _rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(LoginSessionRow.__table__))]


def test_only_the_hash_of_the_token_is_stored(users):
    token, session = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    rows = _rows(users)
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hash_token(token) == session.token_hash
    assert token not in repr(rows)
    assert rows[0]["username"] == "cleo"
    assert rows[0]["expires_at"] == T0 + TTL


def test_each_sign_in_gets_its_own_token(users):
    first, _ = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    second, _ = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    assert first != second and len(first) >= 43
    assert len(_rows(users)) == 2


def test_a_token_resumes_its_session_with_the_current_role(users):
    token, _ = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    change_role("cleo", "staff", actor=DIRECTOR, engine=users)
    resumed = resume_session(token, engine=users, now=T0 + timedelta(minutes=5))
    assert resumed.user == User("cleo", "staff")
    assert resumed.expires_at == T0 + TTL
    assert resumed.token_hash == hash_token(token)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-token-anyone-was-given", id="unknown"),
    ],
)
def test_an_unknown_token_resumes_nothing(users, token):
    create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    assert resume_session(token, engine=users, now=T0) is None


def test_an_expired_session_is_refused_and_deleted(users):
    token, session = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    assert resume_session(token, engine=users, now=T0 + TTL) is None
    assert _rows(users) == []
    assert session_user(session.token_hash, engine=users, now=T0 + TTL) is None


def test_a_new_session_deletes_the_expired_ones(users):
    create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    create_session(DIRECTOR, engine=users, now=T0 + TTL, ttl=TTL)
    assert [r["username"] for r in _rows(users)] == ["dana"]


def test_purge_deletes_only_expired_sessions(users):
    create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    create_session(DIRECTOR, engine=users, now=T0 + timedelta(minutes=20), ttl=TTL)
    assert purge_expired_sessions(engine=users, now=T0 + TTL) == 1
    assert [r["username"] for r in _rows(users)] == ["dana"]


def test_the_stored_expiry_moves_at_most_once_a_minute(users):
    token, session = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    soon = T0 + TOUCH_INTERVAL - timedelta(seconds=1)
    touched = touch_session(session, engine=users, now=soon, ttl=TTL)
    assert touched.expires_at == soon + TTL  # in memory
    assert _rows(users)[0]["expires_at"] == T0 + TTL  # not written yet
    later = T0 + TOUCH_INTERVAL
    touched = touch_session(touched, engine=users, now=later, ttl=TTL)
    assert touched.stored_at == later
    assert _rows(users)[0]["expires_at"] == later + TTL
    # so a reload just past the first expiry is still inside the idle timeout
    assert resume_session(token, engine=users, now=T0 + TTL + timedelta(seconds=30)) is not None


def test_sign_out_revokes_the_session(users):
    token, session = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    assert revoke_session(session.token_hash, engine=users) is True
    assert revoke_session(session.token_hash, engine=users) is False
    assert resume_session(token, engine=users, now=T0) is None
    # another tab of the same browser notices at its next touch
    late = T0 + TOUCH_INTERVAL
    assert touch_session(session, engine=users, now=late, ttl=TTL) is None


def test_removing_the_user_revokes_their_sessions(users):
    token, session = create_session(CLINICIAN, engine=users, now=T0, ttl=TTL)
    kept, _ = create_session(DIRECTOR, engine=users, now=T0, ttl=TTL)
    remove_user("cleo", actor=DIRECTOR, engine=users)
    assert resume_session(token, engine=users, now=T0) is None
    assert session_user(session.token_hash, engine=users, now=T0) is None
    assert resume_session(kept, engine=users, now=T0) is not None
    assert [r["username"] for r in _rows(users)] == ["dana"]


def test_the_users_table_refuses_a_session_for_nobody(users):
    with pytest.raises(sa.exc.IntegrityError):
        create_session(User("ghost", "staff"), engine=users, now=T0, ttl=TTL)


def test_a_session_kept_in_memory_only_is_touched_without_the_database(users):
    from store.users import start_session

    session = start_session(CLINICIAN, now=T0, ttl=TTL)
    touched = touch_session(session, engine=users, now=T0 + timedelta(minutes=5), ttl=TTL)
    assert touched.expires_at == T0 + timedelta(minutes=5) + TTL
    assert _rows(users) == []


def test_the_first_director_is_pending_until_their_first_sign_in(engine):
    from store.users import ensure_first_director

    assert first_director_pending(engine=engine) is False  # no users at all
    password = ensure_first_director(engine=engine)
    assert first_director_pending(engine=engine) is True
    assert login("director", "a wrong password", engine=engine).ok is False
    assert first_director_pending(engine=engine) is True
    assert login("director", password, engine=engine).ok is True
    assert first_director_pending(engine=engine) is False
