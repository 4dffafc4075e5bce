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
transaction. ``refusal`` records a refused request (``*.refused``) in a transaction of its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from dataex.db.models import CheckpointRow, LogEntryRow, LogHeadRow
from dataex.errors import DataexError, InvalidInput, LogEntryNotFound
from dataex.identity.keys import NodeKey
from dataex.ledger import merkle, note

ENTRY_VERSION = 1
_ENTRIES: Final = cast(Table, LogEntryRow.__table__)  # Core inserts: no ORM work per entry


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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

    def __init__(self, key: NodeKey, origin: str) -> None:
        self.key = key
        self.origin = origin

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
        for event, data, actor in items:
            index = frontier.size
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
        ``node.transaction``): the request changed nothing else, and its own work was rolled back."""
        with transaction() as s:
            entry = self.append(s, event, {**data, "code": error.code, "reason": error.message}, actor=actor)
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
