"""Test helpers: register small tables and give them metadata, indexed for search."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataex.catalog.search import reindex_dataset
from dataex.db.models import DatasetMetadataRow
from dataex.exchange import Exchange
from dataex.ledger.log import utc_now
from tests.conftest import Actor, Node, add


@dataclass
class Catalog:
    """A node with a hospital and a shop (providers) and an AI team (consumer), and their datasets."""

    node: Node
    hospital: Actor
    shop: Actor
    consumer: Actor
    ids: dict[str, str]


def three_parties(node: Node) -> tuple[Actor, Actor, Actor]:
    """The hospital, the shop and the AI team every catalog test starts from."""
    return (
        add(node, "Ruijin Hospital"),
        add(node, "Hangzhou Mart", kind="enterprise"),
        add(node, "Triage AI", kind="ai_team", role="consumer"),
    )


def register_table(
    ex: Exchange,
    tmp_path: Path,
    *,
    owner: str,
    title: str,
    columns: list[str],
    license: str = "CC-BY-4.0",
    rows: int = 30,
) -> str:
    """Registers a CSV with ``columns`` (distinct content per title) and indexes it; returns its id."""
    path = tmp_path / f"{abs(hash((title, tuple(columns))))}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for i in range(rows):
            w.writerow([f"{title}-{c}-{i}" for c in columns])
    reg = ex.register(path, owner=owner, title=title, license=license)
    with ex.transaction() as s:
        reindex_dataset(s, reg.dataset.id)
    return reg.dataset.id


def describe(
    ex: Exchange,
    dataset_id: str,
    *,
    description: str = "",
    keywords: list[str] | None = None,
    fields: dict[str, dict[str, Any]] | None = None,
    visibility: str = "public",
) -> None:
    """Writes the dataset's metadata row directly and reindexes it in the same transaction."""
    with ex.transaction() as s:
        row = s.get(DatasetMetadataRow, dataset_id)
        if row is None:
            row = DatasetMetadataRow(dataset_id=dataset_id, languages=[], rai={}, updated_at=utc_now())
            s.add(row)
        row.description = description
        row.keywords = keywords or []
        row.fields = fields or {}
        row.visibility = visibility
        row.updated_at = utc_now()
        s.flush()
        reindex_dataset(s, dataset_id)
