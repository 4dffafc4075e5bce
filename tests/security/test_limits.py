"""Issue 18, bounded inputs: attacks through HTTP that used to grow the log or read huge bodies.

Each test sends the attack as an outsider would (TestClient on the composed app), then checks the
answer (the one error envelope), the size of what was logged, and that nothing else changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient

from dataex.ledger.log import MAX_REFUSAL_BYTES
from dataex.privacy.dp.settings_service import set_privacy
from tests.conftest import add
from tests.contracts import Market
from tests.security import bearer
from tests.state import snapshot


def last_entry(m: Market) -> tuple[str, int]:
    entries = m.ex.log.entries  # static: reads in a session we own
    with m.ex.session() as s:
        last = entries(s)[-1]
    return last.event, len(last.raw)


def test_a_10_mb_purpose_is_413_before_anything_is_read_or_logged(m: Market, client: TestClient) -> None:
    offer = m.offer("L1")
    stranger = add(m.node, "Stranger Co", kind="enterprise", role="consumer")
    before = snapshot(m.ex)
    r = client.post(
        f"/offers/{offer.id}/contracts",
        content=json.dumps({"purpose": "x" * (10 << 20)}),
        headers={**bearer(stranger.token), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert r.json()["details"]["limit"] == m.ex.settings.max_body_bytes
    assert snapshot(m.ex) == before


def test_a_huge_refusal_makes_a_log_entry_under_4_kb(m: Market, client: TestClient) -> None:
    """A 60 KB contract id in the URL reaches the policy, which denies and logs ``access.denied``
    echoing the id: what is echoed is bounded (``dataex.ledger.log.bounded``)."""
    consumer = m.insurer
    huge = "c" * 900_000
    r = client.post(
        f"/contracts/{huge[:10]}/query",
        json={"sql": "SELECT COUNT(*) FROM visits", "epsilon": 0.5},
        headers=bearer(consumer.token),
    )
    assert r.status_code == 404
    # through the path parameter itself (a 60 KB URL): the refusal echoes the id
    before = snapshot(m.ex).log_entries
    r = client.post(
        f"/contracts/{huge[:60_000]}/query",
        json={"sql": "SELECT COUNT(*) FROM visits", "epsilon": 0.5},
        headers=bearer(consumer.token),
    )
    assert r.status_code == 404 and len(r.content) < 4096, len(r.content)
    event, size = last_entry(m)
    assert snapshot(m.ex).log_entries == before + 1, "the refusal is logged"
    assert event == "access.denied" and size < MAX_REFUSAL_BYTES, (event, size)


def test_a_1_mb_column_name_in_a_dp_query_logs_a_bounded_refusal(m: Market, client: TestClient) -> None:
    contract = m.contract("L1")
    set_privacy(
        m.ex,
        m.dataset_id,
        actor=m.hospital.party,
        unit="patient_id",
        max_contributions=2,
        bounds={"cost": (0.0, 250.0)},
        domains={},
    )
    name = "q" * 90_000  # under the SQL field's limit (MAX_SQL_CHARS), over any sane identifier
    before = snapshot(m.ex).log_entries
    r = client.post(
        f"/contracts/{contract.id}/query",
        json={"sql": f"SELECT SUM({name}) FROM visits", "epsilon": 0.5},
        headers=bearer(m.insurer.token),
    )
    assert r.status_code == 400, r.text
    assert len(r.content) < 4096, len(r.content)
    event, size = last_entry(m)
    assert snapshot(m.ex).log_entries > before and event == "dp.query.refused", event
    assert size < MAX_REFUSAL_BYTES, (event, size)
    state = snapshot(m.ex)
    r = client.post(  # over the field's limit: refused before parsing, nothing logged
        f"/contracts/{contract.id}/query",
        json={"sql": f"SELECT SUM({'q' * 500_000}) FROM visits", "epsilon": 0.5},
        headers=bearer(m.insurer.token),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"
    assert snapshot(m.ex) == state
    r = client.post(
        f"/contracts/{contract.id}/query",
        json={"sql": f"SELECT SUM({'q' * (1 << 20)}) FROM visits", "epsilon": 0.5},
        headers=bearer(m.insurer.token),
    )
    assert r.status_code == 413


def test_an_anonymous_300_mb_upload_is_refused_before_its_body_is_read(m: Market, client: TestClient) -> None:
    """The edge answers 401 from the headers alone: the body generator is never advanced past its
    first chunk (httpx sends headers, then pulls the body only as the app reads it)."""
    pulled = 0

    def body() -> Iterator[bytes]:
        nonlocal pulled
        chunk = b"0" * (1 << 20)
        for _ in range(300):
            pulled += 1
            yield chunk

    before = snapshot(m.ex)
    r = client.post(
        "/datasets",
        content=body(),
        headers={
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(300 << 20),
        },
    )
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert pulled <= 1, pulled
    # unknown length (chunked), wrong token: the same
    pulled = 0
    r = client.post(
        "/datasets",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=xyz", **bearer("dxt_forged")},
    )
    assert r.status_code == 401 and pulled <= 1, pulled
    assert snapshot(m.ex) == before


def test_a_body_that_lies_about_its_length_is_cut_while_streaming(m: Market, client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(4):
            yield b"{" + b" " * (1 << 20)

    before = snapshot(m.ex)
    r = client.post(
        "/parties",
        content=body(),
        headers={**bearer(m.node.operator_token), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert snapshot(m.ex) == before


def test_a_bad_content_length_is_a_400(client: TestClient, m: Market) -> None:
    r = client.post(
        "/parties",
        content=b"{}",
        headers={**bearer(m.node.operator_token), "Content-Length": "-1", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"


def test_a_900_kb_purpose_refusal_logs_an_entry_under_4_kb(m: Market, client: TestClient) -> None:
    """Under the body limit, a purpose the offer does not allow is refused and logged as
    ``contract.refused``; the entry echoes the purpose bounded (``MAX_REFUSAL_BYTES`` in all)."""
    offer = m.offer("L1")
    before = snapshot(m.ex).log_entries
    r = client.post(
        f"/offers/{offer.id}/contracts",
        json={"purpose": "p" * 900_000},
        headers=bearer(m.insurer.token),
    )
    assert r.status_code in (400, 403), r.text
    assert len(r.content) < 4096
    after = snapshot(m.ex).log_entries
    if after > before:  # refused by the service: logged, bounded
        event, size = last_entry(m)
        assert after == before + 1 and event == "contract.refused" and size < MAX_REFUSAL_BYTES, (event, size)
    else:  # refused at the edge (the field's max length): nothing logged
        assert r.json()["code"] == "invalid_input"
