"""POST /datasets/{id}/anonymize: owner only, hierarchies as CSV text, the JSON error envelope."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes.anonymize import router
from tests.conftest import Node, add
from tests.privacy.anonymize.adult import ADULT


def client(node: Node) -> TestClient:
    app = create_app(node.ex)
    if not any(getattr(r, "path", "").endswith("/anonymize") for r in app.routes):
        app.include_router(router)
    return TestClient(app)


def test_owner_anonymizes_others_are_refused(sqlite_node: Node) -> None:
    owner = add(sqlite_node, "Census Office", kind="government")
    other = add(sqlite_node, "Another Provider")
    ds = sqlite_node.ex.register(
        ADULT / "adult_subset.csv", owner=owner.party.id, title="Adult", license="CC-BY-4.0"
    )
    c = client(sqlite_node)
    body = {
        "qi": ["sex", "age", "education"],
        "sensitive": ["salary-class"],
        "k": 5,
        "t": 0.3,
        "max_suppression": 0.02,
        "hierarchies": {"education": (ADULT / "adult_hierarchy_education.csv").read_text()},
    }
    r = c.post(
        f"/datasets/{ds.dataset.id}/anonymize", json=body, headers={"Authorization": f"Bearer {other.token}"}
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = c.post(
        f"/datasets/{ds.dataset.id}/anonymize", json=body, headers={"Authorization": f"Bearer {owner.token}"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["derived_from"] == ds.dataset.id and out["k"] >= 5 and out["t"] == 0.3
    assert out["hierarchies"]["education"]["kind"] == "arx"
    assert sqlite_node.ex.get_dataset(out["id"]).derived_from == ds.dataset.id
    r = c.post(
        f"/datasets/{ds.dataset.id}/anonymize",
        json={**body, "check": True},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert r.status_code == 200 and r.json()["achieved"]["k"] == 1


def test_bad_input_is_400_and_unauthenticated_401(sqlite_node: Node) -> None:
    owner = add(sqlite_node, "Census Office", kind="government")
    ds = sqlite_node.ex.register(
        ADULT / "adult_subset.csv", owner=owner.party.id, title="Adult", license="CC-BY-4.0"
    )
    c = client(sqlite_node)
    r = c.post(
        f"/datasets/{ds.dataset.id}/anonymize",
        json={"qi": ["nope"], "k": 2},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert r.status_code == 400 and r.json()["ok"] is False and "nope" in r.json()["error"]
    assert c.post(f"/datasets/{ds.dataset.id}/anonymize", json={"qi": ["sex"], "k": 2}).status_code == 401
