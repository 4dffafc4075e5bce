"""search index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00

The table ``search_documents`` holds each dataset's texts already segmented into space-separated
terms (see dataex.catalog.text), and copies of the dataset's ``owner_id``, ``license``
(lower-cased) and ``visibility`` so that a search filters without joins. The full-text index over
it depends on the backend:

* SQLite: an FTS5 table ``search_fts`` with ``search_documents`` as external content
  (``content_rowid='id'``), tokenizer ``unicode61``, kept in sync by three triggers;
* PostgreSQL: a stored generated column ``tsv`` (``to_tsvector('simple', …)`` with weights A–D)
  and a GIN index on it.

Neither is described by the models; ``dataex.db.models.include_name`` hides them from autogenerate.
A later batch migration that recreates ``search_documents`` on SQLite drops the triggers: recreate
them with ``create_sqlite_index`` and run ``INSERT INTO search_fts(search_fts) VALUES('rebuild')``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("title", "keywords", "column_names", "field_descriptions", "description")

PG_TSV = (
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, keywords || ' ' || column_names), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, field_descriptions), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, description), 'D')"
)


def create_sqlite_index() -> None:
    cols = ", ".join(COLUMNS)
    new = ", ".join(f"new.{c}" for c in COLUMNS)
    old = ", ".join(f"old.{c}" for c in COLUMNS)
    op.execute(
        f"CREATE VIRTUAL TABLE search_fts USING fts5({cols}, content='search_documents', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
        f"INSERT INTO search_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO search_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )


def create_postgresql_index() -> None:
    op.execute(f"ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({PG_TSV}) STORED")
    op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("column_names", sa.Text(), nullable=False),
        sa.Column("field_descriptions", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("license", sa.String(length=100), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_documents_dataset_id"), ["dataset_id"], unique=True)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        create_sqlite_index()
    elif dialect == "postgresql":
        create_postgresql_index()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_documents_dataset_id"))
    op.drop_table("search_documents")
