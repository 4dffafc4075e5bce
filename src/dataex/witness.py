"""Witnessing: nodes cosign each other's checkpoints (c2sp.org/tlog-witness, tlog-cosignature).

A node plays two roles, both optional and configured by its operator:

* **witness** of other logs. ``trust_log`` pins a log's origin and note verifier key. Anyone may then
  ``POST /witness/add-checkpoint`` (:func:`add_checkpoint`): an ``old <size>`` line, at most 63
  base64 consistency-proof lines, an empty line and the log's signed checkpoint. The witness checks
  the signature (403), the origin (404), ``old`` against the size it last cosigned (409, body
  ``<size>\\n``), a same-size checkpoint against the root it cosigned (409) and the RFC 6962 proof
  (422); only then does it move its record forward — atomically, under a row lock — and answer a
  ``cosignature/v1`` line. A validly signed checkpoint that contradicts what the witness cosigned is
  proof that the log forked: it is kept as a ``witness.conflict`` log entry.
* **witnessed log**. ``add_witness`` pins a witness (its cosigner vkey and URL prefix — the only
  address the node contacts for it); :func:`cosign` sends the latest checkpoint with a consistency
  proof from the size that witness last cosigned, verifies the returned cosignature and stores it.
  Stored cosignatures are self-authenticating (``audit verify --witness VKEY`` checks each against
  the checkpoint recomputed from the log's entries), so storing one appends no log entry.

The cosigner key is separate from the node key that signs checkpoints (a witness must not witness
a log that signs with its own key): an Ed25519 seed in ``<home>/witness.seed`` (mode 0600), named
``<origin>/witness``.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from dataex.db.models import CheckpointRow, CosignatureRow, LogWitnessRow, WitnessedLogRow
from dataex.errors import (
    CheckpointConflict,
    CheckpointNotConsistent,
    CheckpointNotSigned,
    CheckpointUnknownLog,
    InvalidInput,
    NodeUnreachable,
    WitnessRefused,
)
from dataex.identity.keys import load_or_create_secret
from dataex.ledger import merkle, note
from dataex.ledger.log import TransparencyLog, utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

MAX_REQUEST_BYTES = 64 * 1024
"""An ``add-checkpoint`` body larger than this is refused before it is parsed."""
MAX_PROOF_LINES = 63
"""c2sp.org/tlog-witness: a client must not send more consistency-proof lines than this."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The content type of a 409 answer's body (the size the witness last cosigned)."""
TIMEOUT_SECONDS = 10.0


# -- the cosigner key --------------------------------------------------------------------------
def cosigner(node: Node) -> tuple[str, Ed25519PrivateKey]:
    """This node's cosigner name and key (created on first use, mode 0600)."""
    seed = load_or_create_secret(node.settings.home / "witness.seed")
    return f"{node.origin}/witness", Ed25519PrivateKey.from_private_bytes(seed)


def cosigner_vkey(node: Node) -> str:
    """This node's ``cosignature/v1`` verifier key, to give to the logs it witnesses."""
    name, key = cosigner(node)
    return note.cosigner_verifier_key(name, key.public_key())


def log_vkey(node: Node) -> str:
    """The verifier key of this node's checkpoints (signed-note format, type 0x01)."""
    return note.verifier_key(node.origin, node.key.public)


# -- the witness role --------------------------------------------------------------------------
def trust_log(node: Node, vkey: str) -> dict[str, Any]:
    """Starts witnessing the log whose checkpoints ``vkey`` verifies (its key name is its origin)."""
    try:
        origin, _public = note.parse_verifier_key(vkey)
    except ValueError as e:
        raise InvalidInput(f"not a log verifier key: {e}") from None
    if origin == node.origin:
        raise InvalidInput("a node does not witness its own log")
    with node.transaction() as s:
        if s.get(WitnessedLogRow, origin) is not None:
            raise InvalidInput(f"this node already witnesses {origin}")
        now = utc_now()
        s.add(
            WitnessedLogRow(
                origin=origin, vkey=vkey, size=0, root=None, note=None, added_at=now, updated_at=now
            )
        )
        entry = node.log.append(s, "witness.log.added", {"origin": origin, "vkey": vkey}, actor="operator")
        node.log.checkpoint(s)
    return {"origin": origin, "vkey": vkey, "log_index": entry.index}


def witnessed_logs(node: Node) -> list[dict[str, Any]]:
    with node.session() as s:
        rows = s.scalars(select(WitnessedLogRow).order_by(WitnessedLogRow.origin))
        return [{"origin": r.origin, "vkey": r.vkey, "size": r.size} for r in rows]


@dataclass(frozen=True)
class _Request:
    old: int
    proof: list[bytes]
    signed: str
    checkpoint: note.Checkpoint


def parse_request(body: bytes) -> _Request:
    """Parses an ``add-checkpoint`` body; ``WitnessRefused`` (400) if malformed."""
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessRefused(f"an add-checkpoint request is at most {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefused("an add-checkpoint request is UTF-8 text") from None
    head, sep, note_text = text.partition("\n\n")
    if not sep:
        raise WitnessRefused("an add-checkpoint request needs an empty line before the checkpoint")
    lines = head.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    size_text = old_line.removeprefix("old ")
    if size_text == old_line or not (size_text == "0" or (size_text.isdigit() and size_text[0] != "0")):
        raise WitnessRefused("the first line must be 'old <size>' (a decimal without leading zeros)")
    if len(size_text) > 20 or len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRefused(f"an old size below 2^64 and at most {MAX_PROOF_LINES} proof lines")
    proof: list[bytes] = []
    for line in proof_lines:
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            value = b""
        if len(value) != 32:
            raise WitnessRefused("each consistency proof line is one base64 SHA-256 hash")
        proof.append(value)
    try:
        checkpoint, _signatures = note.parse_checkpoint(note_text)
    except ValueError as e:
        raise WitnessRefused(f"the checkpoint does not parse: {str(e)[:200]}") from None
    return _Request(old=int(size_text), proof=proof, signed=note_text, checkpoint=checkpoint)


def add_checkpoint(node: Node, body: bytes, *, now: int | None = None) -> str:
    """The witness's answer to ``add-checkpoint``: one cosignature line, or a ``WitnessRefused``.

    Checking ``old`` against the recorded size and recording the new checkpoint happen in one
    transaction under a lock of the log's row, so two concurrent requests cannot roll it back.
    """
    req = parse_request(body)
    cp = req.checkpoint
    evidence: dict[str, Any] | None = None
    with node.transaction() as s:
        row = s.scalars(
            select(WitnessedLogRow).where(WitnessedLogRow.origin == cp.origin).with_for_update()
        ).first()
        if row is None:
            raise CheckpointUnknownLog("this witness does not witness that log")
        name, public = note.parse_verifier_key(row.vkey)
        try:
            note.verify_checkpoint(req.signed, name, public)
        except ValueError:
            raise CheckpointNotSigned("no signature on the checkpoint verifies with the log's key") from None
        if req.old > cp.size:
            raise WitnessRefused("the old size is larger than the checkpoint's size")
        if req.old != row.size:
            raise CheckpointConflict(f"this witness last cosigned size {row.size}", size=row.size)
        if req.old == cp.size:
            if row.root is not None and bytes(row.root) != cp.root:
                evidence = _evidence(row, req, "same size, different root")
        elif req.old > 0 and (
            row.root is None
            or not merkle.verify_consistency(req.old, cp.size, bytes(row.root), cp.root, req.proof)
        ):
            evidence = _evidence(row, req, "consistency proof does not verify")
        elif req.old == 0 and req.proof:
            raise WitnessRefused("the proof must be empty when the old size is 0")
        if evidence is None and (cp.size > row.size or row.root is None):
            row.size, row.root, row.note, row.updated_at = cp.size, cp.root, req.signed, utc_now()
            data = {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()}
            node.log.append(s, "witness.cosigned", data, actor="operator")
            node.log.checkpoint(s)
    if evidence is not None:
        # A validly signed checkpoint that contradicts the one this witness cosigned: keep the proof.
        with node.transaction() as s:
            node.log.append(s, "witness.conflict", evidence, actor="operator")
            node.log.checkpoint(s)
        if evidence["reason"].startswith("same size"):
            raise CheckpointConflict("a different checkpoint of the same size was cosigned", size=req.old)
        raise CheckpointNotConsistent("the consistency proof does not verify")
    name, key = cosigner(node)
    return note.cosign_checkpoint(req.signed, name, key, int(time.time()) if now is None else now)


def _evidence(row: WitnessedLogRow, req: _Request, reason: str) -> dict[str, Any]:
    """The two signed checkpoints that contradict each other, each with only the log's signature."""
    return {
        "origin": row.origin,
        "reason": reason,
        "cosigned": _log_signed(row.note or "", row.vkey),
        "offered": _log_signed(req.signed, row.vkey),
        "old": req.old,
        "proof": [base64.b64encode(p).decode() for p in req.proof],
    }


def _log_signed(checkpoint_note: str, vkey: str) -> str:
    text, signatures = note.parse_note(checkpoint_note)
    name, public = note.parse_verifier_key(vkey)
    kid = note.key_id(name, public)
    return (
        text + "\n" + "".join(sig.line() for sig in signatures if sig.key_name == name and sig.key_id == kid)
    )


# -- the witnessed-log role --------------------------------------------------------------------
def add_witness(node: Node, vkey: str, url: str) -> dict[str, Any]:
    """Pins a witness of this node's log: its ``cosignature/v1`` vkey and its URL prefix."""
    try:
        name, _public = note.parse_cosigner_key(vkey)
    except ValueError as e:
        raise InvalidInput(f"not a cosigner verifier key: {e}") from None
    if not url.startswith(("http://", "https://")) or len(url) > 2000 or any(c.isspace() for c in url):
        raise InvalidInput("the witness URL must be an http(s) URL prefix without spaces")
    with node.transaction() as s:
        if s.get(LogWitnessRow, name) is not None:
            raise InvalidInput(f"{name} is already a witness of this log")
        s.add(LogWitnessRow(name=name, vkey=vkey, url=url.rstrip("/"), added_at=utc_now()))
        entry = node.log.append(s, "log.witness.added", {"name": name, "vkey": vkey}, actor="operator")
        node.log.checkpoint(s)
    return {"name": name, "vkey": vkey, "url": url.rstrip("/"), "log_index": entry.index}


def witnesses(node: Node) -> list[dict[str, Any]]:
    with node.session() as s:
        rows = list(s.scalars(select(LogWitnessRow).order_by(LogWitnessRow.name)))
        out = []
        for r in rows:
            last = s.scalar(select(func.max(CosignatureRow.size)).where(CosignatureRow.witness == r.name))
            out.append({"name": r.name, "vkey": r.vkey, "url": r.url, "cosigned_size": last})
        return out


def request_body(old: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint_note).encode()


def cosign(node: Node, *, transport: Any = None) -> list[dict[str, Any]]:
    """Asks every pinned witness to cosign the latest checkpoint; stores each verified cosignature.

    ``transport`` is an ``httpx`` transport (tests pass an in-process one); by default the node
    connects to each witness's configured URL, and nowhere else.
    """
    import httpx

    with node.session() as s:
        cp = node.log.latest_checkpoint(s)
        assert cp is not None
        size, checkpoint_note = cp.size, cp.note
        hashes = TransparencyLog.leaf_hashes(s, size)
        pinned = [
            (r.name, r.vkey, r.url) for r in s.scalars(select(LogWitnessRow).order_by(LogWitnessRow.name))
        ]
        known = {
            w: int(n)
            for w, n in s.execute(
                select(CosignatureRow.witness, func.max(CosignatureRow.size)).group_by(CosignatureRow.witness)
            )
        }
    results = []
    with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
        for name, vkey, url in pinned:
            try:
                line = _ask(client, url, known.get(name, 0), hashes, checkpoint_note)
                _w, public = note.parse_cosigner_key(vkey)
                stamp = note.verify_cosignature(checkpoint_note + line, name, public)
            except (WitnessRefused, NodeUnreachable, ValueError) as e:
                results.append({"witness": name, "size": size, "ok": False, "error": str(e)[:300]})
                continue
            with node.transaction() as s:
                s.merge(
                    CosignatureRow(size=size, witness=name, line=line, timestamp=stamp, received_at=utc_now())
                )
            results.append({"witness": name, "size": size, "ok": True, "timestamp": stamp})
    return results


def _ask(client: Any, url: str, old: int, hashes: list[bytes], checkpoint_note: str) -> str:
    """Posts ``add-checkpoint``; on a 409 with a smaller size, retries once from that size."""
    import httpx

    size = len(hashes)
    for _attempt in range(2):
        proof = merkle.consistency_proof_from_hashes(hashes, old) if 0 < old < size else []
        try:
            resp = client.post(f"{url}/add-checkpoint", content=request_body(old, proof, checkpoint_note))
        except httpx.HTTPError as e:
            raise NodeUnreachable(f"witness {url} is unreachable: {type(e).__name__}") from None
        if resp.status_code == 200:
            lines = [ln + "\n" for ln in resp.text.split("\n") if ln.startswith("\u2014 ")]
            if not lines:
                raise WitnessRefused("the witness answered no cosignature line")
            return "".join(lines[:8])
        if resp.status_code == 409 and resp.headers.get("content-type", "").startswith(SIZE_CONTENT_TYPE):
            text = resp.text.strip()
            if not text.isdigit():
                raise WitnessRefused("the witness's 409 answer is not a size")
            if int(text) > size or int(text) == old:
                raise WitnessRefused(
                    f"the witness has cosigned size {text} of this log, which holds {size} entries: "
                    "the log this witness saw was not this one"
                )
            old = int(text)
            continue
        raise WitnessRefused(f"the witness refused the checkpoint ({resp.status_code}): {resp.text[:200]}")
    raise WitnessRefused("the witness kept answering 409")


def cosigned_note(node: Node, session: Session, size: int | None = None) -> str:
    """The checkpoint at ``size`` (default: the latest) with the stored cosignatures appended."""
    row = node.log.latest_checkpoint(session) if size is None else session.get(CheckpointRow, size)
    if row is None:
        raise InvalidInput(f"no checkpoint at size {size}")
    lines = session.scalars(
        select(CosignatureRow.line).where(CosignatureRow.size == row.size).order_by(CosignatureRow.witness)
    )
    return row.note + "".join(lines)
