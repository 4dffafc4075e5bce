"""Checking a registration certificate against a node: signature, dataset and log inclusion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataex.catalog.certificate import verify_certificate
from dataex.db.models import DatasetRow
from dataex.errors import LogEntryNotFound

if TYPE_CHECKING:
    from dataex.node import Node


def check(node: Node, token: str, *, public_key: bytes | None = None) -> dict[str, Any]:
    """``{ok, problems, payload, inclusion}``; with a foreign ``public_key`` only the signature is checked."""
    key = public_key if public_key is not None else node.key.public_raw
    payload, problems = verify_certificate(token, key)
    result: dict[str, Any] = {"ok": False, "problems": problems, "payload": payload}
    if payload is None or public_key is not None:
        result["ok"] = payload is not None and not problems
        return result
    with node.session() as s:
        row = s.get(DatasetRow, payload.get("dataset_id"))
        if row is None:
            problems.append(f"dataset {payload.get('dataset_id')} is not registered on this node")
        elif row.digest != payload.get("digest") or row.file_sha256 != payload.get("file_sha256"):
            problems.append(f"dataset {row.id} on this node has another digest than the certificate")
        index = payload.get("log_index")
        try:
            proof = node.log.prove_inclusion(s, int(index)) if isinstance(index, int) else None
        except LogEntryNotFound:
            proof = None
    if proof is None:
        problems.append(f"log index {index!r} is not covered by a signed checkpoint")
    else:
        data = proof["entry"].get("data", {})
        if (
            proof["entry"].get("event") != "dataset.registered"
            or data.get("dataset_id") != payload.get("dataset_id")
            or data.get("digest") != payload.get("digest")
        ):
            problems.append(f"log entry {index} does not record this registration")
        if not proof["ok"]:
            problems.append(f"log entry {index} is not included in checkpoint {proof['tree_size']}")
        result["inclusion"] = {
            k: proof[k] for k in ("index", "tree_size", "leaf_hash", "proof", "root", "checkpoint", "ok")
        }
    result["ok"] = not problems
    return result
