"""Shared set-up for the delivery tests: a hospital's visits with ``cost`` tolerable, consumers, contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

from dataex.contracts.lifecycle import Contract, approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.delivery.tolerances import set_tolerances
from dataex.demo.data import hospital_visits
from dataex.exchange import Exchange
from tests.conftest import Actor, Node, add


@dataclass
class Delivery:
    node: Node
    hospital: Actor
    consumers: list[Actor]
    dataset_id: str
    offers: dict[str, str] = field(default_factory=dict)

    @property
    def ex(self) -> Exchange:
        return self.node.ex

    def contract(self, consumer: Actor, tier: str = "L4", **options: Any) -> Contract:
        key = f"{tier}:{sorted(options.items())}"
        if key not in self.offers:
            defaults: dict[str, Any] = {"purposes": ["research"], "price": 0, "legal_basis": "consent"}
            if tier == "L1":
                defaults["epsilon"] = 1.0
            offer = create_offer(
                self.ex, self.dataset_id, actor=self.hospital.party, tier=tier, **(defaults | options)
            )
            self.offers[key] = offer.id
        c = request_contract(self.ex, self.offers[key], actor=consumer.party, purpose="research")
        return approve_contract(self.ex, c.id, actor=self.hospital.party)


def delivery(
    node: Node, tmp: Path, *, rows: int = 20_000, consumers: int = 3, tolerate: bool = True
) -> Delivery:
    hospital = add(node, "Ruijin Hospital")
    people = [add(node, f"Consumer {i}", kind="insurer", role="consumer") for i in range(consumers)]
    csv = tmp / f"visits-{rows}.csv"
    pacsv.write_csv(hospital_visits(rows, seed=7), csv)
    reg = node.ex.register(csv, owner=hospital.party.id, title="Visits", license="proprietary", analyze=False)
    if tolerate:
        set_tolerances(node.ex, reg.dataset.id, {"cost": 1}, actor=hospital.party)
    return Delivery(node, hospital, people, reg.dataset.id)
