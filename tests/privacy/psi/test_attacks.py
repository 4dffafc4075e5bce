"""Attacks on PSI through the public interface (CLI and HTTP); each must fail (docs/psi.md#threat-model).

1. The one-element oracle: ``dataex psi <L1 contract> --input one.csv --reveal count`` must not
   answer an exact 1/0 for a named person, and a count under L1/L2 costs ε each time (DP).
2. Per-item keys: a client blinds each item under its own key inside one count session, so that
   the shuffled answer no longer hides which item matched.
3. Combining sessions: the node's set from one session, looked up with the answer of another.
4. Set sizes: the node's set size is released rounded, and no message carries the exact size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dataex.db.models import ContractRow, LogEntryRow
from dataex.demo.data import hospital_visits, insurer_policyholders
from dataex.privacy.psi import protocol, thendp
from dataex.privacy.psi.client import b64, unb64
from tests.conftest import Node
from tests.contracts import Market, log_events, market

runner = CliRunner()
TRUE_PROVIDER_ITEMS = 160  # distinct resident IDs of hospital_visits(400, seed=5)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, pa.Table, pa.Table]:
    visits = hospital_visits(400, seed=5)
    holders = insurer_policyholders(visits, 150, overlap=0.4, seed=6)
    v, p = tmp_path / "visits.csv", tmp_path / "holders.csv"
    pacsv.write_csv(visits, v)
    pacsv.write_csv(holders, p)
    return p, visits, holders


@pytest.fixture
def mk(fresh_node: Node, files: tuple[Path, pa.Table, pa.Table], tmp_path: Path) -> Market:
    visits = tmp_path / "visits.csv"
    return market(fresh_node, visits)


@pytest.fixture
def http(mk: Market) -> Iterator[TestClient]:
    from dataex.api.app import create_app
    from dataex.api.routes import compute

    app = create_app(mk.ex)
    app.include_router(compute.router)
    with TestClient(app) as client:
        yield client


def cli(mk: Market, *args: str) -> tuple[int, dict[str, Any]]:
    from dataex.cli.main import app

    result = runner.invoke(app, [*args, "--home", str(mk.node.home), "--json", "--as", mk.insurer.token])
    return result.exit_code, json.loads(result.stdout)


def remaining(mk: Market, contract_id: str) -> tuple[int | None, int | None]:
    with mk.ex.session() as s:
        row = s.get(ContractRow, contract_id)
        assert row is not None
        return row.remaining_epsilon_nano, row.remaining_queries


def ids(table: pa.Table) -> list[str]:
    return list(dict.fromkeys(str(x) for x in table.column("id_no").to_pylist()))


def test_one_element_count_is_no_exact_oracle_and_is_never_free(
    mk: Market, files: tuple[Path, pa.Table, pa.Table], tmp_path: Path
) -> None:
    holders_csv, visits, holders = files
    member = ids(visits)[0]
    one = tmp_path / "one.csv"
    one.write_text(f"id_no\n{member}\n", encoding="utf-8")
    contract = mk.contract("L1")
    before = remaining(mk, contract.id)
    # the attack: an exact count over one named person, as often as one likes
    code, out = cli(mk, "psi", contract.id, "--input", str(one), "--column", "id_no", "--reveal", "count")
    assert code != 0, f"an exact count of one person was released under L1: {out}"
    assert out["code"] == "access_denied" and out["details"]["rule"] == "psi.exact_needs_L3"
    # with ε, one person is still refused (the minimum set size), before anything is charged
    code, out = cli(
        mk, "psi", contract.id, "--input", str(one), "--column", "id_no", "--reveal", "count",
        "--epsilon", "0.5",
    )  # fmt: skip
    assert code != 0 and out["code"] == "too_few_identifiers", out
    assert out["details"]["minimum"] == 10 and out["details"]["items"] == 1
    assert remaining(mk, contract.id) == before
    assert "budget.charged" not in log_events(mk.ex)
    # a real set: a discrete-Laplace count, ε charged before release, until the budget is spent
    truth = len(set(ids(visits)) & set(ids(holders)))
    assert truth == 60
    answers = []
    for spent in range(1, 7):
        code, out = cli(
            mk, "psi", contract.id, "--input", str(holders_csv), "--column", "id_no", "--reveal",
            "count", "--epsilon", "0.5",
        )  # fmt: skip
        assert code == 0, out
        assert out["mode"] == "dp_count" and out["members"] is None
        assert out["answer"]["epsilon_charged"] == 0.5
        assert out["answer"]["epsilon_remaining"] == pytest.approx(3.0 - 0.5 * spent)
        assert out["count"] == out["answer"]["rows"][0]["n"]
        answers.append(out["count"])
    assert all(abs(a - truth) <= 40 for a in answers)  # scale 2: P(|noise| > 40) < 1e-8
    code, out = cli(
        mk, "psi", contract.id, "--input", str(holders_csv), "--column", "id_no", "--reveal", "count",
        "--epsilon", "0.5",
    )  # fmt: skip
    assert code != 0, out  # ε spent: the contract is exhausted
    assert out["code"] == "budget_exhausted" or out["details"]["rule"] in (
        "contract.exhausted",
        "budget.exhausted",
    )


def test_dp_count_is_exact_without_noise_and_counts_distinct_identifiers(
    mk: Market, files: tuple[Path, pa.Table, pa.Table]
) -> None:
    from dataex.privacy.dp.mechanisms import exact_mode
    from dataex.privacy.psi.client import LocalTransport, run

    holders_csv, visits, holders = files
    contract = mk.contract("L2", epsilon=1.0)
    with exact_mode():
        result = run(
            LocalTransport(mk.ex, mk.insurer.party), contract.id, input=holders_csv, column="id_no",
            reveal="count", epsilon=0.25,
        )  # fmt: skip
    assert result.count == len(set(ids(visits)) & set(ids(holders))) == 60
    assert result.provider_items == 200 and result.consumer_items == 150
    assert remaining(mk, contract.id)[0] == int(0.75 * 1e9)


def per_item_key_attack(http: TestClient, mk: Market, contract_id: str, candidates: list[str]) -> Any:
    """One count session; each candidate blinded under its own key. The shuffled answer hides the
    order, but only the right key strips an element to a point of the node's set: membership."""
    import private_set_intersection.python as psi

    keys = [protocol.new_key() for _ in candidates]
    request = psi.Request()
    request.reveal_intersection = False
    for key, item in zip(keys, candidates, strict=True):
        one = psi.client.CreateFromKey(key, False).CreateRequest([f"cn_resident_id:{item}"])
        request.encrypted_elements.extend(one.encrypted_elements)
    body = {"mode": "count", "id_type": "cn_resident_id", "request": b64(request.SerializeToString())}
    r = http.post(
        f"/contracts/{contract_id}/psi", json=body, headers={"Authorization": f"Bearer {mk.insurer.token}"}
    )
    if r.status_code != 200:
        return r
    setups = protocol.unpack_setups(unb64(r.json()["setup"]))
    elements = list(psi.Response.FromString(unb64(r.json()["response"])).encrypted_elements)
    found = set()
    for key, item in zip(keys, candidates, strict=True):
        client = psi.client.CreateFromKey(key, True)
        for e in elements:
            sub = psi.Response()
            sub.encrypted_elements.append(e)
            if any(client.GetIntersection(s, sub) for s in setups):
                found.add(item)
    return found


@pytest.mark.parametrize("tier", ["L1", "L2"])
def test_per_item_keys_in_one_session_recover_nothing(
    mk: Market, http: TestClient, files: tuple[Path, pa.Table, pa.Table], tier: str
) -> None:
    _, visits, holders = files
    candidates = ids(holders)[:30]
    truth = set(candidates) & set(ids(visits))
    assert 0 < len(truth) < len(candidates)
    contract = mk.contract(tier, epsilon=3.0)
    before = remaining(mk, contract.id)
    outcome = per_item_key_attack(http, mk, contract.id, candidates)
    assert not isinstance(outcome, set), f"the per-item-key attack recovered {len(outcome)} members"
    assert outcome.status_code == 403
    assert outcome.json()["details"]["rule"] == "psi.exact_needs_L3"
    assert remaining(mk, contract.id) == before


def test_setups_of_two_sessions_cannot_be_combined(
    mk: Market, http: TestClient, files: tuple[Path, pa.Table, pa.Table]
) -> None:
    """The node's set from session A, looked up with session B's answer (L3, count mode: exact
    counts allowed): with a key per session, B's answer matches nothing in A's set."""
    _, visits, holders = files
    contract = mk.contract("L3", max_rows=1000)
    candidates = [f"cn_resident_id:{x}" for x in ids(holders)]
    truth = {i for i, x in enumerate(ids(holders)) if x in set(ids(visits))}
    headers = {"Authorization": f"Bearer {mk.insurer.token}"}

    def session(client: protocol.Client, mode: str) -> dict[str, Any]:
        body = {"mode": mode, "id_type": "cn_resident_id", "request": b64(client.request(candidates))}
        r = http.post(f"/contracts/{contract.id}/psi", json=body, headers=headers)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    a_client = protocol.Client(reveal=False)
    a = session(a_client, "count")
    assert a_client.size(unb64(a["setup"]), unb64(a["response"])) == len(truth)  # honest use works
    b_client = protocol.Client(reveal=True)
    b = session(b_client, "members")
    assert set(b_client.intersection(unb64(b["setup"]), unb64(b["response"]))) == truth
    combined = b_client.intersection(unb64(a["setup"]), unb64(b["response"]))
    assert combined == [], f"session B's answer matched {len(combined)} items in session A's set"
    assert a["setup_sha256"] != b["setup_sha256"]
    assert not list((mk.node.home / "psi").rglob("*.key")) if (mk.node.home / "psi").exists() else True


def test_set_sizes_are_released_rounded_and_messages_are_padded(
    mk: Market, http: TestClient, files: tuple[Path, pa.Table, pa.Table]
) -> None:
    _, _, holders = files
    headers = {"Authorization": f"Bearer {mk.insurer.token}"}
    l3 = mk.contract("L3", max_rows=1000)
    client = protocol.Client(reveal=False)
    body = {
        "mode": "count",
        "id_type": "cn_resident_id",
        "request": b64(client.request([f"cn_resident_id:{x}" for x in ids(holders)])),
    }
    r = http.post(f"/contracts/{l3.id}/psi", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["provider_items"] == 200  # 160 distinct, rounded up to a multiple of 100
    setups = protocol.unpack_setups(unb64(r.json()["setup"]))
    assert sum(len(s.raw.encrypted_elements) for s in setups) == 200  # padded: the size is not in it
    l1 = mk.contract("L1")
    started = http.post(
        f"/contracts/{l1.id}/psi/then",
        json={"id_type": "cn_resident_id", "column": "id_no", "sql": None, "epsilon": 0.5},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    assert started.json()["provider_items"] == 200
    assert protocol.request_size(unb64(started.json()["request"])) == 200 + 2 * thendp.check_pairs(160) == 264
    with mk.ex.session() as s:
        logged = [json.loads(bytes(e)) for e in s.scalars(select(LogEntryRow.entry))]
    sizes = [e["data"]["provider_items"] for e in logged if e.get("event") == "psi.session"]
    assert sizes == [200]


def test_the_size_rounding_rule() -> None:
    from dataex.privacy.psi.service import released_size

    assert [released_size(n) for n in (1, 99, 100, 101, 160, 999, 1000, 1001, 12_345, 987_654)] == [
        100, 100, 100, 200, 200, 1000, 1000, 1100, 13_000, 990_000
    ]  # fmt: skip


def test_a_dp_count_over_http_refuses_a_tiny_consumer_set_and_charges_nothing(
    mk: Market, http: TestClient, files: tuple[Path, pa.Table, pa.Table]
) -> None:
    """The consumer's side is not the node's: a client that skips the checks and states a set of
    three is refused by the node before any charge; bad sizes and oversized fields are refused."""
    _, visits, _ = files
    headers = {"Authorization": f"Bearer {mk.insurer.token}"}
    contract = mk.contract("L1")
    before = remaining(mk, contract.id)
    started = http.post(
        f"/contracts/{contract.id}/psi/then",
        json={"id_type": "cn_resident_id", "column": "id_no", "epsilon": 1.0},
        headers=headers,
    ).json()
    mine = [f"cn_resident_id:{x}" for x in ids(visits)[:3]]  # three people the attacker names
    key = protocol.new_key()
    setup = protocol.server_setup(mine, key=key, max_client_items=started["provider_items"])
    response = protocol.server_answer(unb64(started["request"]), key=key, reveal=True)
    body = {"setup": b64(setup.setup), "response": b64(response), "ticket": started["ticket"]}
    url = f"/psi/sessions/{started['session_id']}/finish"
    r = http.post(url, json=body | {"consumer_items": 3}, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "too_few_identifiers", r.text
    for bad in (-1, 1 << 21, "many"):
        r = http.post(url, json=body | {"consumer_items": bad}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    too_long = {"id_type": "x" * 41, "epsilon": 1.0}
    r = http.post(f"/contracts/{contract.id}/psi/then", json=too_long, headers=headers)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert remaining(mk, contract.id) == before
    assert "budget.charged" not in log_events(mk.ex)


@pytest.mark.parametrize("how", ["copies", "variants"])
def test_an_answer_that_amplifies_one_person_is_refused_and_charged(
    mk: Market, http: TestClient, files: tuple[Path, pa.Table, pa.Table], how: str
) -> None:
    """The DP count's (and PSI-then-DP's) sensitivity of 1 assumes the consumer answers each of the
    node's elements in place. A malicious consumer answers *every* position with the element of one
    position m, raised to its key (``copies``), or to a fresh key per position with a setup part per
    key (``variants``: no two elements equal): if the person at m is in its set, all N positions
    "match" — one person moves the count by N. The node's hidden check pairs (and the repeat
    check) refuse such an answer before anything is released, and charge its ε."""
    _, visits, _ = files
    headers = {"Authorization": f"Bearer {mk.insurer.token}"}
    contract = mk.contract("L1")
    started = http.post(
        f"/contracts/{contract.id}/psi/then",
        json={"id_type": "cn_resident_id", "epsilon": 1.0},
        headers=headers,
    ).json()
    request = protocol.request_elements(unb64(started["request"]))
    mine = [f"cn_resident_id:{x}" for x in ids(visits)]  # the attacker's set: every patient, so m matches
    if how == "copies":
        key = protocol.new_key()
        setup = protocol.server_setup(mine, key=key, max_client_items=len(request)).setup
        answer = protocol.exponentiate([request[0]] * len(request), key)
    else:
        keys = [protocol.new_key() for _ in request]
        parts = [protocol.server_setup(mine, key=k, max_client_items=1).setup for k in keys]
        setup = protocol.pack_setups([p for s in parts for p in _parts(s)])
        answer = [protocol.exponentiate([request[0]], k)[0] for k in keys]
        assert len(set(answer)) == len(answer)  # no repeat to catch: only the check pairs can
    body = {
        "setup": b64(setup),
        "response": b64(protocol.make_response(answer)),
        "consumer_items": len(mine),
        "ticket": started["ticket"],
    }
    r = http.post(f"/psi/sessions/{started['session_id']}/finish", json=body, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "invalid_psi_message", r.text
    assert "consistency checks" in r.json()["error"] and "rows" not in r.json()
    assert remaining(mk, contract.id)[0] == 2 * 10**9  # 3.0 - 1.0: cheating is not a free lottery
    assert log_events(mk.ex)[-1] == "psi.refused"


def _parts(packed: bytes) -> list[bytes]:
    return [p.SerializeToString() for p in protocol.unpack_setups(packed)]
