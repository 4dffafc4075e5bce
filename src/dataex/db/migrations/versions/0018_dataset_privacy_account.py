"""dataset privacy account — issue 17 (dataset-level privacy-loss account)

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_privacy_accounts",
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("epsilon_cap_nano", sa.BigInteger(), nullable=True),
        sa.Column("epsilon_cap_per_party_nano", sa.BigInteger(), nullable=True),
        sa.Column("spent_epsilon_nano", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_table(
        "dataset_privacy_party_spend",
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("spent_epsilon_nano", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("dataset_id", "party_id"),
    )
    op.create_table(
        "privacy_account_defaults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epsilon_cap_nano", sa.BigInteger(), nullable=False),
        sa.Column("epsilon_cap_per_party_nano", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("privacy_account_defaults")
    op.drop_table("dataset_privacy_party_spend")
    op.drop_table("dataset_privacy_accounts")
