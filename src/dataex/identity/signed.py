"""Signed claims: ``base64url(JSON) "." base64url(HMAC-SHA-256(key, JSON))``, unpadded.

One format for every short-lived token the node hands out and later takes back: the console's
session cookie (dataex.web.session) and PSI-then-DP's session ticket (dataex.privacy.psi.thendp).
Expiry and the meaning of each claim stay with the caller; :func:`verify` checks the signature
and that the claims are a JSON object.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def sign(key: bytes, claims: dict[str, Any]) -> str:
    body = json.dumps(claims).encode()
    return f"{b64(body)}.{b64(mac(key, body))}"


def verify(key: bytes, token: str | None) -> dict[str, Any] | None:
    """The claims of ``token`` if ``key`` signed them; None when missing, malformed or forged."""
    if not token or token.count(".") != 1:
        return None
    body_b64, mac_b64 = token.split(".")
    try:
        body, presented = unb64(body_b64), unb64(mac_b64)
        claims = json.loads(body)
    except ValueError:
        return None
    if not hmac.compare_digest(presented, mac(key, body)) or not isinstance(claims, dict):
        return None
    return claims
