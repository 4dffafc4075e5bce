"""Shared set-up for the DP tests: a small visits table with known answers, an L1 contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from dataex.contracts.lifecycle import Contract
from dataex.privacy.dp.settings_service import set_privacy
from tests.conftest import Node
from tests.contracts import Market, market

DIAGNOSES = ["A", "B", "C"]
UNUSED_KEY = "Z"
QUERY = (
    "SELECT diagnosis, COUNT(*) AS n, SUM(cost) AS total, AVG(cost) AS avg_cost FROM visits "
    "WHERE age >= 60 GROUP BY diagnosis"
)


def small_visits(path: Path, *, units: int = 60, per_unit: int = 2, extra_unit: bool = False) -> Path:
    """``units`` patients with ``per_unit`` visits each; costs and ages partly outside the bounds."""
    rows: list[dict[str, object]] = []
    for u in range(units + (1 if extra_unit else 0)):
        for j in range(per_unit):
            rows.append(
                {
                    "patient_id": f"P{u:04d}",
                    "age": 40 + (u * 7 + j) % 60,
                    "diagnosis": DIAGNOSES[(u + j) % 3],
                    "cost": float((u * 37 + j * 101) % 300) - 20.5,  # some below 0, some above 250
                }
            )
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    return path


@dataclass
class DpMarket:
    m: Market
    contract: Contract


def dp_market(node: Node, csv: Path, *, epsilon: float = 3.0, delta: float | None = None) -> DpMarket:
    m = market(node, csv)
    set_privacy(
        m.ex,
        m.dataset_id,
        actor=m.hospital.party,
        unit="patient_id",
        max_contributions=2,
        bounds={"cost": (0.0, 250.0), "age": (0.0, 120.0)},
        domains={"diagnosis": [*DIAGNOSES, UNUSED_KEY]},
    )
    options = {"epsilon": epsilon} | ({"delta": delta} if delta is not None else {})
    return DpMarket(m, m.contract("L1", **options))
