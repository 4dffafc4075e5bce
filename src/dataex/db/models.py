"""SQLAlchemy table models. Wire formats live elsewhere; these rows never leave a service as-is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy's documented class attribute)
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime(),
    }


class NodeRow(Base):
    """The node itself: one row."""

    __tablename__ = "node"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


class PartyRow(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime]


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    license: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(80), index=True)
    schema_hash: Mapped[str] = mapped_column(String(80))
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]]
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    source_name: Mapped[str] = mapped_column(String(500))
    source_format: Mapped[str] = mapped_column(String(20))
    source_encoding: Mapped[str | None] = mapped_column(String(20))
    rights: Mapped[list[Any]]
    derived_from: Mapped[str | None] = mapped_column(ForeignKey("datasets.id"), index=True)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    registered_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)
    certificate: Mapped[str] = mapped_column(Text)


class LogEntryRow(Base):
    """One entry of the transparency log; ``entry`` holds the exact bytes that are hashed."""

    __tablename__ = "log_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event: Mapped[str] = mapped_column(String(60), index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogHeadRow(Base):
    """The log's current size and compact range (one row, locked by every append)."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[list[Any]]


class CheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) of the log at ``size``."""

    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class DatasetMetadataRow(Base):
    """Descriptive metadata of a dataset, following Croissant's core and RAI vocabularies.

    ``fields`` maps a column name to ``{"description": str, "semantic_type": str | None}``; ``rai`` holds
    the Croissant RAI properties by their snake_case names (``data_collection``, ``annotation_protocol``,
    ``limitations``, ``biases``, ``personal_sensitive_information``, …; see docs/metadata.md).
    """

    __tablename__ = "dataset_metadata"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[Any]]
    temporal_coverage: Mapped[str | None] = mapped_column(String(200))
    spatial_coverage: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[list[Any]]
    fields: Mapped[dict[str, Any]]
    rai: Mapped[dict[str, Any]]
    visibility: Mapped[str] = mapped_column(String(20), default="public")
    updated_at: Mapped[datetime]


class DemandRow(Base):
    """A consumer's request for data on the demand board. ``budget`` is in fen (integer minor units)."""

    __tablename__ = "demands"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[Any]]
    purpose: Mapped[str] = mapped_column(String(500))
    budget: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime]


class ClassificationRow(Base):
    """The stored personal-information classification of a dataset (see privacy/detect)."""

    __tablename__ = "classifications"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    grade: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list[Any]]
    overrides: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]


class QualityReportRow(Base):
    """The stored GB/T 36344 quality report of a dataset; ``report`` is the owner's full view."""

    __tablename__ = "quality_reports"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    grade: Mapped[str] = mapped_column(String(4))
    report: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]


class SearchDocumentRow(Base):
    """A dataset's search document: each text already segmented into space-separated terms.

    Written only by ``dataex.catalog.search.reindex_dataset``. Migration 0004 adds the backend's
    full-text index over it, which the models do not describe (see ``include_name``): on SQLite the
    FTS5 table ``search_fts`` (external content, kept in sync by triggers), on PostgreSQL the
    generated ``tsv`` tsvector column and its GIN index. See docs/search.md.
    """

    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), unique=True, index=True)
    title: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)
    column_names: Mapped[str] = mapped_column(Text)
    field_descriptions: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


SEARCH_INDEX_TABLE_PREFIX = "search_fts"
SEARCH_INDEX_PG_OBJECTS = frozenset({"tsv", "ix_search_documents_tsv"})


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:  # noqa: ARG001
    """Alembic autogenerate filter: hides the search index objects no model describes.

    Those are SQLite's FTS5 table ``search_fts`` and its shadow tables (``search_fts_data``, …) and
    PostgreSQL's generated column ``search_documents.tsv`` and index ``ix_search_documents_tsv``.
    """
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(SEARCH_INDEX_TABLE_PREFIX)
    if type_ in ("column", "index"):
        return name not in SEARCH_INDEX_PG_OBJECTS
    return True


class OfferRow(Base):
    """A provider's offer of a dataset at one access tier (see dataex.contracts.offers).

    ``price`` is ``{"amount_fen": int, "unit": "flat" | "row" | "epsilon" | "query"}``; budgets are
    fixed-point integers (``epsilon_nano`` in 1e-9 ε, ``delta_atto`` in 1e-18 δ) so sums are exact.
    ``policy`` is the W3C ODRL 2.2 Offer (JSON-LD) as written by dataex.contracts.odrl.
    """

    __tablename__ = "offers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    tier: Mapped[str] = mapped_column(String(4))
    purposes: Mapped[list[Any]]
    expires_at: Mapped[datetime | None]
    price: Mapped[dict[str, Any]]
    epsilon_nano: Mapped[int | None] = mapped_column(BigInteger)
    delta_atto: Mapped[int | None] = mapped_column(BigInteger)
    max_rows: Mapped[int | None] = mapped_column(BigInteger)
    max_queries: Mapped[int | None] = mapped_column(BigInteger)
    prohibitions: Mapped[list[Any]]
    duties: Mapped[list[Any]]
    approval: Mapped[str] = mapped_column(String(10))
    legal_basis: Mapped[str | None] = mapped_column(String(40))
    policy: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ContractRow(Base):
    """A consumer's contract under an offer; its state changes only through contracts.lifecycle.

    ``remaining_*`` counters are ``None`` when the offer sets no limit; budget.charge decrements them
    under a row lock. ``agreement`` is the ODRL 2.2 Agreement, set on approval.
    """

    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    tier: Mapped[str] = mapped_column(String(4))
    purpose: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    expires_at: Mapped[datetime | None]
    remaining_epsilon_nano: Mapped[int | None] = mapped_column(BigInteger)
    remaining_delta_atto: Mapped[int | None] = mapped_column(BigInteger)
    remaining_rows: Mapped[int | None] = mapped_column(BigInteger)
    remaining_queries: Mapped[int | None] = mapped_column(BigInteger)
    agreement: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
