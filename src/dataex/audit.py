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
* ``dataset_mismatch`` — a dataset row that disagrees with its registration entry or certificate;
* ``witness_missing`` — a witness the auditor requires (``--witness VKEY``) cosigned no checkpoint;
* ``witness_fork`` — a witness's cosignature does not verify over the checkpoint recomputed from the
  log's entries: the log the witness saw is not this one (history was rewritten and re-signed);
* ``entry_malformed`` — a stored entry that is not bytes of a JSON object (never a crash);
* ``opening_mismatch`` — a sealed field of an entry whose stored opening is gone or does not match
  its public commitment (dataex.ledger.seal);
* ``state_mismatch`` — a table that disagrees with the state the log's entries imply
  (:mod:`dataex.replay`: contracts and their budgets, wallets, parties, consent, metadata).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataex.catalog.certificates import verify_certificate
from dataex.catalog.registration import registration_record
from dataex.db.models import CheckpointRow, CosignatureRow, DatasetRow, LogEntryRow, LogHeadRow
from dataex.errors import LogEntryNotFound
from dataex.identity.parties import Party
from dataex.ledger import merkle, note, seal
from dataex.ledger.log import TransparencyLog
from dataex.policy import allows
from dataex.replay import Replay

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


def verify_node(
    node: Node, *, external_checkpoints: Sequence[str] = (), witnesses: Sequence[str] = ()
) -> Report:
    """Everything ``dataex audit verify`` checks; ``external_checkpoints`` are notes an auditor kept,
    ``witnesses`` the ``cosignature/v1`` verifier keys of witnesses whose cosignature is required."""
    report = Report()
    replay = Replay()
    with node.session() as s:
        roots = _verify_entries(s, report, replay.apply)
        _verify_checkpoints(node, s, report, roots)
        for text in external_checkpoints:
            _verify_external(node, s, report, text)
        for vkey in witnesses:
            _verify_witness(node, s, report, roots, vkey)
        _verify_datasets(node, s, report)
        mismatch = lambda message, **where: report.add("state_mismatch", message, **where)  # noqa: E731
        report.checked |= replay.compare(s, mismatch)
    _verify_permissions(node, report)
    return report


def _verify_permissions(node: Node, report: Report) -> None:
    """Every folder and file under the node home is its owner's alone (no group or other bits)."""
    home = node.settings.home
    checked = 0
    if not home.is_dir():
        return
    for path in [home, *home.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except OSError:  # removed while walking (a staging file)
            continue
        if stat.S_ISLNK(mode):
            continue
        checked += 1
        if mode & 0o077:
            report.add(
                "permissions",
                f"{path} is {stat.filemode(mode)}: readable or writable by others "
                f"(chmod {'700' if stat.S_ISDIR(mode) else '600'}; the node home must be private)",
                path=os.fspath(path),
            )
    report.checked["paths"] = checked


def _verify_entries(s: Session, report: Report, apply: Callable[[dict[str, Any]], None]) -> dict[int, bytes]:
    """Recomputes every leaf hash and feeds each entry to ``apply`` (the state replay); returns the
    root at every size that has a checkpoint."""
    head = s.get(LogHeadRow, 1)
    sizes = set(s.scalars(select(CheckpointRow.size))) | set(s.scalars(select(CosignatureRow.size)))
    frontier = merkle.Frontier()
    roots: dict[int, bytes] = {0: merkle.root_from_hashes([])} if 0 in sizes else {}
    expected = 0
    count = 0
    columns = select(LogEntryRow.idx, LogEntryRow.entry, LogEntryRow.leaf_hash).order_by(LogEntryRow.idx)
    for row in s.execute(columns.execution_options(yield_per=5000)):  # plain rows: no ORM work per entry
        count += 1
        while expected < row.idx:
            report.add("entry_missing", f"log entry {expected} is missing (deleted)", index=expected)
            expected += 1
        expected = row.idx + 1
        raw = row.entry
        if not isinstance(raw, bytes | bytearray | memoryview):
            report.add(
                "entry_malformed",
                f"log entry {row.idx} is stored as {type(raw).__name__}, not bytes: it was rewritten",
                index=row.idx,
            )
            raw = str(raw).encode("utf-8", "surrogateescape")
        raw = bytes(raw)
        recomputed = merkle.leaf_hash(raw)
        if recomputed != bytes(row.leaf_hash):
            report.add(
                "entry_edited",
                f"log entry {row.idx}: its bytes were changed after it was appended",
                index=row.idx,
            )
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        claimed = body.get("index") if isinstance(body, dict) else None
        if isinstance(body, dict) and claimed == row.idx:
            if seal.COMMIT_BYTES in raw:
                body, unopened = seal.opened(s, body)
                for problem in unopened:
                    report.add("opening_mismatch", f"log entry {row.idx}: {problem}", index=row.idx)
            apply(body)
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
    previous_matches = False
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
        # Checkpoints whose roots both equal the roots recomputed from the same entries are prefixes
        # of one sequence, hence consistent: a proof is needed only where one of them does not match.
        matches = roots.get(cp.size) == bytes(cp.root)
        if previous is not None and not (matches and previous_matches):
            _check_consistency(s, report, previous.size, bytes(previous.root), cp.size, bytes(cp.root))
        previous, previous_matches = cp, matches
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


def openings_for(node: Node, viewer: Party | None, index: int) -> dict[str, Any]:
    """The openings of entry ``index``'s sealed fields that ``viewer`` may see (``None``: the local
    operator). A viewer outside every audience gets ``LogEntryNotFound``, as for an unknown index."""
    with node.session() as s:
        size = TransparencyLog.size(s)
        rows = seal.openings(s, index) if 0 <= index < size else []
    shown = [seal.describe_opening(r) for r in rows if _in_audience(node, viewer, r.audience)]
    if not shown:
        raise LogEntryNotFound(index, size)
    return {"index": index, "openings": shown}


def _in_audience(node: Node, viewer: Party | None, audience: Sequence[str]) -> bool:
    if viewer is None or viewer.role in ("operator", "auditor"):
        return True
    for object_id in audience:
        if object_id == viewer.id:
            return True
        if object_id.startswith("ds_") and allows(node, viewer, "read_details", object_id):
            return True
        if object_id.startswith("ctr_") and allows(node, viewer, "read_contract", object_id):
            return True
    return False


def _verify_witness(node: Node, s: Session, report: Report, roots: dict[int, bytes], vkey: str) -> None:
    """Each stored cosignature by this witness must verify over the checkpoint body rebuilt from the
    root recomputed from the entries — not over the stored note, which whoever holds the node key
    could re-sign after rewriting history."""
    try:
        name, public = note.parse_cosigner_key(vkey)
    except ValueError as e:
        report.add("witness_missing", f"not a cosigner verifier key: {e}")
        return
    query = select(CosignatureRow).where(CosignatureRow.witness == name).order_by(CosignatureRow.size)
    good, forked = 0, False
    for row in s.scalars(query):
        root = roots.get(row.size)
        if root is None:
            forked = True
            report.add("witness_fork", f"{name} cosigned size {row.size}, beyond the log", size=row.size)
            continue
        body = note.Checkpoint(node.origin, row.size, root).body()
        try:
            note.verify_cosignature(body + "\n" + row.line, name, public)
        except ValueError:
            forked = True
            report.add(
                "witness_fork",
                f"witness {name} cosigned a different checkpoint at size {row.size} than the log's entries "
                "give: the log was rewritten after the witness saw it",
                size=row.size,
                witness=name,
            )
            continue
        good += 1
    if not good and not forked:
        report.add("witness_missing", f"witness {name} has cosigned no checkpoint of this log", witness=name)
    report.checked[f"cosignatures:{name}"] = good


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
        recorded = _entry_data(s, row.log_index, entry.entry) if entry is not None else None
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


def _entry_data(s: Session, index: int, raw: str | bytes) -> object:
    """An entry's ``data`` with its sealed fields opened (a mismatch is reported by the entry
    checks), or None when the stored value is not a JSON object (already reported)."""
    try:
        body = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("index") != index:
        return None
    data = seal.opened(s, body)[0].get("data")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in ("similar_to", "visibility")}  # not the row's
    return data
