"""The audit log: who did what and when, append-only, with no patient data and no passwords.

There is deliberately no function that changes or deletes an entry, and the database refuses
UPDATE and DELETE on the table (triggers created by the first migration). Details are counts, file
names, batch ids and user names: :func:`record_audit` refuses keys that would carry a password or
a patient identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.db import get_engine
from store.models import AuditEntry

__all__ = ["ACTIONS", "AUDIT_COLUMNS", "read_audit", "record_audit"]

ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "login_locked",
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

_SCALARS = (str, int, float, bool, type(None))


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


def record_audit(
    action: str,
    *,
    user=None,
    detail: Mapping | None = None,
    engine: Engine | None = None,
    conn: Connection | None = None,
    clock: Callable[[], datetime] = _now,
) -> None:
    """Append one entry to the audit log.

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
        entry commit together or not at all).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; actions: {', '.join(sorted(ACTIONS))}")
    username = getattr(user, "username", user)
    values = {
        "at": clock(),
        "username": username,
        "action": action,
        "detail": _check_detail(detail),
    }
    statement = sa.insert(AuditEntry).values(**values)
    if conn is not None:
        conn.execute(statement)
        return
    with (engine or get_engine()).begin() as own:
        own.execute(statement)


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
