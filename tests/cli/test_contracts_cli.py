"""``dataex offer …`` and ``dataex contract …`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.contracts import register_commands
from tests.conftest import Node
from tests.contracts import Market, market

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
def m(sqlite_node: Node, visits_csv: Path) -> Market:
    return market(sqlite_node, visits_csv)


def run(app: typer.Typer, m: Market, *args: str, token: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    extra = ["--as", token] if token else []
    result = runner.invoke(app, [*args, "--home", str(m.node.home), "--json", *extra])
    return result.exit_code, json.loads(result.stdout)


def test_offer_and_contract_flow(app: typer.Typer, m: Market) -> None:
    code, offer = run(
        app, m, "offer", "create", m.dataset_id, "--tier", "L1", "--epsilon", "3.0",
        "--purpose", "research,ai-training", "--expires", "2099-06-30", "--price", "2000",
        "--approval", "manual", token=m.hospital.token,
    )  # fmt: skip
    assert code == 0, offer
    assert (offer["price"], offer["tier"]) == ({"amount_fen": 2000, "unit": "flat"}, "L1")
    code, l3 = run(
        app, m, "offer", "create", m.dataset_id, "--tier", "L3", "--max-rows", "100000",
        "--purpose", "ai-training", "--prohibit", "redistribution", "--price", "0.02/row",
        token=m.hospital.token,
    )  # fmt: skip
    assert code == 0, l3
    assert l3["price"] == {"amount_fen": 2, "unit": "row"}
    code, offers = run(app, m, "offer", "list", "--dataset", m.dataset_id)
    assert [o["id"] for o in offers] == [offer["id"], l3["id"]]
    code, c = run(
        app, m, "contract", "request", offer["id"], "--purpose", "ai-training", "--note", "triage model",
        token=m.insurer.token,
    )  # fmt: skip
    assert (code, c["state"]) == (0, "requested")
    code, c = run(app, m, "contract", "approve", c["id"], token=m.hospital.token)
    assert (code, c["state"]) == (0, "active")
    code, shown = run(app, m, "contract", "show", c["id"], token=m.auditor.token)
    assert shown["remaining"]["epsilon"] == 3.0
    code, doc = run(app, m, "contract", "odrl", c["id"], token=m.insurer.token)
    assert doc["@type"] == "Agreement"
    code, c = run(app, m, "contract", "revoke", c["id"], "--reason", "audit finding")
    assert (code, c["state"], c["reason"]) == (0, "revoked", "audit finding")  # the local operator revokes


def test_errors_are_envelopes_with_exit_code_3(app: typer.Typer, m: Market) -> None:
    code, err = run(
        app, m, "offer", "create", m.dataset_id, "--tier", "L1", "--epsilon", "-1", "--purpose", "x",
        token=m.hospital.token,
    )  # fmt: skip
    assert (code, err["ok"], err["code"]) == (3, False, "invalid_input")
    code, err = run(
        app, m, "offer", "create", m.dataset_id, "--tier", "L1", "--epsilon", "1", "--purpose", "x",
        token=m.insurer.token,
    )  # fmt: skip
    assert (code, err["code"]) == (3, "forbidden")
    code, err = run(app, m, "contract", "show", "ctr_nope", token=m.insurer.token)
    assert (code, err["code"]) == (3, "contract_not_found")
    code, err = run(app, m, "contract", "show", "ctr_nope", token="dxt_wrong")
    assert (code, err["code"]) == (3, "unauthorized")
