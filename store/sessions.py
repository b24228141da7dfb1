"""Signed-in sessions that outlive a browser tab: a random token in a cookie, its hash stored.

A password sign-in creates a token of 32 random bytes (:func:`secrets.token_urlsafe`); the
browser keeps it in an HttpOnly cookie and the ``login_sessions`` table keeps only its SHA-256
with the user name and the expiry. A new tab or a reload sends the cookie, and
:func:`resume_session` finds the session by the token's hash. The expiry is
``SESSION_TTL_MINUTES`` after the last activity, moved forward at most once a minute
(:data:`TOUCH_INTERVAL`) rather than on every rerun. A session ends when the user signs out
(:func:`revoke_session`), when the account is removed (:func:`store.users.remove_user`), and
when it expires (the row is deleted the next time it, or any new session, is looked at).

The role is never stored with the session: it is read from ``users`` on every look-up, so a
change by the director applies at once.

References
----------
.. [1] OWASP, "Session Management Cheat Sheet": session ids of at least 64 bits of entropy,
   stored hashed, HttpOnly and SameSite cookies, idle timeout enforced on the server.
   https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.config import session_ttl
from store.db import get_engine, short_write
from store.models import LoginSessionRow, UserRow
from store.users import LoginSession, User

__all__ = [
    "TOKEN_BYTES",
    "TOUCH_INTERVAL",
    "create_session",
    "hash_token",
    "purge_expired_sessions",
    "resume_session",
    "revoke_session",
    "session_user",
    "touch_session",
]

TOKEN_BYTES = 32  # 256 bits, well above OWASP's 64
# The stored expiry moves at most this often: a rerun does not write to the database.
TOUCH_INTERVAL = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    """The hex SHA-256 of a session token: what the table keeps instead of the token.

    A plain hash, not a password hash: the token is 256 random bits, so nothing can be guessed
    from its hash, and a look-up must be one indexed equality.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(
    user: User,
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
    ttl: timedelta | None = None,
) -> tuple[str, LoginSession]:
    """Store a new session for ``user``; return its token (to hand to the browser once) and it.

    The token itself is never stored. Expired sessions of anyone are deleted on the way.
    """
    now = now or _now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    digest = hash_token(token)
    expires = now + (ttl or session_ttl())
    with short_write(engine or get_engine()) as conn:
        conn.execute(sa.delete(LoginSessionRow).where(LoginSessionRow.expires_at <= now))
        conn.execute(
            sa.insert(LoginSessionRow).values(
                token_hash=digest, username=user.username, created_at=now, expires_at=expires
            )
        )
    session = LoginSession(user, now, expires, token_hash=digest, stored_at=now)
    return token, session


def _live(conn, digest: str, now: datetime):
    """The session row joined with its user's current role, or None; an expired one is deleted."""
    row = conn.execute(
        sa.select(
            LoginSessionRow.username,
            LoginSessionRow.created_at,
            LoginSessionRow.expires_at,
            UserRow.role,
        )
        .join(UserRow, UserRow.username == LoginSessionRow.username)
        .where(LoginSessionRow.token_hash == digest)
    ).first()
    if row is not None and row.expires_at <= now:
        conn.execute(sa.delete(LoginSessionRow).where(LoginSessionRow.token_hash == digest))
        return None
    return row


def resume_session(
    token: str, *, engine: Engine | None = None, now: datetime | None = None
) -> LoginSession | None:
    """The stored session whose token is ``token``, or None (unknown, revoked or expired).

    The returned session carries the user's current role and the stored expiry; an expired
    session is deleted here.
    """
    if not token:
        return None
    now = now or _now()
    digest = hash_token(token)
    with short_write(engine or get_engine()) as conn:
        row = _live(conn, digest, now)
    if row is None:
        return None
    return LoginSession(
        User(row.username, row.role),
        row.created_at,
        row.expires_at,
        token_hash=digest,
        stored_at=now,
    )


def session_user(
    token_hash: str, *, engine: Engine | None = None, now: datetime | None = None
) -> User | None:
    """The user of the stored session ``token_hash`` with their current role, or None.

    None once the session was revoked (signed out in another tab, the account removed) or has
    expired; an expired session is deleted here.
    """
    now = now or _now()
    with short_write(engine or get_engine()) as conn:
        row = _live(conn, token_hash, now)
    return None if row is None else User(row.username, row.role)


def touch_session(
    session: LoginSession,
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
    ttl: timedelta | None = None,
) -> LoginSession | None:
    """``session`` with its expiry moved ``ttl`` past ``now``; None once it is no longer stored.

    The caller checks :meth:`LoginSession.expired` first: the idle timeout is the one in
    memory, which moves on every run; the stored one lags it by less than a minute. The stored
    expiry is written only when :data:`TOUCH_INTERVAL` has passed since the last
    write (``session.stored_at``); in between, only the returned copy moves. A session that is
    not stored (``token_hash`` None) is just touched in memory.
    """
    now = now or _now()
    touched = session.touched(now, ttl)
    if session.token_hash is None:
        return touched
    if session.stored_at is not None and now - session.stored_at < TOUCH_INTERVAL:
        return touched
    with short_write(engine or get_engine()) as conn:
        done = conn.execute(
            sa.update(LoginSessionRow)
            .where(LoginSessionRow.token_hash == session.token_hash)
            .values(expires_at=touched.expires_at)
        )
    if done.rowcount == 0:
        return None
    return replace(touched, stored_at=now)


def revoke_session(token_hash: str, *, engine: Engine | None = None) -> bool:
    """End the stored session ``token_hash`` (sign-out); True when there was one."""
    with short_write(engine or get_engine()) as conn:
        done = conn.execute(
            sa.delete(LoginSessionRow).where(LoginSessionRow.token_hash == token_hash)
        )
    return done.rowcount > 0


def purge_expired_sessions(*, engine: Engine | None = None, now: datetime | None = None) -> int:
    """Delete every session past its expiry; the number deleted."""
    now = now or _now()
    with short_write(engine or get_engine()) as conn:
        done = conn.execute(sa.delete(LoginSessionRow).where(LoginSessionRow.expires_at <= now))
    return done.rowcount
