"""The classify service on the demo hospital data: types, categories, grades, overrides, no leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dataex.api.app import create_app
from dataex.api.routes import privacy as privacy_routes
from dataex.catalog.datasets import Dataset
from dataex.db.models import ClassificationRow
from dataex.demo.data import hospital_visits
from dataex.errors import DatasetNotFound, Forbidden, InvalidInput, NotFound
from dataex.privacy.classify import classify_dataset, find_classification, get_classification, override
from dataex.privacy.grading import GRADES
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot


@pytest.fixture
def visits_table() -> pa.Table:
    """Demo visits plus a free-text column where every third note embeds an ID and a mobile."""
    t = hospital_visits(500, seed=11)
    ids, mobiles = t.column("id_no").to_pylist(), t.column("mobile").to_pylist()
    plain = "患者主诉咳嗽，无发热，建议多饮水休息。"
    notes = [
        f"患者主诉头痛三天，身份证号{i}，联系电话{m}，建议复诊。" if k % 3 == 0 else plain
        for k, (i, m) in enumerate(zip(ids, mobiles, strict=True))
    ]
    return t.append_column("notes", pa.array(notes))


@pytest.fixture
def dataset(fresh_node: Node, hospital: Actor, visits_table: pa.Table, tmp_path: Path) -> Dataset:
    path = tmp_path / "visits_notes.csv"
    pacsv.write_csv(visits_table, path)
    reg = fresh_node.ex.register(
        path, owner=hospital.party.id, title="门诊 2025", license="proprietary", analyze=False
    )
    return reg.dataset


def by_name(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in fields}


def classification_state(node: Node, dataset_id: str) -> Any:
    with node.ex.session() as s:
        row = s.get(ClassificationRow, dataset_id)
        return None if row is None else (row.grade, json.dumps(row.fields), json.dumps(row.overrides))


def test_hospital_visits_are_typed_categorized_and_graded(fresh_node: Node, dataset: Dataset) -> None:
    result = classify_dataset(fresh_node.ex, dataset.id)
    out = result.to_dict()
    assert set(out) == {"grade", "fields"}
    f = by_name(out["fields"])
    assert {k for v in out["fields"] for k in v} <= {
        "name",
        "type",
        "confidence",
        "category",
        "grade",
        "spans",
        "share",
    }
    assert (f["id_no"]["type"], f["id_no"]["category"]) == ("cn_resident_id", "personal")
    assert (f["mobile"]["type"], f["mobile"]["category"]) == ("cn_mobile", "personal")
    assert (f["name"]["type"], f["name"]["category"]) == ("person_name", "personal")
    assert (f["diagnosis"]["type"], f["diagnosis"]["category"]) == ("medical_diagnosis", "sensitive_personal")
    assert f["diagnosis_name"]["category"] == "sensitive_personal"
    for plain in ("visit_id", "patient_id", "sex", "visit_date", "department", "cost", "insured"):
        assert (f[plain]["type"], f[plain]["category"]) == ("none", "non_personal"), plain
    assert f["id_no"]["confidence"] >= 0.95 and f["mobile"]["confidence"] >= 0.95
    assert out["grade"] == max((x["grade"] for x in out["fields"]), key=GRADES.index) == "general-4"
    assert result.minors  # the clinic sees children under 14
    assert get_classification(fresh_node.ex, dataset.id).to_dict() == out


def test_free_text_reports_span_counts_and_never_a_value(
    fresh_node: Node, dataset: Dataset, visits_table: pa.Table
) -> None:
    result = classify_dataset(fresh_node.ex, dataset.id)
    notes = by_name(result.fields)["notes"]
    assert notes["type"] == "free_text_with_pii"
    assert notes["spans"]["cn_resident_id"] == notes["spans"]["cn_mobile"] == 167  # every third of 500
    assert notes["category"] == "personal"
    with fresh_node.ex.session() as s:
        entry = fresh_node.ex.log.get_entry(s, fresh_node.ex.log.size(s) - 1)
    assert entry.event == "dataset.classified" and entry.body["data"]["dataset_id"] == dataset.id
    assert entry.body["data"]["fields"] == [
        {k: v for k, v in x.items() if k != "note"} for x in result.fields
    ]
    everything = json.dumps(result.to_dict(), ensure_ascii=False) + entry.raw.decode()
    everything += json.dumps(result.overrides, ensure_ascii=False)
    for column in ("id_no", "mobile", "name", "notes", "patient_id", "visit_id"):
        for value in set(visits_table.column(column).to_pylist()):
            assert str(value) not in everything, f"a {column} value leaked"


def test_override_needs_a_reason_and_is_logged(fresh_node: Node, dataset: Dataset, hospital: Actor) -> None:
    ex = fresh_node.ex
    classify_dataset(ex, dataset.id)
    before, stored = snapshot(ex), classification_state(fresh_node, dataset.id)
    for reason in ("", "   "):
        with pytest.raises(InvalidInput, match="reason"):
            override(ex, dataset.id, "patient_id", "passport", reason=reason, actor=hospital.party.id)
    with pytest.raises(InvalidInput, match="no field"):
        override(ex, dataset.id, "nope", "passport", reason="x", actor=hospital.party.id)
    with pytest.raises(InvalidInput, match="unknown type"):
        override(ex, dataset.id, "patient_id", "ssn", reason="x", actor=hospital.party.id)
    consumer = add(fresh_node, "AI lab", kind="ai_team", role="consumer")
    before = snapshot(ex)
    with pytest.raises(Forbidden):
        override(ex, dataset.id, "patient_id", "passport", reason="x", actor=consumer.party.id)
    with pytest.raises(DatasetNotFound):
        override(ex, "ds_missing", "patient_id", "passport", reason="x", actor=hospital.party.id)
    assert_only_denials(ex, before, 2)  # both refused by the policy, logged as access.denied
    assert classification_state(fresh_node, dataset.id) == stored

    result = override(
        ex,
        dataset.id,
        "patient_id",
        "passport",
        reason="HIS export puts passports here",
        actor=hospital.party.id,
    )
    f = by_name(result.fields)["patient_id"]
    assert (f["type"], f["category"], f["grade"], f["confidence"]) == (
        "passport",
        "personal",
        "general-3",
        1.0,
    )
    assert result.overrides["patient_id"]["reason"] == "HIS export puts passports here"
    with ex.session() as s:
        entry = ex.log.get_entry(s, ex.log.size(s) - 1)
    assert entry.event == "classification.overridden"
    assert entry.body["actor"] == hospital.party.id
    assert entry.body["data"]["reason"] == "HIS export puts passports here"
    assert entry.body["data"]["from"]["type"] == "none" and entry.body["data"]["to"]["type"] == "passport"
    # A later re-classification keeps the override.
    again = classify_dataset(ex, dataset.id)
    assert by_name(again.fields)["patient_id"]["type"] == "passport"
    # Overriding the only sensitive columns away lowers the grade, and the operator may do it too.
    for column in ("diagnosis", "diagnosis_name"):
        override(ex, dataset.id, column, "none", reason="codes are synthetic", actor="operator")
    assert get_classification(ex, dataset.id).grade == "general-4"  # minors keep it sensitive


def test_unclassified_dataset_is_not_found_until_classified(fresh_node: Node, dataset: Dataset) -> None:
    assert find_classification(fresh_node.ex, dataset.id) is None
    with pytest.raises(NotFound, match="not been classified"):
        get_classification(fresh_node.ex, dataset.id)
    with pytest.raises(DatasetNotFound):
        get_classification(fresh_node.ex, "ds_missing")


def test_adult_non_personal_data_grades_low(sqlite_node: Node, tmp_path: Path) -> None:
    ex = sqlite_node.ex
    owner, _ = ex.create_party("Stats bureau", kind="government", role="provider")
    path = tmp_path / "gdp.csv"
    path.write_text(
        "province,year,gdp,company_code\n浙江,2024,9.0,91330100799655058B\n广东,2024,14.1,914403001922038216\n"
    )
    ds = ex.register(path, owner=owner.id, title="GDP", license="CC-BY-4.0").dataset
    result = classify_dataset(ex, ds.id, actor=owner.id)
    f = by_name(result.fields)
    assert f["company_code"]["type"] == "cn_social_credit_code"
    assert {x["category"] for x in result.fields} == {"non_personal"}
    assert result.grade == "general-1" and not result.minors


def cli_app() -> typer.Typer:
    from dataex.cli.privacy import register_commands

    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command keeps Typer from collapsing the group
        """Print nothing."""

    register_commands(app)
    return app


def test_cli_shows_classifies_and_overrides(sqlite_node: Node, visits_csv: Path) -> None:
    ex = sqlite_node.ex
    hospital = add(sqlite_node, "Ruijin Hospital")
    ds = ex.register(visits_csv, owner=hospital.party.id, title="门诊", license="x").dataset
    runner, app, home = CliRunner(), cli_app(), str(sqlite_node.home)
    r = runner.invoke(app, ["classify", ds.id, "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["id"] == ds.id and by_name(out["fields"])["id_no"]["type"] == "cn_resident_id"
    r = runner.invoke(app, ["classify", ds.id, "--set", "patient_id=passport", "--home", home, "--json"])
    assert r.exit_code == 3 and json.loads(r.stdout)["code"] == "invalid_input"
    r = runner.invoke(
        app,
        ["classify", ds.id, "--set", "patient_id=passport", "--reason", "renamed", "--as", hospital.token,
         "--home", home, "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["overrides"]["patient_id"]["actor"] == hospital.party.id
    r = runner.invoke(app, ["classify", ds.id, "--home", home])
    assert r.exit_code == 0 and "general-4" in r.stdout and "id_no" in r.stdout


def test_api_reads_for_any_party_and_overrides_for_the_owner(
    fresh_node: Node, dataset: Dataset, hospital: Actor
) -> None:
    app = create_app(fresh_node.ex)
    app.include_router(privacy_routes.router)
    consumer = add(fresh_node, "AI lab", kind="ai_team", role="consumer")
    classify_dataset(fresh_node.ex, dataset.id)
    with TestClient(app) as c:
        url = f"/datasets/{dataset.id}/classification"
        assert c.get(url).status_code == 401
        r = c.get(url, headers={"Authorization": f"Bearer {consumer.token}"})
        assert r.status_code == 200 and r.json()["grade"] == "general-4"
        body = {"field": "patient_id", "type": "passport", "reason": "renamed"}
        r = c.post(url + "/overrides", json=body, headers={"Authorization": f"Bearer {consumer.token}"})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = c.post(
            url + "/overrides",
            json={**body, "reason": ""},
            headers={"Authorization": f"Bearer {hospital.token}"},
        )
        assert r.status_code == 400
        r = c.post(url + "/overrides", json=body, headers={"Authorization": f"Bearer {hospital.token}"})
        assert r.status_code == 200 and by_name(r.json()["fields"])["patient_id"]["type"] == "passport"
