"""Registration certificates: compact JWS (RFC 7515) signed with the node's Ed25519 key.

The header is ``{"alg": "EdDSA", "kid": <RFC 7638 thumbprint>, "typ": "dataex-cert+jws"}`` (EdDSA as
in RFC 8037, which every JOSE library understands; RFC 9864's fully specified name ``Ed25519`` is
accepted when verifying). The payload is the JSON object described in docs/certificate.md.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from dataex.identity.keys import NodeKey, key_thumbprint, public_jwk

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
