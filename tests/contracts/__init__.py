"""Shared set-up for the contract tests: a hospital's dataset, an insurer, an auditor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dataex.contracts.lifecycle import Contract, approve_contract, request_contract
from dataex.contracts.offers import Offer, create_offer
from dataex.db.models import ContractRow, LogEntryRow, OfferRow
from dataex.exchange import Exchange
from tests.conftest import Actor, Node, add


@dataclass
class Market:
    node: Node
    hospital: Actor
    insurer: Actor
    auditor: Actor
    dataset_id: str

    @property
    def ex(self) -> Exchange:
        return self.node.ex

    def offer(self, tier: str = "L1", **options: Any) -> Offer:
        defaults: dict[str, Any] = {"purposes": ["research", "ai-training"], "price": 2000}
        if tier == "L1":
            defaults["epsilon"] = 3.0
        return create_offer(
            self.ex, self.dataset_id, actor=self.hospital.party, tier=tier, **(defaults | options)
        )

    def contract(self, tier: str = "L1", *, approve: bool = True, **options: Any) -> Contract:
        offer = self.offer(tier, **options)
        c = request_contract(self.ex, offer.id, actor=self.insurer.party, purpose="ai-training")
        if approve and c.state == "requested":
            c = approve_contract(self.ex, c.id, actor=self.hospital.party)
        return c


def market(node: Node, csv: Path) -> Market:
    hospital = add(node, "Ruijin Hospital")
    insurer = add(node, "Ping An Insurance", kind="insurer", role="consumer")
    auditor = add(node, "CAC auditor", kind="government", role="auditor")
    reg = node.ex.register(csv, owner=hospital.party.id, title="Outpatient visits", license="proprietary")
    return Market(node, hospital, insurer, auditor, reg.dataset.id)


def log_events(ex: Exchange, start: int = 0) -> list[str]:
    return _events(ex, start)


def _events(ex: Exchange, start: int) -> list[str]:
    with ex.session() as s:
        return list(
            s.scalars(select(LogEntryRow.event).where(LogEntryRow.idx >= start).order_by(LogEntryRow.idx))
        )


def log_size(ex: Exchange) -> int:
    with ex.session() as s:
        return int(s.scalar(select(func.count()).select_from(LogEntryRow)) or 0)


def rows_snapshot(ex: Exchange) -> tuple[Any, ...]:
    """Every offer and contract row, to assert that a refused request changed none of them."""
    with ex.session() as s:
        offers = [(r.id, r.tier) for r in s.scalars(select(OfferRow).order_by(OfferRow.id))]
        contracts = [
            (
                r.id,
                r.state,
                r.remaining_epsilon_nano,
                r.remaining_queries,
                r.remaining_rows,
                r.agreement is None,
            )
            for r in s.scalars(select(ContractRow).order_by(ContractRow.id))
        ]
    return tuple(offers), tuple(contracts)
