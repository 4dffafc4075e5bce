"""Search and the demand board over HTTP: the same services, the same error envelope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes.search import router
from tests.catalog.catalog_data import describe, register_table
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(fresh_node: Node) -> Iterator[TestClient]:
    app = create_app(fresh_node.ex)
    if not any(getattr(r, "path", None) == "/search" for r in app.routes):
        app.include_router(router)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def parties(fresh_node: Node, tmp_path: Path) -> dict[str, Actor | str]:
    ex = fresh_node.ex
    hospital = add(fresh_node, "Ruijin Hospital")
    consumer = add(fresh_node, "Triage AI", kind="ai_team", role="consumer")
    ct = register_table(
        ex,
        tmp_path,
        owner=hospital.party.id,
        title="胸部CT影像与放射科报告",
        columns=["image_path", "report_text", "age", "sex"],
    )
    visits = register_table(
        ex,
        tmp_path,
        owner=hospital.party.id,
        title="门诊就诊记录",
        columns=["visit_id", "age", "diagnosis", "cost"],
    )
    describe(ex, ct, description="Chest CT images with radiology reports. 放射科诊断报告。")
    describe(ex, visits, description="门诊诊断与费用。Outpatient diagnoses.")
    return {"hospital": hospital, "consumer": consumer, "ct": ct, "visits": visits}


def test_search_ranks_and_highlights(client: TestClient, parties: dict[str, Actor | str]) -> None:
    consumer = parties["consumer"]
    assert isinstance(consumer, Actor)
    r = client.get("/search", params={"q": "门诊 诊断"}, headers=bearer(consumer.token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["mode"] == "all" and body["terms"] == ["门诊", "诊断"]
    assert body["hits"][0]["dataset_id"] == parties["visits"] and "<mark>" in body["hits"][0]["snippet"]
    r = client.get("/search", params={"q": "radiology"}, headers=bearer(consumer.token))
    assert r.json()["hits"][0]["dataset_id"] == parties["ct"]


@pytest.mark.parametrize("q", ["!!!，。？", "x" * 10_000])
def test_bad_queries_get_the_error_envelope(
    client: TestClient, parties: dict[str, Actor | str], q: str
) -> None:
    consumer = parties["consumer"]
    assert isinstance(consumer, Actor)
    r = client.get("/search", params={"q": q}, headers=bearer(consumer.token))
    assert r.status_code == 400
    assert r.json()["ok"] is False and r.json()["code"] == "invalid_input"


def test_search_needs_a_token(client: TestClient) -> None:
    assert client.get("/search", params={"q": "门诊"}).status_code == 401


def test_demand_board(client: TestClient, fresh_node: Node, parties: dict[str, Actor | str]) -> None:
    consumer, hospital = parties["consumer"], parties["hospital"]
    assert isinstance(consumer, Actor) and isinstance(hospital, Actor)
    demand = {
        "title": "Chest CT with radiology reports",
        "fields": ["image", "report", "age", "sex"],
        "purpose": "train a triage model",
        "budget": 50000,
        "deadline": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
    }
    before = snapshot(fresh_node.ex)
    bad = client.post("/demands", json={**demand, "budget": -5}, headers=bearer(consumer.token))
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_input"
    forbidden = client.post("/demands", json=demand, headers=bearer(hospital.token))
    assert forbidden.status_code == 403
    assert_only_denials(fresh_node.ex, before)

    r = client.post("/demands", json=demand, headers=bearer(consumer.token))
    assert r.status_code == 201, r.text
    posted = r.json()
    assert posted["id"].startswith("dmd_") and posted["deadline"] == demand["deadline"]
    listed = client.get("/demands", headers=bearer(hospital.token)).json()
    assert [d["id"] for d in listed] == [posted["id"]]
    assert client.get(f"/demands/{posted['id']}", headers=bearer(hospital.token)).json() == posted

    matches = client.get(f"/demands/{posted['id']}/matches", headers=bearer(consumer.token)).json()
    assert matches[0]["dataset_id"] == parties["ct"]
    assert {m["field"]: m["column"] for m in matches[0]["matched_fields"]} == {
        "image": "image_path",
        "report": "report_text",
        "age": "age",
        "sex": "sex",
    }
    for_ds = client.get(f"/datasets/{parties['ct']}/demands", headers=bearer(hospital.token))
    assert for_ds.status_code == 200 and for_ds.json()[0]["demand"]["id"] == posted["id"]
    assert client.get(f"/datasets/{parties['ct']}/demands", headers=bearer(consumer.token)).status_code == 403
    missing = client.get("/demands/dmd_nope/matches", headers=bearer(consumer.token))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"

    closed = client.post(f"/demands/{posted['id']}/close", headers=bearer(consumer.token))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.get("/demands", headers=bearer(consumer.token)).json() == []
