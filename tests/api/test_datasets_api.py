"""GET/POST /datasets on SQLite: private datasets hidden from other parties, the upload size limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.catalog.metadata import describe
from dataex.exchange import Exchange
from tests.conftest import Actor, Node, add
from tests.state import snapshot


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csv_bytes(tag: str, rows: int = 40) -> bytes:
    lines = ["patient_id,age,note"] + [f"P{i:03d},{30 + i % 40},{tag}-{i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Shelf:
    """A hospital with a public and a private dataset; an insurer, an auditor and the operator."""

    node: Node
    client: TestClient
    hospital: Actor
    insurer: Actor
    auditor: Actor
    public_id: str
    private_id: str


@pytest.fixture
def shelf(sqlite_node: Node) -> Iterator[Shelf]:
    hospital = add(sqlite_node, "Ruijin Hospital")
    insurer = add(sqlite_node, "Ping An Health", kind="insurer", role="consumer")
    auditor = add(sqlite_node, "Shanghai CAC", kind="government", role="auditor")
    with TestClient(create_app(sqlite_node.ex)) as client:
        ids = []
        for title in ("门诊公开", "ward notes SECRET-TITLE"):
            r = client.post(
                "/datasets",
                headers=bearer(hospital.token),
                files={"file": ("v.csv", csv_bytes(title), "text/csv")},
                data={"title": title, "license": "CC-BY-4.0"},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        describe(sqlite_node.ex, ids[1], actor=hospital.party, visibility="private")
        yield Shelf(sqlite_node, client, hospital, insurer, auditor, ids[0], ids[1])


def listed(shelf: Shelf, token: str, **params: str) -> list[str]:
    r = shelf.client.get("/datasets", headers=bearer(token), params=params)
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()]


def without_id(body: dict[str, Any], dataset_id: str) -> str:
    return str(body).replace(dataset_id, "ID")


def test_the_list_omits_another_partys_private_dataset(shelf: Shelf) -> None:
    both = [shelf.public_id, shelf.private_id]
    assert listed(shelf, shelf.hospital.token) == both
    assert listed(shelf, shelf.node.operator_token) == both
    for other in (shelf.insurer, shelf.auditor):
        assert listed(shelf, other.token) == [shelf.public_id]
        assert listed(shelf, other.token, owner=shelf.hospital.party.id) == [shelf.public_id]
        r = shelf.client.get("/datasets", headers=bearer(other.token))
        assert "SECRET-TITLE" not in r.text


def test_get_answers_another_party_404_exactly_as_for_an_unknown_id(shelf: Shelf) -> None:
    for token in (shelf.hospital.token, shelf.node.operator_token):
        r = shelf.client.get(f"/datasets/{shelf.private_id}", headers=bearer(token))
        assert r.status_code == 200 and r.json()["title"] == "ward notes SECRET-TITLE"
    unknown = "ds_" + "0" * (len(shelf.private_id) - 3)
    for other in (shelf.insurer, shelf.auditor):
        hidden = shelf.client.get(f"/datasets/{shelf.private_id}", headers=bearer(other.token))
        missing = shelf.client.get(f"/datasets/{unknown}", headers=bearer(other.token))
        assert (hidden.status_code, hidden.json()["code"]) == (404, "dataset_not_found")
        assert without_id(hidden.json(), shelf.private_id) == without_id(missing.json(), unknown)
        assert hidden.headers.keys() == missing.headers.keys()
        assert (
            shelf.client.get(f"/datasets/{shelf.public_id}", headers=bearer(other.token)).status_code == 200
        )


def test_the_certificate_of_a_private_dataset_is_its_owners(shelf: Shelf) -> None:
    url = f"/datasets/{shelf.private_id}/certificate"
    assert shelf.client.get(url, headers=bearer(shelf.hospital.token)).status_code == 200
    for headers in ({}, bearer(shelf.insurer.token)):
        r = shelf.client.get(url, headers=headers)
        assert (r.status_code, r.json()["code"]) == (404, "dataset_not_found")
    assert shelf.client.get(f"/datasets/{shelf.public_id}/certificate").status_code == 200


@pytest.fixture
def small_limit(tmp_path: Path) -> Iterator[tuple[Node, TestClient]]:
    """A node that takes uploads of 200 bytes at most, served by the API."""
    ex, token = Exchange.init(home=tmp_path / "node", max_upload_bytes=200)
    with TestClient(create_app(ex)) as client:
        yield Node(ex, tmp_path / "node", token), client
    ex.close()


def test_an_upload_over_the_limit_is_a_413_envelope_and_stores_nothing(
    small_limit: tuple[Node, TestClient],
) -> None:
    node, client = small_limit
    hospital = add(node, "Ruijin Hospital")
    before = snapshot(node.ex)
    big = csv_bytes("big", rows=40)
    assert len(big) > 200
    r = client.post(
        "/datasets",
        headers=bearer(hospital.token),
        files={"file": ("v.csv", big, "text/csv")},
        data={"title": "big", "license": "CC-BY-4.0"},
    )
    assert r.status_code == 413
    assert r.json() == {
        "ok": False,
        "error": r.json()["error"],
        "code": "file_too_large",
        "status": 413,
        "details": {"limit": 200},
    }
    assert "larger than the limit of 200 bytes" in r.json()["error"]
    assert snapshot(node.ex) == before  # no dataset, no log entry, no stored or staged file
    assert list(node.ex.settings.staging_dir.iterdir()) == []
    small = client.post(
        "/datasets",
        headers=bearer(hospital.token),
        files={"file": ("v.csv", csv_bytes("ok", rows=3), "text/csv")},
        data={"title": "small", "license": "CC-BY-4.0"},
    )
    assert small.status_code == 201 and small.json()["rows"] == 3
