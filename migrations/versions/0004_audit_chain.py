"""The audit trail becomes tamper-evident: each entry carries a hash chained to the one before.

The entries already written are sealed here, oldest first, exactly as ``store.audit`` seals new
ones. The append-only triggers refuse UPDATE, so they are dropped for the backfill and created
again in the same transaction (on PostgreSQL nobody ever sees the table without them).

Downgrading drops every seal, so it is refused unless forced: ``alembic -x force=yes downgrade``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import context, op

from store.audit import AuditDropRefused, entry_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The append-only triggers as the first revision creates them.
_DROP_TRIGGERS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_no_change ON audit"],
}
_CREATE_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    # the function audit_append_only() of the first revision stays in place
    "postgresql": [
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    ],
}

_AUDIT = sa.table(
    "audit",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("username", sa.String()),
    sa.column("action", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("row_hash", sa.String()),
)


def _run(statements: dict[str, list[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def _seal_existing_entries() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            _AUDIT.c.id, _AUDIT.c.at, _AUDIT.c.username, _AUDIT.c.action, _AUDIT.c.detail
        ).order_by(_AUDIT.c.id)
    ).all()
    previous = None
    for row in rows:
        previous = entry_hash(
            previous,
            id=row.id,
            at=row.at,
            username=row.username,
            action=row.action,
            detail=row.detail,
        )
        conn.execute(sa.update(_AUDIT).where(_AUDIT.c.id == row.id).values(row_hash=previous))


def _forced() -> bool:
    return context.get_x_argument(as_dictionary=True).get("force", "").lower() == "yes"


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _run(_DROP_TRIGGERS)
    _seal_existing_entries()
    _run(_CREATE_TRIGGERS)


def downgrade() -> None:
    if not _forced():
        raise AuditDropRefused(
            "Downgrading below revision 0004 would remove the seals that make the audit trail "
            "tamper-evident, so it was refused. Keep a copy of the audit log first; to go ahead "
            "anyway, run the downgrade with: alembic -x force=yes downgrade ..."
        )
    # SQLite drops a column by copying the table, which loses its triggers: create them again
    _run(_DROP_TRIGGERS)
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("row_hash")
    _run(_CREATE_TRIGGERS)
