"""delivery extracts fingerprints shares

Fingerprint tolerances per dataset, per-contract fingerprints, extract records and the Delta
Sharing shares of contracts (dataex.delivery).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fingerprint_settings",
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("tolerances", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_table(
        "fingerprints",
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("consumer_id", sa.String(length=40), nullable=False),
        sa.Column("scheme", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["consumer_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    op.create_index(op.f("ix_fingerprints_consumer_id"), "fingerprints", ["consumer_id"], unique=False)
    op.create_index(op.f("ix_fingerprints_dataset_id"), "fingerprints", ["dataset_id"], unique=False)
    op.create_table(
        "extracts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("consumer_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("rows_charged", sa.BigInteger(), nullable=False),
        sa.Column("marked_cells", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["consumer_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_extracts_consumer_id"), "extracts", ["consumer_id"], unique=False)
    op.create_index(op.f("ix_extracts_contract_id"), "extracts", ["contract_id"], unique=False)
    op.create_index(op.f("ix_extracts_dataset_id"), "extracts", ["dataset_id"], unique=False)
    op.create_index(op.f("ix_extracts_file_sha256"), "extracts", ["file_sha256"], unique=False)
    op.create_table(
        "shares",
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    op.create_index(op.f("ix_shares_token_hash"), "shares", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_shares_token_hash"), table_name="shares")
    op.drop_table("shares")
    for column in ("file_sha256", "dataset_id", "contract_id", "consumer_id"):
        op.drop_index(op.f(f"ix_extracts_{column}"), table_name="extracts")
    op.drop_table("extracts")
    op.drop_index(op.f("ix_fingerprints_dataset_id"), table_name="fingerprints")
    op.drop_index(op.f("ix_fingerprints_consumer_id"), table_name="fingerprints")
    op.drop_table("fingerprints")
    op.drop_table("fingerprint_settings")
