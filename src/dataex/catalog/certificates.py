"""Registration certificates: compact JWS (RFC 7515) signed with the node's Ed25519 key.

The header is ``{"alg": "EdDSA", "kid": <RFC 7638 thumbprint>, "typ": "dataex-cert+jws"}`` (EdDSA as
in RFC 8037, which every JOSE library understands; RFC 9864's fully specified name ``Ed25519`` is
accepted when verifying). The payload is the JSON object described in docs/certificate.md.

:func:`sign_certificate` and :func:`verify_certificate` need only a key (offline checks);
:func:`check` checks a certificate against a node: signature, dataset and log inclusion.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from dataex.db.models import DatasetRow
from dataex.errors import LogEntryNotFound
from dataex.identity.keys import NodeKey, key_thumbprint, public_jwk

if TYPE_CHECKING:
    from dataex.node import Node

CERT_TYPE = "dataex-cert+jws"
CERT_VERSION = 1
REQUIRED = (
    "v",
    "iss",
    "dataset_id",
    "digest",
    "schema_hash",
    "rows",
    "owner",
    "rights",
    "registered_at",
    "log_index",
)


@contextmanager
def _quiet_eddsa() -> Iterator[None]:
    """RFC 9864 deprecates the name "EdDSA"; RFC 8037, which most JOSE libraries implement, uses it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*EdDSA.*")
        yield


def sign_certificate(key: NodeKey, payload: dict[str, Any]) -> str:
    header = {"alg": "EdDSA", "kid": key.kid, "typ": CERT_TYPE}
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    with _quiet_eddsa():
        return jws.serialize_compact(header, body, OKPKey.import_key(key.private), algorithms=["EdDSA"])


def verify_certificate(token: str, public_key: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The payload and the problems found; the payload is ``None`` unless the signature is valid."""
    problems: list[str] = []
    token = token.strip()
    if token.count(".") != 2:
        return None, ["not a compact JWS (need three base64url parts separated by dots)"]
    try:
        with _quiet_eddsa():
            obj = jws.deserialize_compact(
                token, OKPKey.import_key(public_jwk(public_key)), algorithms=["EdDSA", "Ed25519"]
            )
    except (JoseError, ValueError) as e:
        return None, [f"signature does not verify with node key {key_thumbprint(public_key)}: {e}"]
    if obj.protected.get("typ") != CERT_TYPE:
        problems.append(f"header typ is {obj.protected.get('typ')!r}, expected {CERT_TYPE!r}")
    if obj.protected.get("kid") != key_thumbprint(public_key):
        problems.append(
            f"header kid {str(obj.protected.get('kid'))[:64]!r} is not the key's RFC 7638 thumbprint "
            f"{key_thumbprint(public_key)}"
        )
    try:
        payload = json.loads(obj.payload)
    except ValueError:
        return None, [*problems, "payload is not JSON"]
    if not isinstance(payload, dict):
        return None, [*problems, "payload is not a JSON object"]
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        problems.append(f"payload lacks {', '.join(missing)}")
    return payload, problems


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
