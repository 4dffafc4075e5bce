"""Shared set-up for the market tests: two hospitals with same-schema datasets, an insurer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from dataex.contracts.lifecycle import Contract, approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.exchange import Exchange
from dataex.market.settlement import deposit
from tests.conftest import Actor, Node, add


def labelled(n: int, seed: int, *, shift: float = 0.0) -> pa.Table:
    """``n`` rows of two features and a 0/1 label that depends on them (plus noise)."""
    rng = np.random.default_rng(seed)  # noqa: TID251  (seeded benchmark data, not privacy noise)
    x = rng.normal(shift, 1.0, size=(n, 2)).round(6)
    label = ((x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, n)) > shift).astype(np.int64)
    return pa.table({"x1": x[:, 0], "x2": x[:, 1], "label": label})


def write(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path)
    return path


@dataclass
class Mkt:
    node: Node
    a: Actor
    b: Actor
    insurer: Actor
    operator: Actor
    ds_a: str
    ds_b: str

    @property
    def ex(self) -> Exchange:
        return self.node.ex

    def deposit(self, party: Actor, amount: int) -> None:
        deposit(self.ex, party.party.id, amount, actor=self.operator.party)

    def contract(self, tier: str = "L1", **options: object) -> Contract:
        base: dict[str, object] = {"purposes": ["research"], "price": 0}
        if tier == "L1":
            base["epsilon"] = 3.0
        offer = create_offer(self.ex, self.ds_a, actor=self.a.party, tier=tier, **(base | options))  # type: ignore[arg-type]
        c = request_contract(self.ex, offer.id, actor=self.insurer.party, purpose="research")
        return approve_contract(self.ex, c.id, actor=self.a.party)


def market(node: Node, tmp: Path, *, rows: int = 120, dup_rows: int = 0) -> Mkt:
    a = add(node, "Ruijin Hospital")
    b = add(node, "Huashan Hospital")
    insurer = add(node, "Ping An Insurance", kind="insurer", role="consumer")
    operator = next(p for p in node.ex.list_parties() if p.is_operator)
    ta = labelled(rows, 1)
    tb = labelled(rows, 2)
    if dup_rows:
        tb = pa.concat_tables([tb.slice(0, rows - dup_rows), ta.slice(0, dup_rows)])
    ra = node.ex.register(write(ta, tmp / "a.csv"), owner=a.party.id, title="A visits", license="proprietary")
    rb = node.ex.register(write(tb, tmp / "b.csv"), owner=b.party.id, title="B visits", license="proprietary")
    return Mkt(node, a, b, insurer, Actor(operator, node.operator_token), ra.dataset.id, rb.dataset.id)
