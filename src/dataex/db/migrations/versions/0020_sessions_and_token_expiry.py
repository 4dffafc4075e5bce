"""sessions and token expiry — issue 18 (server-side sessions, token expiry)

Party tokens gain an expiry (``token_expires_at``, NULL: none) and a suspension mark
(``suspended_at``); the console's sessions get server-side records (``web_sessions``), so that
signing out, rotating a token or suspending a party ends a session at once.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_web_sessions_party_id"), "web_sessions", ["party_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_party_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("token_expires_at")
