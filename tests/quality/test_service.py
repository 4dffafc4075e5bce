"""The quality service on both backends: stored and logged together, nothing on error; CLI and API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from dataex.api.app import create_app
from dataex.api.routes import quality as quality_routes
from dataex.cli.quality import register_commands
from dataex.db.models import LogEntryRow, QualityReportRow
from dataex.errors import Forbidden, InvalidInput, NotFound
from dataex.quality import evaluate, get_report
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot


def _register(node: Node, owner: Actor, visits_csv: Path) -> str:
    """Registers without the automatic analysis, then classifies: the quality report is not there yet."""
    from dataex.privacy.classify import classify_dataset

    ds = node.ex.register(
        visits_csv, owner=owner.party.id, title="visits", license="CC-BY-4.0", analyze=False
    )
    classify_dataset(node.ex, ds.dataset.id)
    return ds.dataset.id


def _reports(node: Node) -> int:
    with node.ex.session() as s:
        return int(s.scalar(select(func.count()).select_from(QualityReportRow)) or 0)


def test_evaluate_stores_and_logs(fresh_node: Node, hospital: Actor, visits_csv: Path) -> None:
    ex = fresh_node.ex
    ds = _register(fresh_node, hospital, visits_csv)
    with pytest.raises(NotFound, match="no quality report yet"):
        get_report(ex, ds)
    result = evaluate(ex, ds, actor=hospital.party)
    assert result.grade in "ABCD" and set(result.report["dimensions"]) == {
        "normativity", "completeness", "accuracy", "consistency", "timeliness", "accessibility",
    }  # fmt: skip
    with ex.session() as s:
        row = s.get(QualityReportRow, ds)
        assert row is not None and row.grade == result.grade and row.report["rows"] == 500
        entry = s.scalars(select(LogEntryRow).where(LogEntryRow.event == "dataset.evaluated")).one()
    text = entry.entry.decode()
    assert '"grade"' in text and ds in text
    assert result.report["columns"][2]["name"] == "name"
    data = json.loads(text)["data"]
    data.pop("dataset_id")  # a random id, which may contain any digits
    logged = json.dumps(data, ensure_ascii=False)
    assert not any(str(v) in logged for v in ("张", "330", "138"))  # no values in the log
    again = evaluate(ex, ds)  # re-evaluation replaces the report
    assert again.grade == result.grade and _reports(fresh_node) == 1


def test_nothing_is_stored_on_error(
    fresh_node: Node, hospital: Actor, visits_csv: Path, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    ds = _register(fresh_node, hospital, visits_csv)
    consumer = add(fresh_node, "AI lab", kind="ai_team", role="consumer")
    before = snapshot(ex)
    bad = tmp_path / "rules.yaml"
    bad.write_text('- {column: age, between: [0, 120]}\n- expr: "(select 1)"\n')
    with pytest.raises(InvalidInput, match="line 2"):
        evaluate(ex, ds, rules_path=bad)
    with pytest.raises(InvalidInput, match="not a column"):
        evaluate(ex, ds, target="nope")
    with pytest.raises(InvalidInput, match="class"):
        evaluate(ex, ds, target="visit_id")
    with pytest.raises(Forbidden):
        evaluate(ex, ds, actor=consumer.party)
    assert_only_denials(ex, before)
    assert _reports(fresh_node) == 0


def test_cli_quality(sqlite_node: Node, visits_csv: Path, tmp_path: Path) -> None:
    owner = add(sqlite_node, "Ruijin Hospital")
    ds = _register(sqlite_node, owner, visits_csv)
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register_commands(app)
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {column: age, between: [0, 60]}\n")
    html = tmp_path / "report.html"
    args = ["quality", ds, "--home", str(sqlite_node.home), "--as", owner.token, "--rules", str(rules)]
    result = CliRunner().invoke(app, [*args, "--json", "--html", str(html)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["id"] == ds and out["view"] == "owner" and out["rules"][0]["violations"] > 0
    assert html.read_text().startswith("<!doctype html>")
    bad = CliRunner().invoke(app, [*args[:-2], "--target", "nope", "--json"])
    assert bad.exit_code == 3 and json.loads(bad.stdout)["code"] == "invalid_input"


def test_api_quality(sqlite_node: Node, visits_csv: Path) -> None:
    owner = add(sqlite_node, "Ruijin Hospital")
    consumer = add(sqlite_node, "AI lab", kind="ai_team", role="consumer")
    ds = _register(sqlite_node, owner, visits_csv)
    app = create_app(sqlite_node.ex)
    app.include_router(quality_routes.router)
    with TestClient(app) as client:
        assert client.get(f"/datasets/{ds}/quality").status_code == 404
        body = {"rules": "- {column: age, between: [0, 60]}\n", "target": None}
        refused = client.post(f"/datasets/{ds}/quality", json=body, headers=_bearer(consumer.token))
        assert refused.status_code == 403
        done = client.post(f"/datasets/{ds}/quality", json=body, headers=_bearer(owner.token))
        assert done.status_code == 200 and done.json()["view"] == "owner"
        assert "rows" in done.json()["rules"][0]
        public = client.get(f"/datasets/{ds}/quality").json()
        assert public["view"] == "public" and "rows" not in public["rules"][0]
        assert public["label_issues"]["rows"] is None
        page = client.get(f"/datasets/{ds}/quality.html", headers=_bearer(consumer.token))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        bad = client.post(
            f"/datasets/{ds}/quality", json={"rules": "- {column: x, foo: 1}"}, headers=_bearer(owner.token)
        )
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_input"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
