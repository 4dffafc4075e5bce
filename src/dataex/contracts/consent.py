"""Consent withdrawal (PIPL art. 15 and 47): a subject's rows leave every future access.

A data subject is identified by the value of a dataset's subject-key column (by default its DP
privacy unit, see ``privacy.dp.settings``). The node stores only a keyed hash of that value,
``subject_hash = hex(SHA-256(hex(node pseudonym key) ":" value))`` — computable inside DuckDB, so the
exclusion runs in the engine: ``sha256('<key hex>:' || CAST(col AS VARCHAR)) NOT IN (...)``.

A withdrawal recorded on a dataset applies to it and to every dataset derived from it (lineage,
followed downwards), wherever that dataset still has the subject-key column. Consumers holding L3/L4
contracts on any of those datasets get a notice that they must delete the subject's records.

A derived release that no longer has the subject-key column (an anonymized release drops or
generalizes it) keeps a hidden **subject lineage** on the node (``consent_lineage``): for each
subject-key column and subject hash of its source (the source's own subject columns, see
:func:`subject_columns`, and whatever lineage the source itself inherited), the 0-based row numbers
of the release's stored file that came from that subject. The release's file, schema and extracts
never contain the key; a later withdrawal on any ancestor excludes those rows by their position
(DuckDB's virtual ``file_row_number`` column).

Every access reads the consented data (:func:`consented_source`, :func:`consented_rows`), and every
cache built on a dataset is keyed by :func:`dataset_version`: the file's SHA-256 when nothing is
excluded, else SHA-256 of that digest and the exclusion predicate (so it changes with every
withdrawal that reaches the dataset).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import (
    ConsentLineageRow,
    ConsentWithdrawalRow,
    ContractRow,
    DatasetRow,
    DpSettingsRow,
    NoticeRow,
)
from dataex.engines.sql import quote_ident, quote_literal
from dataex.errors import InvalidInput
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import check
from dataex.privacy.deid import load_or_create_key
from dataex.storage.cache import materialize

if TYPE_CHECKING:
    from dataex.node import Node

MAX_SUBJECT_KEY: Final = 500
MAX_COLUMN: Final = 200
NOTIFIED_STATES = ("active", "expired", "exhausted", "revoked")
ROWS_LEAVE = ("L3", "L4")
ROW_NUMBER: Final = "file_row_number"
"""DuckDB's virtual column of ``read_parquet``: a row's 0-based position in its file (not in ``*``)."""


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
    unreached: list[str] = field(default_factory=list)
    """Derived datasets with neither the subject-key column nor a subject lineage for it."""


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
    if len(value) > MAX_SUBJECT_KEY:
        raise InvalidInput(f"a subject key has at most {MAX_SUBJECT_KEY} characters; got {len(value)}")
    if column is not None and len(column) > MAX_COLUMN:
        raise InvalidInput(f"a column name has at most {MAX_COLUMN} characters; got {len(column)}")
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
        unreached = _unreached(s, affected[1:], column)
        if existing is not None:
            return _withdrawal(existing, affected, notices=0, created=False, unreached=unreached)
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
                "unreached": unreached,
                "notices": [n.id for n in notices],
            },
            actor=actor.id if actor else "operator",
        )
        row.log_index = entry.index
        node.log.checkpoint(s)
        return _withdrawal(row, affected, notices=len(notices), created=True, unreached=unreached)


def _unreached(session: Session, derived: list[str], column: str) -> list[str]:
    """The ``derived`` datasets a withdrawal keyed on ``column`` cannot reach: they lack the column
    and keep no subject lineage for it (e.g. registered with ``--derived-from`` after a transform)."""
    out = []
    for dataset_id in derived:
        row = session.get(DatasetRow, dataset_id)
        if row is None or column in {c["name"] for c in row.columns}:
            continue
        kept = session.scalars(
            select(ConsentLineageRow.dataset_id)
            .where(ConsentLineageRow.dataset_id == dataset_id, ConsentLineageRow.column == column)
            .limit(1)
        ).first()
        if kept is None:
            out.append(dataset_id)
    return out


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


def _withdrawal(
    row: ConsentWithdrawalRow, affected: list[str], *, notices: int, created: bool, unreached: list[str]
) -> Withdrawal:
    return Withdrawal(
        id=row.id,
        dataset_id=row.dataset_id,
        column=row.column,
        subject_hash=row.subject_hash,
        datasets=affected,
        notices=notices,
        created=created,
        created_at=row.created_at,
        unreached=unreached,
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


def excluded_rows(session: Session, dataset_id: str) -> list[int]:
    """Row numbers of ``dataset_id``'s file that its subject lineage ties to a withdrawn subject."""
    withdrawn = {
        (r.column, r.subject_hash)
        for r in session.scalars(
            select(ConsentWithdrawalRow).where(
                ConsentWithdrawalRow.dataset_id.in_(ancestors(session, dataset_id))
            )
        )
    }
    if not withdrawn:
        return []
    rows: set[int] = set()
    for r in session.scalars(
        select(ConsentLineageRow).where(
            ConsentLineageRow.dataset_id == dataset_id,
            ConsentLineageRow.subject_hash.in_(sorted({h for _, h in withdrawn})),
        )
    ):
        if (r.column, r.subject_hash) in withdrawn:
            rows.update(int(i) for i in r.rows)
    return sorted(rows)


def _hash_sql(key_hex: str, column: str) -> str:
    """DuckDB: the keyed subject hash of ``column``'s cell (NULL for a NULL cell)."""
    return f"sha256({quote_literal(key_hex + ':')} || CAST({quote_ident(column)} AS VARCHAR))"


def exclusion_predicate(node: Node, session: Session, dataset_id: str) -> str | None:
    """A DuckDB boolean expression keeping only rows of subjects who did not withdraw (None: keep all).

    It applies to ``SELECT … FROM read_parquet(<the dataset's stored file>)``: by subject-key column
    where the dataset has it, and by row number where its subject lineage names withdrawn subjects.
    """
    found = exclusions(session, dataset_id)
    rows = excluded_rows(session, dataset_id)
    if not found and not rows:
        return None
    key_hex = load_or_create_key(node.settings.home).hex()
    parts = []
    for column, hashes in sorted(found.items()):
        listed = ", ".join(quote_literal(h) for h in sorted(set(hashes)))
        cell = f"CAST({quote_ident(column)} AS VARCHAR)"
        parts.append(f"({cell} IS NULL OR {_hash_sql(key_hex, column)} NOT IN ({listed}))")
    if rows:
        parts.append(f"{ROW_NUMBER} NOT IN ({', '.join(str(r) for r in rows)})")
    return " AND ".join(parts)


def subject_columns(session: Session, dataset: DatasetRow) -> list[str]:
    """The columns of ``dataset`` that key data subjects: its DP privacy unit, and every column a
    withdrawal on it or an ancestor named (a derivation keeps a lineage for each)."""
    names = {c["name"] for c in dataset.columns}
    found = set()
    settings = session.get(DpSettingsRow, dataset.id)
    if settings is not None and settings.unit != "row" and settings.unit in names:
        found.add(settings.unit)
    named = session.scalars(
        select(ConsentWithdrawalRow.column).where(
            ConsentWithdrawalRow.dataset_id.in_(ancestors(session, dataset.id))
        )
    )
    found.update(c for c in named if c in names)
    return sorted(found)


Lineage = dict[tuple[str, str], list[int]]
"""(subject-key column, subject hash) → 0-based row numbers of a release's file."""


def release_lineage(
    node: Node,
    source_id: str,
    source_rows: Sequence[int] | npt.NDArray[np.int64],
    *,
    also: Sequence[str] = (),
) -> Lineage:
    """The subject lineage of a release whose row ``i`` is row ``source_rows[i]`` of the source's file.

    It covers the source's own subject columns (keyed hashes of their cells; ``also`` adds columns
    such as classified direct identifiers) and the lineage the source inherited, carried over to the
    release's row numbers. Computed in DuckDB; nothing stored.
    """
    import duckdb
    import pyarrow as pa

    with node.session() as s:
        dataset = get_dataset_row(s, source_id)
        names = {c["name"] for c in dataset.columns}
        columns = sorted(set(subject_columns(s, dataset)) | {c for c in also if c in names})
        inherited = [
            (r.column, r.subject_hash, r.rows)
            for r in s.scalars(select(ConsentLineageRow).where(ConsentLineageRow.dataset_id == source_id))
        ]
    src = np.asarray(source_rows, dtype=np.int64)
    mapping = pa.table({"release_row": np.arange(len(src), dtype=np.int64), "source_row": src})
    out: Lineage = {}
    with duckdb.connect() as con:
        con.register("mapping", mapping)
        if columns:
            key_hex = load_or_create_key(node.settings.home).hex()
            path = quote_literal(node.store.url(dataset.file_sha256))
            for column in columns:
                found = con.execute(
                    f"SELECT h, list(m.release_row ORDER BY m.release_row) FROM ("
                    f"SELECT {ROW_NUMBER} AS source_row, {_hash_sql(key_hex, column)} AS h "
                    f"FROM read_parquet({path})) AS p JOIN mapping AS m USING (source_row) "
                    "WHERE h IS NOT NULL GROUP BY h"
                ).fetchall()
                for digest, rows in found:
                    out[(column, str(digest))] = [int(r) for r in rows]
        if inherited:
            table = pa.table(
                {
                    "i": np.repeat(np.arange(len(inherited)), [len(r) for _, _, r in inherited]),
                    "source_row": np.fromiter(
                        (int(x) for _, _, rows in inherited for x in rows), dtype=np.int64
                    ),
                }
            )
            con.register("inherited", table)
            found = con.execute(
                "SELECT i, list(m.release_row ORDER BY m.release_row) FROM inherited "
                "JOIN mapping AS m USING (source_row) GROUP BY i"
            ).fetchall()
            for i, rows in found:
                column, digest, _ = inherited[int(i)]
                merged = set(out.get((column, digest), [])) | {int(r) for r in rows}
                out[(column, digest)] = sorted(merged)
    return out


def lineage_digest(lineage: Lineage) -> str:
    """Hex SHA-256 of the lineage's canonical text: one line per entry, sorted,
    ``<column> TAB <subject hash> TAB <rows, comma-separated, ascending>``, each ending in LF."""
    text = "".join(
        f"{c}\t{h}\t{','.join(str(r) for r in sorted(rows))}\n" for (c, h), rows in sorted(lineage.items())
    )
    return hashlib.sha256(text.encode()).hexdigest()


def store_lineage(session: Session, dataset_id: str, lineage: Lineage) -> int:
    """Stores ``dataset_id``'s subject lineage unless it has one (a release registered before)."""
    if (
        not lineage
        or session.scalars(
            select(ConsentLineageRow.dataset_id).where(ConsentLineageRow.dataset_id == dataset_id).limit(1)
        ).first()
    ):
        return 0
    session.execute(
        insert(ConsentLineageRow),
        [
            {"dataset_id": dataset_id, "column": c, "subject_hash": h, "rows": rows}
            for (c, h), rows in sorted(lineage.items())
        ],
    )
    return len(lineage)


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


def _version(file_sha256: str, predicate: str | None) -> str:
    return (
        file_sha256
        if predicate is None
        else hashlib.sha256(f"{file_sha256}\n{predicate}".encode()).hexdigest()
    )


def dataset_version(node: Node, dataset_id: str) -> str:
    """The version of ``dataset_id`` as accesses see it: what every cache built on it is keyed by.

    The stored file's SHA-256 when no withdrawal reaches the dataset; otherwise the hex SHA-256 of
    ``<file SHA-256> "\\n" <exclusion predicate>``, which changes with every withdrawal that does.
    """
    with node.session() as s:
        dataset = get_dataset_row(s, dataset_id)
        return _version(dataset.file_sha256, exclusion_predicate(node, s, dataset_id))


def consented_rows(node: Node, dataset_id: str) -> tuple[str, npt.NDArray[np.int64] | None]:
    """The stored file of ``dataset_id`` and the row numbers of it that accesses may read, in file
    order (``None``: all of them). For derivations, which must know where each row came from."""
    with node.session() as s:
        dataset = get_dataset_row(s, dataset_id)
        predicate = exclusion_predicate(node, s, dataset_id)
    path = node.store.url(dataset.file_sha256)
    if predicate is None:
        return path, None
    import duckdb

    with duckdb.connect() as con:
        found = con.execute(
            f"SELECT {ROW_NUMBER} FROM read_parquet({quote_literal(path)}) WHERE {predicate} ORDER BY 1"
        ).fetchall()
    return path, np.asarray([r[0] for r in found], dtype=np.int64)


def consented_source(node: Node, dataset_id: str) -> Source:
    """The dataset as every access must see it: withdrawn subjects' rows left out.

    Without withdrawals this is the stored file itself. With them, a filtered copy is written once
    under ``<home>/cache/consent/`` (named by :func:`dataset_version`, atomically renamed into
    place) and reused; ``version`` changes whenever the withdrawals reaching the dataset do, so
    caches built on a dataset (DP answers, bounded copies, PSI provider sets) know to rebuild.
    """
    with node.session() as s:
        dataset = get_dataset_row(s, dataset_id)
        predicate = exclusion_predicate(node, s, dataset_id)
    path = node.store.url(dataset.file_sha256)
    if predicate is None:
        return Source(path, dataset.file_sha256)
    version = _version(dataset.file_sha256, predicate)
    target = node.settings.home / "cache" / "consent" / f"{version}.parquet"
    materialize(target, f"SELECT * FROM read_parquet({quote_literal(path)}) WHERE {predicate}")
    return Source(str(target), version)
