"""The node's side of PSI: sessions under a contract, the provider's preprocessed set, the log.

``run_session(node, party, contract_id, request=…, mode="members"|"count", id_type=…)`` is the
entry point for the two modes where the node is the PSI server. It

1. runs ``authorize(psi)`` on the contract's dataset (logged either way), with the policy's tier
   rule of the mode: both exact modes (``members``, ``count``) only under L3 or L4 — an exact count
   over one item says whether a named person is in the data. Below L3 a count is a DP release
   (``dp_count`` in :mod:`dataex.privacy.psi.thendp`);
2. picks the dataset column holding identifiers of ``id_type`` (from the stored classification,
   or the ``column`` the consumer names);
3. refuses a consumer set under :data:`MIN_CONSUMER_ITEMS` identifiers;
4. loads the column's canonical identifiers (cached per dataset version, no key), pads them with
   random dummies to :func:`released_size` and encodes them under a **fresh key drawn for this
   session only** (held in memory for the call, never stored): setups of two sessions cannot be
   combined, and no setup outlives its session;
5. answers the request (shuffled in ``count`` mode), charges one query to the contract and only
   then releases it;
6. records the session and logs ``psi.session`` with the consumer's set size and the node's
   *released* (rounded) size — never an item, never the exact size of the node's set.

A refusal after ``authorize`` allowed (bad message, wrong column, too small a set) is logged as
``psi.refused`` and charges nothing. PSI-then-DP lives in :mod:`dataex.privacy.psi.thendp`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
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
    TooFewIdentifiers,
    UnknownColumn,
)
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import Decision, authorize, check
from dataex.privacy.psi import protocol
from dataex.privacy.psi.normalize import check_type, normalize

if TYPE_CHECKING:
    from dataex.node import Node

Mode = Literal["members", "count", "then_dp", "dp_count"]
MODES: Final = ("members", "count", "then_dp", "dp_count")
MAX_CLIENT_ITEMS: Final = 1 << 20
"""The largest consumer set per session; the setup's false-positive bound assumes it."""
MIN_CONSUMER_ITEMS: Final = 10
"""The smallest consumer set per session (distinct identifiers): no session about one person."""
SIZE_STEP_MIN: Final = 100
"""Released set sizes are rounded up to two significant digits, in steps of at least this."""
DUMMY_PREFIX: Final = "dxpsi-dummy:"
"""Padding items: no identifier type's canonical form starts so, so a dummy never matches."""


def released_size(n: int) -> int:
    """The node's set size as released: ``n`` rounded **up** to a multiple of
    ``max(100, 10^(digits(n) - 2))`` (two significant digits); the set is padded to exactly it."""
    step: int = max(SIZE_STEP_MIN, int(10 ** max(0, len(str(max(n, 1))) - 2)))
    return max(step, -(-n // step) * step)


def padded(items: list[str], dummies: list[str] | None = None) -> list[str]:
    """``items`` followed by dummies up to :func:`released_size` (random ones unless given)."""
    extra = released_size(len(items)) - len(items)
    if dummies is None:
        dummies = [DUMMY_PREFIX + secrets.token_hex(16) for _ in range(extra)]
    return items + dummies[:extra]


def check_consumer_size(items: int) -> None:
    """Refuses a consumer set under :data:`MIN_CONSUMER_ITEMS` (or over :data:`MAX_CLIENT_ITEMS`)."""
    if items < MIN_CONSUMER_ITEMS:
        raise TooFewIdentifiers(
            f"a PSI session needs at least {MIN_CONSUMER_ITEMS} distinct identifiers; got {items}",
            items=items,
            minimum=MIN_CONSUMER_ITEMS,
        )
    if items > MAX_CLIENT_ITEMS:
        raise InvalidInput(f"at most {MAX_CLIENT_ITEMS} identifiers per session; got {items}")


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
        check_consumer_size(consumer_items)
        prepared = _current(node, target)
        items = padded(_read_items(node, prepared))
        key = protocol.new_key()  # this session's only: never stored, gone when the call returns
        setup = protocol.server_setup(items, key=key, max_client_items=MAX_CLIENT_ITEMS).setup
        response = protocol.server_answer(request, key=key, reveal=mode == "members")
        del key
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    budget.authorize_and_charge(node, party, "psi", contract_id, queries=1)
    released = released_size(prepared.items)
    session_id = record_session(
        node, party, target, mode=mode, consumer_items=consumer_items, provider_items=released
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
        provider_items=released,
        setup_sha256=hashlib.sha256(setup).hexdigest(),
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
    """A dataset column's prepared identifier list, as its owner sees it (``items``: exact)."""

    dataset_id: str
    column: str
    id_type: str
    items: int
    setup_sha256: str
    built: bool


def prepare(node: Node, dataset_id: str, *, column: str, id_type: str, actor: Party | None) -> Prepared:
    """Builds the column's identifier list ahead of any session (owner or operator only).

    Sessions build it on first use anyway (reading and validating every cell); no key is prepared:
    each session encodes the list under a key of its own. Nothing is rebuilt when the list is
    current (same file, withdrawals and type); ``built`` says which.
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
    row = _current(node, target)
    built = row.setup_sha256 != before_sha
    return Prepared(dataset_id, column, row.id_type, row.items, row.setup_sha256, built)


def prepared_set(node: Node, target: Target) -> PsiPreparedSetRow:
    """The column's identifier list, built when missing or when the dataset (or its consent) changed."""
    with node.session() as s:
        row = s.get(PsiPreparedSetRow, (target.dataset_id, target.column))
        if row is not None and row.file_sha256 == target.file_sha256 and row.id_type == target.id_type:
            s.expunge(row)
            return row
    return _build(node, target, stale=row)


def _current(node: Node, target: Target) -> PsiPreparedSetRow:
    """:func:`prepared_set`, rebuilding a set an older node prepared under a kept key."""
    row = prepared_set(node, target)
    return _build(node, target, stale=row) if row.key_file else row


def provider_items(node: Node, target: Target) -> list[str]:
    """The distinct canonical identifiers of the provider's column (invalid cells are skipped)."""
    import pyarrow.parquet as pq

    table = pq.read_table(consented_source(node, target.dataset_id).path, columns=[target.column])
    values = [None if v is None else str(v) for v in table.column(0).to_pylist()]
    return normalize(values, target.id_type, max_invalid_share=1.0).items


def _build(node: Node, target: Target, *, stale: PsiPreparedSetRow | None) -> PsiPreparedSetRow:
    items = provider_items(node, target)
    protocol.shuffle(items)  # the file's order (and digest) says nothing about the dataset's
    data = "\n".join(items).encode()
    base = Path("psi", target.dataset_id, hashlib.sha256(target.column.encode()).hexdigest()[:16])
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
    key_file, setup_file = "", f"{base}-{stamp}.items"  # no key: each session draws its own
    _write_private(node.settings.home / setup_file, data)
    digest = hashlib.sha256(data).hexdigest()
    with node.transaction() as s:
        row = s.get(PsiPreparedSetRow, (target.dataset_id, target.column))
        if row is None:
            row = PsiPreparedSetRow(dataset_id=target.dataset_id, column=target.column)
            s.add(row)
        row.id_type, row.file_sha256, row.items = target.id_type, target.file_sha256, len(items)
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
                "items": len(items),
                "setup_sha256": digest,
                "rotated": stale is not None,
            },
            actor="node",
        )
        node.log.checkpoint(s)
        s.flush()
        s.expunge(row)
    if stale is not None and stale.setup_file != setup_file:
        for name in (stale.key_file, stale.setup_file):  # a key file of an older node, too
            if name:
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


def _read_items(node: Node, row: PsiPreparedSetRow) -> list[str]:
    data = Path(node.settings.home, row.setup_file).read_bytes()
    return data.decode().split("\n") if data else []


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
