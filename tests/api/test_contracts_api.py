"""The offers and contracts HTTP API: status codes, error envelopes, denials logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes import contracts
from dataex.contracts.odrl import parse
from tests.conftest import Node
from tests.contracts import Market, log_events, log_size, market, rows_snapshot


@pytest.fixture
def m(sqlite_node: Node, visits_csv: Path) -> Market:
    return market(sqlite_node, visits_csv)


@pytest.fixture
def client(m: Market) -> TestClient:
    app = create_app(m.ex)
    app.include_router(contracts.router)
    return TestClient(app)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_offer_request_approve_show_odrl(m: Market, client: TestClient) -> None:
    h, i = auth(m.hospital.token), auth(m.insurer.token)
    body = {
        "dataset_id": m.dataset_id,
        "tier": "L1",
        "purposes": ["research", "ai-training"],
        "epsilon": 3.0,
        "expires": "2099-06-30",
        "price": 2000,
    }
    r = client.post("/offers", json=body, headers=h)
    assert r.status_code == 201, r.text
    offer = r.json()
    assert offer["price"] == {"amount_fen": 2000, "unit": "flat"}
    assert offer["policy"]["@type"] == "Offer"
    assert [o["id"] for o in client.get(f"/offers?dataset={m.dataset_id}", headers=i).json()] == [offer["id"]]
    r = client.post(
        f"/offers/{offer['id']}/contracts", json={"purpose": "ai-training", "note": "triage"}, headers=i
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json()["state"] == "requested"
    r = client.post(f"/contracts/{cid}/approve", json={}, headers=h)
    assert (r.status_code, r.json()["state"]) == (200, "active")
    shown = client.get(f"/contracts/{cid}", headers=auth(m.auditor.token)).json()
    assert shown["remaining"] == {"epsilon": 3.0, "delta": None, "rows": None, "queries": None}
    r = client.get(f"/contracts/{cid}/odrl", headers=i)
    assert r.headers["content-type"].startswith("application/ld+json")
    assert parse(r.json()).assignee == m.insurer.party.id
    assert [c["id"] for c in client.get("/contracts", headers=auth(m.auditor.token)).json()] == [cid]


def test_bad_input_and_refusals(m: Market, client: TestClient) -> None:
    h, i = auth(m.hospital.token), auth(m.insurer.token)
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    base = {"dataset_id": m.dataset_id, "tier": "L1", "purposes": ["research"], "epsilon": 1.0}
    for bad in ({"expires": "2001-01-01"}, {"price": -1}, {"epsilon": -2.0}, {"tier": "L7"}):
        r = client.post("/offers", json=base | bad, headers=h)
        assert r.status_code == 400, r.text
        assert r.json()["ok"] is False
    assert (rows_snapshot(m.ex), log_size(m.ex)) == (before, size)
    r = client.post("/offers", json=base, headers=i)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert log_events(m.ex, size) == ["access.denied"]
    offer = client.post("/offers", json=base, headers=h).json()
    cid = client.post(f"/offers/{offer['id']}/contracts", json={"purpose": "research"}, headers=i).json()[
        "id"
    ]
    size = log_size(m.ex)
    assert client.post(f"/contracts/{cid}/approve", json={}, headers=i).status_code == 403
    assert client.post(f"/contracts/{cid}/revoke", json={"reason": "x"}, headers=h).status_code == 409
    assert (
        client.post(f"/contracts/{cid}/reject", json={"reason": "no"}, headers=h).json()["state"]
        == "rejected"
    )
    r = client.post(f"/contracts/{cid}/approve", json={}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "invalid_transition")
    assert log_events(m.ex, size) == [
        "access.denied",  # the consumer approving its own request: the policy
        "contract.refused",  # revoking a requested contract: an illegal transition
        "contract.rejected",
        "contract.refused",
    ]
    assert client.get(f"/contracts/{cid}").status_code == 401
    assert client.get("/contracts/ctr_nope", headers=h).json()["code"] == "contract_not_found"
    assert client.get(f"/contracts/{cid}/odrl", headers=h).status_code == 409
