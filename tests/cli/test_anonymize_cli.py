"""``dataex anonymize`` through Typer, on a small app built with register_commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.anonymize import register_commands
from dataex.privacy.anonymize.verify import verify_file
from tests.conftest import Actor, Node, add
from tests.privacy.anonymize.adult import ADULT


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """dataex (test app)."""

    register_commands(app)
    return app


def invoke(app: typer.Typer, node: Node, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--home", str(node.home)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def adult(sqlite_node: Node) -> tuple[str, Actor]:
    owner = add(sqlite_node, "Census Office", kind="government")
    ds = sqlite_node.ex.register(
        ADULT / "adult_subset.csv", owner=owner.party.id, title="Adult", license="CC-BY-4.0"
    )
    return ds.dataset.id, owner


def test_anonymize_with_arx_hierarchies_and_out(
    app: typer.Typer, sqlite_node: Node, adult: tuple[str, Actor], tmp_path: Path
) -> None:
    ds, owner = adult
    out = tmp_path / "anon.csv"
    args = [
        "anonymize",
        ds,
        "--qi",
        "sex,age,race",
        "--qi",
        "education",
        "--sensitive",
        "salary-class",
        "--k",
        "5",
        "--l",
        "2",
        "--max-suppression",
        "0.02",
        "--metric",
        "loss",
        "--hierarchy",
        f"age={ADULT / 'adult_hierarchy_age.csv'}",
        "--hierarchy",
        f"education={ADULT / 'adult_hierarchy_education.csv'}",
        "--out",
        str(out),
        "--as",
        owner.token,
        "--json",
    ]
    body = invoke(app, sqlite_node, *args)
    assert body["id"].startswith("ds_") and body["derived_from"] == ds
    assert set(body["levels"]) == {"sex", "age", "race", "education"}
    assert body["k"] >= 5 and body["l"] == 2 and "prosecutor" in body["risk"]["after"]
    assert set(body["hierarchies"]) == {"sex", "age", "race", "education"}
    v = verify_file(out, ["sex", "age", "race", "education"], ["salary-class"])
    assert v["k"] >= 5 and v["rows"] == body["rows"]


def test_check_and_mondrian_and_text_output(
    app: typer.Typer, sqlite_node: Node, adult: tuple[str, Actor]
) -> None:
    ds, _owner = adult
    body = invoke(app, sqlite_node, "anonymize", ds, "--check", "--qi", "sex,age,race", "--k", "5", "--json")
    assert body["achieved"]["k"] == 1 and body["satisfied"]["k"] is False
    text = invoke(
        app, sqlite_node, "anonymize", ds, "--qi", "sex,age", "--k", "10", "--algorithm", "mondrian"
    )
    assert "anonymize" in text


def test_errors_are_the_json_envelope(app: typer.Typer, sqlite_node: Node, adult: tuple[str, Actor]) -> None:
    ds, _owner = adult
    body = invoke(app, sqlite_node, "anonymize", ds, "--qi", "sex", "--k", "1", "--json", code=3)
    assert body["ok"] is False and body["code"] == "invalid_input" and "k must be" in body["error"]
    bad = invoke(
        app, sqlite_node, "anonymize", ds, "--qi", "sex", "--k", "2", "--hierarchy", "sex", "--json", code=3
    )
    assert "COLUMN=PATH" in bad["error"]
