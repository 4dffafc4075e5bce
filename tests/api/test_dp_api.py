"""The DP SQL HTTP API: PUT /datasets/{id}/privacy (owner) and POST /contracts/{id}/query (consumer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes import contracts, dp
from tests.conftest import Node
from tests.privacy.dp import QUERY, DpMarket, dp_market, small_visits


@pytest.fixture
def dm(sqlite_node: Node, tmp_path: Path) -> DpMarket:
    return dp_market(sqlite_node, small_visits(tmp_path / "visits.csv"))


@pytest.fixture
def client(dm: DpMarket) -> TestClient:
    app = create_app(dm.m.ex)
    app.include_router(contracts.router)
    app.include_router(dp.router)
    return TestClient(app)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_query_explain_and_cache(dm: DpMarket, client: TestClient) -> None:
    url = f"/contracts/{dm.contract.id}/query"
    me = auth(dm.m.insurer.token)
    plan = client.post(url, json={"sql": QUERY, "epsilon": 0.5, "explain": True}, headers=me)
    assert plan.status_code == 200, plan.text
    assert plan.json()["explain"]["charged"] is False and plan.json()["epsilon_remaining"] == 3.0
    r = client.post(url, json={"sql": QUERY, "epsilon": 0.5}, headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["diagnosis", "n", "total", "avg_cost"]
    assert len(body["rows"]) == len(body["intervals"]) == 4
    assert (body["epsilon_charged"], body["epsilon_remaining"]) == (0.5, 2.5)
    again = client.post(url, json={"sql": QUERY, "epsilon": 0.5}, headers=me).json()
    assert again["cached"] and again["rows"] == body["rows"] and again["epsilon_remaining"] == 2.5


def test_query_errors_use_the_envelope(dm: DpMarket, client: TestClient) -> None:
    url = f"/contracts/{dm.contract.id}/query"
    r = client.post(
        url, json={"sql": "SELECT * FROM visits", "epsilon": 0.5}, headers=auth(dm.m.insurer.token)
    )
    assert r.status_code == 400 and r.json()["code"] == "query_refused"
    r = client.post(url, json={"sql": QUERY, "epsilon": 9}, headers=auth(dm.m.insurer.token))
    assert r.status_code == 409 and r.json()["code"] == "budget_exhausted"
    r = client.post(url, json={"sql": QUERY, "epsilon": 0.5}, headers=auth(dm.m.auditor.token))
    assert r.status_code == 403 and r.json()["code"] == "access_denied"
    assert client.post(url, json={"sql": QUERY, "epsilon": 0.5}).status_code == 401


def test_put_privacy_owner_only(dm: DpMarket, client: TestClient) -> None:
    url = f"/datasets/{dm.m.dataset_id}/privacy"
    body = {"unit": "patient_id", "max_contributions": 3, "bounds": {"cost": [0, 500]}, "domains": {}}
    r = client.put(url, json=body, headers=auth(dm.m.hospital.token))
    assert r.status_code == 200, r.text
    assert r.json()["bounds"] == {"cost": [0.0, 500.0]} and r.json()["max_contributions"] == 3
    r = client.put(url, json=body, headers=auth(dm.m.insurer.token))
    assert r.status_code == 403
