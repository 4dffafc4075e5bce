"""authorize() on data: a decision for every action and tier, auditors never get data, every data
decision logged; catalog reads decided but not logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dataex.contracts import lifecycle as lc
from dataex.contracts.budget import charge
from dataex.contracts.odrl import TIERS
from dataex.db.models import ContractRow
from dataex.errors import AccessDenied, ContractNotFound, InvalidInput
from dataex.policy import DATA_ACTIONS, MIN_TIER, authorize
from tests.conftest import Node, add
from tests.contracts import Market, log_events, log_size, market
from tests.policy import make_private

TIER_OPTIONS = {
    "L0": {},
    "L1": {"epsilon": 3.0},
    "L2": {"max_queries": 10},
    "L3": {"max_rows": 1000},
    "L4": {"legal_basis": "consent"},
}


@pytest.fixture
def m(sqlite_node: Node, visits_csv: Path) -> Market:
    return market(sqlite_node, visits_csv)


def _expected(action: str, tier: str) -> bool:
    if action == "read_metadata":
        return True
    if action == "dp_query":
        return tier == "L1"  # only L1 contracts carry an ε budget
    return TIERS.index(tier) >= TIERS.index(MIN_TIER[action])


def test_every_action_against_every_tier(m: Market) -> None:
    calls = 0
    start = log_size(m.ex)
    for tier in TIERS:
        c = m.contract(tier, **TIER_OPTIONS[tier])
        for action in (*sorted(DATA_ACTIONS), "read_metadata"):
            d = authorize(m.ex, m.insurer.party, action, m.dataset_id, {"contract_id": c.id})
            calls += 1
            assert d.allow is _expected(action, tier), (tier, action, d.rule)
            if action == "read_metadata":
                assert d.rule == "metadata.public"
            elif d.allow:
                assert (d.rule, d.contract_id, d.tier) == (f"contract.{tier}", c.id, tier)
            else:
                assert d.rule in ("tier.too_low", "budget.no_epsilon")
    events = [e for e in log_events(m.ex, start) if e.startswith("access.")]
    assert calls == len(TIERS) * (len(DATA_ACTIONS) + 1)
    assert len(events) == len(TIERS) * len(DATA_ACTIONS)  # catalog reads are not logged


def test_decisions_are_logged_with_their_rule(m: Market) -> None:
    c = m.contract("L1")
    size = log_size(m.ex)
    allowed = authorize(m.ex, m.insurer.party, "dp_query", m.dataset_id, {"purpose": "ai-training"})
    denied = authorize(m.ex, m.insurer.party, "extract", m.dataset_id)
    assert log_events(m.ex, size) == ["access.allowed", "access.denied"]
    with m.ex.session() as s:
        body = m.ex.log.get_entry(s, denied.log_index).body
    assert body["data"] | {"context": {}} == {
        "party": m.insurer.party.id,
        "role": "consumer",
        "action": "extract",
        "dataset_id": m.dataset_id,
        "rule": "tier.too_low",
        "contract_id": c.id,
        "tier": "L1",
        "context": {},
    }
    assert allowed.contract_id == c.id
    with pytest.raises(AccessDenied) as err:
        denied.raise_if_denied()
    assert (err.value.status, err.value.rule) == (403, "tier.too_low")


def test_auditor_never_gets_data_but_reads_metadata_and_contracts(m: Market) -> None:
    c = m.contract("L4", legal_basis="consent")
    size = log_size(m.ex)
    for action in sorted(DATA_ACTIONS):
        d = authorize(m.ex, m.auditor.party, action, m.dataset_id, {"contract_id": c.id})
        assert (d.allow, d.rule) == (False, "auditor.no_data")
    assert authorize(m.ex, m.auditor.party, "read_metadata", m.dataset_id).allow
    assert log_events(m.ex, size) == ["access.denied"] * len(DATA_ACTIONS)
    assert lc.get_contract(m.ex, c.id, actor=m.auditor.party).agreement is not None


def test_owner_operator_strangers(m: Market) -> None:
    operator = m.ex.list_parties()[0]
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    for action in sorted(DATA_ACTIONS):
        assert authorize(m.ex, m.hospital.party, action, m.dataset_id).rule == "owner"
        assert authorize(m.ex, operator, action, m.dataset_id).rule == "operator.no_data"
        assert authorize(m.ex, stranger.party, action, m.dataset_id).rule == "contract.none"
    assert authorize(m.ex, stranger.party, "extract", "ds_nope").rule == "dataset.unknown"


def test_another_partys_contract_is_unknown_to_it(m: Market) -> None:
    c = m.contract("L3", max_rows=10)
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    d = authorize(m.ex, stranger.party, "extract", m.dataset_id, {"contract_id": c.id})
    assert (d.allow, d.rule, d.object_id) == (False, "contract.unknown", None)
    with pytest.raises(ContractNotFound, match=c.id):
        d.raise_if_denied()
    unknown = authorize(m.ex, stranger.party, "extract", None, {"contract_id": "ctr_" + "0" * 16})
    assert unknown.rule == "contract.unknown"
    owner = authorize(m.ex, m.hospital.party, "extract", None, {"contract_id": c.id})
    assert (owner.allow, owner.rule) == (False, "contract.not_yours")  # the provider knows it


def test_contract_states_purpose_and_budgets(m: Market) -> None:
    c = m.contract("L1", epsilon=1.0)
    assert authorize(m.ex, m.insurer.party, "dp_query", m.dataset_id, {"purpose": "marketing"}).rule == (
        "purpose.mismatch"
    )
    charge(m.ex, c.id, epsilon=1.0)
    assert authorize(m.ex, m.insurer.party, "dp_query", m.dataset_id).rule == "contract.exhausted"
    r = m.contract("L3", max_rows=5)
    lc.revoke_contract(m.ex, r.id, actor=m.hospital.party)
    d = authorize(m.ex, m.insurer.party, "extract", m.dataset_id, {"contract_id": r.id})
    assert (d.allow, d.rule) == (False, "contract.revoked")
    p = m.contract("L3", approve=False, max_rows=5)
    assert authorize(m.ex, m.insurer.party, "extract", m.dataset_id, {"contract_id": p.id}).rule == (
        "contract.requested"
    )


def test_expiry_is_applied_at_decision_time_and_logged(m: Market) -> None:
    c = m.contract("L2", expires=datetime.now(UTC) + timedelta(days=2))
    with m.ex.transaction() as s:
        past = datetime.now(UTC) - timedelta(seconds=1)
        s.execute(update(ContractRow).where(ContractRow.id == c.id).values(expires_at=past))
    size = log_size(m.ex)
    d = authorize(m.ex, m.insurer.party, "compute", m.dataset_id)
    assert d.rule == "contract.expired"
    assert log_events(m.ex, size) == ["contract.expired", "access.denied"]


def test_private_metadata(m: Market) -> None:
    m.contract("L1")  # before it turned private: the insurer was told it exists
    make_private(m)
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    for party in (stranger.party, m.auditor.party):  # as for an id never registered
        assert authorize(m.ex, party, "read_metadata", m.dataset_id).rule == "dataset.unknown"
        assert authorize(m.ex, party, "extract", m.dataset_id).rule == "dataset.unknown"
    assert authorize(m.ex, m.hospital.party, "read_metadata", m.dataset_id).rule == "metadata.private.owner"
    assert authorize(m.ex, m.insurer.party, "read_metadata", m.dataset_id).rule == "metadata.private.contract"


def test_unknown_action_is_bad_input(m: Market) -> None:
    with pytest.raises(InvalidInput, match="delete_everything"):
        authorize(m.ex, m.insurer.party, "delete_everything", m.dataset_id)


def test_on_both_backends(fresh_node: Node, visits_csv: Path) -> None:
    mk = market(fresh_node, visits_csv)
    c = mk.contract("L3", max_rows=100)
    size = log_size(mk.ex)
    assert authorize(mk.ex, mk.insurer.party, "extract", mk.dataset_id).contract_id == c.id
    assert not authorize(mk.ex, mk.insurer.party, "download", mk.dataset_id).allow
    assert not authorize(mk.ex, mk.auditor.party, "extract", mk.dataset_id).allow
    assert log_events(mk.ex, size) == ["access.allowed", "access.denied", "access.denied"]
    assert json.dumps(mk.ex.prove_inclusion(size)["entry"])
