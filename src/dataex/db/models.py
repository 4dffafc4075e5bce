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
    token_expires_at: Mapped[datetime | None]  # None: the token does not expire
    suspended_at: Mapped[datetime | None]  # set: the token and every session are refused


class WebSessionRow(Base):
    """A signed-in console session (dataex.web.session): the cookie's nonce hashed (``id``), its
    party, its end; sign-out, a token rotation or a suspension sets ``revoked_at``. Not ledger state."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


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
    sketch: Mapped[bytes | None] = mapped_column(LargeBinary)  # originality sketch (catalog.sketch)
    import_report: Mapped[dict[str, Any] | None]  # the import report without sample values
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

    ``owner_id``, ``license`` (lower-cased) and ``visibility`` are copies of the dataset's and its
    metadata's, kept current by ``reindex_dataset`` (registration and ``describe`` run it in their
    transaction), so that a search filters on this table alone, without joining every match.
    """

    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), unique=True, index=True)
    title: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)
    column_names: Mapped[str] = mapped_column(Text)
    field_descriptions: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(40))
    license: Mapped[str] = mapped_column(String(100))
    visibility: Mapped[str] = mapped_column(String(20))
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


# -- market (issue 8): wallets and accounts, double-entry postings, orders, products, valuations ----
class MarketSettingsRow(Base):
    """The market's settings (one row): the exchange's fee rate in basis points (1/10000)."""

    __tablename__ = "market_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fee_bps: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class AccountRow(Base):
    """A ledger account; ``balance`` (fen) caches the sum of its posting lines (ledger verify checks it).

    Ids: ``wallet:<party>`` (prepaid credits), ``revenue:<party>``, ``due:<party>`` (owed by the
    party, never positive), ``fee`` (the exchange's fee income) and ``funding`` (money from outside:
    the counterpart of deposits, never positive). Balances of all accounts sum to zero.
    """

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    balance: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class PostingRow(Base):
    """One double-entry transaction: its lines sum to zero; ``log_index`` is the log entry naming it."""

    __tablename__ = "postings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    contract_id: Mapped[str | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    product_id: Mapped[str | None] = mapped_column(String(40), index=True)
    memo: Mapped[dict[str, Any]]
    log_index: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime]


class PostingLineRow(Base):
    """One line of a posting: ``amount`` fen added to the account's balance (negative: taken)."""

    __tablename__ = "posting_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    posting_id: Mapped[str] = mapped_column(ForeignKey("postings.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class OrderRow(Base):
    """The order a priced contract opens on approval (or a product purchase); amounts in fen."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str | None] = mapped_column(ForeignKey("contracts.id"), unique=True)
    product_id: Mapped[str | None] = mapped_column(String(40), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    price: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), index=True)
    flat_fen: Mapped[int] = mapped_column(BigInteger)
    flat_fee_fen: Mapped[int] = mapped_column(BigInteger)
    usage_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ProductRow(Base):
    """A joint data product from several datasets of one schema; ``shares`` is the current split."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    creator_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    split: Mapped[str] = mapped_column(String(20))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]]
    shares: Mapped[dict[str, Any]]
    duplicates: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ProductMemberRow(Base):
    """One dataset of a product and its provider."""

    __tablename__ = "product_members"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(BigInteger)


class ValuationRow(Base):
    """A data valuation run: its inputs (digests, method, k) and per-dataset sums, so anyone can recompute."""

    __tablename__ = "valuations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(40), index=True)
    requested_by: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


# -- differential privacy (issue 7): per-dataset privacy metadata and the answer cache ------------
class DpSettingsRow(Base):
    """A dataset's privacy metadata for DP SQL, set by its owner (see dataex.privacy.dp.settings).

    ``unit`` is the privacy unit column, or ``"row"``; each unit keeps at most ``max_contributions``
    rows in a query. ``bounds`` maps a numeric column to ``[lo, hi]`` (clipping bounds); ``domains``
    maps a group-by column to its public list of keys (as strings). ``key_threshold``, when set, lets
    queries group by columns without a domain: keys are released only above a noisy threshold.
    ``not_null`` lists bounded columns the owner declares complete: AVG over them shares the query's
    COUNT(*) (a NULL, should one occur, is read as the midpoint of the column's bounds).
    """

    __tablename__ = "dp_settings"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(200))
    max_contributions: Mapped[int] = mapped_column(Integer)
    bounds: Mapped[dict[str, Any]]
    domains: Mapped[dict[str, Any]]
    key_threshold: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)
    not_null: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")


# -- the dataset-level privacy-loss account (issue 17): dataex.contracts.budget charges it ----------
class DatasetPrivacyAccountRow(Base):
    """A dataset's lifetime ε account: what every contract, consumer and derived dataset spent on it.

    ``epsilon_cap_nano`` caps the total for all consumers together, ``epsilon_cap_per_party_nano``
    each party across all its contracts; ``None`` means the node's default applies
    (:class:`PrivacyAccountDefaultsRow`). ``log_index`` is the owner's last ``privacy.account.set``
    entry (-1: never set; the row was opened by a charge).
    """

    __tablename__ = "dataset_privacy_accounts"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    epsilon_cap_nano: Mapped[int | None] = mapped_column(BigInteger)
    epsilon_cap_per_party_nano: Mapped[int | None] = mapped_column(BigInteger)
    spent_epsilon_nano: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class DatasetPrivacySpendRow(Base):
    """What one party spent on one dataset's ε account, across all its contracts."""

    __tablename__ = "dataset_privacy_party_spend"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    spent_epsilon_nano: Mapped[int] = mapped_column(BigInteger)


class PrivacyAccountDefaultsRow(Base):
    """The node's default ε caps (one row, ``id`` 1), set by the operator; absent: built-in defaults."""

    __tablename__ = "privacy_account_defaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epsilon_cap_nano: Mapped[int] = mapped_column(BigInteger)
    epsilon_cap_per_party_nano: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class DpAnswerRow(Base):
    """A released DP answer, cached per (contract, normalized query hash, ε in 1e-9 units).

    ``query_hash`` holds the hex SHA-256 of the normalized query's hash and the dataset version
    (dataex.contracts.consent.dataset_version), so an answer is never served after a withdrawal.

    A repeated identical query returns this answer and is not charged again, so repeating a query
    cannot average the noise away.
    """

    __tablename__ = "dp_answers"

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    query_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    epsilon_nano: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    answer: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


# -- PSI and compute-to-data (issue 10) -----------------------------------------------------------
class PsiPreparedSetRow(Base):
    """A provider's prepared PSI identifier list for one dataset column (dataex.privacy.psi.service).

    ``setup_file`` (relative to the home, mode 0600) holds the column's distinct canonical
    identifiers, shuffled, one a line; ``file_sha256`` is the dataset version it was built from (a
    changed dataset or consent gets a new list). ``key_file`` is empty: no PSI key is kept, each
    session draws its own (a non-empty value is a key file of an older node, deleted on rebuild).
    """

    __tablename__ = "psi_prepared_sets"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    column: Mapped[str] = mapped_column(String(200), primary_key=True)
    id_type: Mapped[str] = mapped_column(String(40))
    file_sha256: Mapped[str] = mapped_column(String(64))
    key_file: Mapped[str] = mapped_column(String(300))
    setup_file: Mapped[str] = mapped_column(String(300))
    setup_sha256: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(BigInteger)
    max_client_items: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class PsiSessionRow(Base):
    """One PSI session: who, which contract and mode, and the set sizes (never an item)."""

    __tablename__ = "psi_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    mode: Mapped[str] = mapped_column(String(20))
    id_type: Mapped[str] = mapped_column(String(40))
    column: Mapped[str] = mapped_column(String(200))
    consumer_items: Mapped[int] = mapped_column(BigInteger)
    provider_items: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ComputeJobRow(Base):
    """A compute-to-data job: queued → running → succeeded | failed | killed (dataex.compute.jobs).

    ``supervisor`` names the process watching the worker (``host:pid``) and ``heartbeat_at`` its
    last sign of life, so a restarted node can tell an interrupted job from a running one.
    ``outputs`` maps an output name to ``{"sha256", "bytes"}``; the files live in the node's home.
    """

    __tablename__ = "compute_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    recipe: Mapped[dict[str, Any]]
    limits: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    epsilon_nano: Mapped[int] = mapped_column(BigInteger)
    supervisor: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    metrics: Mapped[dict[str, Any]]
    outputs: Mapped[dict[str, Any]]
    usage: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# -- consent withdrawal (issue 6, part 6) ---------------------------------------------------------
class ConsentWithdrawalRow(Base):
    """A data subject's withdrawal of consent, identified by a keyed hash of the subject key.

    ``subject_hash`` is the lower-case hex SHA-256 of ``<node pseudonym key, hex> ":" <value>`` (see
    dataex.contracts.consent); the raw value is never stored. ``column`` names the subject-key column of
    ``dataset_id``; the withdrawal applies to that dataset and to every dataset derived from it.
    """

    __tablename__ = "consent_withdrawals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    column: Mapped[str] = mapped_column(String(200))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ConsentLineageRow(Base):
    """Which rows of a derived release came from which data subject of its source (issue 17).

    One row per (release, subject-key column, subject): ``subject_hash`` is the keyed hash of the
    subject's key as in ``consent_withdrawals`` (of the root dataset's ``column``), and ``rows`` the
    0-based row numbers of the release's stored file holding that subject's records. Kept on the node
    only: never in the release file, its schema or an extract.
    """

    __tablename__ = "consent_lineage"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    column: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    rows: Mapped[list[Any]]


class NoticeRow(Base):
    """A notice to a party, e.g. to delete a withdrawn subject's records received under a contract."""

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    contract_id: Mapped[str | None] = mapped_column(ForeignKey("contracts.id"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    kind: Mapped[str] = mapped_column(String(40))
    subject_hash: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# -- delivery (issue 9): fingerprint tolerances, fingerprints, extracts, Delta Sharing shares -------
class FingerprintSettingsRow(Base):
    """The columns of a dataset its owner declared tolerable for fingerprint marks (dataex.delivery).

    ``tolerances`` maps a column to ``{"units": n, "decimals": d, "kind": "number" | "timestamp"}``:
    a mark may move the value by at most ``n`` units of its last digit (``10**-d``; seconds for
    timestamps).
    """

    __tablename__ = "fingerprint_settings"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    tolerances: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class FingerprintRow(Base):
    """A contract's fingerprint on a dataset: its Tardos codeword is derived from the node secret."""

    __tablename__ = "fingerprints"

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    scheme: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ExtractRow(Base):
    """One delivery of a contract's fingerprinted rows (a file extract or a Delta Sharing copy)."""

    __tablename__ = "extracts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(10))
    rows: Mapped[int] = mapped_column(BigInteger)
    rows_charged: Mapped[int] = mapped_column(BigInteger)
    marked_cells: Mapped[int] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


class ShareRow(Base):
    """The Delta Sharing share of one contract; only the SHA-256 of its bearer token is kept."""

    __tablename__ = "shares"

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime]
    token_issued_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInteger)


# -- web console (issue 11): uploads registered in the background ----------------------------------
class WebUploadTaskRow(Base):
    """An upload the console registers in a background thread, polled by any worker (dataex.web.tasks).

    ``state`` is receiving → registering → classifying → scoring → done, or failed (``error`` is a
    message safe to show). ``worker`` names the process running it (``host:pid``) and ``updated_at``
    is its last heartbeat, so a reader can tell an interrupted task from a running one. Not ledger
    state: a task row gets no log entry (the registration it runs is logged as usual).
    """

    __tablename__ = "web_upload_tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20))
    received: Mapped[int] = mapped_column(BigInteger)
    dataset_id: Mapped[str | None] = mapped_column(ForeignKey("datasets.id"))
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# -- witnessing (issue 19): C2SP tlog-witness and tlog-cosignature ---------------------------------
class WitnessedLogRow(Base):
    """A log this node witnesses: its origin, its pinned verifier key, and the latest checkpoint this
    node cosigned for it (``size``/``root``; 0/None before the first), updated atomically."""

    __tablename__ = "witnessed_logs"

    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    vkey: Mapped[str] = mapped_column(String(400))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    note: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LogWitnessRow(Base):
    """A witness of this node's log: its cosigner name and ``cosignature/v1`` vkey, and the URL prefix
    its ``add-checkpoint`` is posted to (the only network address the node contacts for it)."""

    __tablename__ = "log_witnesses"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    vkey: Mapped[str] = mapped_column(String(400))
    url: Mapped[str] = mapped_column(String(2000))
    added_at: Mapped[datetime]


class CosignatureRow(Base):
    """A witness's verified cosignature line on this node's checkpoint at ``size``."""

    __tablename__ = "checkpoint_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: audit verify checks it
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]


class LogOpeningRow(Base):
    """The opening of a sealed field of log entry ``idx`` (dataex.ledger.seal): the salt and the value
    behind its public commitment, and the ids of the objects whose viewers may see it."""

    __tablename__ = "log_openings"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: audit verify checks it
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    value: Mapped[dict[str, Any]]
    audience: Mapped[list[Any]]
