"""psi and compute jobs

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "psi_prepared_sets",
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("id_type", sa.String(length=40), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_file", sa.String(length=300), nullable=False),
        sa.Column("setup_file", sa.String(length=300), nullable=False),
        sa.Column("setup_sha256", sa.String(length=64), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("max_client_items", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("dataset_id", "column"),
    )
    op.create_table(
        "psi_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("consumer_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("id_type", sa.String(length=40), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("consumer_items", sa.BigInteger(), nullable=False),
        sa.Column("provider_items", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["consumer_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_psi_sessions_consumer_id"), "psi_sessions", ["consumer_id"], unique=False)
    op.create_index(op.f("ix_psi_sessions_contract_id"), "psi_sessions", ["contract_id"], unique=False)
    op.create_index(op.f("ix_psi_sessions_dataset_id"), "psi_sessions", ["dataset_id"], unique=False)
    op.create_table(
        "compute_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("consumer_id", sa.String(length=40), nullable=False),
        sa.Column("recipe", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("epsilon_nano", sa.BigInteger(), nullable=False),
        sa.Column("supervisor", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consumer_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_compute_jobs_consumer_id"), "compute_jobs", ["consumer_id"], unique=False)
    op.create_index(op.f("ix_compute_jobs_contract_id"), "compute_jobs", ["contract_id"], unique=False)
    op.create_index(op.f("ix_compute_jobs_dataset_id"), "compute_jobs", ["dataset_id"], unique=False)
    op.create_index(op.f("ix_compute_jobs_state"), "compute_jobs", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_compute_jobs_state"), table_name="compute_jobs")
    op.drop_index(op.f("ix_compute_jobs_dataset_id"), table_name="compute_jobs")
    op.drop_index(op.f("ix_compute_jobs_contract_id"), table_name="compute_jobs")
    op.drop_index(op.f("ix_compute_jobs_consumer_id"), table_name="compute_jobs")
    op.drop_table("compute_jobs")
    op.drop_index(op.f("ix_psi_sessions_dataset_id"), table_name="psi_sessions")
    op.drop_index(op.f("ix_psi_sessions_contract_id"), table_name="psi_sessions")
    op.drop_index(op.f("ix_psi_sessions_consumer_id"), table_name="psi_sessions")
    op.drop_table("psi_sessions")
    op.drop_table("psi_prepared_sets")
