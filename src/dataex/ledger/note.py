"""Signed checkpoints: C2SP tlog-checkpoint bodies inside C2SP signed notes.

A signed note is ``<text>\\n<signature lines>`` where the text ends in a newline
and each signature line is ``— <key name> <base64(key id || signature)>\\n``
(U+2014 EM DASH, space). Ed25519 key ids are the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key), and verifier keys use the
``<name>+<hex key id>+<base64(0x01 || public key)>`` encoding of Go's
golang.org/x/mod/sumdb/note, so notes interoperate with Go, sigsum and
transparency-dev tooling. See https://c2sp.org/signed-note and
https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Signature",
    "add_signature",
    "cosign_checkpoint",
    "cosigner_key_id",
    "cosigner_verifier_key",
    "key_id",
    "parse_checkpoint",
    "parse_cosigner_key",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "signer_key",
    "verifier_key",
    "verify_checkpoint",
    "verify_cosignature",
    "verify_note",
]

ALG_ED25519 = 0x01
"""Signature type identifier byte for Ed25519 (c2sp.org/signed-note)."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type identifier byte for Ed25519 ``cosignature/v1`` (c2sp.org/tlog-cosignature)."""

_COSIGNATURE_HEADER = "cosignature/v1\n"
_MAX_TIMESTAMP = (1 << 63) - 1

MAX_SIGNATURES = 100
"""Maximum number of signature lines accepted in one note (same limit as Go)."""

_SIG_PREFIX = "\u2014 "  # EM DASH + space
_HASH_SIZE = 32
_ED25519_SIG_SIZE = 64
_MAX_TREE_SIZE = (1 << 64) - 1
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_KEY_ID_RE = re.compile(r"[0-9a-fA-F]{8}")

PublicKeyLike = Ed25519PublicKey | bytes
"""An Ed25519 public key object or its raw 32-byte encoding."""


# --------------------------------------------------------------------------- helpers


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padded, alphabet only, canonical."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if _b64encode(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    return data


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError("key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"key name {name!r} must not contain spaces or '+'")
    if any(ord(ch) < 0x20 for ch in name):
        raise ValueError(f"key name {name!r} must not contain control characters")


def _check_note_chars(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"malformed note: {what} is not valid UTF-8") from exc
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise ValueError(f"malformed note: {what} contains control character {ch!r}")


def _raw_public_key(public_key: PublicKeyLike) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if isinstance(public_key, bytes | bytearray) and len(public_key) == 32:
        return bytes(public_key)
    raise ValueError("public key must be an Ed25519PublicKey or 32 raw bytes")


def _public_key_object(public_key: PublicKeyLike) -> Ed25519PublicKey:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    return Ed25519PublicKey.from_public_bytes(_raw_public_key(public_key))


# ------------------------------------------------------------------------------ keys


def key_id(key_name: str, public_key: PublicKeyLike) -> bytes:
    """Return the 4-byte Ed25519 key id SHA-256(name || 0x0A || 0x01 || pubkey)[:4]."""
    _check_key_name(key_name)
    material = key_name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + _raw_public_key(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(key_name: str, public_key: PublicKeyLike) -> str:
    """Return the Go note verifier key ``<name>+<hex8 key id>+<base64(0x01 || pubkey)>``."""
    raw = _raw_public_key(public_key)
    return f"{key_name}+{key_id(key_name, raw).hex()}+{_b64encode(bytes([ALG_ED25519]) + raw)}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Parse a verifier key string into (key name, public key); ``ValueError`` if malformed."""
    parts = vkey.split("+", 2)  # the base64 key itself may contain "+"
    if len(parts) != 3:
        raise ValueError("verifier key must have the form <name>+<hex key id>+<base64 key>")
    name, id_hex, key64 = parts
    _check_key_name(name)
    if not _KEY_ID_RE.fullmatch(id_hex):
        raise ValueError("verifier key id must be 8 hex digits")
    material = _b64decode(key64, "verifier key")
    if len(material) != 33 or material[0] != ALG_ED25519:
        raise ValueError("verifier key is not a 0x01-prefixed 32-byte Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(material[1:])
    if key_id(name, public) != bytes.fromhex(id_hex):
        raise ValueError("verifier key id does not match the key")
    return name, public


def signer_key(key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the Go note signer key ``PRIVATE+KEY+<name>+<hex8 key id>+<base64(0x01 || seed)>``."""
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = key_id(key_name, private_key.public_key())
    return f"PRIVATE+KEY+{key_name}+{kid.hex()}+{_b64encode(bytes([ALG_ED25519]) + seed)}"


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a Go note signer key into (key name, private key); ``ValueError`` if malformed."""
    parts = skey.split("+", 4)  # the base64 key itself may contain "+"
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise ValueError("signer key must have the form PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
    name, id_hex, key64 = parts[2:]
    _check_key_name(name)
    if not _KEY_ID_RE.fullmatch(id_hex):
        raise ValueError("signer key id must be 8 hex digits")
    material = _b64decode(key64, "signer key")
    if len(material) != 33 or material[0] != ALG_ED25519:
        raise ValueError("signer key is not a 0x01-prefixed 32-byte Ed25519 seed")
    private = Ed25519PrivateKey.from_private_bytes(material[1:])
    if key_id(name, private.public_key()) != bytes.fromhex(id_hex):
        raise ValueError("signer key id does not match the key")
    return name, private


# ----------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, 4-byte key id and the raw signature bytes."""

    key_name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """Return the encoded signature line, including its newline."""
        return f"{_SIG_PREFIX}{self.key_name} {_b64encode(self.key_id + self.signature)}\n"


def parse_note(note_text: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text (with final newline) and signature lines.

    Signatures are not verified. Raises ``ValueError`` on malformed notes.
    """
    if not isinstance(note_text, str):
        raise ValueError("malformed note: expected text")
    _check_note_chars(note_text, "note")
    split = note_text.rfind("\n\n")
    if split < 0:
        raise ValueError("malformed note: missing blank line between text and signatures")
    text = note_text[: split + 1]
    block = note_text[split + 2 :]
    if not block:
        raise ValueError("malformed note: no signature lines")
    if not block.endswith("\n"):
        raise ValueError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures: list[Signature] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise ValueError(f"malformed note: signature line {line!r} must start with '— '")
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise ValueError(f"malformed note: signature line {line!r} must be '— <name> <base64>'")
        name, sig64 = fields
        try:
            _check_key_name(name)
        except ValueError as exc:
            raise ValueError(f"malformed note: {exc}") from exc
        raw = _b64decode(sig64, "malformed note: signature")
        if len(raw) < 5:
            raise ValueError("malformed note: signature shorter than key id plus one byte")
        signatures.append(Signature(key_name=name, key_id=raw[:4], signature=raw[4:]))
    return text, signatures


def sign_note(text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign note ``text`` (which must end in a newline) and return the full note."""
    _check_key_name(key_name)
    _check_note_chars(text, "text")
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    signature = Signature(
        key_name=key_name,
        key_id=key_id(key_name, private_key.public_key()),
        signature=private_key.sign(text.encode("utf-8")),
    )
    return text + "\n" + signature.line()


def add_signature(note_text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Add (or replace) this key's signature on an already signed note, keeping the others."""
    text, signatures = parse_note(note_text)
    kid = key_id(key_name, private_key.public_key())
    others = [s for s in signatures if not (s.key_name == key_name and s.key_id == kid)]
    if len(others) >= MAX_SIGNATURES:
        raise ValueError(f"note already has {MAX_SIGNATURES} signatures")
    mine = Signature(key_name=key_name, key_id=kid, signature=private_key.sign(text.encode("utf-8")))
    return text + "\n" + "".join(s.line() for s in [*others, mine])


def verify_note(note_text: str, key_name: str, public_key: PublicKeyLike) -> str:
    """Return the note text if it carries a valid signature by this key, else ``ValueError``.

    Signatures by other keys are ignored; a signature line with this key's name
    and id that does not verify makes the whole note invalid.
    """
    text, signatures = parse_note(note_text)
    public = _public_key_object(public_key)
    kid = key_id(key_name, public)
    mine = [s for s in signatures if s.key_name == key_name and s.key_id == kid]
    if not mine:
        raise ValueError(f"note has no signature by key {key_name}+{kid.hex()}")
    message = text.encode("utf-8")
    for sig in mine:
        if len(sig.signature) != _ED25519_SIG_SIZE:
            raise ValueError(f"invalid signature for key {key_name}+{kid.hex()}")
        try:
            public.verify(sig.signature, message)
        except InvalidSignature as exc:
            raise ValueError(f"invalid signature for key {key_name}+{kid.hex()}") from exc
    return text


# ------------------------------------------------------------------------ checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint: origin line, tree size and 32-byte RFC 6962 root hash.

    ``extensions`` holds optional extension lines (none are produced by dataex).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise ValueError("checkpoint origin must be a non-empty string")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError("checkpoint size must be an integer")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise ValueError(f"checkpoint size {self.size} out of range")
        if not isinstance(self.root, bytes) or len(self.root) != _HASH_SIZE:
            raise ValueError("checkpoint root hash must be 32 bytes")
        for line in (self.origin, *self.extensions):
            if not isinstance(line, str) or not line:
                raise ValueError("checkpoint lines must be non-empty strings")
            _check_note_chars(line, "checkpoint line")
            if "\n" in line:
                raise ValueError("checkpoint lines must not contain newlines")

    def body(self) -> str:
        """Return the note text ``<origin>\\n<size>\\n<base64 root>\\n[extensions]``."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _parse_checkpoint_body(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("malformed checkpoint: need origin, size and root hash lines")
    origin, size_text, root64, *extensions = lines
    if not origin:
        raise ValueError("malformed checkpoint: empty origin line")
    if not _SIZE_RE.fullmatch(size_text):
        raise ValueError(
            f"malformed checkpoint: tree size {size_text!r} is not a decimal without leading zeros"
        )
    size = int(size_text)
    if size > _MAX_TREE_SIZE:
        raise ValueError("malformed checkpoint: tree size out of range")
    root = _b64decode(root64, "malformed checkpoint: root hash")
    if len(root) != _HASH_SIZE:
        raise ValueError(f"malformed checkpoint: root hash is {len(root)} bytes, not 32")
    if any(not line for line in extensions):
        raise ValueError("malformed checkpoint: empty extension line")
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))


def parse_checkpoint(note_text: str) -> tuple[Checkpoint, list[Signature]]:
    """Parse a signed checkpoint note without verifying signatures; ``ValueError`` if malformed."""
    text, signatures = parse_note(note_text)
    return _parse_checkpoint_body(text), signatures


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signed note text for ``cp`` with one Ed25519 signature line."""
    return sign_note(cp.body(), key_name, private_key)


def verify_checkpoint(note_text: str, key_name: str, public_key: PublicKeyLike) -> Checkpoint:
    """Parse ``note_text`` and return its checkpoint if this key signed it; else ``ValueError``."""
    text = verify_note(note_text, key_name, public_key)
    return _parse_checkpoint_body(text)


# ----------------------------------------------------------------------- cosignatures


def cosigner_key_id(key_name: str, public_key: PublicKeyLike) -> bytes:
    """Return the 4-byte cosigner key id SHA-256(name || 0x0A || 0x04 || pubkey)[:4]."""
    _check_key_name(key_name)
    material = key_name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + _raw_public_key(public_key)
    return hashlib.sha256(material).digest()[:4]


def cosigner_verifier_key(key_name: str, public_key: PublicKeyLike) -> str:
    """Return the cosigner's vkey ``<name>+<hex8 key id>+<base64(0x04 || pubkey)>``."""
    raw = _raw_public_key(public_key)
    return (
        f"{key_name}+{cosigner_key_id(key_name, raw).hex()}+{_b64encode(bytes([ALG_COSIGNATURE_V1]) + raw)}"
    )


def parse_cosigner_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Parse a ``cosignature/v1`` vkey (type byte 0x04) into (name, public key); ``ValueError`` if not."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise ValueError("cosigner key must have the form <name>+<hex key id>+<base64 key>")
    name, id_hex, key64 = parts
    _check_key_name(name)
    if not _KEY_ID_RE.fullmatch(id_hex):
        raise ValueError("cosigner key id must be 8 hex digits")
    material = _b64decode(key64, "cosigner key")
    if len(material) != 33 or material[0] != ALG_COSIGNATURE_V1:
        raise ValueError("cosigner key is not a 0x04-prefixed 32-byte Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(material[1:])
    if cosigner_key_id(name, public) != bytes.fromhex(id_hex):
        raise ValueError("cosigner key id does not match the key")
    return name, public


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


def cosign_checkpoint(note_text: str, key_name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """Return a ``cosignature/v1`` signature line (with its newline) over the note's checkpoint body.

    The signature is ``key id || u64 big-endian timestamp || Ed25519(cosignature/v1\\ntime T\\n || body)``.
    """
    text, _ = parse_note(note_text)
    _parse_checkpoint_body(text)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp out of range")
    signed = private_key.sign(_cosigned_message(text, timestamp))
    kid = cosigner_key_id(key_name, private_key.public_key())
    return Signature(key_name, kid, timestamp.to_bytes(8, "big") + signed).line()


def verify_cosignature(note_text: str, key_name: str, public_key: PublicKeyLike) -> int:
    """Return the timestamp of this cosigner's valid cosignature on the note; ``ValueError`` if none.

    Other signature lines are ignored; a line with this cosigner's name and key id that does not
    verify makes the note invalid, as for :func:`verify_note`.
    """
    text, signatures = parse_note(note_text)
    _parse_checkpoint_body(text)
    public = _public_key_object(public_key)
    kid = cosigner_key_id(key_name, public)
    mine = [s for s in signatures if s.key_name == key_name and s.key_id == kid]
    if not mine:
        raise ValueError(f"note has no cosignature by {key_name}+{kid.hex()}")
    stamps: list[int] = []
    for sig in mine:
        if len(sig.signature) != 8 + _ED25519_SIG_SIZE:
            raise ValueError(f"invalid cosignature for key {key_name}+{kid.hex()}")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise ValueError(f"invalid cosignature timestamp for key {key_name}+{kid.hex()}")
        try:
            public.verify(sig.signature[8:], _cosigned_message(text, timestamp))
        except InvalidSignature as exc:
            raise ValueError(f"invalid cosignature for key {key_name}+{kid.hex()}") from exc
        stamps.append(timestamp)
    return max(stamps)
