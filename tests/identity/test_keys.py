"""The node's Ed25519 key (PEM, mode 0600, RFC 7638 thumbprint) and node secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dataex.errors import InvalidInput
from dataex.identity.keys import NodeKey, key_thumbprint, load_or_create_secret, load_public_jwk, public_jwk


def test_a_generated_key_is_private_to_its_owner_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    key = NodeKey.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert NodeKey.load(path).public_raw == key.public_raw
    with pytest.raises(FileExistsError):
        NodeKey.generate(path)


def test_the_public_jwk_round_trips_and_the_kid_is_its_thumbprint(tmp_path: Path) -> None:
    key = NodeKey.generate(tmp_path / "node.key")
    jwk = key.jwk()
    assert jwk == public_jwk(key.public_raw)
    assert load_public_jwk(jwk) == key.public_raw
    assert key.kid == key_thumbprint(key.public_raw)
    assert "d" not in jwk


def test_a_file_without_an_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    other = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(InvalidInput, match="Ed25519"):
        NodeKey.load(path)


def test_a_secret_is_created_once_then_read(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    first = load_or_create_secret(path)
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    with pytest.raises(InvalidInput, match="16-byte"):
        load_or_create_secret(path, nbytes=16)
