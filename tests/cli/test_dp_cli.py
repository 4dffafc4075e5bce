"""``dataex privacy set`` and ``dataex query`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.dp import register_commands
from tests.conftest import Node
from tests.contracts import Market, market
from tests.privacy.dp import QUERY, small_visits

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """dataex (test)"""

    register_commands(app)
    return app


@pytest.fixture
def m(sqlite_node: Node, tmp_path: Path) -> Market:
    return market(sqlite_node, small_visits(tmp_path / "visits.csv"))


def run(app: typer.Typer, m: Market, *args: str, token: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--home", str(m.node.home), "--json", "--as", token])
    return result.exit_code, json.loads(result.stdout)


def test_privacy_set_then_query_explain_and_answer(app: typer.Typer, m: Market, tmp_path: Path) -> None:
    (tmp_path / "dx.txt").write_text("A\nB\nC\nZ\n", encoding="utf-8")
    code, out = run(
        app, m, "privacy", "set", m.dataset_id, "--unit", "patient_id", "--max-contributions", "2",
        "--bounds", "cost=0:250", "--bounds", "age=0:120", "--domain", f"diagnosis=@{tmp_path / 'dx.txt'}",
        token=m.hospital.token,
    )  # fmt: skip
    assert code == 0, out
    assert out["bounds"] == {"cost": [0.0, 250.0], "age": [0.0, 120.0]}
    assert out["domains"] == {"diagnosis": ["A", "B", "C", "Z"]}
    contract = m.contract("L1")
    code, plan = run(
        app, m, "query", contract.id, QUERY, "--epsilon", "0.5", "--explain", token=m.insurer.token
    )
    assert code == 0, plan
    assert plan["explain"]["charged"] is False
    code, answer = run(app, m, "query", contract.id, QUERY, "--epsilon", "0.5", token=m.insurer.token)
    assert code == 0, answer
    assert answer["epsilon_charged"] == 0.5 and answer["epsilon_remaining"] == 2.5
    assert [r["diagnosis"] for r in answer["rows"]] == ["A", "B", "C", "Z"]


def test_bad_options_and_refusals(app: typer.Typer, m: Market) -> None:
    code, out = run(app, m, "privacy", "set", m.dataset_id, "--unit", "row", "--bounds", "cost=0-9",
                    token=m.hospital.token)  # fmt: skip
    assert code == 3 and out["code"] == "invalid_input"
    contract = m.contract("L1")
    code, out = run(
        app, m, "query", contract.id, "SELECT * FROM visits", "--epsilon", "1", token=m.insurer.token
    )
    assert code == 3 and out["code"] == "query_refused"
    code, out = run(app, m, "query", contract.id, QUERY, token=m.insurer.token)  # no --epsilon
    assert code == 3 and out["code"] == "invalid_input"
