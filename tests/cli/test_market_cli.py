"""``dataex wallet|product|value|ledger`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.market import register_commands
from tests.conftest import Node
from tests.market import Mkt, labelled, market, write

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
def m(sqlite_node: Node, tmp_path: Path) -> Mkt:
    return market(sqlite_node, tmp_path)


def run(app: typer.Typer, m: Mkt, *args: str, token: str | None = None) -> tuple[int, Any]:
    extra = ["--as", token] if token else []
    result = runner.invoke(app, [*args, "--home", str(m.node.home), "--json", *extra])
    assert result.stdout, (result.exit_code, result.output, result.exception)
    return result.exit_code, json.loads(result.stdout)


def test_wallet_product_value_ledger(app: typer.Typer, m: Mkt, tmp_path: Path) -> None:
    code, out = run(app, m, "wallet", "deposit", m.insurer.party.id, "100000")
    assert (code, out["amount_fen"]) == (0, 100000)
    code, out = run(app, m, "wallet", "show", token=m.insurer.token)
    assert (code, out["id"], out["balances"]["wallet"]) == (0, m.insurer.party.id, 100000)
    code, out = run(
        app,
        m,
        "product",
        "create",
        "--title",
        "Panel",
        "--dataset",
        m.ds_a,
        "--dataset",
        m.ds_b,
        "--split",
        "shapley",
        "--price",
        "3000",
    )
    assert code == 0 and out["id"].startswith("prd_")
    product = out["id"]
    val = write(labelled(40, 3), tmp_path / "val.csv")
    values = tmp_path / "values.csv"
    code, out = run(
        app,
        m,
        "value",
        product,
        "--target",
        "label",
        "--validation",
        str(val),
        "--k",
        "5",
        "--out",
        str(values),
        token=m.a.token,
    )
    assert code == 0 and set(out["provider_sums"]) == {m.a.party.id, m.b.party.id}
    assert "rows" not in out and values.exists()
    code, out = run(app, m, "product", "buy", product, token=m.insurer.token)
    assert code == 0 and sum(out["shares_fen"].values()) + out["fee_fen"] == 3000
    code, out = run(app, m, "product", "show", product)
    assert code == 0 and out["shares"]["basis"] == "shapley"
    code, out = run(app, m, "ledger", "show", token=m.a.token)
    assert code == 0 and set(out["accounts"]) == {f"revenue:{m.a.party.id}"}
    code, out = run(app, m, "ledger", "verify")
    assert (code, out["ok"], out["trial_balance"]) == (0, True, 0)


def test_bad_input_is_refused_with_the_error_envelope(app: typer.Typer, m: Mkt) -> None:
    for amount in ("0", "1.5", "abc", "10000000000000000"):
        code, out = run(app, m, "wallet", "deposit", m.insurer.party.id, amount)
        assert (code, out["ok"], out["code"]) == (3, False, "invalid_input")
    code, out = run(app, m, "wallet", "deposit", m.insurer.party.id, "10", token=m.insurer.token)
    assert (code, out["code"]) == (3, "forbidden")
    code, out = run(app, m, "ledger", "show", "--party", m.a.party.id, token=m.insurer.token)
    assert (code, out["code"]) == (3, "forbidden")
    code, out = run(app, m, "ledger", "verify")
    assert out["postings"] == 0
