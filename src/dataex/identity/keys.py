"""The node's Ed25519 signing key: generated at ``init``, kept in the home with mode 0600."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dataex.errors import InvalidInput


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_thumbprint(public: bytes) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 public key (used as the JWS ``kid``)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public)}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(public: bytes) -> dict[str, Any]:
    """The public key as a JWK (RFC 8037), with its thumbprint as ``kid``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public),
        "kid": key_thumbprint(public),
        "alg": "EdDSA",
        "use": "sig",
    }


def load_public_jwk(data: dict[str, Any]) -> bytes:
    """The raw 32-byte public key from a JWK; refuses anything but an Ed25519 OKP key."""
    if data.get("kty") != "OKP" or data.get("crv") != "Ed25519" or not isinstance(data.get("x"), str):
        raise InvalidInput("not an Ed25519 public key JWK (need kty=OKP, crv=Ed25519, x)")
    raw = base64.urlsafe_b64decode(data["x"] + "=" * (-len(data["x"]) % 4))
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 public key has 32 bytes")
    return raw


@dataclass(frozen=True)
class NodeKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_raw(self) -> bytes:
        return public_bytes(self.public)

    @property
    def kid(self) -> str:
        return key_thumbprint(self.public_raw)

    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.public_raw)

    @classmethod
    def generate(cls, path: Path) -> NodeKey:
        """A new key, written to ``path`` with mode 0600 (fails if the file exists)."""
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"{path} does not hold an Ed25519 private key")
        return cls(key)


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """A node secret kept beside the node key: read ``path``, or create it (mode 0600, O_EXCL).

    Two processes racing to create it both end up with the one that was written first.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != nbytes:
            raise InvalidInput(f"{path} does not hold a {nbytes}-byte key") from None
        return key
    key = secrets.token_bytes(nbytes)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key
