"""Issue 18, uniform answers: another party's contract, and the demands of a dataset a stranger may
not see, answer exactly like an unknown id (status and body, the id aside)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dataex.catalog.metadata import describe
from tests.conftest import add
from tests.contracts import Market
from tests.security import bearer


def same(
    client: TestClient, method: str, real: str, unknown: str, token: str, real_id: str, fake: str
) -> None:
    a = client.request(method, real, headers=bearer(token))
    b = client.request(method, unknown, headers=bearer(token))
    assert a.status_code == b.status_code, (real, a.status_code, b.status_code, a.text)
    assert a.text.replace(real_id, "ID") == b.text.replace(fake, "ID"), (a.text, b.text)


def test_another_partys_contract_answers_like_an_unknown_one(m: Market, client: TestClient) -> None:
    contract = m.contract("L1")
    stranger = add(m.node, "Stranger Co", kind="enterprise", role="consumer")
    fake = "ctr_" + "0" * 16
    for method, suffix in (
        ("GET", ""),
        ("GET", "/odrl"),
        ("POST", "/approve"),
        ("POST", "/reject"),
        ("POST", "/revoke"),
    ):
        same(
            client,
            method,
            f"/contracts/{contract.id}{suffix}",
            f"/contracts/{fake}{suffix}",
            stranger.token,
            contract.id,
            fake,
        )


def test_a_private_datasets_demands_answer_like_an_unknown_dataset(m: Market, client: TestClient) -> None:
    describe(m.ex, m.dataset_id, actor=m.hospital.party, visibility="private")
    stranger = add(m.node, "Huashan Hospital", kind="hospital", role="provider")
    fake = "ds_" + "0" * 16
    for path in ("/datasets/{}/demands", "/datasets/{}", "/datasets/{}/quality"):
        same(
            client,
            "GET",
            path.format(m.dataset_id),
            path.format(fake),
            stranger.token,
            m.dataset_id,
            fake,
        )
    assert (
        client.get(f"/datasets/{m.dataset_id}/demands", headers=bearer(m.hospital.token)).status_code == 200
    )
