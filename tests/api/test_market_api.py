"""The market HTTP API: wallets, products, valuations, the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes import market as market_routes
from tests.conftest import Node
from tests.market import Mkt, labelled, market, write


@pytest.fixture
def m(sqlite_node: Node, tmp_path: Path) -> Mkt:
    return market(sqlite_node, tmp_path)


@pytest.fixture
def client(m: Mkt) -> TestClient:
    app = create_app(m.ex)
    app.include_router(market_routes.router)
    return TestClient(app)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_market_routes(m: Mkt, client: TestClient, tmp_path: Path) -> None:
    op, ins, a = auth(m.operator.token), auth(m.insurer.token), auth(m.a.token)
    r = client.post(f"/wallets/{m.insurer.party.id}/deposits", json={"amount_fen": 50000}, headers=op)
    assert (r.status_code, r.json()["amount_fen"]) == (201, 50000)
    r = client.post(f"/wallets/{m.insurer.party.id}/deposits", json={"amount_fen": 5}, headers=ins)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = client.post(f"/wallets/{m.insurer.party.id}/deposits", json={"amount_fen": -5}, headers=op)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert client.get(f"/wallets/{m.insurer.party.id}", headers=ins).json()["balances"]["wallet"] == 50000
    assert client.get(f"/wallets/{m.insurer.party.id}", headers=a).status_code == 403
    body = {"title": "Panel", "dataset_ids": [m.ds_a, m.ds_b], "split": "shapley", "price_fen": 1000}
    product = client.post("/products", json=body, headers=op).json()
    assert client.post("/products", json=body, headers=a).json()["code"] == "forbidden"
    assert client.get(f"/products/{product['id']}", headers=ins).json()["split"] == "shapley"
    assert client.get("/products/prd_nope", headers=ins).json()["code"] == "product_not_found"
    val = write(labelled(30, 4), tmp_path / "val.csv")
    with val.open("rb") as f:
        r = client.post(
            "/valuations",
            data={"target_id": product["id"], "target": "label", "k": "3"},
            files={"validation": ("val.csv", f, "text/csv")},
            headers=a,
        )
    assert r.status_code == 201, r.text
    assert set(r.json()["rows"]) == {m.ds_a}
    r = client.post(f"/products/{product['id']}/purchases", headers=ins)
    assert r.status_code == 201 and r.json()["amount_fen"] == 1000
    assert set(client.get("/ledger", headers=a).json()["accounts"]) == {f"revenue:{m.a.party.id}"}
    assert client.get("/ledger/verify", headers=ins).status_code == 403
    assert client.get("/ledger/verify", headers=op).json()["ok"] is True
