"""Deposits, orders on approval, usage charges with the budget, refunds, and ledger verify."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dataex.contracts.budget import ChargeRequest, charge, charge_many
from dataex.contracts.lifecycle import get_contract, revoke_contract
from dataex.db.models import LogEntryRow, PostingRow
from dataex.errors import (
    BudgetExhausted,
    Forbidden,
    InsufficientFunds,
    IntegrityError,
    InvalidInput,
    InvalidTransition,
)
from dataex.market import ledger, settlement
from dataex.market.settlement import deposit, verify_ledger, wallet_view
from tests.conftest import Node
from tests.market import Mkt, market


@pytest.fixture
def m(sqlite_node: Node, tmp_path: Path) -> Mkt:
    return market(sqlite_node, tmp_path)


def balances(m: Mkt, party_id: str) -> dict[str, int]:
    return wallet_view(m.ex, party_id, actor=m.operator.party)["balances"]


def counts(m: Mkt) -> tuple[int, int]:
    with m.ex.session() as s:
        postings = s.scalar(select(func.count()).select_from(PostingRow)) or 0
        entries = s.scalar(select(func.count()).select_from(LogEntryRow)) or 0
    return int(postings), int(entries)


@pytest.mark.parametrize("bad", [0, -5, 1.5, "12.5", "abc", True, None, 10**16])
def test_bad_deposits_are_refused_with_no_posting(m: Mkt, bad: object) -> None:
    before = counts(m)
    with pytest.raises(InvalidInput):
        deposit(m.ex, m.insurer.party.id, bad, actor=m.operator.party)
    assert counts(m) == before


def test_only_the_operator_deposits(m: Mkt) -> None:
    with pytest.raises(Forbidden):
        deposit(m.ex, m.insurer.party.id, 100, actor=m.insurer.party)


def test_flat_price_is_charged_on_approval_with_the_fee(m: Mkt) -> None:
    m.deposit(m.insurer, 10_000)
    c = m.contract("L1", price=2000)
    assert balances(m, m.insurer.party.id) == {"wallet": 8000, "revenue": 0, "due": 0}
    assert balances(m, m.a.party.id)["revenue"] == 2000 - 40  # 2 % fee, rounded down
    with m.ex.session() as s:
        assert ledger.balance(s, ledger.FEE) == 40
        posting = s.scalars(select(PostingRow).where(PostingRow.contract_id == c.id)).one()
        entry = m.ex.log.get_entry(s, posting.log_index)
    assert entry.event == "contract.activated"
    assert entry.body["data"]["posting"]["id"] == posting.id
    assert verify_ledger(m.ex)["ok"]


def test_unfunded_flat_price_becomes_due_and_the_next_deposit_settles_it(m: Mkt) -> None:
    c = m.contract("L1", price=2000)
    assert c.state == "active"
    assert balances(m, m.insurer.party.id) == {"wallet": 0, "revenue": 0, "due": -2000}
    m.deposit(m.insurer, 1500)  # not enough: stays due
    assert balances(m, m.insurer.party.id) == {"wallet": 1500, "revenue": 0, "due": -2000}
    m.deposit(m.insurer, 1000)
    assert balances(m, m.insurer.party.id) == {"wallet": 500, "revenue": 0, "due": 0}
    orders = wallet_view(m.ex, m.insurer.party.id, actor=m.insurer.party)["orders"]
    assert [o.status for o in orders] == ["paid"]
    assert verify_ledger(m.ex)["ok"]


def test_usage_is_charged_with_the_budget_and_rolls_back_together(m: Mkt) -> None:
    c = m.contract("L1", price="3.00/epsilon")  # 300 fen per ε
    m.deposit(m.insurer, 100)
    charge(m.ex, c.id, epsilon="0.1")  # 30 fen
    charge(m.ex, c.id, epsilon="0.0001")  # 0.03 fen rounds up to 1 fen
    assert balances(m, m.insurer.party.id)["wallet"] == 69
    before = counts(m)
    with pytest.raises(InsufficientFunds) as e:
        charge(m.ex, c.id, epsilon="0.5")  # 150 fen > 69
    assert e.value.needed_fen == 150
    assert counts(m) == before
    assert get_contract(m.ex, c.id, actor=m.insurer.party).remaining["epsilon"] == pytest.approx(2.8999)
    assert verify_ledger(m.ex)["ok"]


def test_per_row_and_per_query_prices(m: Mkt) -> None:
    m.deposit(m.insurer, 1000)
    rows = m.contract("L3", price="0.02/row", max_rows=1000, legal_basis="consent")
    charge(m.ex, rows.id, rows=37)
    queries = m.contract("L2", price="0.5/query", max_queries=10)
    charge(m.ex, queries.id, queries=2)
    assert balances(m, m.insurer.party.id)["wallet"] == 1000 - 74 - 100
    assert settlement.charge_usage is not None
    assert verify_ledger(m.ex)["ok"]


def test_revocation_refunds_pro_rata_to_the_unused_budget(m: Mkt) -> None:
    m.deposit(m.insurer, 10_000)
    c = m.contract("L1", price=3000, epsilon=3.0)
    charge(m.ex, c.id, epsilon="1")  # a third used
    revoke_contract(m.ex, c.id, actor=m.a.party, reason="misuse")
    assert balances(m, m.insurer.party.id)["wallet"] == 7000 + 2000
    assert balances(m, m.a.party.id)["revenue"] == (3000 - 60) - (2000 - 40)
    with m.ex.session() as s:
        assert ledger.balance(s, ledger.FEE) == 20
    assert verify_ledger(m.ex)["ok"]


def test_verify_detects_tampering(m: Mkt) -> None:
    m.deposit(m.insurer, 500)
    with m.ex.transaction() as s:
        row = s.get(ledger.AccountRow, ledger.wallet(m.insurer.party.id))
        assert row is not None
        row.balance += 1
    report = verify_ledger(m.ex)
    assert not report["ok"]
    assert any("trial balance" in p for p in report["problems"])


def test_concurrent_charges_cannot_overdraw(fresh_node: Node, tmp_path: Path) -> None:
    mk = market(fresh_node, tmp_path)
    c = mk.contract("L2", price="1.00/query", max_queries=1000)  # 100 fen per query
    mk.deposit(mk.insurer, 1250)  # affords 12 queries
    barrier = threading.Barrier(24)
    ok, refused = [], []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            charge(mk.ex, c.id, queries=1)
        except (InsufficientFunds, BudgetExhausted) as e:
            with lock:
                refused.append(e)
        else:
            with lock:
                ok.append(1)

    threads = [threading.Thread(target=worker) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert (len(ok), len(refused)) == (12, 12)
    assert balances(mk, mk.insurer.party.id)["wallet"] == 50
    assert get_contract(mk.ex, c.id, actor=mk.insurer.party).remaining["queries"] == 1000 - 12
    assert verify_ledger(mk.ex)["ok"]


def test_charge_usage_in_the_callers_transaction(m: Mkt) -> None:
    c = m.contract("L1", price="1.50/epsilon")
    m.deposit(m.insurer, 1000)
    with m.ex.transaction() as s:
        posting = settlement.charge_usage(s, c.id, epsilon="0.5", actor=m.insurer.party.id)
        assert posting is not None and posting.lines[0] == (ledger.wallet(m.insurer.party.id), -75)
        m.ex.log.checkpoint(s)
    free = m.contract("L1", price=0)
    with m.ex.transaction() as s:
        assert settlement.charge_usage(s, free.id, epsilon="0.5", actor=m.insurer.party.id) is None
    with m.ex.transaction() as s, pytest.raises(InvalidInput):
        settlement.charge_usage(s, c.id, queries=-1, actor=m.insurer.party.id)
    assert verify_ledger(m.ex)["ok"]


def posted_entries(m: Mkt) -> dict[str, int]:
    """Each posting's id -> the index of the log entry that names it (read back from the log)."""
    with m.ex.session() as s:
        postings = list(s.scalars(select(PostingRow)))
        return {
            p.id: p.log_index
            for p in postings
            if m.ex.log.get_entry(s, p.log_index).body["data"]["posting"]["id"] == p.id
        }


def test_a_batch_of_charges_equals_the_same_charges_one_by_one(m: Mkt) -> None:
    one = m.contract("L2", price="0.07/query", max_queries=100)
    two = m.contract("L2", price="0.07/query", max_queries=100)
    m.deposit(m.insurer, 1000)
    for _ in range(3):
        charge(m.ex, one.id, queries=2)
    before_log = counts(m)[1]
    done = charge_many(m.ex, [ChargeRequest(two.id, queries=2) for _ in range(3)])
    assert [c.remaining["queries"] for c in done] == [98, 96, 94]
    assert counts(m)[1] - before_log == 3 + 3  # budget.charged x3, then ledger.posted x3
    with m.ex.session() as s:
        events = [e.event for e in m.ex.log.entries(s, before_log)]
    assert events == ["budget.charged"] * 3 + ["ledger.posted"] * 3
    assert balances(m, m.insurer.party.id)["wallet"] == 1000 - 6 * 14
    a = get_contract(m.ex, one.id, actor=m.insurer.party).remaining
    b = get_contract(m.ex, two.id, actor=m.insurer.party).remaining
    assert a == b
    tied = posted_entries(m)
    assert len(tied) == counts(m)[0]  # every posting, the batch's included, is named by its entry
    assert verify_ledger(m.ex)["ok"]


def test_a_batch_is_all_or_nothing(m: Mkt) -> None:
    c = m.contract("L2", price="1.00/query", max_queries=100)
    m.deposit(m.insurer, 250)
    before = counts(m)
    with pytest.raises(InsufficientFunds) as e:
        charge_many(m.ex, [ChargeRequest(c.id, queries=1) for _ in range(3)])  # the third overdraws
    assert e.value.balance_fen == 50 and e.value.needed_fen == 100
    assert counts(m) == before
    assert balances(m, m.insurer.party.id)["wallet"] == 250
    assert get_contract(m.ex, c.id, actor=m.insurer.party).remaining["queries"] == 100
    with pytest.raises(InvalidInput):
        charge_many(m.ex, [ChargeRequest(c.id, queries=1), ChargeRequest(c.id, queries=-1)])
    assert counts(m) == before
    assert charge_many(m.ex, []) == []


def test_a_batch_that_exhausts_a_contract_cannot_charge_it_again(m: Mkt) -> None:
    c = m.contract("L2", price="0.01/query", max_queries=3)
    m.deposit(m.insurer, 100)
    before = counts(m)
    with pytest.raises(InvalidTransition, match="is exhausted"):
        charge_many(m.ex, [ChargeRequest(c.id, queries=3), ChargeRequest(c.id, queries=1)])
    assert counts(m) == before
    with pytest.raises(BudgetExhausted):
        charge_many(m.ex, [ChargeRequest(c.id, queries=2), ChargeRequest(c.id, queries=2)])
    assert counts(m) == before
    done = charge_many(m.ex, [ChargeRequest(c.id, queries=1), ChargeRequest(c.id, queries=2)])
    assert [(d.state, d.remaining["queries"]) for d in done] == [("active", 2), ("exhausted", 0)]
    with m.ex.session() as s:
        events = [e.event for e in m.ex.log.entries(s, before[1])]
    assert events == ["budget.charged"] * 2 + ["ledger.posted"] * 2 + ["contract.exhausted"]
    assert get_contract(m.ex, c.id, actor=m.insurer.party).state == "exhausted"
    assert verify_ledger(m.ex)["ok"]


def test_charge_usage_many_in_the_callers_transaction(m: Mkt) -> None:
    priced = m.contract("L1", price="1.50/epsilon")
    free = m.contract("L1", price=0)
    m.deposit(m.insurer, 1000)
    who = m.insurer.party.id
    with m.ex.transaction() as s:
        out = settlement.charge_usage_many(
            s,
            [
                settlement.UsageCharge(priced.id, who, epsilon="0.5"),
                settlement.UsageCharge(free.id, who, epsilon="0.5"),
                settlement.UsageCharge(priced.id, who, epsilon="0.1"),
            ],
            log=m.ex.log,
        )
        m.ex.log.checkpoint(s)
    assert out[1] is None
    first, third = out[0], out[2]
    assert first is not None and third is not None
    assert (first.lines[0][1], third.lines[0][1]) == (-75, -15)
    assert third.log_index == first.log_index + 1
    assert balances(m, who)["wallet"] == 1000 - 90
    assert verify_ledger(m.ex)["ok"]


def test_only_one_posting_may_ride_on_the_next_entry(m: Mkt) -> None:
    spec = ledger.PostingSpec("settle", [(ledger.FEE, 0), (ledger.FUNDING, 0)], "operator", event=None)
    with m.ex.transaction() as s, pytest.raises(InvalidInput):
        ledger.post_many(s, m.ex.log, [spec])  # no non-zero line
    lines = [(ledger.wallet(m.insurer.party.id), 5), (ledger.FUNDING, -5)]
    twice = [ledger.PostingSpec("deposit", lines, "operator", event=None)] * 2
    with m.ex.transaction() as s, pytest.raises(IntegrityError, match="only one posting"):
        ledger.post_many(s, m.ex.log, twice)
    unbalanced = ledger.PostingSpec("deposit", [(ledger.FUNDING, -5)], "operator")
    with m.ex.transaction() as s, pytest.raises(IntegrityError, match="does not balance"):
        ledger.post_many(s, m.ex.log, [unbalanced])
