"""Test helpers: register small tables and give them metadata, indexed for search."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataex.catalog.metadata import describe as describe_dataset
from dataex.catalog.search import reindex_dataset
from dataex.exchange import Exchange
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
    """Describes the dataset through the catalog service, as its operator: the metadata row, its
    ``dataset.described`` entry (which ``audit verify`` replays) and the search index, in one
    transaction. ``fields`` maps a column to ``{"description": …, "semantic_type": …}``."""
    fields = fields or {}
    describe_dataset(
        ex,
        dataset_id,
        actor=None,
        description=description,
        keywords=keywords or [],
        fields={c: str(f["description"]) for c, f in fields.items() if f.get("description")},
        semantic_types={c: str(f["semantic_type"]) for c, f in fields.items() if f.get("semantic_type")},
        visibility=visibility,
    )
