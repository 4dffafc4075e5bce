"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dataex.db.models import Base, include_name
from tests.conftest import Node


def test_migrations_match_models(fresh_node: Node) -> None:
    with fresh_node.ex.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata
        )
    assert diff == []


def test_sqlite_runs_in_wal_mode(sqlite_node: Node) -> None:
    with sqlite_node.ex.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
