"""``describe`` and ``croissant export|import`` through Typer, on a small app built with register_commands."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import mlcroissant as mlc
import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.catalog import register_commands
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot

pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated, use Dataset instead.")


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    register_commands(app)
    return app


def invoke(app: typer.Typer, node: Node, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--home", str(node.home)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def dataset_id(sqlite_node: Node, visits_csv: Path) -> tuple[str, Actor]:
    owner = add(sqlite_node, "Ruijin Hospital")
    ds = sqlite_node.ex.register(
        visits_csv, owner=owner.party.id, title="Visits", license="CC-BY-4.0"
    ).dataset
    return ds.id, owner


def test_describe_then_export_validates(
    app: typer.Typer, sqlite_node: Node, dataset_id: tuple[str, Actor], tmp_path: Path
) -> None:
    ds, owner = dataset_id
    desc = tmp_path / "desc.md"
    desc.write_text("# 门诊\nOutpatient visits.\n", encoding="utf-8")
    out = invoke(
        app, sqlite_node, "describe", ds, "--description-file", str(desc), "--keywords", "医疗，outpatient",
        "--field", "diagnosis=ICD-10 code of the main diagnosis", "--semantic-type", "sex=wd:Q48277",
        "--annotation", "labels by two coders", "--collection", "HIS export, 2025-01..12",
        "--language", "zh", "--language", "en", "--rai", "use_cases=triage", "--rai", "use_cases=research",
        "--as", owner.token, "--json",
    )  # fmt: skip
    assert out["id"] == ds
    assert out["keywords"] == ["医疗", "outpatient"]
    assert out["rai"]["use_cases"] == ["triage", "research"]
    assert out["rai"]["data_collection"] == "HIS export, 2025-01..12"
    assert out["fields"]["diagnosis"]["description"] == "ICD-10 code of the main diagnosis"
    doc = invoke(app, sqlite_node, "croissant", "export", ds)
    assert doc["description"] == "# 门诊\nOutpatient visits."
    assert mlc.Dataset(jsonld=doc).metadata.data_annotation_protocol == ["labels by two coders"]
    remote = invoke(
        app, sqlite_node, "croissant", "export", ds, "--node-url", "--base-url", "https://n.example"
    )
    assert (
        remote["distribution"][0]["contentUrl"] == f"https://n.example/datasets/{ds}/files/canonical.parquet"
    )


def test_describe_refusals_change_nothing(
    app: typer.Typer, sqlite_node: Node, dataset_id: tuple[str, Actor]
) -> None:
    ds, _owner = dataset_id
    stranger = add(sqlite_node, "Someone else")
    before = snapshot(sqlite_node.ex)
    err = invoke(
        app, sqlite_node, "describe", ds, "--description", "x", "--as", stranger.token, "--json", code=3
    )
    assert err["code"] == "forbidden"
    assert_only_denials(sqlite_node.ex, before)  # the policy logs the refused party
    before = snapshot(sqlite_node.ex)
    err = invoke(app, sqlite_node, "describe", ds, "--field", "nope=x", "--json", code=3)
    assert err["code"] == "invalid_input"
    assert "'nope'" in err["error"]
    err = invoke(app, sqlite_node, "describe", ds, "--field", "no equals sign", "--json", code=3)
    assert "NAME=TEXT" in err["error"]
    assert snapshot(sqlite_node.ex) == before


def test_croissant_import(app: typer.Typer, sqlite_node: Node, tmp_path: Path) -> None:
    owner = add(sqlite_node, "School")
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "scores.csv").write_text("student,score\nann,91\nbo,78\n", encoding="utf-8")
    from tests.catalog.test_croissant import minimal_doc

    doc = minimal_doc("scores.csv", sha256=hashlib.sha256((folder / "scores.csv").read_bytes()).hexdigest())
    (folder / "c.json").write_text(json.dumps(doc), encoding="utf-8")
    [item] = invoke(
        app, sqlite_node, "croissant", "import", str(folder / "c.json"), "--as", owner.token, "--json"
    )
    assert item["created"] is True
    assert item["rows"] == 2
    assert sqlite_node.ex.get_dataset(item["id"]).owner_id == owner.party.id

    doc["distribution"][0]["contentUrl"] = "https://example.org/x.csv"
    (folder / "url.json").write_text(json.dumps(doc), encoding="utf-8")
    before = snapshot(sqlite_node.ex)
    err = invoke(
        app,
        sqlite_node,
        "croissant",
        "import",
        str(folder / "url.json"),
        "--owner",
        owner.party.id,
        "--json",
        code=3,
    )
    assert err["code"] == "unsafe_path"
    assert snapshot(sqlite_node.ex) == before
