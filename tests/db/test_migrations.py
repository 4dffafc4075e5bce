"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dataex.db.models import Base, LogEntryRow, include_name
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


def test_an_older_node_is_refused_until_upgraded_then_logged(fresh_node: Node) -> None:
    import json

    import pytest
    from alembic import command
    from sqlalchemy import select
    from typer.testing import CliRunner

    from dataex.cli.main import app
    from dataex.db import engine as db
    from dataex.errors import NodeNeedsUpgrade
    from dataex.exchange import Exchange

    ex, home = fresh_node.ex, fresh_node.home
    head = db.head_revision()
    assert db.current_revision(ex.engine) == head
    command.downgrade(db._alembic_config(ex.engine), "-1")  # as a node made by the previous release
    older = db.current_revision(ex.engine)
    assert older is not None and older != head
    with pytest.raises(NodeNeedsUpgrade, match="dataex node upgrade"):
        Exchange.open(home=home)
    runner = CliRunner()
    result = runner.invoke(app, ["node", "upgrade", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"from": older, "to": head, "upgraded": True}
    again = runner.invoke(app, ["node", "upgrade", "--home", str(home), "--json"])
    assert json.loads(again.output) == {"from": head, "to": head, "upgraded": False}
    reopened = Exchange.open(home=home)
    try:
        report = reopened.audit()
        assert report.ok, report.problems
        with reopened.session() as s:
            events = list(s.scalars(select(LogEntryRow.event).order_by(LogEntryRow.idx)))
        assert events.count("node.upgraded") == 1  # logged once, not by the no-op second run
    finally:
        reopened.close()
