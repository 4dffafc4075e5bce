"""The node's transparency log: appends in the caller's transaction, checkpoints, proofs.

An entry is the UTF-8 bytes of a canonical JSON object (keys sorted, no insignificant whitespace,
non-ASCII kept as is)::

    {"actor": "pty_…" | "operator", "data": {…}, "event": "dataset.registered", "index": 7,
     "time": "2026-11-28T22:33:00.123456Z", "v": 1}

``append`` must run inside the transaction of the state change it records; it locks the log head
row, so appends are serialized on SQLite and PostgreSQL alike, and assigns the next index. The head
keeps the compact range (the perfect-subtree hashes of the tree so far), so appends and checkpoints
cost O(log n); proofs read the stored leaf hashes. ``append_many`` appends several entries in order
under one lock, with one insert and one head update (what a batch of charges uses); ``append`` is
``append_many`` of one entry. Neither signs anything: the caller signs one checkpoint per
transaction. ``refusal`` records a refused request (``*.refused``) in a transaction of its own;
what it records is ``bounded`` first (strings cut to ``MAX_LOGGED_CHARS``, lists to
``MAX_LOGGED_ITEMS``, nesting to ``MAX_LOGGED_DEPTH``; an entry never exceeds ``MAX_REFUSAL_BYTES``),
so nothing an outsider sends can make a refusal entry larger than a few KB (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from dataex.db.models import CheckpointRow, LogEntryRow, LogHeadRow, LogOpeningRow
from dataex.errors import DataexError, InvalidInput, LogEntryNotFound
from dataex.identity.keys import NodeKey
from dataex.ledger import merkle, note

ENTRY_VERSION = 1
COMMIT: Final = "$commit"
COMMIT_DOMAIN: Final = b"dataex-commit-v1\x00"
Sealer = Callable[[Session, str, dict[str, Any]], tuple[dict[str, Any], list[str]] | None]
"""Given ``(session, event, data)``, the fields of ``data`` to seal and their audience, or None."""
MAX_LOGGED_CHARS: Final = 256  # one echoed string in a refusal or a denial's context
MAX_LOGGED_ITEMS: Final = 16  # items of one echoed list or keys of one echoed object
MAX_LOGGED_DEPTH: Final = 4
MAX_REFUSAL_BYTES: Final = 4096  # a whole refusal entry, canonical JSON
_ENTRIES: Final = cast(Table, LogEntryRow.__table__)  # Core inserts: no ORM work per entry


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def truncate(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked with how many were dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def bounded(value: Any, depth: int = 0) -> Any:
    """``value`` with every string truncated, lists and objects cut to ``MAX_LOGGED_ITEMS``, nesting
    to ``MAX_LOGGED_DEPTH``: what a refusal or a denial echoes of a request."""
    if isinstance(value, str):
        return truncate(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_LOGGED_DEPTH:
        return truncate(repr(value), 64)
    if isinstance(value, dict):
        items = list(value.items())
        out = {truncate(str(k), 64): bounded(v, depth + 1) for k, v in items[:MAX_LOGGED_ITEMS]}
        if len(items) > MAX_LOGGED_ITEMS:
            out["…"] = f"+{len(items) - MAX_LOGGED_ITEMS} keys"
        return out
    if isinstance(value, list | tuple):
        seq = [bounded(v, depth + 1) for v in value[:MAX_LOGGED_ITEMS]]
        if len(value) > MAX_LOGGED_ITEMS:
            seq.append(f"…+{len(value) - MAX_LOGGED_ITEMS} items")
        return seq
    return truncate(str(value))


def commitment(salt: bytes, value: Any) -> str:
    """``SHA-256("dataex-commit-v1" || 0x00 || salt || canonical_json(value))``, hex (docs/log.md)."""
    return hashlib.sha256(COMMIT_DOMAIN + salt + canonical_json(value)).hexdigest()


@dataclass(frozen=True)
class Entry:
    index: int
    event: str
    raw: bytes
    leaf_hash: bytes

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.raw)
        return value


class TransparencyLog:
    """Append, checkpoint and prove; every method works inside a session the caller owns."""

    sealer: Sealer | None = None

    def __init__(self, key: NodeKey, origin: str, sealer: Sealer | None = None) -> None:
        self.key = key
        self.origin = origin
        self.sealer = sealer
        """Decides which fields of an entry are private facts (``dataex.ledger.seal``): they are
        appended as commitments, and their openings stored in the same transaction."""

    # -- writing -------------------------------------------------------------------------------
    @staticmethod
    def lock(session: Session) -> LogHeadRow:
        """Locks the log head for the rest of the transaction (serializes every writer)."""
        return session.scalars(select(LogHeadRow).where(LogHeadRow.id == 1).with_for_update()).one()

    def append(self, session: Session, event: str, data: dict[str, Any], *, actor: str) -> Entry:
        """Appends one entry (the next index) in ``session``'s transaction."""
        return self.append_many(session, [(event, data, actor)])[0]

    def append_many(self, session: Session, items: Sequence[tuple[str, dict[str, Any], str]]) -> list[Entry]:
        """Appends ``(event, data, actor)`` entries in order: one lock, one insert, one head update."""
        if not items:
            return []
        head = self.lock(session)
        frontier = merkle.Frontier.from_json(head.size, head.frontier)
        entries: list[Entry] = []
        openings: list[dict[str, Any]] = []
        for event, data, actor in items:
            index = frontier.size
            private = self.sealer(session, event, data) if self.sealer is not None else None
            if private:
                fields, audience = private
                salts = {name: secrets.token_bytes(32) for name in fields}
                data = {**data, **{name: {COMMIT: commitment(salts[name], v)} for name, v in fields.items()}}
                openings += [
                    {
                        "idx": index,
                        "field": name,
                        "salt": salts[name],
                        "value": {"v": v},
                        "audience": audience,
                    }
                    for name, v in fields.items()
                ]
            raw = canonical_json(
                {
                    "v": ENTRY_VERSION,
                    "index": index,
                    "event": event,
                    "actor": actor,
                    "time": iso(utc_now()),
                    "data": data,
                }
            )
            leaf = merkle.leaf_hash(raw)
            frontier.append(leaf)
            entries.append(Entry(index=index, event=event, raw=raw, leaf_hash=leaf))
        session.execute(
            insert(_ENTRIES),
            [{"idx": e.index, "event": e.event, "entry": e.raw, "leaf_hash": e.leaf_hash} for e in entries],
        )
        if openings:
            session.execute(insert(cast(Table, LogOpeningRow.__table__)), openings)
        head.size = frontier.size
        head.frontier = frontier.to_json()
        session.flush()
        return entries

    def refusal(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        event: str,
        error: DataexError,
        *,
        actor: str,
        data: dict[str, Any],
    ) -> Entry:
        """Records a refused request as ``event`` with ``data`` plus the error's ``code`` and ``reason``
        (its message), and signs a checkpoint, in a transaction of its own (``transaction``, e.g.
        ``node.transaction``): the request changed nothing else, and its own work was rolled back.
        What is recorded is ``bounded``; should it still exceed ``MAX_REFUSAL_BYTES``, only the code,
        the reason (cut to 1,024 characters) and ``"truncated": true`` are kept."""
        body = {**bounded(data), "code": error.code, "reason": truncate(error.message, 1024)}
        if len(canonical_json(body)) > MAX_REFUSAL_BYTES - 512:  # room for v, index, event, actor, time
            body = {"code": error.code, "reason": truncate(error.message, 1024), "truncated": True}
        with transaction() as s:
            entry = self.append(s, event, body, actor=actor)
            self.checkpoint(s)
        return entry

    def checkpoint(self, session: Session) -> CheckpointRow:
        """Signs a checkpoint of the log as it stands in this transaction (once per size)."""
        head = session.scalars(select(LogHeadRow).where(LogHeadRow.id == 1)).one()
        existing = session.get(CheckpointRow, head.size)
        if existing is not None:
            return existing
        root = merkle.Frontier.from_json(head.size, head.frontier).root()
        text = note.sign_checkpoint(
            note.Checkpoint(self.origin, head.size, root), self.origin, self.key.private
        )
        row = CheckpointRow(size=head.size, root=root, note=text, created_at=utc_now())
        session.add(row)
        session.flush()
        return row

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def size(session: Session) -> int:
        return int(session.scalars(select(LogHeadRow.size).where(LogHeadRow.id == 1)).one())

    @staticmethod
    def latest_checkpoint(session: Session) -> CheckpointRow | None:
        return session.scalars(select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)).first()

    @staticmethod
    def get_checkpoint(session: Session, size: int) -> CheckpointRow:
        row = session.get(CheckpointRow, size)
        if row is None:
            raise InvalidInput(f"no checkpoint at size {size}")
        return row

    @staticmethod
    def list_checkpoints(session: Session) -> list[CheckpointRow]:
        return list(session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))

    def get_entry(self, session: Session, index: int) -> Entry:
        row = session.get(LogEntryRow, index)
        if row is None:
            raise LogEntryNotFound(index, self.size(session))
        return Entry(index=row.idx, event=row.event, raw=row.entry, leaf_hash=row.leaf_hash)

    @staticmethod
    def entries(session: Session, start: int = 0, limit: int | None = None) -> list[Entry]:
        q = select(LogEntryRow).where(LogEntryRow.idx >= start).order_by(LogEntryRow.idx)
        if limit is not None:
            q = q.limit(limit)
        return [
            Entry(index=r.idx, event=r.event, raw=r.entry, leaf_hash=r.leaf_hash) for r in session.scalars(q)
        ]

    @staticmethod
    def leaf_hashes(session: Session, size: int) -> list[bytes]:
        q = select(LogEntryRow.leaf_hash).where(LogEntryRow.idx < size).order_by(LogEntryRow.idx)
        return [bytes(h) for h in session.scalars(q)]

    def prove_inclusion(self, session: Session, index: int) -> dict[str, Any]:
        """Inclusion proof of entry ``index`` against the latest signed checkpoint."""
        entry = self.get_entry(session, index)
        cp = self.latest_checkpoint(session)
        if cp is None or cp.size <= index:
            raise LogEntryNotFound(index, cp.size if cp else 0)
        proof = merkle.inclusion_proof_from_hashes(self.leaf_hashes(session, cp.size), index)
        ok = merkle.verify_inclusion(entry.raw, index, cp.size, proof, cp.root)
        return {
            "index": index,
            "tree_size": cp.size,
            "entry": entry.body,
            "entry_b64": _b64(entry.raw),
            "leaf_hash": entry.leaf_hash.hex(),
            "proof": [p.hex() for p in proof],
            "root": cp.root.hex(),
            "checkpoint": cp.note,
            "ok": ok,
        }

    def prove_consistency(self, session: Session, old_size: int, new_size: int) -> dict[str, Any]:
        old, new = self.get_checkpoint(session, old_size), self.get_checkpoint(session, new_size)
        if old_size > new_size:
            raise InvalidInput("the old checkpoint must not be larger than the new one")
        proof = merkle.consistency_proof_from_hashes(self.leaf_hashes(session, new_size), old_size)
        ok = merkle.verify_consistency(old_size, new_size, old.root, new.root, proof)
        return {
            "old_size": old_size,
            "new_size": new_size,
            "old_root": old.root.hex(),
            "new_root": new.root.hex(),
            "proof": [p.hex() for p in proof],
            "ok": ok,
            "old_checkpoint": old.note,
            "new_checkpoint": new.note,
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
