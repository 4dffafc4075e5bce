"""Sealed fields: the public log carries a salted commitment; the node keeps the opening.

A private fact an entry must record (a private dataset's title and schema, a party's name) is
appended as ``{"$commit": "<64 hex>"}`` in place of its value, where the commitment is::

    SHA-256("dataex-commit-v1" || 0x00 || salt || canonical_json(value))

with a fresh 32-byte random ``salt`` per field and entry. The opening (``salt``, ``value``) is
stored in ``log_openings`` in the same transaction, with its **audience**: the ids of the objects
whose viewers may open it (a party id: that party; a dataset or contract id: whoever the policy lets
read it; operators and auditors always). Anyone holding an opening can check it against the public
entry; nobody else learns more than that the entry has such a field. The salt hides low-entropy
values (a role, a row count) from a dictionary attack on the commitment.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from dataex.db.models import DatasetMetadataRow, LogOpeningRow
from dataex.ledger.log import COMMIT, Entry, TransparencyLog, commitment

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

COMMIT_BYTES: Final = b'"$commit"'
"""In an entry's bytes exactly when one of its fields is sealed (a cheap test before parsing)."""
PUBLIC_KEYS: Final = frozenset(
    {
        "dataset_id",
        "contract_id",
        "offer_id",
        "party_id",
        "job_id",
        "product_id",
        "order_id",
        "from",
        "to",
        "digest",
        "file_sha256",
    }
)
"""What an entry about a private dataset shows in the clear: the ids it links and a contract's
state change. Every other field is sealed (see :func:`private_datasets`)."""


__all__ = ["COMMIT", "COMMIT_BYTES", "append", "commitment", "opened", "openings", "private_datasets"]


def private_datasets(
    session: Session,
    event: str,  # noqa: ARG001 (the sealer signature; events are not private, data is)
    data: dict[str, Any],
) -> tuple[dict[str, Any], list[str]] | None:
    """The node's sealer: an entry about a dataset whose visibility is private seals every field but
    the ids in ``PUBLIC_KEYS`` (fields sealed already stay as they are); its audience is the
    dataset's readers and, where named, the contract's parties and the party."""
    dataset_id = data.get("dataset_id")
    if not isinstance(dataset_id, str):
        return None
    meta = session.get(DatasetMetadataRow, dataset_id)
    if meta is None or meta.visibility != "private":
        return None
    fields = {k: v for k, v in data.items() if k not in PUBLIC_KEYS and not is_sealed(v)}
    if not fields:
        return None
    audience = [
        dataset_id,
        *(str(data[k]) for k in ("contract_id", "party_id") if isinstance(data.get(k), str)),
    ]
    return fields, audience


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {COMMIT} and isinstance(value[COMMIT], str)


def append(
    log: TransparencyLog,
    session: Session,
    event: str,
    data: dict[str, Any],
    *,
    sealed: Mapping[str, Any],
    actor: str,
    audience: Sequence[str],
) -> Entry:
    """Appends ``data`` with the ``sealed`` fields as commitments, and stores their openings."""
    salts = {name: secrets.token_bytes(32) for name in sealed}
    public = {**data, **{name: {COMMIT: commitment(salts[name], v)} for name, v in sealed.items()}}
    entry = log.append(session, event, public, actor=actor)
    session.add_all(
        LogOpeningRow(
            idx=entry.index, field=name, salt=salts[name], value={"v": value}, audience=list(audience)
        )
        for name, value in sealed.items()
    )
    session.flush()
    return entry


def openings(session: Session, index: int) -> list[LogOpeningRow]:
    return list(
        session.scalars(select(LogOpeningRow).where(LogOpeningRow.idx == index).order_by(LogOpeningRow.field))
    )


def opened(session: Session, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``body`` with each sealed field of its data replaced by its opening, and the problems found
    (a sealed field without an opening, or an opening that does not match its commitment)."""
    data = body.get("data")
    if not isinstance(data, dict) or not any(is_sealed(v) for v in data.values()):
        return body, []
    rows = {r.field: r for r in openings(session, int(body["index"]))}
    out, problems = dict(data), []
    for name, value in data.items():
        if not is_sealed(value):
            continue
        row = rows.get(name)
        if row is None:
            problems.append(f"its sealed field {name!r} has no opening")
            continue
        if commitment(bytes(row.salt), row.value["v"]) != value[COMMIT]:
            problems.append(f"the opening of its sealed field {name!r} does not match the commitment")
            continue
        out[name] = row.value["v"]
    return {**body, "data": out}, problems


def describe_opening(row: LogOpeningRow) -> dict[str, Any]:
    """What a party with a right to see it is shown: enough to check the public commitment."""
    return {
        "field": row.field,
        "salt": bytes(row.salt).hex(),
        "value": row.value["v"],
        "commitment": commitment(bytes(row.salt), row.value["v"]),
    }
