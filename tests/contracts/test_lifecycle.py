"""The contract state machine: every legal and illegal transition, and who may trigger them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dataex.contracts import lifecycle as lc
from dataex.contracts.budget import charge
from dataex.contracts.offers import create_offer, list_offers
from dataex.db.models import ContractRow, DatasetRow
from dataex.errors import Conflict, ContractNotFound, Forbidden, InvalidInput, InvalidTransition
from dataex.policy import states as st
from tests.conftest import Node, add
from tests.contracts import Market, log_events, log_size, market, rows_snapshot


@pytest.fixture
def m(fresh_node: Node, visits_csv: Path) -> Market:
    return market(fresh_node, visits_csv)


@pytest.fixture
def m1(sqlite_node: Node, visits_csv: Path) -> Market:
    return market(sqlite_node, visits_csv)


def _row(m: Market, contract_id: str) -> ContractRow:
    with m.ex.session() as s:
        row = s.get(ContractRow, contract_id)
        assert row is not None
        return row


# -- the table, exhaustively -----------------------------------------------------------------------
def test_transition_table_is_total(m1: Market) -> None:
    """Every (state, event) pair either moves as the table says and logs, or raises and changes nothing."""
    c = m1.contract("L1", approve=False)
    for state, event in itertools.product([st.NEW, *st.STATES], st.EVENTS):
        with m1.ex.transaction() as s:
            s.execute(update(ContractRow).where(ContractRow.id == c.id).values(state=state))
        size = log_size(m1.ex)
        target = st.TRANSITIONS.get((state, event))
        if target is None:
            with pytest.raises(InvalidTransition) as err, m1.ex.transaction() as s:
                st.transition(s, lc.lock_contract(s, c.id), event, actor="test", log=m1.ex.log)
            assert err.value.status == 409
            assert err.value.state == state
            assert _row(m1, c.id).state == state
            assert log_size(m1.ex) == size
        else:
            with m1.ex.transaction() as s:
                st.transition(s, lc.lock_contract(s, c.id), event, actor="test", reason="r", log=m1.ex.log)
            assert _row(m1, c.id).state == target, (state, event)
            assert log_events(m1.ex, size) == [st.LOG_EVENTS[event]]
    assert len(st.TRANSITIONS) == 10


def test_final_states_have_no_way_out() -> None:
    assert {s for (s, _e) in st.TRANSITIONS} & st.FINAL == set()
    assert set(st.TRANSITIONS.values()) <= set(st.STATES)


# -- the services: request, approve, reject, revoke, expire ----------------------------------------
def test_request_approve_activates_with_an_agreement(m: Market) -> None:
    offer = m.offer("L1")
    start = log_size(m.ex)
    c = lc.request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="ai-training", note="triage model")
    assert c.state == "requested"
    assert c.agreement is None
    c = lc.approve_contract(m.ex, c.id, actor=m.hospital.party)
    assert c.state == "active"
    assert c.agreement is not None
    assert c.agreement["@type"] == "Agreement"
    assert c.remaining == {"epsilon": 3.0, "delta": None, "rows": None, "queries": None}
    assert log_events(m.ex, start) == ["contract.requested", "contract.approved", "contract.activated"]


def test_auto_approval(m: Market) -> None:
    offer = m.offer("L3", approval="auto", price=0)
    c = lc.request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="research")
    assert c.state == "active"
    assert c.agreement is not None


def test_reject_and_revoke(m: Market) -> None:
    c = m.contract("L1", approve=False)
    assert lc.reject_contract(m.ex, c.id, actor=m.hospital.party, reason="no").state == "rejected"
    c2 = m.contract("L1")
    assert lc.revoke_contract(m.ex, c2.id, actor=m.hospital.party, reason="misuse").state == "revoked"
    operator = m.ex.list_parties()[0]
    c3 = m.contract("L1")
    assert lc.revoke_contract(m.ex, c3.id, actor=operator, reason="court order").state == "revoked"


def _refused(m: Market, call: object, error: type[Exception], event: str = "access.denied") -> None:
    """Nothing changes but one log entry: the policy's ``access.denied`` for who may act, the
    service's ``contract.refused`` for anything else (an illegal transition, a purpose)."""
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    with pytest.raises(error):
        call()  # type: ignore[operator]
    assert rows_snapshot(m.ex) == before
    assert log_events(m.ex, size) == [event]


def test_approving_ones_own_request_is_refused(m: Market) -> None:
    c = m.contract("L1", approve=False)
    _refused(m, lambda: lc.approve_contract(m.ex, c.id, actor=m.insurer.party), Forbidden)
    _refused(m, lambda: lc.reject_contract(m.ex, c.id, actor=m.insurer.party), Forbidden)


def test_approving_as_a_non_owner_is_refused(m: Market) -> None:
    c = m.contract("L1", approve=False)
    other = add(m.node, "Another Hospital")  # not a party to it: the contract does not exist for it
    _refused(m, lambda: lc.approve_contract(m.ex, c.id, actor=other.party), ContractNotFound)
    _refused(m, lambda: lc.approve_contract(m.ex, c.id, actor=m.auditor.party), Forbidden)
    _refused(m, lambda: lc.revoke_contract(m.ex, c.id, actor=m.insurer.party), Forbidden)


def test_reusing_a_revoked_contract_is_refused(m: Market) -> None:
    c = m.contract("L1")
    lc.revoke_contract(m.ex, c.id, actor=m.hospital.party)
    refused = "contract.refused"
    _refused(m, lambda: lc.approve_contract(m.ex, c.id, actor=m.hospital.party), InvalidTransition, refused)
    _refused(m, lambda: lc.revoke_contract(m.ex, c.id, actor=m.hospital.party), InvalidTransition, refused)
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    with pytest.raises(InvalidTransition):
        charge(m.ex, c.id, epsilon=0.1)
    assert (rows_snapshot(m.ex), log_size(m.ex)) == (before, size)


def test_request_checks(m: Market) -> None:
    offer = m.offer("L1")
    _refused(
        m,
        lambda: lc.request_contract(m.ex, offer.id, actor=m.insurer.party, purpose="marketing"),
        Forbidden,
        "contract.refused",
    )
    _refused(
        m, lambda: lc.request_contract(m.ex, offer.id, actor=m.hospital.party, purpose="research"), Forbidden
    )
    _refused(
        m, lambda: lc.request_contract(m.ex, offer.id, actor=m.auditor.party, purpose="research"), Forbidden
    )


def test_expiry_by_time(m1: Market) -> None:
    c = m1.contract("L1", expires=datetime.now(UTC) + timedelta(days=1))
    pending = m1.contract("L1", approve=False, expires=datetime.now(UTC) + timedelta(days=1))
    past = datetime.now(UTC) - timedelta(seconds=1)
    with m1.ex.transaction() as s:
        s.execute(update(ContractRow).values(expires_at=past))
    size = log_size(m1.ex)
    assert sorted(lc.expire_due(m1.ex)) == sorted([c.id, pending.id])
    assert log_events(m1.ex, size) == ["contract.expired", "contract.expired"]
    assert lc.expire_due(m1.ex) == []
    assert _row(m1, c.id).state == "expired"


def test_exhaust_at_zero(m1: Market) -> None:
    c = m1.contract("L1", epsilon=1.0)
    result = charge(m1.ex, c.id, epsilon=1.0)
    assert result.state == "exhausted"
    assert log_events(m1.ex, result.log_index) == ["budget.charged", "contract.exhausted"]


def test_show_and_odrl_access(m1: Market) -> None:
    c = m1.contract("L1", approve=False)
    for reader in (m1.insurer, m1.hospital, m1.auditor):
        assert lc.get_contract(m1.ex, c.id, actor=reader.party).id == c.id
    with pytest.raises(Conflict):
        lc.contract_odrl(m1.ex, c.id, actor=m1.insurer.party)
    stranger = add(m1.node, "Stranger", kind="ai_team", role="consumer")
    size = log_size(m1.ex)
    with pytest.raises(ContractNotFound):  # exactly as for an id never issued
        lc.get_contract(m1.ex, c.id, actor=stranger.party)
    assert log_events(m1.ex, size) == ["access.denied"]
    assert [x.id for x in lc.list_contracts(m1.ex, actor=m1.auditor.party)] == [c.id]
    assert lc.list_contracts(m1.ex, actor=stranger.party) == []


# -- offers ----------------------------------------------------------------------------------------
def test_offer_rules(m1: Market) -> None:
    ex, h = m1.ex, m1.hospital.party
    before, size = rows_snapshot(ex), log_size(ex)
    bad: list[dict[str, object]] = [
        {"tier": "L5"},
        {"tier": "L1", "epsilon": -1},
        {"tier": "L1"},  # no ε budget
        {"tier": "L1", "epsilon": 1, "price": -5},
        {"tier": "L1", "epsilon": 1, "price": "-0.02/row"},
        {"tier": "L1", "epsilon": 1, "expires": "2001-01-01"},
        {"tier": "L1", "epsilon": 1, "purposes": []},
        {"tier": "L3", "max_rows": -3},
        {"tier": "L3", "max_rows": 10, "prohibitions": ["resale"]},
        {"tier": "L1", "epsilon": 1, "approval": "sometimes"},
        {"tier": "L1", "epsilon": 1, "price": "0.001/epsilon"},
    ]
    for options in bad:
        args = {"purposes": ["research"]} | options
        with pytest.raises(InvalidInput):
            create_offer(ex, m1.dataset_id, actor=h, **args)  # type: ignore[arg-type]
    assert (rows_snapshot(ex), log_size(ex)) == (before, size)
    with pytest.raises(Forbidden):
        create_offer(ex, m1.dataset_id, actor=m1.insurer.party, tier="L1", purposes=["x"], epsilon=1)
    assert log_events(ex, size) == ["access.denied"]


def test_offer_price_forms_and_listing(m1: Market) -> None:
    o = m1.offer("L3", max_rows=100000, price="0.02/row", prohibitions=["redistribution"])
    assert o.price == {"amount_fen": 2, "unit": "row"}
    assert o.prohibitions == ["redistribution", "reidentification"]
    assert m1.offer("L1", price="1.50/epsilon").price == {"amount_fen": 150, "unit": "epsilon"}
    assert m1.offer("L1", price=2000).price == {"amount_fen": 2000, "unit": "flat"}
    assert next(x.id for x in list_offers(m1.ex, dataset_id=m1.dataset_id)) == o.id
    assert list_offers(m1.ex, dataset_id="ds_none") == []


def _classify(m: Market, grade: str | None, fields: list[dict[str, str]] | None = None) -> None:
    """Stores (or, with ``grade=None``, removes) the dataset's classification."""
    from sqlalchemy import delete

    from dataex.db.models import ClassificationRow

    with m.ex.transaction() as s:
        s.execute(delete(ClassificationRow).where(ClassificationRow.dataset_id == m.dataset_id))
        if grade is not None:
            now = datetime.now(UTC)
            s.add(
                ClassificationRow(
                    dataset_id=m.dataset_id, grade=grade, fields=fields or [], overrides={}, computed_at=now
                )
            )


def test_l4_needs_a_legal_basis_for_unclassified_or_personal_data(m1: Market) -> None:
    _classify(m1, None)  # unclassified: treated as possibly sensitive
    with pytest.raises(Forbidden, match="legal basis"):
        m1.offer("L4")
    assert m1.offer("L4", legal_basis="consent").legal_basis == "consent"
    with pytest.raises(Forbidden):
        m1.offer("L4", legal_basis="contract")  # unclassified: consent or legal_obligation only
    _classify(m1, "general-1", [{"name": "visit_id", "category": "non_personal", "grade": "general-1"}])
    assert m1.offer("L4").tier == "L4"  # classified non-personal
    _classify(m1, "general-2", [{"name": "name", "category": "personal", "grade": "general-2"}])
    with pytest.raises(Forbidden):
        m1.offer("L4")
    assert m1.offer("L4", legal_basis="contract").legal_basis == "contract"
    _classify(
        m1, "general-4", [{"name": "diagnosis", "category": "sensitive_personal", "grade": "general-4"}]
    )
    with pytest.raises(Forbidden):
        m1.offer("L4", legal_basis="contract")
    assert m1.offer("L3").tier == "L3"
    _classify(m1, "important")
    with pytest.raises(Forbidden):
        m1.offer("L3")
    assert m1.offer("L3", legal_basis="legal_obligation").tier == "L3"
    _classify(m1, "core")
    with pytest.raises(Forbidden, match="core"):
        m1.offer("L3", legal_basis="consent")
    assert m1.offer("L1").tier == "L1"


def test_offer_of_unknown_dataset(m1: Market) -> None:
    from dataex.errors import DatasetNotFound

    with pytest.raises(DatasetNotFound):
        create_offer(m1.ex, "ds_missing", actor=m1.hospital.party, tier="L1", purposes=["x"], epsilon=1)
    with m1.ex.session() as s:
        assert s.get(DatasetRow, m1.dataset_id) is not None
