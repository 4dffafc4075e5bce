"""consent lineage — issue 17 (consent reaches derived releases)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_lineage",
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("dataset_id", "column", "subject_hash"),
    )


def downgrade() -> None:
    op.drop_table("consent_lineage")
