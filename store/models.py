"""The schema: one SQL table per canonical frame, plus batches, conflicts, users and audit.

Every data row carries the batch that added it (``batch_id``) and a ``state``:

- ``current``: part of the clinic as the dashboard sees it;
- ``pending``: an incoming value that conflicts with a current one, waiting for a decision;
- ``replaced``: a former current value, replaced by ``superseded_by_batch`` (kept as history);
- ``declined``: an incoming value the user chose not to use (kept so the conflict can be shown).

A partial unique index on each table's identity among ``current`` rows keeps one value per
patient and day (and instrument or effect). Extra patient columns are kept as one JSON object per
patient (``attributes``), keys sorted, values as text.

A patient's follow-up time (days from day 0 to the export's data cutoff) is not a value of the
``patients`` row: every export has a later cutoff, so it would change, and raise a conflict, on
every import. Each batch keeps its own value per patient in ``follow_up`` instead, and the clinic
reads the largest value of the active batches.

The Alembic revisions in ``migrations/`` create exactly these tables; ``tests/store/test_schema.py``
fails when the two drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from analytics.core.contract import (
    ASSESSMENT_COLUMNS,
    ASSESSMENT_DTYPES,
    PATIENT_BASE_COLUMNS,
    PATIENT_DTYPES,
    SESSION_COLUMNS,
    SESSION_DTYPES,
    SIDE_EFFECT_COLUMNS,
    SIDE_EFFECT_DTYPES,
)

__all__ = [
    "AuditEntry",
    "Base",
    "Batch",
    "CURRENT",
    "Conflict",
    "ContentHash",
    "DATA_TABLES",
    "DECLINED",
    "FollowUp",
    "IDENTITY",
    "LoginSessionRow",
    "LoginThrottle",
    "PENDING",
    "REPLACED",
    "UserRow",
    "UtcDateTime",
    "data_table",
]

CURRENT = "current"
PENDING = "pending"
REPLACED = "replaced"
DECLINED = "declined"

# The identity of a row: a second row with the same identity is the same fact, changed.
# Side effects may repeat an effect on one day, so their n-th occurrence is part of the identity.
IDENTITY = {
    "patients": ["patient_id"],
    "sessions": ["patient_id", "day"],
    "assessments": ["patient_id", "day", "instrument"],
    "side_effects": ["patient_id", "day", "effect", "occurrence"],
}


class UtcDateTime(sa.types.TypeDecorator):
    """A UTC timestamp that comes back timezone-aware from SQLite as well as PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Batch(Base):
    """One import (or the sample clinic): all its rows came in one transaction."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    username: Mapped[str] = mapped_column(sa.String(150), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # import | sample
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # active | rolled_back
    files: Mapped[list] = mapped_column(sa.JSON, nullable=False)  # [{name, sha256, table}]
    options: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    extra_patient_columns: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    has_sessions: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    months_kept: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    rows_added: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rows_unchanged: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rows_conflicting: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    counts: Mapped[dict] = mapped_column(sa.JSON, nullable=False)  # table -> {added, ...}
    warnings: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    rolled_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rolled_back_by: Mapped[str | None] = mapped_column(sa.String(150))
    # False when the batch left the clinic as it was (the same export again): the data version
    # and the snapshot stay, so nothing is read or worked out again (store.clinic.data_version).
    changes_data: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True, server_default=sa.true()
    )


class Conflict(Base):
    """An incoming value that differs from the stored one, or a patient whose days disagree."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # row | patient
    table_name: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    patient_id: Mapped[str] = mapped_column(sa.Text, nullable=False)
    day: Mapped[int | None] = mapped_column(sa.BigInteger)
    key: Mapped[str | None] = mapped_column(sa.Text)  # instrument or effect
    stored_row_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    incoming_row_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    columns: Mapped[list] = mapped_column(sa.JSON, nullable=False)  # the columns that differ
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # pending|replaced|kept
    resolved_by: Mapped[str | None] = mapped_column(sa.String(150))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class FollowUp(Base):
    """One patient's follow-up days as one batch's export saw them (its own data cutoff).

    Not compared, never a conflict: the clinic's follow-up is the maximum over active batches, so
    rolling a batch back brings back the value before it and re-importing an export changes
    nothing. The primary key, batch first, serves a rollback's delete and the join to batches.
    """

    __tablename__ = "follow_up"

    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("batches.id"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    follow_up_days: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(150), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(sa.Text, nullable=False)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    failed_logins: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginSessionRow(Base):
    """A signed-in browser: only the SHA-256 of its cookie's token is kept, never the token.

    Removing the user removes their sessions (the foreign key cascades, and
    :func:`store.users.remove_user` deletes them explicitly too).
    """

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # hex SHA-256
    username: Mapped[str] = mapped_column(
        sa.ForeignKey("users.username", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AuditEntry(Base):
    """Append-only: the layer has no update or delete, and triggers refuse both."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    username: Mapped[str | None] = mapped_column(sa.String(150))
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False, index=True)
    detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    # SHA-256 of the previous entry's row_hash and this entry's content (store.audit)
    row_hash: Mapped[str | None] = mapped_column(sa.String(64))


class ContentHash(Base):
    """The SHA-256 of one file of a snapshot or kept result, with the data version it holds."""

    __tablename__ = "content_hashes"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    file: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    data_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class LoginThrottle(Base):
    """Failed sign-ins per account (hashed name typed) and client, and until when to wait."""

    __tablename__ = "login_throttle"

    account: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


def _sql_type(dtype: str) -> sa.types.TypeEngine:
    return {
        "string": sa.Text(),
        "int64": sa.BigInteger(),
        "Int64": sa.BigInteger(),
        "bool": sa.Boolean(),
        "boolean": sa.Boolean(),
        "float64": sa.Double(),
    }[dtype]


def _data_table(name: str, columns: list[str], dtypes: dict[str, str]) -> sa.Table:
    identity = IDENTITY[name]
    cols = [
        sa.Column(c, _sql_type(dtypes.get(c, "float64")), nullable=c not in identity)
        for c in columns
    ]
    if name == "side_effects":
        cols.append(sa.Column("occurrence", sa.Integer, nullable=False))
    if name == "patients":
        cols.append(sa.Column("attributes", sa.Text))
    current = sa.text(f"state = '{CURRENT}'")
    return sa.Table(
        name,
        Base.metadata,
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        *cols,
        sa.Column("batch_id", sa.ForeignKey("batches.id"), nullable=False, index=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("superseded_by_batch", sa.ForeignKey("batches.id"), index=True),
        sa.Index(f"ix_{name}_patient", "patient_id", "state"),
        sa.Index(
            f"uq_{name}_current",
            *identity,
            unique=True,
            sqlite_where=current,
            postgresql_where=current,
        ),
    )


DATA_TABLES: dict[str, sa.Table] = {
    "patients": _data_table("patients", PATIENT_BASE_COLUMNS, PATIENT_DTYPES),
    "sessions": _data_table("sessions", SESSION_COLUMNS, SESSION_DTYPES),
    "assessments": _data_table(
        "assessments", ASSESSMENT_COLUMNS, ASSESSMENT_DTYPES | {"prorated": "bool"}
    ),
    "side_effects": _data_table("side_effects", SIDE_EFFECT_COLUMNS, SIDE_EFFECT_DTYPES),
}


def data_table(name: str) -> sa.Table:
    """The SQL table holding canonical frame ``name``."""
    try:
        return DATA_TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r}; tables: {', '.join(DATA_TABLES)}") from None
