"""Users, roles and sign-in: argon2 password hashes, a throttle with back-off, expiring sessions.

Roles
-----
- ``director``: everything, including users, imports, rollback and the audit log;
- ``clinician``: every dashboard and patient timeline, no imports;
- ``staff``: the Data page only (upload and validation).

Every role also sees the help pages (:data:`HELP_PAGES`: the glossary).

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106 "second recommended
option"). There is no default password: :func:`ensure_first_director` creates the first director
with a random one and returns it for the caller to show once.

Sign-in gives nothing away: a wrong password and an unknown name get the same answer, after the
same work (one Argon2 verification each). Failures are counted per name typed and client address
(table ``login_throttle``, the name kept only as a SHA-256), so a client that keeps guessing waits
longer and longer for that name while the same name signs in from elsewhere as usual: nobody can
lock the director out. ``users unlock NAME`` (:func:`unblock_login`) clears the waits of a name.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from store.audit import record_audit
from store.config import LOCKOUT, LockoutPolicy, session_ttl
from store.db import get_engine, short_write
from store.models import LoginSessionRow, LoginThrottle, UserRow

__all__ = [
    "CLINICIAN",
    "DIRECTOR",
    "FIRST_DIRECTOR",
    "HELP_PAGES",
    "LoginResult",
    "LoginSession",
    "MAX_USERNAME_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PAGES",
    "ROLES",
    "STAFF",
    "USERNAME_RULE",
    "User",
    "add_user",
    "allowed_pages",
    "authenticate",
    "can",
    "change_role",
    "ensure_first_director",
    "generate_password",
    "first_director_pending",
    "list_users",
    "login",
    "remove_user",
    "set_password",
    "start_session",
    "throttle_account",
    "unblock_login",
]

DIRECTOR = "director"
CLINICIAN = "clinician"
STAFF = "staff"
ROLES = (DIRECTOR, CLINICIAN, STAFF)
FIRST_DIRECTOR = "director"
MIN_PASSWORD_LENGTH = 12
MAX_USERNAME_LENGTH = 64
USERNAME_RULE = (
    f"a user name is 1 to {MAX_USERNAME_LENGTH} characters: letters (a-z, A-Z), digits, '.', "
    "'_', '-' and '@', starting with a letter or a digit"
)
_USERNAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{MAX_USERNAME_LENGTH - 1}}}")

# Page keys: the file stem under pages/ for existing pages, and the director's own pages.
DASHBOARD_PAGES = ("overview", "outcomes", "durability", "safety", "cohorts", "claims", "settings")
# Pages for everyone signed in: what the words on the other pages mean.
HELP_PAGES = ("glossary",)
PAGES = (*DASHBOARD_PAGES, "data", "import_history", "audit", "users", *HELP_PAGES)
_ROLE_PAGES = {
    DIRECTOR: frozenset(PAGES),
    CLINICIAN: frozenset({*DASHBOARD_PAGES, *HELP_PAGES}),
    STAFF: frozenset({"data", *HELP_PAGES}),
}
# What each role may do besides seeing pages.
_ROLE_ACTIONS = {
    DIRECTOR: frozenset(
        {"import", "resolve_conflicts", "rollback", "clear_sample", "manage_users", "read_audit"}
    ),
    CLINICIAN: frozenset(),
    STAFF: frozenset({"import"}),
}

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist or the client must wait, so that every
    try costs one verification and the timing does not tell which names exist. Made on the
    first sign-in of the process rather than at import (every command imports this module);
    that sign-in asks for it whatever the name, so it costs the same on every path."""
    return _HASHER.hash(secrets.token_urlsafe(16))


# The client of a sign-in whose caller did not say where it came from.
UNKNOWN_CLIENT = "unknown"
_CLIENT_LENGTH = 64  # login_throttle.client


@dataclass(frozen=True)
class User:
    """A signed-in (or listed) user. Never carries the password or its hash."""

    username: str
    role: str


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one sign-in attempt: the same shape for a known and an unknown name.

    Attributes
    ----------
    user : User or None
        The user when the name and password are right and this client need not wait.
    retry_at : datetime or None
        When this client may try this name again, once it has failed too often (set for an
        unknown name exactly as for a known one).
    """

    user: User | None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


@dataclass(frozen=True)
class LoginSession:
    """A signed-in session that expires after ``SESSION_TTL_MINUTES`` without activity.

    Attributes
    ----------
    user : User
        Who is signed in (the role as of the last run).
    started_at, expires_at : datetime
        When the session began, and when it ends unless touched again.
    token_hash : str or None
        The SHA-256 of the browser's session cookie when the session is stored
        (:mod:`store.sessions`); None for a session of this browser tab only.
    stored_at : datetime or None
        When the stored expiry was last moved: it is written at most once a minute.
    """

    user: User
    started_at: datetime
    expires_at: datetime
    token_hash: str | None = None
    stored_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at

    def touched(self, now: datetime | None = None, ttl: timedelta | None = None) -> LoginSession:
        """The same session with its expiry moved ``ttl`` past ``now`` (on each request)."""
        now = now or datetime.now(UTC)
        return replace(self, expires_at=now + (ttl or session_ttl()))


def _now() -> datetime:
    return datetime.now(UTC)


def start_session(
    user: User, *, now: datetime | None = None, ttl: timedelta | None = None
) -> LoginSession:
    """A new session for ``user`` expiring ``ttl`` (default ``SESSION_TTL_MINUTES``) from now."""
    now = now or _now()
    return LoginSession(user=user, started_at=now, expires_at=now + (ttl or session_ttl()))


def allowed_pages(role: str) -> frozenset[str]:
    """The page keys ``role`` may see (:data:`PAGES`); the navigation lists only these."""
    try:
        return _ROLE_PAGES[role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}") from None


def can(user: User | None, action: str) -> bool:
    """Whether ``user`` may do ``action`` (import, rollback, manage_users, ...)."""
    return user is not None and action in _ROLE_ACTIONS.get(user.role, frozenset())


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def _check_username(username: str) -> str:
    """``username`` trimmed, when it keeps to :data:`USERNAME_RULE`.

    The names appear in the audit log and its CSV download, so nothing a spreadsheet could
    run (``=``, ``+``, ``-``, ``@`` first) and nothing invisible or look-alike (ASCII only).
    """
    if not isinstance(username, str):
        raise TypeError(f"a user name must be str, got {type(username).__name__}")
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        raise ValueError(f"user name refused: {USERNAME_RULE}")
    return name


def _require_director(actor) -> None:
    if isinstance(actor, User) and actor.role != DIRECTOR:
        raise PermissionError("only a director can manage users")


def add_user(
    username: str,
    password: str,
    role: str,
    *,
    actor=None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> User:
    """Create a user. ``actor`` (a director, or a CLI name) is recorded in the audit log."""
    _require_director(actor)
    name = _check_username(username)
    _check_role(role)
    _check_password(password)
    engine = engine or get_engine()
    with short_write(engine) as conn:
        exists = conn.execute(sa.select(UserRow.id).where(UserRow.username == name)).first()
        if exists:
            raise ValueError(f"user {name!r} already exists")
        conn.execute(
            sa.insert(UserRow).values(
                username=name,
                password_hash=_HASHER.hash(password),
                role=role,
                created_at=clock(),
                failed_logins=0,
            )
        )
        record_audit("user_added", user=actor, detail={"username": name, "role": role}, conn=conn)
    return User(name, role)


def _directors(conn) -> int:
    return conn.execute(
        sa.select(sa.func.count()).select_from(UserRow).where(UserRow.role == DIRECTOR)
    ).scalar_one()


def remove_user(username: str, *, actor=None, engine: Engine | None = None) -> None:
    """Delete a user and end their signed-in sessions; the last director cannot be removed."""
    _require_director(actor)
    engine = engine or get_engine()
    with short_write(engine) as conn:
        role = conn.execute(sa.select(UserRow.role).where(UserRow.username == username)).first()
        if role is None:
            raise ValueError(f"no user {username!r}")
        if role[0] == DIRECTOR and _directors(conn) == 1:
            raise ValueError("the last director cannot be removed")
        # their signed-in browsers end with the account (the foreign key cascades as well)
        conn.execute(sa.delete(LoginSessionRow).where(LoginSessionRow.username == username))
        conn.execute(sa.delete(UserRow).where(UserRow.username == username))
        record_audit("user_removed", user=actor, detail={"username": username}, conn=conn)


def set_password(username: str, password: str, *, actor=None, engine: Engine | None = None) -> None:
    """Set a new password (a director for anyone; a user may change their own)."""
    if isinstance(actor, User) and actor.role != DIRECTOR and actor.username != username:
        raise PermissionError("only a director can change another user's password")
    _check_password(password)
    engine = engine or get_engine()
    with short_write(engine) as conn:
        done = conn.execute(
            sa.update(UserRow)
            .where(UserRow.username == username)
            .values(password_hash=_HASHER.hash(password), failed_logins=0, locked_until=None)
        )
        if done.rowcount == 0:
            raise ValueError(f"no user {username!r}")
        # a new password is a fresh start: no client has to wait for this name any more
        conn.execute(
            sa.delete(LoginThrottle).where(LoginThrottle.account == throttle_account(username))
        )
        record_audit("password_changed", user=actor, detail={"username": username}, conn=conn)


def change_role(username: str, role: str, *, actor=None, engine: Engine | None = None) -> None:
    """Give ``username`` another role; the last director keeps theirs."""
    _require_director(actor)
    _check_role(role)
    engine = engine or get_engine()
    with short_write(engine) as conn:
        old = conn.execute(sa.select(UserRow.role).where(UserRow.username == username)).first()
        if old is None:
            raise ValueError(f"no user {username!r}")
        if old[0] == DIRECTOR and role != DIRECTOR and _directors(conn) == 1:
            raise ValueError("the last director cannot lose the director role")
        conn.execute(sa.update(UserRow).where(UserRow.username == username).values(role=role))
        record_audit(
            "role_changed",
            user=actor,
            detail={"username": username, "from": old[0], "to": role},
            conn=conn,
        )


def list_users(
    engine: Engine | None = None, *, clock: Callable[[], datetime] = _now
) -> pd.DataFrame:
    """Users with role, creation, last sign-in and sign-in waits (no password hashes).

    ``failed_logins`` is the number of recent failures for the name summed over the client
    addresses (counts not yet forgotten, :attr:`LockoutPolicy.forget_after`), and
    ``locked_until`` the latest time some address has to wait for it (None when none waits).
    The columns of the same names in the ``users`` table are no longer used.
    """
    query = sa.select(
        UserRow.username, UserRow.role, UserRow.created_at, UserRow.last_login_at
    ).order_by(UserRow.username)
    throttles = sa.select(
        LoginThrottle.account, LoginThrottle.failures, LoginThrottle.blocked_until
    ).where(LoginThrottle.last_failure_at > clock() - LOCKOUT.forget_after)
    with (engine or get_engine()).connect() as conn:
        rows = conn.execute(query).all()
        waits = conn.execute(throttles).all()
    now = clock()
    failures: dict[str, int] = {}
    blocked: dict[str, datetime] = {}
    for wait in waits:
        failures[wait.account] = failures.get(wait.account, 0) + wait.failures
        if wait.blocked_until is not None and wait.blocked_until > now:
            blocked[wait.account] = max(blocked.get(wait.account, now), wait.blocked_until)
    columns = ["username", "role", "created_at", "last_login_at", "failed_logins", "locked_until"]
    table = []
    for row in rows:
        account = throttle_account(row.username)
        table.append((*row, failures.get(account, 0), blocked.get(account)))
    return pd.DataFrame(table, columns=columns)


def throttle_account(username: str) -> str:
    """The key of a name typed in ``login_throttle``: the SHA-256 of it trimmed and lower-cased.

    A name that is not a user (perhaps a password typed into the wrong box) is never stored in
    clear, and "Director" and "director" share one count.
    """
    return hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()


def _client_key(client: str | None) -> str:
    text = " ".join(str(client or "").split())
    return (text or UNKNOWN_CLIENT)[:_CLIENT_LENGTH]


def login(
    username: str,
    password: str,
    *,
    client: str | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
    policy: LockoutPolicy = LOCKOUT,
) -> LoginResult:
    """Check a name and password, slowing down a client that keeps failing for that name.

    Failures are counted per (name typed, ``client``), whether the name exists or not. After
    ``policy.free_failures`` of them that client waits ``policy.delay_after(failures)`` before
    its next try for that name, doubling with each further failure; a try before then is refused
    without looking at the password (and does not extend the wait). The same name from another
    client is not affected, and a success clears the count of that client. Every try costs one
    Argon2 verification (against a dummy hash for an unknown name or a waiting client) and gets
    the same :class:`LoginResult` for a known and an unknown name.

    Every attempt is audited with the client: ``login``, ``login_failed`` (a name that does not
    exist is logged without the name, since it may be a password typed into the wrong box) and
    ``login_locked`` for a refused try, with the wait in seconds.

    Parameters
    ----------
    username, password : str
        What was typed.
    client : str, optional
        Where the try comes from (the browser's address); None counts as ``"unknown"``.
    """
    engine = engine or get_engine()
    now = clock()
    name = username.strip()
    account = throttle_account(username)
    client = _client_key(client)
    with short_write(engine) as conn:
        row = conn.execute(
            sa.select(UserRow.id, UserRow.password_hash, UserRow.role).where(
                UserRow.username == name
            )
        ).first()
        throttle = conn.execute(
            sa.select(
                LoginThrottle.failures, LoginThrottle.last_failure_at, LoginThrottle.blocked_until
            )
            .where(LoginThrottle.account == account, LoginThrottle.client == client)
            .with_for_update()
        ).first()
        logged = name if row is not None else None
        waiting = throttle is not None and _waits(throttle.blocked_until, now)
        # One verification on every path: the stored hash only when it may be checked.
        dummy = _dummy_hash()
        checked = row.password_hash if row is not None and not waiting else dummy
        matched = _verify(checked, password)
        right = matched and row is not None and not waiting
        if waiting:
            record_audit(
                "login_locked",
                user=logged,
                detail={"client": client, "wait_seconds": _seconds(throttle.blocked_until - now)},
                conn=conn,
                clock=clock,
            )
            return LoginResult(None, retry_at=throttle.blocked_until)
        if not right:
            failures = _count_failure(conn, account, client, throttle, now, policy)
            delay = policy.delay_after(failures)
            retry_at = now + delay if delay else None
            if retry_at is not None:
                conn.execute(
                    sa.update(LoginThrottle)
                    .where(LoginThrottle.account == account, LoginThrottle.client == client)
                    .values(blocked_until=retry_at)
                )
            detail = {"client": client, "wait_seconds": _seconds(delay)}
            if row is None:
                detail = {"reason": "unknown user", **detail}
            else:
                detail = {"consecutive_failures": failures, **detail}
            record_audit("login_failed", user=logged, detail=detail, conn=conn, clock=clock)
            return LoginResult(None, retry_at=retry_at)
        values = {"last_login_at": now}
        if _HASHER.check_needs_rehash(row.password_hash):
            values["password_hash"] = _HASHER.hash(password)
        conn.execute(sa.update(UserRow).where(UserRow.id == row.id).values(**values))
        conn.execute(
            sa.delete(LoginThrottle).where(
                LoginThrottle.account == account, LoginThrottle.client == client
            )
        )
        record_audit("login", user=name, detail={"client": client}, conn=conn, clock=clock)
        return LoginResult(User(name, row.role))


def _waits(blocked_until: datetime | None, now: datetime) -> bool:
    return blocked_until is not None and blocked_until > now


def _seconds(delay: timedelta) -> int:
    return max(0, round(delay.total_seconds()))


def _count_failure(conn, account: str, client: str, throttle, now: datetime, policy) -> int:
    """Add one failure to the count of (``account``, ``client``); return the new count.

    One statement, insert or increment, so that two failures at the same moment both count.
    A count whose last failure is older than ``policy.forget_after`` starts again at one.
    """
    fresh = throttle is None or throttle.last_failure_at <= now - policy.forget_after
    insert = _upsert(conn)(LoginThrottle).values(
        account=account, client=client, failures=1, last_failure_at=now, blocked_until=None
    )
    statement = insert.on_conflict_do_update(
        index_elements=[LoginThrottle.account, LoginThrottle.client],
        set_={
            "failures": 1 if fresh else LoginThrottle.failures + 1,
            "last_failure_at": insert.excluded.last_failure_at,
            "blocked_until": None,
        },
    ).returning(LoginThrottle.failures)
    failures = conn.execute(statement).scalar_one()
    # counts nobody has added to for a day are dropped, so the table stays small
    conn.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.last_failure_at <= now - policy.forget_after)
    )
    return failures


def _upsert(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def unblock_login(
    username: str,
    *,
    actor=None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> int:
    """Clear the sign-in waits of ``username`` from every client; return how many were cleared.

    The director's way out when a name waits after failed sign-ins (``python -m analytics users
    unlock NAME``). Audited as ``login_unblocked``, with the number of client addresses cleared.
    """
    _require_director(actor)
    name = username.strip()
    engine = engine or get_engine()
    with short_write(engine) as conn:
        cleared = conn.execute(
            sa.delete(LoginThrottle).where(LoginThrottle.account == throttle_account(name))
        ).rowcount
        record_audit(
            "login_unblocked",
            user=actor,
            detail={"username": name, "clients": cleared},
            conn=conn,
            clock=clock,
        )
    return cleared


def authenticate(
    username: str,
    password: str,
    *,
    client: str | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
    policy: LockoutPolicy = LOCKOUT,
) -> User | None:
    """The user when ``username`` and ``password`` are right and this client need not wait.

    :func:`login` says, in addition, until when the client has to wait.
    """
    return login(username, password, client=client, engine=engine, clock=clock, policy=policy).user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def first_director_pending(*, engine: Engine | None = None) -> bool:
    """True while the first director (:data:`FIRST_DIRECTOR`) exists and has never signed in.

    The sign-in form shows the first-start notice (the one-time password is in the terminal)
    only while this holds, so later users never see it.
    """
    query = sa.select(UserRow.last_login_at).where(
        UserRow.username == FIRST_DIRECTOR, UserRow.role == DIRECTOR
    )
    with (engine or get_engine()).connect() as conn:
        row = conn.execute(query).first()
    return row is not None and row.last_login_at is None


def ensure_first_director(
    *, engine: Engine | None = None, clock: Callable[[], datetime] = _now
) -> str | None:
    """Create the first director when there are no users; return its one-time password.

    Returns None when users exist. Prints nothing: the caller shows the password once (the
    terminal that ran ``make run``, as Jupyter shows its token) and it is never stored in clear.
    """
    engine = engine or get_engine()
    password = generate_password()
    try:
        return _create_first_director(engine, password, clock)
    except sa.exc.IntegrityError:
        # Another process created it at the same moment: that one shows the password.
        return None


def _create_first_director(engine: Engine, password: str, clock) -> str | None:
    with short_write(engine) as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(UserRow)).scalar_one():
            return None
        conn.execute(
            sa.insert(UserRow).values(
                username=FIRST_DIRECTOR,
                password_hash=_HASHER.hash(password),
                role=DIRECTOR,
                created_at=clock(),
                failed_logins=0,
            )
        )
        record_audit(
            "user_added",
            user="system",
            detail={"username": FIRST_DIRECTOR, "role": DIRECTOR, "first_start": True},
            conn=conn,
            clock=clock,
        )
    return password
