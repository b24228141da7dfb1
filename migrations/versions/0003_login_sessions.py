"""Signed-in browsers: the hash of each session cookie's token, its user and its expiry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_login_sessions_username"), "login_sessions", ["username"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_sessions_username"), table_name="login_sessions")
    op.drop_table("login_sessions")
