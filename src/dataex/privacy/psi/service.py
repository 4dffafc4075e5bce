"""The node's side of PSI: sessions under a contract, the provider's preprocessed set, the log.

``run_session(node, party, contract_id, request=…, mode="members"|"count", id_type=…)`` is the
entry point for the two modes where the node is the PSI server. It

1. runs ``authorize(psi)`` on the contract's dataset (logged either way), then applies the tier
   rule of the mode: ``count`` under any contract that passes ``authorize``, ``members`` only under
   L3 or L4 (learning that a named person is in a hospital's data is itself a disclosure);
2. picks the dataset column holding identifiers of ``id_type`` (from the stored classification,
   or the ``column`` the consumer names);
3. loads the column's preprocessed set — built once, under a key kept in a 0600 file in the node's
   home and rotated (fresh key, new set) whenever the dataset's file changes;
4. answers the request (shuffled in ``count`` mode, so the consumer learns the size only), charges
   one query to the contract (``budget.charge``: settlement included) and only then releases it;
5. records the session and logs ``psi.session`` with the set sizes — never an item.

A refusal after ``authorize`` allowed (tier rule, bad message, wrong column) is logged as
``psi.refused`` and charges nothing. PSI-then-DP lives in :mod:`dataex.privacy.psi.thendp`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import select

from dataex.contracts import budget
from dataex.contracts.consent import consented_source
from dataex.db.models import ClassificationRow, DatasetRow, PsiPreparedSetRow, PsiSessionRow
from dataex.errors import (
    DataexError,
    DatasetNotFound,
    InvalidInput,
    UnknownColumn,
)
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import Decision, authorize, check
from dataex.privacy.psi import protocol
from dataex.privacy.psi.normalize import check_type, normalize

if TYPE_CHECKING:
    from dataex.node import Node

Mode = Literal["members", "count", "then_dp"]
MODES: Final = ("members", "count", "then_dp")
MAX_CLIENT_ITEMS: Final = 1 << 20
"""The largest consumer set per session; the preprocessed set's false-positive bound assumes it."""


@dataclass(frozen=True)
class SessionResult:
    """What the node sends back: the encoded set, the answer to the request, and the set sizes."""

    session_id: str
    contract_id: str
    dataset_id: str
    mode: str
    id_type: str
    column: str
    setup: bytes
    response: bytes
    consumer_items: int
    provider_items: int
    setup_sha256: str


@dataclass(frozen=True)
class Target:
    """The contract, dataset and column a session works on."""

    contract_id: str
    dataset_id: str
    tier: str
    column: str
    id_type: str
    file_sha256: str


def run_session(
    node: Node,
    party: Party,
    contract_id: str,
    *,
    request: bytes,
    mode: str,
    id_type: str,
    column: str | None = None,
) -> SessionResult:
    """One ``members`` or ``count`` session; see the module docstring."""
    if mode not in ("members", "count"):
        raise InvalidInput(f"unknown PSI mode {mode!r}; use members or count (then_dp has its own calls)")
    target = begin(node, party, contract_id, mode=mode, id_type=id_type, column=column)
    try:
        consumer_items = protocol.request_size(request)
        if consumer_items == 0:
            raise InvalidInput("the PSI request is empty: the consumer's set has no identifier")
        if consumer_items > MAX_CLIENT_ITEMS:
            raise InvalidInput(f"at most {MAX_CLIENT_ITEMS} identifiers per session; got {consumer_items}")
        prepared = prepared_set(node, target)
        key = _read_key(node, prepared)
        setup = Path(node.settings.home, prepared.setup_file).read_bytes()
        response = protocol.server_answer(request, key=key, reveal=mode == "members")
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    budget.authorize_and_charge(node, party, "psi", contract_id, queries=1)
    session_id = record_session(
        node, party, target, mode=mode, consumer_items=consumer_items, provider_items=prepared.items
    )
    return SessionResult(
        session_id=session_id,
        contract_id=contract_id,
        dataset_id=target.dataset_id,
        mode=mode,
        id_type=target.id_type,
        column=target.column,
        setup=setup,
        response=response,
        consumer_items=consumer_items,
        provider_items=prepared.items,
        setup_sha256=prepared.setup_sha256,
    )


def begin(
    node: Node, party: Party, contract_id: str, *, mode: str, id_type: str, column: str | None
) -> Target:
    """Authorizes a session of ``mode`` under the contract and resolves its column (or raises)."""
    context = {"contract_id": contract_id, "mode": mode}
    decision = authorize(node, party, "psi", None, context).raise_if_denied()
    dataset_id = str(decision.object_id)  # the contract's dataset
    try:
        return _target(node, decision, dataset_id, check_type(id_type), column)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise


def _target(node: Node, decision: Decision, dataset_id: str, id_type: str, column: str | None) -> Target:
    with node.session() as s:
        dataset = s.get(DatasetRow, dataset_id)
        assert dataset is not None  # authorize allowed it
        names = [str(c["name"]) for c in dataset.columns]
        classification = s.get(ClassificationRow, dataset_id)
        typed = [
            str(f["name"])
            for f in (classification.fields if classification else [])
            if f.get("type") == id_type and f.get("name") in names
        ]
    file_sha256 = consented_source(node, dataset_id).version  # the provider set follows consent too
    if column is None:
        if len(typed) != 1:
            found = f"columns {typed}" if typed else "no column"
            raise InvalidInput(
                f"dataset {dataset_id} has {found} classified as {id_type}; name the provider column"
            )
        column = typed[0]
    if column not in names:
        raise UnknownColumn(f"dataset {dataset_id} has no column {column!r}", column=column, available=names)
    assert decision.contract_id is not None and decision.tier is not None
    return Target(decision.contract_id, dataset_id, decision.tier, column, id_type, file_sha256)


# -- the preprocessed set -------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """A dataset column's preprocessed set, as its owner sees it (never the key)."""

    dataset_id: str
    column: str
    id_type: str
    items: int
    setup_sha256: str
    built: bool


def prepare(node: Node, dataset_id: str, *, column: str, id_type: str, actor: Party | None) -> Prepared:
    """Builds the column's preprocessed set ahead of any session (owner or operator only).

    Sessions build it on first use anyway; preparing it when the dataset is offered spares the
    first consumer that wait (about a minute for a million identifiers on two cores). Nothing is
    rebuilt when the set is current (same file, withdrawals and type); ``built`` says which.
    """
    check(node, actor, "prepare_psi", dataset_id)
    with node.session() as s:
        dataset = s.get(DatasetRow, dataset_id)
        if dataset is None:
            raise DatasetNotFound(dataset_id)
        names = [str(c["name"]) for c in dataset.columns]
    if column not in names:
        raise UnknownColumn(f"dataset {dataset_id} has no column {column!r}", column=column, available=names)
    version = consented_source(node, dataset_id).version
    target = Target("", dataset_id, "", column, check_type(id_type), version)
    with node.session() as s:
        before = s.get(PsiPreparedSetRow, (dataset_id, column))
        before_sha = None if before is None else before.setup_sha256
    row = prepared_set(node, target)
    built = row.setup_sha256 != before_sha
    return Prepared(dataset_id, column, row.id_type, row.items, row.setup_sha256, built)


def prepared_set(node: Node, target: Target) -> PsiPreparedSetRow:
    """The column's preprocessed set, built (with a fresh key) when missing or the dataset changed."""
    with node.session() as s:
        row = s.get(PsiPreparedSetRow, (target.dataset_id, target.column))
        if row is not None and row.file_sha256 == target.file_sha256 and row.id_type == target.id_type:
            s.expunge(row)
            return row
    return _build(node, target, stale=row)


def provider_items(node: Node, target: Target) -> list[str]:
    """The distinct canonical identifiers of the provider's column (invalid cells are skipped)."""
    import pyarrow.parquet as pq

    table = pq.read_table(consented_source(node, target.dataset_id).path, columns=[target.column])
    values = [None if v is None else str(v) for v in table.column(0).to_pylist()]
    return normalize(values, target.id_type, max_invalid_share=1.0).items


def _build(node: Node, target: Target, *, stale: PsiPreparedSetRow | None) -> PsiPreparedSetRow:
    items = provider_items(node, target)
    key = protocol.new_key()
    setup = protocol.server_setup(items, key=key, max_client_items=MAX_CLIENT_ITEMS)
    base = Path("psi", target.dataset_id, hashlib.sha256(target.column.encode()).hexdigest()[:16])
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
    key_file, setup_file = f"{base}-{stamp}.key", f"{base}-{stamp}.setup"
    _write_private(node.settings.home / key_file, key)
    _write_private(node.settings.home / setup_file, setup.setup)
    digest = hashlib.sha256(setup.setup).hexdigest()
    with node.transaction() as s:
        row = s.get(PsiPreparedSetRow, (target.dataset_id, target.column))
        if row is None:
            row = PsiPreparedSetRow(dataset_id=target.dataset_id, column=target.column)
            s.add(row)
        row.id_type, row.file_sha256, row.items = target.id_type, target.file_sha256, setup.items
        row.key_file, row.setup_file, row.setup_sha256 = key_file, setup_file, digest
        row.max_client_items, row.created_at = MAX_CLIENT_ITEMS, utc_now()
        node.log.append(
            s,
            "psi.set.prepared",
            {
                "dataset_id": target.dataset_id,
                "column": target.column,
                "id_type": target.id_type,
                "file_sha256": target.file_sha256,
                "items": setup.items,
                "setup_sha256": digest,
                "rotated": stale is not None,
            },
            actor="node",
        )
        node.log.checkpoint(s)
        s.flush()
        s.expunge(row)
    if stale is not None and stale.key_file != key_file:
        for name in (stale.key_file, stale.setup_file):
            (node.settings.home / name).unlink(missing_ok=True)
    return row


def _write_private(path: Path, data: bytes) -> None:
    """Writes ``data`` to a new 0600 file (like the node key), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_key(node: Node, row: PsiPreparedSetRow) -> bytes:
    return Path(node.settings.home, row.key_file).read_bytes()


# -- records and refusals -------------------------------------------------------------------------
def record_session(
    node: Node, party: Party, target: Target, *, mode: str, consumer_items: int, provider_items: int
) -> str:
    """Stores the session and logs ``psi.session`` (set sizes only) in one transaction."""
    session_id = new_id("psi")
    data: dict[str, Any] = {
        "session_id": session_id,
        "contract_id": target.contract_id,
        "dataset_id": target.dataset_id,
        "mode": mode,
        "id_type": target.id_type,
        "column": target.column,
        "consumer_items": consumer_items,
        "provider_items": provider_items,
    }
    with node.transaction() as s:
        entry = node.log.append(s, "psi.session", data, actor=party.id)
        s.add(
            PsiSessionRow(
                id=session_id,
                contract_id=target.contract_id,
                dataset_id=target.dataset_id,
                consumer_id=party.id,
                mode=mode,
                id_type=target.id_type,
                column=target.column,
                consumer_items=consumer_items,
                provider_items=provider_items,
                state="done",
                created_at=utc_now(),
                finished_at=utc_now(),
                log_index=entry.index,
            )
        )
        node.log.checkpoint(s)
    return session_id


def list_sessions(node: Node, contract_id: str) -> list[dict[str, Any]]:
    """The sessions run under a contract (sizes only), oldest first."""
    with node.session() as s:
        rows = s.scalars(
            select(PsiSessionRow)
            .where(PsiSessionRow.contract_id == contract_id)
            .order_by(PsiSessionRow.created_at)
        )
        return [
            {
                "id": r.id,
                "mode": r.mode,
                "consumer_items": r.consumer_items,
                "provider_items": r.provider_items,
            }
            for r in rows
        ]
