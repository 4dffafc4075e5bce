"""``audit verify``: recompute the whole log, every checkpoint and every stored file.

Each problem found is reported with a stable ``code``:

* ``entry_missing`` — an index between 0 and the log size has no entry (deleted);
* ``entry_misplaced`` — an entry's own ``index`` differs from its position (reordered);
* ``entry_edited`` — an entry's bytes no longer hash to its stored leaf hash;
* ``checkpoint_signature`` — a checkpoint note does not verify with the node key;
* ``checkpoint_mismatch`` — a checkpoint's root differs from the root recomputed from the entries;
* ``checkpoint_inconsistent`` — a checkpoint is not an extension of an earlier one;
* ``head_mismatch`` — the log head (size and compact range) disagrees with the entries;
* ``file_missing`` / ``file_corrupt`` / ``file_orphan`` — a data file that is gone, whose bytes no
  longer match its SHA-256, or that no dataset references;
* ``dataset_mismatch`` — a dataset row that disagrees with its registration entry or certificate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataex.catalog.certificates import verify_certificate
from dataex.catalog.registration import registration_record
from dataex.db.models import CheckpointRow, DatasetRow, LogEntryRow, LogHeadRow
from dataex.ledger import merkle, note
from dataex.ledger.log import TransparencyLog

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node


@dataclass
class Report:
    problems: list[dict[str, Any]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def add(self, code: str, message: str, **where: Any) -> None:
        self.problems.append({"code": code, "message": message, **where})

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "checked": self.checked}


def verify_node(node: Node, *, external_checkpoints: Sequence[str] = ()) -> Report:
    """Everything ``dataex audit verify`` checks; ``external_checkpoints`` are notes an auditor kept."""
    report = Report()
    with node.session() as s:
        roots = _verify_entries(s, report)
        _verify_checkpoints(node, s, report, roots)
        for text in external_checkpoints:
            _verify_external(node, s, report, text)
        _verify_datasets(node, s, report)
    return report


def _verify_entries(s: Session, report: Report) -> dict[int, bytes]:
    """Recomputes every leaf hash; returns the root at every size that has a checkpoint."""
    head = s.get(LogHeadRow, 1)
    sizes = set(s.scalars(select(CheckpointRow.size)))
    frontier = merkle.Frontier()
    roots: dict[int, bytes] = {0: merkle.root_from_hashes([])} if 0 in sizes else {}
    expected = 0
    count = 0
    for row in s.scalars(select(LogEntryRow).order_by(LogEntryRow.idx).execution_options(yield_per=5000)):
        count += 1
        while expected < row.idx:
            report.add("entry_missing", f"log entry {expected} is missing (deleted)", index=expected)
            expected += 1
        expected = row.idx + 1
        recomputed = merkle.leaf_hash(bytes(row.entry))
        if recomputed != bytes(row.leaf_hash):
            report.add(
                "entry_edited",
                f"log entry {row.idx}: its bytes were changed after it was appended",
                index=row.idx,
            )
        try:
            claimed = json.loads(row.entry).get("index")
        except ValueError:
            claimed = None
        if claimed != row.idx:
            report.add(
                "entry_misplaced",
                f"log entry at position {row.idx} says it is entry {claimed} "
                "(entries were reordered or rewritten)",
                index=row.idx,
            )
        frontier.append(recomputed)
        if frontier.size in sizes:
            roots[frontier.size] = frontier.root()
    size = head.size if head else 0
    while expected < size:
        report.add("entry_missing", f"log entry {expected} is missing (deleted)", index=expected)
        expected += 1
    if head is not None and (frontier.size != head.size or frontier.to_json() != list(head.frontier)):
        report.add(
            "head_mismatch",
            f"the log head says {head.size} entries but {count} entries hash to a different tree",
        )
    report.checked["entries"] = count
    return roots


def _verify_checkpoints(node: Node, s: Session, report: Report, roots: dict[int, bytes]) -> None:
    previous: CheckpointRow | None = None
    checkpoints = list(s.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))
    for cp in checkpoints:
        try:
            signed = note.verify_checkpoint(cp.note, node.origin, node.key.public)
        except ValueError as e:
            report.add("checkpoint_signature", f"checkpoint at size {cp.size}: {e}", size=cp.size)
            signed = None
        if signed is not None and (signed.size != cp.size or signed.root != bytes(cp.root)):
            report.add(
                "checkpoint_signature",
                f"checkpoint at size {cp.size}: the signed note says size {signed.size}",
                size=cp.size,
            )
        if cp.size in roots and roots[cp.size] != bytes(cp.root):
            report.add(
                "checkpoint_mismatch",
                f"checkpoint at size {cp.size} does not match the log's entries "
                f"0..{cp.size - 1}: entries were changed after it was signed",
                size=cp.size,
            )
        if previous is not None:
            _check_consistency(s, report, previous.size, bytes(previous.root), cp.size, bytes(cp.root))
        previous = cp
    report.checked["checkpoints"] = len(checkpoints)


def _check_consistency(
    s: Session, report: Report, old_size: int, old_root: bytes, new_size: int, new_root: bytes
) -> None:
    hashes = TransparencyLog.leaf_hashes(s, new_size)
    if len(hashes) != new_size:
        report.add(
            "checkpoint_inconsistent",
            f"cannot prove checkpoint {new_size} extends checkpoint {old_size}: entries are missing",
            old_size=old_size,
            new_size=new_size,
        )
        return
    proof = merkle.consistency_proof_from_hashes(hashes, old_size)
    if not merkle.verify_consistency(old_size, new_size, old_root, new_root, proof):
        report.add(
            "checkpoint_inconsistent",
            f"checkpoint at size {new_size} is not consistent with the earlier checkpoint at size {old_size}",
            old_size=old_size,
            new_size=new_size,
        )


def _verify_external(node: Node, s: Session, report: Report, text: str) -> None:
    try:
        cp = note.verify_checkpoint(text, node.origin, node.key.public)
    except ValueError as e:
        report.add("checkpoint_signature", f"the given checkpoint does not verify: {e}")
        return
    hashes = TransparencyLog.leaf_hashes(s, cp.size)
    if len(hashes) != cp.size:
        report.add(
            "checkpoint_inconsistent", f"the given checkpoint covers {cp.size} entries but the log has fewer"
        )
        return
    if merkle.root_from_hashes(hashes) != cp.root:
        report.add(
            "checkpoint_inconsistent",
            f"the given checkpoint at size {cp.size} is not consistent with the log: history was rewritten",
            size=cp.size,
        )


def _verify_datasets(node: Node, s: Session, report: Report) -> None:
    referenced: set[str] = set()
    rows = list(s.scalars(select(DatasetRow).order_by(DatasetRow.registered_at)))
    for row in rows:
        referenced.add(row.file_sha256)
        where = {"dataset_id": row.id}
        if not node.store.exists(row.file_sha256):
            report.add(
                "file_missing", f"dataset {row.id}: its data file {row.file_sha256} is missing", **where
            )
        elif node.store.sha256_of(row.file_sha256) != row.file_sha256:
            report.add(
                "file_corrupt",
                f"dataset {row.id}: its data file no longer matches its SHA-256 {row.file_sha256}",
                **where,
            )
        entry = s.get(LogEntryRow, row.log_index)
        recorded = json.loads(entry.entry).get("data") if entry is not None else None
        if recorded != json.loads(json.dumps(registration_record(row))):
            report.add(
                "dataset_mismatch",
                f"dataset {row.id} differs from its registration at log index {row.log_index}",
                **where,
            )
        payload, problems = verify_certificate(row.certificate, node.key.public_raw)
        if problems or payload is None:
            report.add("dataset_mismatch", f"dataset {row.id}: certificate: {'; '.join(problems)}", **where)
        elif payload.get("digest") != row.digest or payload.get("dataset_id") != row.id:
            report.add("dataset_mismatch", f"dataset {row.id}: its certificate names another digest", **where)
    stored = list(node.store.list())
    for name in stored:
        if name not in referenced:
            report.add("file_orphan", f"the store holds {name}, which no dataset references", file=name)
    report.checked["datasets"] = len(rows)
    report.checked["files"] = len(stored)
