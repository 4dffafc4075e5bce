"""Consent withdrawal (PIPL art. 15 and 47): a subject's rows leave every future access.

A data subject is identified by the value of a dataset's subject-key column (by default its DP
privacy unit, see ``privacy.dp.settings``). The node stores only a keyed hash of that value,
``subject_hash = hex(SHA-256(hex(node pseudonym key) ":" value))`` — computable inside DuckDB, so the
exclusion runs in the engine: ``sha256('<key hex>:' || CAST(col AS VARCHAR)) NOT IN (...)``.

A withdrawal recorded on a dataset applies to it and to every dataset derived from it (lineage,
followed downwards), wherever that dataset still has the subject-key column. Consumers holding L3/L4
contracts on any of those datasets get a notice that they must delete the subject's records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import ConsentWithdrawalRow, ContractRow, DatasetRow, DpSettingsRow, NoticeRow
from dataex.engines.sql import quote_ident, quote_literal
from dataex.errors import InvalidInput
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import check
from dataex.privacy.deid import load_or_create_key
from dataex.storage.cache import materialize

if TYPE_CHECKING:
    from dataex.node import Node

NOTIFIED_STATES = ("active", "expired", "exhausted", "revoked")
ROWS_LEAVE = ("L3", "L4")


@dataclass(frozen=True)
class Withdrawal:
    id: str
    dataset_id: str
    column: str
    subject_hash: str
    datasets: list[str]
    notices: int
    created: bool
    created_at: datetime


@dataclass(frozen=True)
class Notice:
    id: str
    contract_id: str | None
    dataset_id: str
    kind: str
    subject_hash: str | None
    message: str
    created_at: datetime


def subject_hash(key: bytes, value: str) -> str:
    return hashlib.sha256(f"{key.hex()}:{value}".encode()).hexdigest()


def descendants(session: Session, dataset_id: str) -> list[str]:
    """``dataset_id`` and every dataset derived from it, directly or not (breadth first)."""
    found, frontier = [dataset_id], [dataset_id]
    while frontier:
        children = list(session.scalars(select(DatasetRow.id).where(DatasetRow.derived_from.in_(frontier))))
        frontier = [c for c in children if c not in found]
        found += frontier
    return found


def ancestors(session: Session, dataset_id: str) -> list[str]:
    """``dataset_id`` and the datasets it derives from, up to its root."""
    chain = [dataset_id]
    row = session.get(DatasetRow, dataset_id)
    while row is not None and row.derived_from is not None and row.derived_from not in chain:
        chain.append(row.derived_from)
        row = session.get(DatasetRow, row.derived_from)
    return chain


def _subject_column(session: Session, dataset: DatasetRow, column: str | None) -> str:
    if column is None:
        settings = session.get(DpSettingsRow, dataset.id)
        if settings is None or settings.unit == "row":
            raise InvalidInput(
                f"dataset {dataset.id} declares no privacy unit column; pass --column, or declare one with "
                "`dataex privacy set --unit COLUMN`"
            )
        column = settings.unit
    names = [c["name"] for c in dataset.columns]
    if column not in names:
        raise InvalidInput(f"dataset {dataset.id} has no column {column!r}; its columns: {', '.join(names)}")
    return column


def withdraw_consent(
    node: Node, dataset_id: str, subject_key: str, *, column: str | None = None, actor: Party | None = None
) -> Withdrawal:
    """Records a withdrawal (owner or operator), notifies affected consumers; logged. Idempotent."""
    value = subject_key.strip()
    if not value:
        raise InvalidInput("give the subject's key: the value of the dataset's subject-key column")
    check(node, actor, "record_consent", dataset_id)
    key = load_or_create_key(node.settings.home)
    digest = subject_hash(key, value)
    with node.transaction() as s:
        node.log.lock(s)
        dataset = get_dataset_row(s, dataset_id)
        column = _subject_column(s, dataset, column)
        existing = s.scalars(
            select(ConsentWithdrawalRow).where(
                ConsentWithdrawalRow.dataset_id == dataset_id, ConsentWithdrawalRow.subject_hash == digest
            )
        ).first()
        affected = descendants(s, dataset_id)
        if existing is not None:
            return _withdrawal(existing, affected, notices=0, created=False)
        now = utc_now()
        row = ConsentWithdrawalRow(
            id=new_id("cwd"),
            dataset_id=dataset_id,
            column=column,
            subject_hash=digest,
            created_at=now,
            log_index=-1,
        )
        s.add(row)
        notices = _notify(s, affected, digest, now)
        entry = node.log.append(
            s,
            "consent.withdrawn",
            {
                "withdrawal_id": row.id,
                "dataset_id": dataset_id,
                "column": column,
                "subject_hash": digest,
                "datasets": affected,
                "notices": [n.id for n in notices],
            },
            actor=actor.id if actor else "operator",
        )
        row.log_index = entry.index
        node.log.checkpoint(s)
        return _withdrawal(row, affected, notices=len(notices), created=True)


def _notify(session: Session, datasets: list[str], digest: str, now: datetime) -> list[NoticeRow]:
    contracts = session.scalars(
        select(ContractRow).where(
            ContractRow.dataset_id.in_(datasets),
            ContractRow.tier.in_(ROWS_LEAVE),
            ContractRow.state.in_(NOTIFIED_STATES),
        )
    )
    notices = [
        NoticeRow(
            id=new_id("ntc"),
            party_id=c.consumer_id,
            contract_id=c.id,
            dataset_id=c.dataset_id,
            kind="delete_subject",
            subject_hash=digest,
            created_at=now,
            message=(
                f"A data subject of dataset {c.dataset_id} withdrew consent. Delete the records whose "
                f"subject key hashes to {digest[:16]}… from every copy received under contract {c.id}."
            ),
        )
        for c in contracts
    ]
    session.add_all(notices)
    session.flush()
    return notices


def _withdrawal(row: ConsentWithdrawalRow, affected: list[str], *, notices: int, created: bool) -> Withdrawal:
    return Withdrawal(
        id=row.id,
        dataset_id=row.dataset_id,
        column=row.column,
        subject_hash=row.subject_hash,
        datasets=affected,
        notices=notices,
        created=created,
        created_at=row.created_at,
    )


def exclusions(session: Session, dataset_id: str) -> dict[str, list[str]]:
    """Subject hashes to exclude from ``dataset_id``, by column: its own and its ancestors' withdrawals."""
    dataset = get_dataset_row(session, dataset_id)
    names = {c["name"] for c in dataset.columns}
    rows = session.scalars(
        select(ConsentWithdrawalRow).where(
            ConsentWithdrawalRow.dataset_id.in_(ancestors(session, dataset_id))
        )
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        if r.column in names:
            out.setdefault(r.column, []).append(r.subject_hash)
    return out


def exclusion_predicate(node: Node, session: Session, dataset_id: str) -> str | None:
    """A DuckDB boolean expression keeping only rows of subjects who did not withdraw (None: keep all)."""
    found = exclusions(session, dataset_id)
    if not found:
        return None
    key_hex = load_or_create_key(node.settings.home).hex()
    parts = []
    for column, hashes in sorted(found.items()):
        listed = ", ".join(quote_literal(h) for h in sorted(set(hashes)))
        cell = f"CAST({quote_ident(column)} AS VARCHAR)"
        parts.append(
            f"({cell} IS NULL OR sha256({quote_literal(key_hex + ':')} || {cell}) NOT IN ({listed}))"
        )
    return " AND ".join(parts)


def list_notices(node: Node, *, actor: Party) -> list[Notice]:
    with node.session() as s:
        rows = s.scalars(
            select(NoticeRow).where(NoticeRow.party_id == actor.id).order_by(NoticeRow.created_at)
        )
        return [
            Notice(
                id=r.id,
                contract_id=r.contract_id,
                dataset_id=r.dataset_id,
                kind=r.kind,
                subject_hash=r.subject_hash,
                message=r.message,
                created_at=r.created_at,
            )
            for r in rows
        ]


def notice_record(n: Notice) -> dict[str, Any]:
    return {
        "id": n.id,
        "contract_id": n.contract_id,
        "dataset_id": n.dataset_id,
        "kind": n.kind,
        "message": n.message,
        "created_at": n.created_at,
    }


@dataclass(frozen=True)
class Source:
    """What an access reads: the dataset's file without withdrawn subjects, and that view's version."""

    path: str
    version: str


def consented_source(node: Node, dataset_id: str) -> Source:
    """The dataset as every access must see it: withdrawn subjects' rows left out.

    Without withdrawals this is the stored file itself. With them, a filtered copy is written once
    under ``<home>/cache/consent/`` (named by the file's SHA-256 and the withdrawals, atomically
    renamed into place) and reused; ``version`` changes whenever the withdrawals do, so caches built
    on a dataset (e.g. a PSI provider set) know to rebuild.
    """
    with node.session() as s:
        dataset = get_dataset_row(s, dataset_id)
        predicate = exclusion_predicate(node, s, dataset_id)
    path = node.store.url(dataset.file_sha256)
    if predicate is None:
        return Source(path, dataset.file_sha256)
    version = hashlib.sha256(f"{dataset.file_sha256}\n{predicate}".encode()).hexdigest()
    target = node.settings.home / "cache" / "consent" / f"{version}.parquet"
    materialize(target, f"SELECT * FROM read_parquet({quote_literal(path)}) WHERE {predicate}")
    return Source(str(target), version)
