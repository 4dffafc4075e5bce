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
