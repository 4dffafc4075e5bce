"""The dataset's lifetime ε account (issue 17, item 4): ε no longer multiplies with contracts.

Threat: a consumer (or several) takes many contracts on one dataset, each with its own ε budget,
and spends them all on the same question: with per-contract budgets only, ten auto-approved
contracts from one ε = 1 offer released ε = 10. The account caps the total over every contract,
consumer and derived dataset, and each party's total; the attack runs through the CLI.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dataex.cli.main import app
from dataex.contracts.budget import authorize_and_charge, charge, get_account, set_account
from dataex.contracts.lifecycle import request_contract
from dataex.contracts.offers import create_offer
from dataex.db.models import LogEntryRow
from dataex.errors import AccessDenied, BudgetExhausted, Forbidden, InvalidInput
from dataex.privacy.dp.settings_service import set_privacy
from tests.conftest import Actor, Node, add
from tests.contracts import Market, log_size, market, rows_snapshot
from tests.privacy.dp import QUERY, small_visits

runner = CliRunner()


@pytest.fixture
def m(fresh_node: Node, tmp_path: Path) -> Market:
    m = market(fresh_node, small_visits(tmp_path / "visits.csv"))
    set_privacy(
        m.ex, m.dataset_id, actor=m.hospital.party, unit="patient_id", max_contributions=2,
        bounds={"cost": (0, 250), "age": (0, 120)}, domains={"diagnosis": ["A", "B", "C"]},
    )  # fmt: skip
    return m


def cli(m: Market, *args: str, token: str | None = None) -> tuple[int, Any]:
    extra = ["--as", token] if token else []
    result = runner.invoke(app, [*args, "--home", str(m.node.home), "--json", *extra])
    return result.exit_code, json.loads(result.stdout)


def entries(m: Market, event: str) -> list[dict[str, Any]]:
    with m.ex.session() as s:
        raw = s.scalars(select(LogEntryRow.entry).where(LogEntryRow.event == event).order_by(LogEntryRow.idx))
        return [json.loads(e)["data"] for e in raw]


def auto_offer(m: Market, epsilon: str = "1") -> str:
    code, offer = cli(
        m, "offer", "create", m.dataset_id, "--tier", "L1", "--epsilon", epsilon, "--purpose", "research",
        "--price", "0", "--approval", "auto", token=m.hospital.token,
    )  # fmt: skip
    assert code == 0, offer
    return str(offer["id"])


def test_ten_contracts_from_one_offer_stop_at_the_owners_caps(m: Market) -> None:
    code, out = cli(
        m, "privacy", "set", m.dataset_id, "--epsilon-cap", "5", "--epsilon-cap-per-party", "1",
        token=m.hospital.token,
    )  # fmt: skip
    assert code == 0, out
    assert (out["account"]["epsilon_cap"], out["account"]["epsilon_cap_per_party"]) == (5.0, 1.0)
    offer = auto_offer(m)
    # the attack: ten auto-approved contracts from one ε = 1 offer, the same question under each
    contracts = []
    for _ in range(10):
        code, c = cli(m, "contract", "request", offer, "--purpose", "research", token=m.insurer.token)
        assert (code, c["state"]) == (0, "active"), c  # nothing spent yet: all are approved
        contracts.append(c["id"])
    released: list[float] = []
    refusals: list[str] = []
    for contract_id in contracts:
        code, answer = cli(m, "query", contract_id, QUERY, "--epsilon", "1", token=m.insurer.token)
        if code == 0:
            released.append(answer["epsilon_charged"])
        else:
            refusals.append(answer["code"])
    assert released == [1.0]  # was [1.0] * 10: ε = 10 on the same question
    assert refusals == ["access_denied"] * 9
    assert entries(m, "access.denied")[-1]["rule"] == "dataset.epsilon_cap"
    # and no new ε-bearing contract is approved for the insurer: refused and logged, nothing kept
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    code, err = cli(m, "contract", "request", offer, "--purpose", "research", token=m.insurer.token)
    assert (code, err["code"], err["status"]) == (3, "budget_exhausted", 409), err
    assert rows_snapshot(m.ex) == before
    assert [e["event"] for e in entries(m, "contract.refused")[-1:]] == ["request"]
    assert log_size(m.ex) == size + 1
    # other consumers share the total cap of 5: four more answers, then none for anyone
    others = [add(m.node, f"Consumer {i}", kind="insurer", role="consumer") for i in range(5)]
    answered = []
    for other in others[:4]:
        code, c = cli(m, "contract", "request", offer, "--purpose", "research", token=other.token)
        assert code == 0, c
        code, answer = cli(m, "query", c["id"], QUERY, "--epsilon", "1", token=other.token)
        answered.append(answer.get("epsilon_charged"))
    assert answered == [1.0] * 4
    code, err = cli(m, "contract", "request", offer, "--purpose", "research", token=others[4].token)
    assert (code, err["code"]) == (3, "budget_exhausted")  # the total is spent: nobody gets one
    # the provider sees the account; the consumer does not
    code, shown = cli(m, "privacy", "show", m.dataset_id, token=m.hospital.token)
    assert code == 0, shown
    assert (shown["epsilon_spent"], shown["epsilon_remaining"], shown["epsilon_cap_source"]) == (
        5.0,
        0.0,
        "owner",
    )
    assert sorted(p["epsilon_spent"] for p in shown["parties"]) == [1.0] * 5
    assert {p["party_id"] for p in shown["parties"]} == {
        m.insurer.party.id,
        *(o.party.id for o in others[:4]),
    }
    code, err = cli(m, "privacy", "show", m.dataset_id, token=m.insurer.token)
    assert (code, err["code"]) == (3, "forbidden")
    # the log: the owner's setting, and each charge with the account's new totals (no titles)
    (setting,) = entries(m, "privacy.account.set")
    assert setting == {
        "dataset_id": m.dataset_id, "epsilon_cap": 5.0, "epsilon_cap_per_party": 1.0, "epsilon_spent": 0.0,
    }  # fmt: skip
    charged = [e for e in entries(m, "budget.charged") if e["charged"]["epsilon"]]
    assert [e["privacy_accounts"][0]["epsilon_spent"] for e in charged] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(e["privacy_accounts"][0]["party_epsilon_spent"] == 1.0 for e in charged)
    assert "Outpatient" not in json.dumps([*entries(m, "budget.charged"), setting])


def test_the_node_default_applies_when_the_owner_set_no_cap(m: Market) -> None:
    shown = get_account(m.ex, m.dataset_id, viewer=m.hospital.party)
    assert (shown.epsilon_cap, shown.epsilon_cap_source, shown.epsilon_cap_per_party) == (10.0, "node", None)
    offer = create_offer(
        m.ex, m.dataset_id, actor=m.hospital.party, tier="L1", epsilon=4.0, purposes=["research"],
        price=0, approval="auto",
    )  # fmt: skip
    got = []
    for _ in range(3):
        c = request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="research")
        got.append(c.id)
    for contract_id in got[:2]:
        charge(m.ex, contract_id, epsilon=4.0)
    with pytest.raises(BudgetExhausted) as e:
        charge(m.ex, got[2], epsilon=2.5)  # 8 + 2.5 > 10 although the contract has 4 left
    assert e.value.details["counter"] == "dataset_epsilon"
    assert charge(m.ex, got[2], epsilon=2).accounts[0]["epsilon_spent"] == 10.0
    assert get_account(m.ex, m.dataset_id, viewer=None).epsilon_remaining == 0


def test_a_derived_release_spends_its_sources_account(m: Market, tmp_path: Path) -> None:
    derived = m.ex.register(
        small_visits(tmp_path / "release.csv", units=40), owner=m.hospital.party.id, title="Release",
        license="proprietary", derived_from=m.dataset_id,
    ).dataset.id  # fmt: skip
    set_account(m.ex, m.dataset_id, actor=m.hospital.party, epsilon_cap=1.5)
    on_source = m.contract("L1", epsilon=3.0)
    offer = create_offer(
        m.ex, derived, actor=m.hospital.party, tier="L1", epsilon=3.0, purposes=["research"], price=0,
        approval="auto",
    )  # fmt: skip
    on_derived = request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="research")
    done = charge(m.ex, on_derived.id, epsilon=1.0)
    assert [(a["dataset_id"], a["epsilon_spent"]) for a in done.accounts] == [
        (derived, 1.0),
        (m.dataset_id, 1.0),
    ]
    with pytest.raises(BudgetExhausted):
        charge(m.ex, on_source.id, epsilon=1.0)  # the source has 0.5 left, whatever the contract says
    with pytest.raises(BudgetExhausted):
        charge(m.ex, on_derived.id, epsilon=0.6)  # the derived dataset's own account has 9 left
    charge(m.ex, on_source.id, epsilon=0.5)
    with pytest.raises(AccessDenied) as e:
        authorize_and_charge(m.ex, m.insurer.party, "dp_query", on_derived.id, epsilon=0.1)
    assert e.value.details["rule"] == "dataset.epsilon_cap"
    shown = get_account(m.ex, derived, viewer=m.hospital.party)
    assert (shown.epsilon_spent, shown.sources[0]["epsilon_remaining"]) == (1.0, 0.0)
    # a new ε-bearing contract on the derived data is not approved either
    with pytest.raises(BudgetExhausted):
        request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="research")


def test_a_manual_approval_is_refused_once_the_cap_is_reached(m: Market) -> None:
    set_account(m.ex, m.dataset_id, actor=m.hospital.party, epsilon_cap_per_party=0.5)
    first = m.contract("L1", epsilon=3.0)
    charge(m.ex, first.id, epsilon=0.5)
    offer = m.offer("L1", epsilon=1.0, approval="manual")
    c = request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="ai-training")
    code, err = cli(m, "contract", "approve", c.id, token=m.hospital.token)
    assert (code, err["code"]) == (3, "budget_exhausted")
    assert entries(m, "contract.refused")[-1]["event"] == "approve"
    code, shown = cli(m, "contract", "show", c.id, token=m.hospital.token)
    assert shown["state"] == "requested"
    # an offer without ε (rows only) is not an ε-bearing contract: still approvable
    l3 = m.contract("L3", max_rows=10)
    assert l3.state == "active"


def test_bad_caps_and_strangers_change_nothing(m: Market) -> None:
    size = log_size(m.ex)
    for bad in ("-1", "abc", "1e-12", "2000000", "nan"):
        code, err = cli(m, "privacy", "set", m.dataset_id, "--epsilon-cap", bad, token=m.hospital.token)
        assert (code, err["code"]) == (3, "invalid_input"), (bad, err)
    code, err = cli(m, "privacy", "set", m.dataset_id, token=m.hospital.token)
    assert (code, err["code"]) == (3, "invalid_input")
    code, err = cli(
        m, "privacy", "set", m.dataset_id, "--epsilon-cap", "1", "--bounds", "age=0:1", token=m.hospital.token
    )
    assert (code, err["code"]) == (3, "invalid_input")  # DP options without --unit: not silently dropped
    assert log_size(m.ex) == size
    with pytest.raises(Forbidden):
        set_account(m.ex, m.dataset_id, actor=m.insurer.party, epsilon_cap=100)
    with pytest.raises(InvalidInput):
        set_account(m.ex, m.dataset_id, actor=m.hospital.party)
    assert get_account(m.ex, m.dataset_id, viewer=None).epsilon_cap_source == "node"
    code, err = cli(m, "privacy", "show", "ds_unknown", token=m.hospital.token)
    assert (code, err["code"]) == (3, "dataset_not_found")


THREADS = 32


def test_concurrent_charges_never_pass_the_caps(m: Market) -> None:
    """32 threads, 4 consumers with 8 contracts each (ε 1 apiece), each thread charging ε 0.3 once:
    the per-contract budgets would allow all 32 (9.6); the account's total cap of 4.2 allows exactly
    14, and no party passes its own cap of 1.5 (5 charges)."""
    set_account(m.ex, m.dataset_id, actor=m.hospital.party, epsilon_cap="4.2", epsilon_cap_per_party="1.5")
    offer = m.offer("L1", epsilon=1.0, approval="auto", purposes=["research"])
    consumers: list[Actor] = [add(m.node, f"Consumer {i}", kind="insurer", role="consumer") for i in range(4)]
    work = [  # interleaved: thread i acts for consumer i % 4
        (who, request_contract(m.ex, offer.id, actor=who.party, purpose="research").id)
        for _ in range(THREADS // len(consumers))
        for who in consumers
    ]
    barrier = threading.Barrier(THREADS)
    ok: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        who, contract_id = work[i]
        barrier.wait()
        try:
            if i % 2:
                authorize_and_charge(m.ex, who.party, "dp_query", contract_id, epsilon="0.3")
            else:
                charge(m.ex, contract_id, epsilon="0.3")
        except (BudgetExhausted, AccessDenied) as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                ok.append(who.party.id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert (len(ok), len(errors)) == (14, THREADS - 14)
    assert all(ok.count(who.party.id) <= 5 for who in consumers)
    account = get_account(m.ex, m.dataset_id, viewer=None)
    assert account.epsilon_spent == pytest.approx(4.2, abs=0) and account.epsilon_remaining == 0
    spent = {p["party_id"]: Decimal(str(p["epsilon_spent"])) for p in account.parties}
    # a party whose every charge was refused has no spend row (the refusals changed nothing)
    assert spent == {p: Decimal("0.3") * ok.count(p) for p in set(ok)}
    charged = [Decimal(str(e["charged"]["epsilon"])) for e in entries(m, "budget.charged")]
    assert sum(charged) == Decimal("4.2")


def test_the_provider_page_shows_the_account(sqlite_node: Node, tmp_path: Path) -> None:
    from tests.web.conftest import web_app

    m = market(sqlite_node, small_visits(tmp_path / "visits.csv"))
    set_account(m.ex, m.dataset_id, actor=m.hospital.party, epsilon_cap=5, epsilon_cap_per_party="1.5")
    c = m.contract("L1", epsilon=3.0)
    charge(m.ex, c.id, epsilon="0.75")
    client = TestClient(web_app(m.ex), headers={"Accept": "text/html"})
    client.cookies.set("lang", "en")
    login = client.get("/login").text
    token = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"token": m.hospital.token, "csrf": token}).status_code == 200
    page = client.get("/provider").text
    cell = page.split(f'id="account-{m.dataset_id}">', 1)[1].split("</td>", 1)[0]
    assert cell == "0.75 / 5 · per party 1.5"
    stranger = add(m.node, "Rival Hospital")
    other = TestClient(web_app(m.ex), headers={"Accept": "text/html"})
    token = other.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    other.post("/login", data={"token": stranger.token, "csrf": token})
    assert f"account-{m.dataset_id}" not in other.get("/provider").text


def test_the_operator_sets_the_node_default(m: Market) -> None:
    size = log_size(m.ex)
    for bad in ("0", "-1", "x"):
        code, err = cli(m, "privacy", "defaults", "--epsilon-cap", bad)
        assert (code, err["code"]) == (3, "invalid_input"), bad
    code, err = cli(m, "privacy", "defaults", "--epsilon-cap", "1", token=m.hospital.token)
    assert (code, err["code"]) == (3, "forbidden")
    assert entries(m, "privacy.defaults.set") == [] and log_size(m.ex) == size + 1  # the denial
    code, out = cli(m, "privacy", "defaults", "--epsilon-cap", "2", "--epsilon-cap-per-party", "0.5")
    assert (code, out) == (0, {"epsilon_cap": 2.0, "epsilon_cap_per_party": 0.5})
    assert entries(m, "privacy.defaults.set") == [out]
    code, shown = cli(m, "privacy", "show", m.dataset_id)  # the local operator reads it too
    assert (shown["epsilon_cap"], shown["epsilon_cap_per_party"], shown["epsilon_cap_source"]) == (
        2.0,
        0.5,
        "node",
    )
    c = m.contract("L1", epsilon=3.0)
    charge(m.ex, c.id, epsilon="0.5")
    with pytest.raises(AccessDenied):
        authorize_and_charge(m.ex, m.insurer.party, "dp_query", c.id, epsilon="0.1")
    set_account(m.ex, m.dataset_id, actor=m.hospital.party, epsilon_cap_per_party=1)  # the owner's cap wins
    assert authorize_and_charge(m.ex, m.insurer.party, "dp_query", c.id, epsilon="0.5").accounts[0] == {
        "dataset_id": m.dataset_id, "epsilon_spent": 1.0, "epsilon_cap": 2.0, "party_id": m.insurer.party.id,
        "party_epsilon_spent": 1.0, "party_epsilon_cap": 1.0,
    }  # fmt: skip
