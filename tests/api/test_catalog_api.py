"""Catalog routes: metadata read and write, Croissant documents, the DCAT catalog, with visibility."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlcroissant as mlc
import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.routes.catalog import router
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot

pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated, use Dataset instead.")


@pytest.fixture
def client(fresh_node: Node) -> Iterator[TestClient]:
    app = create_app(fresh_node.ex)
    if not any(getattr(r, "path", "") == "/catalog/dcat" for r in app.routes):
        app.include_router(router)
    with TestClient(app, base_url="https://node.example.org") as c:
        yield c


@pytest.fixture
def dataset_id(fresh_node: Node, hospital: Actor, visits_csv: Path) -> str:
    return fresh_node.ex.register(
        visits_csv, owner=hospital.party.id, title="Visits", license="CC-BY-4.0"
    ).dataset.id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_owner_puts_and_anyone_reads_public_metadata(
    client: TestClient, hospital: Actor, dataset_id: str
) -> None:
    body = {
        "description": "门诊就诊记录",
        "keywords": ["医疗", "outpatient"],
        "fields": {"diagnosis": "ICD-10 code"},
        "rai": {"limitations": "one hospital", "data_collection": "HIS export"},
    }
    r = client.put(f"/datasets/{dataset_id}/metadata", json=body, headers=bearer(hospital.token))
    assert r.status_code == 200, r.text
    assert r.json()["rai"] == {"data_collection": "HIS export", "limitations": ["one hospital"]}
    got = client.get(f"/datasets/{dataset_id}/metadata").json()
    assert got["id"] == dataset_id
    assert got["description"] == "门诊就诊记录"
    assert got["fields"]["diagnosis"] == {"description": "ICD-10 code", "semantic_type": None}
    doc = client.get(f"/datasets/{dataset_id}/croissant").json()
    expected = f"https://node.example.org/datasets/{dataset_id}/files/canonical.parquet"
    assert doc["distribution"][0]["contentUrl"] == expected
    assert mlc.Dataset(jsonld=doc).metadata.data_limitations == ["one hospital"]
    catalog = client.get("/catalog/dcat").json()
    assert [d["dct:identifier"] for d in catalog["dcat:dataset"]] == [dataset_id]


def test_refusals_change_nothing(client: TestClient, fresh_node: Node, dataset_id: str) -> None:
    stranger = add(fresh_node, "Stranger")
    before = snapshot(fresh_node.ex)
    url = f"/datasets/{dataset_id}/metadata"
    r = client.put(url, json={"description": "x"}, headers=bearer(stranger.token))
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert client.put(url, json={"description": "x"}).status_code == 401
    r = client.put(url, json={"fields": {"nope": "x"}}, headers=bearer(fresh_node.operator_token))
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    r = client.put(url, json={"colour": "red"}, headers=bearer(fresh_node.operator_token))
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")  # unknown fields: the envelope
    assert client.get("/datasets/ds_missing/croissant").json()["code"] == "dataset_not_found"
    assert_only_denials(fresh_node.ex, before)  # the stranger's PUT, refused by the policy


def test_private_datasets(client: TestClient, fresh_node: Node, hospital: Actor, dataset_id: str) -> None:
    r = client.put(
        f"/datasets/{dataset_id}/metadata", json={"visibility": "private"}, headers=bearer(hospital.token)
    )
    assert r.json()["visibility"] == "private"
    unknown = client.get("/datasets/ds_0000000000000000/croissant").json()
    for path in ("croissant", "metadata", "quality"):  # to others it is as absent as an unknown id
        r = client.get(f"/datasets/{dataset_id}/{path}")
        assert r.status_code == 404 and r.json()["code"] == unknown["code"] == "dataset_not_found"
    other = add(fresh_node, "Consumer", role="consumer")
    r = client.get(f"/datasets/{dataset_id}/croissant", headers=bearer(other.token))
    assert r.status_code == 404 and r.json()["code"] == "dataset_not_found"
    assert client.get(f"/datasets/{dataset_id}/croissant", headers=bearer(hospital.token)).status_code == 200
    op = bearer(fresh_node.operator_token)
    assert client.get(f"/datasets/{dataset_id}/metadata", headers=op).status_code == 200
    assert client.get("/catalog/dcat").json()["dcat:dataset"] == []
