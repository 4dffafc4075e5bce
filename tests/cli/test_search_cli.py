"""``dataex search`` and ``dataex demand …`` through Typer's CliRunner on a small app."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dataex.cli.search import register_commands
from tests.catalog.catalog_data import describe, register_table
from tests.conftest import Node, add

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.callback()
    def _root() -> None:
        """dataex (test app)."""

    register_commands(app)
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, object]:
    result = runner.invoke(app, list(args))
    return result.exit_code, json.loads(result.stdout) if "--json" in args else result.stdout


def test_search_and_demand_commands(app: typer.Typer, sqlite_node: Node, tmp_path: Path) -> None:
    ex, home = sqlite_node.ex, str(sqlite_node.home)
    hospital = add(sqlite_node, "Ruijin Hospital")
    consumer = add(sqlite_node, "Triage AI", kind="ai_team", role="consumer")
    ct = register_table(
        ex,
        tmp_path,
        owner=hospital.party.id,
        title="胸部CT影像与放射科报告",
        columns=["image_path", "report_text", "age", "sex"],
    )
    visits = register_table(
        ex, tmp_path, owner=hospital.party.id, title="门诊就诊记录", columns=["visit_id", "age", "diagnosis"]
    )
    describe(ex, visits, description="门诊诊断记录。Outpatient visits with diagnoses.")
    describe(ex, ct, description="Chest CT images with radiology reports.")

    code, out = run(app, "search", "门诊 诊断", "--home", home, "--json")
    assert code == 0 and isinstance(out, dict)
    assert out["total"] == 1 and out["hits"][0]["dataset_id"] == visits
    code, text = run(app, "search", "outpatient", "--home", home)
    assert code == 0 and "«Outpatient»" in str(text)
    code, out = run(app, "search", "!!!，。？", "--home", home, "--json")
    assert code == 3 and isinstance(out, dict) and out["code"] == "invalid_input"
    code, out = run(app, "search", "radiology", "--license", "CC0-1.0", "--home", home, "--json")
    assert code == 0 and isinstance(out, dict) and out["total"] == 0

    deadline = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    post = [
        "demand",
        "post",
        "--title",
        "Chest CT with radiology reports",
        "--fields",
        "image,report,age,sex",
        "--purpose",
        "train a triage model",
        "--budget",
        "50000",
        "--deadline",
        deadline,
    ]
    code, out = run(app, *post, "--as", hospital.token, "--home", home, "--json")
    assert code == 3 and isinstance(out, dict) and out["code"] == "forbidden"
    code, out = run(
        app, *post[:-2], "--deadline", "2020-01-01", "--as", consumer.token, "--home", home, "--json"
    )
    assert code == 3 and isinstance(out, dict) and "in the past" in out["error"]
    code, out = run(
        app, *post[:-2], "--deadline", "tomorrow", "--as", consumer.token, "--home", home, "--json"
    )
    assert code == 3 and isinstance(out, dict) and "YYYY" not in out["error"] and "2026-12-31" in out["error"]
    code, out = run(app, *post, "--as", consumer.token, "--home", home, "--json")
    assert code == 0 and isinstance(out, dict) and out["deadline"] == deadline and out["budget"] == 50000
    demand_id = out["id"]

    code, out = run(app, "demand", "list", "--home", home, "--json")
    assert code == 0 and isinstance(out, list) and [d["id"] for d in out] == [demand_id]
    code, out = run(app, "demand", "matches", demand_id, "--as", consumer.token, "--home", home, "--json")
    assert code == 0 and isinstance(out, list) and out[0]["dataset_id"] == ct
    assert out[0]["matched_fields"][0] == {
        "field": "image",
        "column": "image_path",
        "reason": "name_part",
        "score": 0.7,
    }
    code, text = run(app, "demand", "matches", demand_id, "--home", home)
    assert code == 0 and "same_name" in str(text)
    code, out = run(app, "demand", "for-dataset", ct, "--as", hospital.token, "--home", home, "--json")
    assert code == 0 and isinstance(out, list) and out[0]["demand"]["id"] == demand_id
    code, out = run(app, "demand", "close", demand_id, "--as", consumer.token, "--home", home, "--json")
    assert code == 0 and isinstance(out, dict) and out["status"] == "closed"
    code, out = run(app, "demand", "list", "--status", "closed", "--home", home, "--json")
    assert code == 0 and isinstance(out, list) and len(out) == 1
    code, out = run(app, "reindex", "--home", home, "--json")
    assert code == 0 and out == {"ok": True, "datasets": 2}
