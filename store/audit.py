"""The audit log: who did what and when, append-only, tamper-evident, with no patient data and no
passwords.

There is deliberately no function that changes or deletes an entry, and the database refuses
UPDATE and DELETE on the table (triggers created by the first migration). Details are counts, file
names, batch ids and user names: :func:`record_audit` refuses keys that would carry a password or
a patient identifier.

Each entry is also sealed into a hash chain: its ``row_hash`` is the SHA-256 of the previous
entry's ``row_hash`` and of this entry's own content (:func:`entry_hash`), so changing, removing
or slipping in an entry anywhere but at the end breaks the chain at that point, and
:func:`verify_audit_chain` names the first entry where it breaks.

How an entry's id is known before it is written: the triggers refuse UPDATE, so an entry cannot
be inserted first and sealed afterwards. :func:`record_audit` therefore takes a lock that only
audit writers take, reads the newest entry, and inserts the next entry with the explicit id
``newest id + 1`` and its seal in one statement. Ids are thus consecutive, which also lets
:func:`verify_audit_chain` tell a deletion (a gap where the chain breaks) from an edit. The lock:

- PostgreSQL: a transaction-level advisory lock of its own (not the import's lock, so a sign-in
  does not queue behind an import), held until the writing transaction ends. Advisory locks need
  no table privilege, so the application's role keeps only INSERT and SELECT on the table
  (:func:`grant_application_role`).
- SQLite: the database's single write lock, taken at ``BEGIN IMMEDIATE`` by every transaction
  that writes an entry (:func:`store.db.write_transaction`, :func:`store.db.short_write`), so the
  newest entry read is still the newest at the insert. A deferred transaction overtaken by
  another writer could not insert at all (SQLite refuses to upgrade a stale read), rather than
  chain to a stale predecessor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.db import get_engine, short_write
from store.models import AuditEntry, Base

__all__ = [
    "ACTIONS",
    "AUDIT_COLUMNS",
    "GENESIS_HASH",
    "AuditCheck",
    "AuditDropRefused",
    "entry_hash",
    "grant_application_role",
    "read_audit",
    "record_audit",
    "verify_audit_chain",
]

ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "login_locked",
        "login_unblocked",
        "logout",
        "session_expired",
        "session_resumed",
        "import",
        "import_refused",
        "conflicts_resolved",
        "rollback",
        "sample_loaded",
        "sample_cleared",
        "export",
        "download",
        "user_added",
        "user_removed",
        "password_changed",
        "role_changed",
        "settings_changed",
    }
)
# Keys whose values would put a secret or a patient in the log.
FORBIDDEN_KEYS = frozenset(
    {"password", "password_hash", "new_password", "token", "secret", "patient_id", "patient_ids"}
)
AUDIT_COLUMNS = ["id", "at", "username", "action", "detail"]
# What the first entry is chained to.
GENESIS_HASH = "0" * 64

_SCALARS = (str, int, float, bool, type(None))
# Any fixed number other than store.db's import lock: serialises audit writers on PostgreSQL.
_AUDIT_LOCK = 7_215_002


class AuditDropRefused(RuntimeError):
    """A schema downgrade would destroy the audit log or its seals, and was not forced."""


def _now() -> datetime:
    return datetime.now(UTC)


def _check_detail(detail: Mapping | None) -> dict:
    detail = dict(detail or {})
    for key, value in detail.items():
        if not isinstance(key, str):
            raise TypeError(f"audit detail keys must be text, not {type(key).__name__}")
        if key.lower() in FORBIDDEN_KEYS:
            raise ValueError(f"audit detail may not hold {key!r}: no passwords or patient data")
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, _SCALARS) for v in values):
            raise TypeError(f"audit detail {key!r} must be a number, text or a list of them")
        if isinstance(value, tuple):
            detail[key] = list(value)
    return detail


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive UTC; PostgreSQL an aware time in the session's zone
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def entry_hash(
    previous: str | None,
    *,
    id: int,  # noqa: A002 - the column's name
    at: datetime,
    username: str | None,
    action: str,
    detail: Mapping,
) -> str:
    """The seal of one audit entry: SHA-256 (hex) of the previous seal and this entry's content.

    The content is serialised canonically, as JSON with sorted keys and no spaces: ``id``,
    ``at`` (ISO 8601 in UTC with microseconds), ``username``, ``action`` and ``detail``. The
    input of the hash is the previous seal (:data:`GENESIS_HASH` when ``previous`` is None), a
    newline, and that JSON text.
    """
    content = json.dumps(
        {
            "id": int(id),
            "at": _utc(at).isoformat(timespec="microseconds"),
            "username": username,
            "action": action,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(f"{previous or GENESIS_HASH}\n{content}".encode()).hexdigest()


def _append(conn: Connection, values: dict) -> None:
    """Insert one entry chained to the newest one; the caller's transaction commits it."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})
    newest = conn.execute(
        sa.select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry_id = 1 if newest is None else newest.id + 1
    if conn.dialect.name == "postgresql":
        # keep the id sequence level with the ids used, so a plain INSERT (a repair by hand)
        # does not collide with an entry's id
        conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('audit', 'id'))"))
    seal = entry_hash(None if newest is None else newest.row_hash, id=entry_id, **values)
    conn.execute(sa.insert(AuditEntry).values(id=entry_id, row_hash=seal, **values))


def record_audit(
    action: str,
    *,
    user=None,
    detail: Mapping | None = None,
    engine: Engine | None = None,
    conn: Connection | None = None,
    clock: Callable[[], datetime] = _now,
) -> None:
    """Append one entry to the audit log, sealed into the chain (see the module docstring).

    Parameters
    ----------
    action : str
        One of :data:`ACTIONS`.
    user : User, str or None
        Who did it: a :class:`store.users.User`, a name (``"cli:alice"``, ``"system"``), or None
        when nobody is known (a failed login with an unknown name).
    detail : mapping, optional
        Counts, file names, batch ids; never passwords or patient identifiers.
    engine, conn : optional
        Where to write; ``conn`` writes inside the caller's transaction (an import and its audit
        entry commit together or not at all). On PostgreSQL the audit lock is then held until
        the caller's transaction ends, so the entry is best written last.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; actions: {', '.join(sorted(ACTIONS))}")
    username = getattr(user, "username", user)
    values = {
        # stored and sealed as the same UTC instant (the column keeps microseconds)
        "at": _utc(clock()),
        "username": username,
        "action": action,
        "detail": _check_detail(detail),
    }
    if conn is not None:
        _append(conn, values)
        return
    # SQLite: BEGIN IMMEDIATE, so the newest entry read is still the newest at the insert
    with short_write(engine or get_engine()) as own:
        _append(own, values)


def read_audit(
    engine: Engine | None = None,
    *,
    username: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 1000,
) -> pd.DataFrame:
    """Audit entries, newest first, filtered by user, action and time (``since <= at < until``).

    Returns a frame with columns ``id``, ``at`` (UTC), ``username``, ``action`` and ``detail``
    (a dict per entry).
    """
    query = sa.select(
        AuditEntry.id, AuditEntry.at, AuditEntry.username, AuditEntry.action, AuditEntry.detail
    ).order_by(AuditEntry.id.desc())
    if username is not None:
        query = query.where(AuditEntry.username == username)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if limit is not None:
        query = query.limit(limit)
    with (engine or get_engine()).connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    frame["id"] = frame["id"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    for column in ("username", "action"):
        frame[column] = frame[column].astype("string")
    return frame


@dataclass(frozen=True)
class AuditCheck:
    """The state of the audit chain.

    Attributes
    ----------
    ok : bool
        True when every entry is chained to the one before.
    checked : int
        Entries read (up to and including the first broken one).
    broken_id : int or None
        The first entry where the chain breaks.
    problem : str or None
        ``"changed"`` (the entry's content or seal is not what was written after the entry
        before it: edited, or slipped in by hand), ``"unsealed"`` (no seal at all: not written
        by the application) or ``"deleted"`` (the chain breaks where ids are missing before it).
    missing : tuple of int
        The first and last missing id, for ``"deleted"``.
    newest_id, newest_hash : int or str or None
        The newest entry and its seal, when the chain is intact (noting them elsewhere lets a
        later check see whether the newest entries were removed).
    """

    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None
    missing: tuple[int, ...] = ()
    newest_id: int | None = None
    newest_hash: str | None = None

    @property
    def sentence(self) -> str:
        """One sentence saying the state of the chain."""
        if self.ok:
            entries = "entry" if self.checked == 1 else "entries"
            return f"Audit trail intact: {self.checked:,} {entries} checked."
        entry = f"Entry {self.broken_id} of the audit trail"
        if self.problem == "deleted":
            first, last = self.missing
            gone = f"entry {first} is" if first == last else f"entries {first} to {last} are"
            return f"{entry} follows a deleted entry: {gone} missing."
        if self.problem == "unsealed":
            return f"{entry} was forged: it has no seal, so it was added outside the application."
        return (
            f"{entry} was changed or forged: its seal does not match its content and the entry "
            "before it."
        )


def verify_audit_chain(engine: Engine | None = None) -> AuditCheck:
    """Recompute every entry's seal, oldest first, and report the first entry that breaks.

    Detected: an entry edited (content or seal), an entry inserted by hand without the
    application's seal or with one not chained to the entry before, and the deletion of any
    entry that has a later one (the later one no longer chains). Not detected: removing the
    newest entries (the rest still chain; compare with a newest id and seal noted elsewhere),
    and an entry appended, or the whole chain rebuilt, by someone with write access who computes
    seals the way this module does (the chain has no secret key; PostgreSQL's grants keep the
    application's role from changing or deleting entries, see :func:`grant_application_role`).
    """
    query = sa.select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.username,
        AuditEntry.action,
        AuditEntry.detail,
        AuditEntry.row_hash,
    ).order_by(AuditEntry.id)
    checked = 0
    previous_id, previous_hash = 0, None
    with (engine or get_engine()).connect() as conn:
        for row in conn.execute(query):
            checked += 1
            expected = entry_hash(
                previous_hash,
                id=row.id,
                at=row.at,
                username=row.username,
                action=row.action,
                detail=row.detail,
            )
            if row.row_hash != expected:
                if row.row_hash is None:
                    return AuditCheck(False, checked, row.id, "unsealed")
                if row.id > previous_id + 1:
                    missing = (previous_id + 1, row.id - 1)
                    return AuditCheck(False, checked, row.id, "deleted", missing)
                return AuditCheck(False, checked, row.id, "changed")
            previous_id, previous_hash = row.id, row.row_hash
    return AuditCheck(True, checked, newest_id=previous_id or None, newest_hash=previous_hash)


def grant_application_role(engine: Engine, role: str) -> None:
    """Give a PostgreSQL role what the application needs, and on the audit log only INSERT and
    SELECT.

    Run it as the owner of the tables (the role that runs the migrations); the application then
    connects as ``role``. The data tables get SELECT, INSERT, UPDATE and DELETE, the id
    sequences USAGE, ``alembic_version`` SELECT; the audit table loses any other privilege, so
    the application's role cannot UPDATE, DELETE, TRUNCATE or DROP it even without the triggers.

    Raises
    ------
    ValueError
        On a database other than PostgreSQL (SQLite has no roles).
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("database roles and grants exist only on PostgreSQL, not on SQLite")
    quote = engine.dialect.identifier_preparer.quote
    grantee = quote(role)
    audit = AuditEntry.__tablename__
    with engine.begin() as conn:
        schema = quote(conn.execute(sa.text("SELECT current_schema()")).scalar_one())
        statements = [f"GRANT USAGE ON SCHEMA {schema} TO {grantee}"]
        statements += [
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{quote(t.name)} TO {grantee}"
            for t in Base.metadata.sorted_tables
            if t.name != audit
        ]
        statements += [
            f"GRANT SELECT ON {schema}.alembic_version TO {grantee}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}",
            f"REVOKE ALL ON {schema}.{audit} FROM {grantee}",
            f"GRANT SELECT, INSERT ON {schema}.{audit} TO {grantee}",
        ]
        for statement in statements:
            conn.execute(sa.text(statement))
