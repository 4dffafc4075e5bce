"""``dataex extract``, ``trace``, ``contract profile`` and ``fingerprint set`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from dataex.cli import contracts
from dataex.cli import delivery as delivery_cli
from tests.conftest import Node
from tests.delivery import delivery


def cli() -> typer.Typer:
    app = typer.Typer()
    contracts.register_commands(app)
    delivery_cli.register_commands(app)
    return app


def test_the_delivery_commands(sqlite_node: Node, tmp_path: Path) -> None:
    d = delivery(sqlite_node, tmp_path, rows=3000, consumers=1, tolerate=False)
    insurer = d.consumers[0]
    app, runner, home = cli(), CliRunner(), ["--home", str(sqlite_node.home)]
    r = runner.invoke(
        app,
        [
            "fingerprint",
            "set",
            d.dataset_id,
            "--tolerate",
            "cost=1",
            "--as",
            d.hospital.token,
            *home,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tolerances"]["cost"] == {"units": 1, "decimals": 2, "kind": "number"}
    c = d.contract(insurer, max_rows=10_000)
    out = tmp_path / "visits.csv"
    r = runner.invoke(
        app, ["extract", c.id, "--as", insurer.token, "--out", str(out), "--format", "csv", *home, "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 3000
    leak = tmp_path / "leak.csv"
    leak.write_text("".join(out.read_text().splitlines(keepends=True)[:1501]))
    r = runner.invoke(app, ["trace", str(leak), *home, "--json"])
    body = json.loads(r.stdout)
    assert body["status"] == "match" and body["matches"][0]["contract_id"] == c.id
    assert body["matches"][0]["consumer_id"] == insurer.party.id
    r = runner.invoke(app, ["contract", "profile", c.id, "--as", insurer.token, *home])
    profile = json.loads(r.stdout)
    assert profile["shareCredentialsVersion"] == 1 and profile["bearerToken"].startswith("dxs_")
    r = runner.invoke(app, ["extract", c.id, "--out", str(out), *home, "--json"])
    assert r.exit_code == 3 and json.loads(r.stdout)["code"] == "unauthorized"
