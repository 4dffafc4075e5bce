"""The CLI's remote mode: ``dataex remote --url … --as … search|datasets`` through the SDK."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli import remote
from dataex.cli.common import As
from dataex.sdk import open
from tests.sdk.conftest import LiveNode


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `remote` a sub-command
    remote.register_commands(app)
    return app


@pytest.fixture(scope="module")
def dataset_id(live_node: LiveNode) -> str:
    with open(live_node.home, live_node.hospital) as provider:
        return provider.register(live_node.csv, "门诊 visits", "proprietary").id


def run(cli: typer.Typer, node: LiveNode, *args: str) -> tuple[int, str]:
    env = {"DATAEX_URL": node.url, "DATAEX_TOKEN": node.insurer}
    result = CliRunner().invoke(cli, ["remote", *args], env=env)
    return result.exit_code, result.stdout


def test_search_matches_the_local_search(cli: typer.Typer, live_node: LiveNode, dataset_id: str) -> None:
    code, out = run(cli, live_node, "search", "门诊", "--json")
    assert code == 0, out
    body = json.loads(out)
    with open(live_node.home, live_node.insurer) as local:
        assert [h["dataset_id"] for h in body["hits"]] == [d.id for d in local.search("门诊")]
    assert dataset_id in [h["dataset_id"] for h in body["hits"]]


def test_datasets_list_and_show(cli: typer.Typer, live_node: LiveNode, dataset_id: str) -> None:
    code, out = run(cli, live_node, "datasets", "list", "--json")
    assert code == 0 and dataset_id in [d["id"] for d in json.loads(out)]
    code, out = run(cli, live_node, "datasets", "show", dataset_id, "--json")
    assert code == 0 and json.loads(out)["id"] == dataset_id
    code, out = run(cli, live_node, "datasets", "show", dataset_id)
    assert code == 0 and dataset_id in out


def test_errors_are_the_envelope_with_the_refused_exit_code(cli: typer.Typer, live_node: LiveNode) -> None:
    code, out = run(cli, live_node, "datasets", "show", "ds_nope", "--json")
    assert code == 3
    assert json.loads(out) | {"error": ""} == {
        "ok": False, "error": "", "code": "dataset_not_found", "status": 404,
        "details": {"dataset_id": "ds_nope"},
    }  # fmt: skip


def test_a_node_that_is_down_exits_4_with_a_clear_message(cli: typer.Typer) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(
        cli, ["remote", "--url", f"http://127.0.0.1:{port}", "--timeout", "2", "search", "x", "--json"]
    )
    assert result.exit_code == 4
    assert json.loads(result.stdout)["code"] == "node_unreachable"


def top_level_app() -> typer.Typer:
    """How main.py wires ``dataex --url URL --as TOKEN search …`` (see the report)."""
    app = typer.Typer()

    @app.callback()
    def root(
        ctx: typer.Context,
        url: Annotated[str | None, typer.Option("--url", envvar="DATAEX_URL")] = None,
        token: As = None,
    ) -> None:
        remote.use_remote(ctx, url, token)

    @app.command("search")
    def search(
        ctx: typer.Context, query: str, as_json: Annotated[bool, typer.Option("--json")] = False
    ) -> None:
        r = remote.remote_of(ctx)
        assert r is not None  # this stand-in has no local mode
        remote.search(r, query, as_json=as_json)

    @app.command("init")
    def init() -> None:
        raise AssertionError("must not run with --url")

    return app


def test_top_level_url_reaches_the_remote_search(live_node: LiveNode, dataset_id: str) -> None:
    app = top_level_app()
    result = CliRunner().invoke(
        app, ["--url", live_node.url, "--as", live_node.insurer, "search", "门诊", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert dataset_id in [h["dataset_id"] for h in json.loads(result.stdout)["hits"]]
    refused = CliRunner().invoke(app, ["--url", live_node.url, "init"])
    assert refused.exit_code == 2 and "has no remote mode yet" in refused.output
