"""The HTTP API through FastAPI's TestClient: auth, the error envelope, registration by upload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.catalog.certificates import verify_certificate
from dataex.identity.keys import load_public_jwk
from dataex.ledger import merkle
from tests.conftest import Node
from tests.state import snapshot


@pytest.fixture
def client(fresh_node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(fresh_node.ex)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_node_key_is_public_and_verifies_certificates(
    client: TestClient, fresh_node: Node, visits_csv: Path
) -> None:
    key = client.get("/.well-known/dataex/node-key").json()
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    op = bearer(fresh_node.operator_token)
    party = client.post(
        "/parties", json={"name": "瑞金医院", "kind": "hospital", "role": "provider"}, headers=op
    )
    assert party.status_code == 201
    token = party.json()["token"]
    with visits_csv.open("rb") as f:
        r = client.post(
            "/datasets",
            headers=bearer(token),
            files={"file": ("visits.csv", f, "text/csv")},
            data={"title": "门诊 2025", "license": "CC-BY-4.0"},
        )
    assert r.status_code == 201, r.text
    reg = r.json()
    payload, problems = verify_certificate(reg["certificate"], load_public_jwk(key))
    assert not problems and payload is not None and payload["owner"]["name"] == "瑞金医院"
    shown = client.get(f"/datasets/{reg['id']}", headers=bearer(token)).json()
    assert shown["source"]["name"] == "visits.csv" and shown["owner_id"] == party.json()["id"]
    assert "certificate" not in shown and "minhash" not in shown
    proof = client.get(f"/log/proof/{shown['log_index']}").json()
    import base64

    assert merkle.verify_inclusion(
        base64.b64decode(proof["entry_b64"]),
        proof["index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )
    cp = client.get("/log/checkpoint").json()["checkpoint"]
    assert cp.splitlines()[1] == str(proof["tree_size"])


def test_unknown_or_missing_token_is_401_without_details(client: TestClient) -> None:
    for headers in ({}, bearer("dxt_wrong"), {"Authorization": "Basic abc"}):
        r = client.get("/datasets", headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body["ok"] is False and body["code"] == "unauthorized" and body["status"] == 401
        assert "dxt_wrong" not in r.text and "details" not in body


def test_parties_are_operator_only_and_tokens_never_listed(client: TestClient, fresh_node: Node) -> None:
    op = bearer(fresh_node.operator_token)
    provider = client.post("/parties", json={"name": "H", "kind": "hospital"}, headers=op).json()
    r = client.get("/parties", headers=bearer(provider["token"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    listed = client.get("/parties", headers=op)
    assert listed.status_code == 200
    assert provider["token"] not in listed.text and "token" not in listed.json()[0]
    assert client.get("/parties/me", headers=bearer(provider["token"])).json()["id"] == provider["id"]


def test_bad_upload_is_a_400_envelope_and_changes_nothing(client: TestClient, fresh_node: Node) -> None:
    op = bearer(fresh_node.operator_token)
    token = client.post("/parties", json={"name": "H", "kind": "hospital"}, headers=op).json()["token"]
    before = snapshot(fresh_node.ex)
    r = client.post(
        "/datasets",
        headers=bearer(token),
        files={"file": ("../../etc/x.csv", b"a,b\n1,2\n3\n")},
        data={"title": "t", "license": "x"},
    )
    assert r.status_code == 400 and r.json()["code"] == "ragged_rows" and r.json()["details"]["lines"] == [3]
    r = client.post(
        "/datasets",
        headers=bearer(token),
        files={"file": ("x.exe", b"MZ")},
        data={"title": "t", "license": "x"},
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"
    assert snapshot(fresh_node.ex) == before


def test_unknown_dataset_is_404_envelope(client: TestClient, fresh_node: Node) -> None:
    r = client.get("/datasets/ds_nope", headers=bearer(fresh_node.operator_token))
    assert r.status_code == 404
    assert r.json() == {
        "ok": False,
        "error": r.json()["error"],
        "code": "dataset_not_found",
        "status": 404,
        "details": {"dataset_id": "ds_nope"},
    }


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {
        "/.well-known/dataex/node-key",
        "/parties",
        "/datasets",
        "/datasets/{dataset_id}",
        "/datasets/{dataset_id}/certificate",
        "/log/checkpoint",
        "/log/proof/{index}",
    } <= paths


def test_create_app_includes_every_router(fresh_node: Node) -> None:
    import importlib
    import pkgutil

    import dataex.api.routes
    from tests.api.test_route_coverage import flat_routes

    app = create_app(fresh_node.ex)
    served = {(r.path, tuple(sorted(r.methods))) for r in flat_routes(app.routes) if hasattr(r, "methods")}
    for info in pkgutil.iter_modules(dataex.api.routes.__path__):
        router = getattr(importlib.import_module(f"dataex.api.routes.{info.name}"), "router", None)
        if router is None:
            continue
        for route in flat_routes(router.routes):
            key = (getattr(route, "path", ""), tuple(sorted(getattr(route, "methods", ()))))
            assert key in served or not key[1], f"{info.name}: {key} is not served by create_app"
