"""Initial schema: canonical tables with batch history, batches, conflicts, users, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 21:38:22.930172
"""

import sqlalchemy as sa
from alembic import context, op

from store.audit import AuditDropRefused

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# The audit table is append-only: the layer offers no update or delete, and the database refuses
# both, so not even a hand-written statement can rewrite history.
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
_POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
]


def _append_only_audit() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(
        dialect, []
    ):
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_action"), "audit", ["action"], unique=False)
    op.create_index(op.f("ix_audit_at"), "audit", ["at"], unique=False)
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("extra_patient_columns", sa.JSON(), nullable=False),
        sa.Column("has_sessions", sa.Boolean(), nullable=False),
        sa.Column("months_kept", sa.Boolean(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_conflicting", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rolled_back_by", sa.String(length=150), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "assessments",
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("total", sa.Double(), nullable=True),
        sa.Column("prorated", sa.Boolean(), nullable=True),
        sa.Column("item_1", sa.Double(), nullable=True),
        sa.Column("item_2", sa.Double(), nullable=True),
        sa.Column("item_3", sa.Double(), nullable=True),
        sa.Column("item_4", sa.Double(), nullable=True),
        sa.Column("item_5", sa.Double(), nullable=True),
        sa.Column("item_6", sa.Double(), nullable=True),
        sa.Column("item_7", sa.Double(), nullable=True),
        sa.Column("item_8", sa.Double(), nullable=True),
        sa.Column("item_9", sa.Double(), nullable=True),
        sa.Column("item_10", sa.Double(), nullable=True),
        sa.Column("item_11", sa.Double(), nullable=True),
        sa.Column("item_12", sa.Double(), nullable=True),
        sa.Column("item_13", sa.Double(), nullable=True),
        sa.Column("item_14", sa.Double(), nullable=True),
        sa.Column("item_15", sa.Double(), nullable=True),
        sa.Column("item_16", sa.Double(), nullable=True),
        sa.Column("item_17", sa.Double(), nullable=True),
        sa.Column("item_18", sa.Double(), nullable=True),
        sa.Column("item_19", sa.Double(), nullable=True),
        sa.Column("item_20", sa.Double(), nullable=True),
        sa.Column("item_21", sa.Double(), nullable=True),
        sa.Column("cluster_b", sa.Double(), nullable=True),
        sa.Column("cluster_c", sa.Double(), nullable=True),
        sa.Column("cluster_d", sa.Double(), nullable=True),
        sa.Column("cluster_e", sa.Double(), nullable=True),
        sa.Column("provisional_dx", sa.Boolean(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("superseded_by_batch", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_batch"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("row_id"),
    )
    op.create_index(op.f("ix_assessments_batch_id"), "assessments", ["batch_id"], unique=False)
    op.create_index("ix_assessments_patient", "assessments", ["patient_id", "state"], unique=False)
    op.create_index(
        op.f("ix_assessments_superseded_by_batch"),
        "assessments",
        ["superseded_by_batch"],
        unique=False,
    )
    op.create_index(
        "uq_assessments_current",
        "assessments",
        ["patient_id", "day", "instrument"],
        unique=True,
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("stored_row_id", sa.BigInteger(), nullable=True),
        sa.Column("incoming_row_id", sa.BigInteger(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.String(length=150), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_conflicts_batch_id"), "conflicts", ["batch_id"], unique=False)
    op.create_table(
        "patients",
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("first_session_year", sa.BigInteger(), nullable=True),
        sa.Column("first_session_month", sa.BigInteger(), nullable=True),
        sa.Column("route", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("superseded_by_batch", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_batch"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("row_id"),
    )
    op.create_index(op.f("ix_patients_batch_id"), "patients", ["batch_id"], unique=False)
    op.create_index("ix_patients_patient", "patients", ["patient_id", "state"], unique=False)
    op.create_index(
        op.f("ix_patients_superseded_by_batch"), "patients", ["superseded_by_batch"], unique=False
    )
    op.create_index(
        "uq_patients_current",
        "patients",
        ["patient_id"],
        unique=True,
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.create_table(
        "sessions",
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("session_number", sa.BigInteger(), nullable=True),
        sa.Column("route", sa.Text(), nullable=True),
        sa.Column("dose_mg", sa.Double(), nullable=True),
        sa.Column("dose_mg_per_kg", sa.Double(), nullable=True),
        sa.Column("bp_systolic_pre", sa.Double(), nullable=True),
        sa.Column("bp_diastolic_pre", sa.Double(), nullable=True),
        sa.Column("bp_systolic_peak", sa.Double(), nullable=True),
        sa.Column("bp_diastolic_peak", sa.Double(), nullable=True),
        sa.Column("dissociation_cadss", sa.Double(), nullable=True),
        sa.Column("sedation", sa.Boolean(), nullable=True),
        sa.Column("dissociation", sa.Boolean(), nullable=True),
        sa.Column("clinician", sa.Text(), nullable=True),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("phase", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("superseded_by_batch", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_batch"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("row_id"),
    )
    op.create_index(op.f("ix_sessions_batch_id"), "sessions", ["batch_id"], unique=False)
    op.create_index("ix_sessions_patient", "sessions", ["patient_id", "state"], unique=False)
    op.create_index(
        op.f("ix_sessions_superseded_by_batch"), "sessions", ["superseded_by_batch"], unique=False
    )
    op.create_index(
        "uq_sessions_current",
        "sessions",
        ["patient_id", "day"],
        unique=True,
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.create_table(
        "side_effects",
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("session_number", sa.BigInteger(), nullable=True),
        sa.Column("effect", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("serious", sa.Boolean(), nullable=True),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("superseded_by_batch", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_batch"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("row_id"),
    )
    op.create_index(op.f("ix_side_effects_batch_id"), "side_effects", ["batch_id"], unique=False)
    op.create_index(
        "ix_side_effects_patient", "side_effects", ["patient_id", "state"], unique=False
    )
    op.create_index(
        op.f("ix_side_effects_superseded_by_batch"),
        "side_effects",
        ["superseded_by_batch"],
        unique=False,
    )
    op.create_index(
        "uq_side_effects_current",
        "side_effects",
        ["patient_id", "day", "effect", "occurrence"],
        unique=True,
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    _append_only_audit()


def downgrade() -> None:
    # Dropping the audit table erases the record of who did what: only when asked for by name.
    if context.get_x_argument(as_dictionary=True).get("force", "").lower() != "yes":
        raise AuditDropRefused(
            "Downgrading below revision 0001 would delete the audit log, so it was refused. "
            "Keep a copy of the audit log first; to go ahead anyway, run the downgrade with: "
            "alembic -x force=yes downgrade ..."
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_no_change ON audit")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.drop_index(
        "uq_side_effects_current",
        table_name="side_effects",
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.drop_index(op.f("ix_side_effects_superseded_by_batch"), table_name="side_effects")
    op.drop_index("ix_side_effects_patient", table_name="side_effects")
    op.drop_index(op.f("ix_side_effects_batch_id"), table_name="side_effects")
    op.drop_table("side_effects")
    op.drop_index(
        "uq_sessions_current",
        table_name="sessions",
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.drop_index(op.f("ix_sessions_superseded_by_batch"), table_name="sessions")
    op.drop_index("ix_sessions_patient", table_name="sessions")
    op.drop_index(op.f("ix_sessions_batch_id"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(
        "uq_patients_current",
        table_name="patients",
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.drop_index(op.f("ix_patients_superseded_by_batch"), table_name="patients")
    op.drop_index("ix_patients_patient", table_name="patients")
    op.drop_index(op.f("ix_patients_batch_id"), table_name="patients")
    op.drop_table("patients")
    op.drop_index(op.f("ix_conflicts_batch_id"), table_name="conflicts")
    op.drop_table("conflicts")
    op.drop_index(
        "uq_assessments_current",
        table_name="assessments",
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )
    op.drop_index(op.f("ix_assessments_superseded_by_batch"), table_name="assessments")
    op.drop_index("ix_assessments_patient", table_name="assessments")
    op.drop_index(op.f("ix_assessments_batch_id"), table_name="assessments")
    op.drop_table("assessments")
    op.drop_table("users")
    op.drop_table("batches")
    op.drop_index(op.f("ix_audit_at"), table_name="audit")
    op.drop_index(op.f("ix_audit_action"), table_name="audit")
    op.drop_table("audit")
