"""Dataset records as the services hand them out (never the table row itself).

``list_datasets`` and ``get_dataset`` are the catalog's view of them for a viewer: a dataset whose
metadata is ``private`` is shown to its owner and the operator only. To anyone else it does not
exist: the list omits it and ``get_dataset`` raises ``DatasetNotFound`` exactly as for an unknown
id, so the answer is no oracle of its existence. Auditors are no exception: they read the log,
not the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.db.models import DatasetRow
from dataex.errors import DatasetNotFound
from dataex.policy import Viewer, visible_datasets

if TYPE_CHECKING:
    from dataex.node import Node

Right = Literal["holding", "processing_use", "product_operation"]
RIGHTS: tuple[str, ...] = get_args(Right)


@dataclass(frozen=True)
class Dataset:
    id: str
    owner_id: str
    title: str
    license: str
    digest: str
    schema_hash: str
    rows: int
    columns: list[dict[str, str]]
    file_sha256: str
    size_bytes: int
    source: dict[str, Any]
    rights: list[str]
    derived_from: str | None
    registered_at: datetime
    log_index: int
    certificate: str

    @classmethod
    def of(cls, row: DatasetRow) -> Dataset:
        return cls(
            id=row.id,
            owner_id=row.owner_id,
            title=row.title,
            license=row.license,
            digest=row.digest,
            schema_hash=row.schema_hash,
            rows=row.rows,
            columns=list(row.columns),
            file_sha256=row.file_sha256,
            size_bytes=row.size_bytes,
            source={"name": row.source_name, "format": row.source_format, "encoding": row.source_encoding},
            rights=list(row.rights),
            derived_from=row.derived_from,
            registered_at=row.registered_at,
            log_index=row.log_index,
            certificate=row.certificate,
        )


def get_dataset_row(session: Session, dataset_id: str) -> DatasetRow:
    row = session.get(DatasetRow, dataset_id)
    if row is None:
        raise DatasetNotFound(dataset_id)
    return row


def list_dataset_rows(session: Session, *, owner_id: str | None = None) -> list[DatasetRow]:
    q = select(DatasetRow).order_by(DatasetRow.registered_at, DatasetRow.id)
    if owner_id is not None:
        q = q.where(DatasetRow.owner_id == owner_id)
    return list(session.scalars(q))


CatalogViewer = Viewer
"""Who looks at the catalog: a party, ``"anonymous"`` (an HTTP client without a token), or ``None``
(the local operator, as in the CLI); what each may see is rule 2 of :mod:`dataex.policy`."""


def list_datasets(node: Node, *, owner: str | None = None, viewer: CatalogViewer = None) -> list[Dataset]:
    """The datasets ``viewer`` may see (``owner``: of that party only), oldest first."""
    q = select(DatasetRow).order_by(DatasetRow.registered_at, DatasetRow.id)
    if owner is not None:
        q = q.where(DatasetRow.owner_id == owner)
    visible = visible_datasets(viewer)
    if visible is not None:
        q = q.where(visible)
    with node.session() as s:
        return [Dataset.of(r) for r in s.scalars(q)]


def get_dataset(node: Node, dataset_id: str, *, viewer: CatalogViewer = None) -> Dataset:
    """The dataset, if ``viewer`` may see it; ``DatasetNotFound`` otherwise, as for an unknown id."""
    q = select(DatasetRow).where(DatasetRow.id == dataset_id)
    visible = visible_datasets(viewer)
    if visible is not None:
        q = q.where(visible)
    with node.session() as s:
        row = s.scalar(q)
        if row is None:
            raise DatasetNotFound(dataset_id)
        return Dataset.of(row)
