"""Signed note and tlog checkpoint tests, including notes signed by Go's sumdb/note."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from dataex.ledger.merkle import EMPTY_ROOT, root
from dataex.ledger.note import (
    Checkpoint,
    Signature,
    add_signature,
    key_id,
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    signer_key,
    verifier_key,
    verify_checkpoint,
    verify_note,
)

# --------------------------------------------------------------------------------------
# Vectors from golang/mod, sumdb/note/note_test.go (TestNewVerifier, TestNewSigner,
# TestSign, TestOpen). These notes were produced by Go's golang.org/x/mod/sumdb/note.
# --------------------------------------------------------------------------------------

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

# A real sum.golang.org checkpoint and the Go checksum database verifier key, from
# sigsum/sigsum-go, pkg/checkpoint/checkpoint_test.go (TestGoSumDBCheckpoint:
# "Retrieved from https://sum.golang.org/latest, 2024-09-23"; the key is the one in
# golang/go src/cmd/go/internal/modfetch/key.go).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "30055305\n"
    "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n"
    "\n"
    "— sum.golang.org "
    "Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n"
)

ROOT8 = root([bytes([i]) for i in range(8)])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# ------------------------------------------------------------------- Go interoperability


def test_go_signer_key_gives_go_verifier_key() -> None:
    name, private = parse_signer_key(PETER_SKEY)
    assert name == "PeterNeumann"
    assert verifier_key(name, private.public_key()) == PETER_VKEY
    assert signer_key(name, private) == PETER_SKEY
    assert key_id(name, private.public_key()) == bytes.fromhex("c74f20a3")
    raw_seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw_seed[0] == 0x01
    assert len(raw_seed) == 33


def test_go_verifier_key_parses() -> None:
    name, public = parse_verifier_key(PETER_VKEY)
    assert name == "PeterNeumann"
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert b64(b"\x01" + raw) == PETER_VKEY.split("+", 2)[2]
    assert verifier_key(name, public) == PETER_VKEY
    assert verifier_key(name, raw) == PETER_VKEY
    enoch_name, enoch = parse_verifier_key(ENOCH_VKEY)
    assert key_id(enoch_name, enoch) == bytes.fromhex("af0cfe78")


def test_signing_reproduces_go_signature_byte_for_byte() -> None:
    name, private = parse_signer_key(PETER_SKEY)
    assert sign_note(GO_TEXT, name, private) == GO_NOTE


def test_verify_go_signed_note() -> None:
    name, public = parse_verifier_key(PETER_VKEY)
    assert verify_note(GO_NOTE, name, public) == GO_TEXT
    text, signatures = parse_note(GO_NOTE)
    assert text == GO_TEXT
    assert signatures == [
        Signature(
            key_name="PeterNeumann",
            key_id=bytes.fromhex("c74f20a3"),
            signature=base64.b64decode(PETER_SIG.split(" ")[2])[4:],
        )
    ]


def test_go_note_with_two_signers() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    peter_name, peter = parse_verifier_key(PETER_VKEY)
    enoch_name, enoch = parse_verifier_key(ENOCH_VKEY)
    assert verify_note(note, peter_name, peter) == GO_TEXT
    assert verify_note(note, enoch_name, enoch) == GO_TEXT
    _, signatures = parse_note(note)
    assert [(s.key_name, s.key_id.hex()) for s in signatures] == [
        ("PeterNeumann", "c74f20a3"),
        ("EnochRoot", "af0cfe78"),
    ]


def test_go_note_corrupted_signature_is_rejected() -> None:
    # From TestOpen: four base64 characters spliced into the signature.
    name, public = parse_verifier_key(PETER_VKEY)
    note = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(ValueError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        verify_note(note, name, public)
    flipped = bytearray(base64.b64decode(PETER_SIG.split(" ")[2]))
    flipped[10] ^= 1
    note = GO_TEXT + "\n— PeterNeumann " + b64(bytes(flipped)) + "\n"
    with pytest.raises(ValueError, match="invalid signature"):
        verify_note(note, name, public)


def test_go_note_unknown_signatures_are_ignored_but_needed() -> None:
    name, public = parse_verifier_key(PETER_VKEY)
    # Only Enoch signed: no signature by Peter's key.
    with pytest.raises(ValueError, match="no signature by key PeterNeumann\\+c74f20a3"):
        verify_note(GO_TEXT + "\n" + ENOCH_SIG, name, public)
    # Same key id, different name (TestOpen "misnamedSig").
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(ValueError, match="no signature"):
        verify_note(GO_TEXT + "\n" + misnamed, name, public)
    # Same name, different key id.
    wrong_id = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(ValueError, match="no signature"):
        verify_note(GO_TEXT + "\n" + wrong_id, name, public)


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        "\udcff" + GO_TEXT + "\n" + PETER_SIG,  # not encodable as UTF-8
        GO_TEXT + "\n— Bad Name " + PETER_B64,
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
        GO_TEXT + "\n— PeterNeumann\n",
        GO_TEXT + "\n— PeterNeumann AAAA\n",  # shorter than key id + 1 byte
        GO_TEXT + "\n-- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQx\n",
        GO_TEXT + "\n— Peter+Neumann " + PETER_B64 + "\n",
        GO_TEXT + "\n" + PETER_SIG.replace("AM=", "AM"),  # missing padding
        GO_TEXT + "\n" + PETER_SIG.replace("nAM=", "nAN="),  # non-canonical trailing bits
        GO_TEXT + "\n" + PETER_SIG.replace("x08go", "x08g\u00e9"),
        GO_TEXT + "\r\n" + PETER_SIG,
    ],
)
def test_go_malformed_notes_are_rejected(bad: str) -> None:
    # The first seven cases are TestOpen's badMsgs (with "\xff" as a lone surrogate).
    name, public = parse_verifier_key(PETER_VKEY)
    with pytest.raises(ValueError, match="malformed note"):
        parse_note(bad)
    with pytest.raises(ValueError, match="malformed note"):
        verify_note(bad, name, public)


def test_go_limit_of_one_hundred_signatures_is_accepted() -> None:
    name, public = parse_verifier_key(PETER_VKEY)
    assert verify_note(GO_TEXT + "\n" + PETER_SIG * 100, name, public) == GO_TEXT


@pytest.mark.parametrize("good", [PETER_VKEY, ENOCH_VKEY])
def test_mangled_verifier_keys_are_rejected(good: str) -> None:
    # Port of TestNewVerifier: every proper substring and every single-byte bump fails.
    for i in range(len(good) + 1):
        for j in range(i + 1, len(good) + 1):
            if (i, j) != (0, len(good)):
                with pytest.raises(ValueError, match="key"):
                    parse_verifier_key(good[i:j])
    for i in range(len(good)):
        mangled = good[:i] + chr(ord(good[i]) + 1) + good[i + 1 :]
        with pytest.raises(ValueError, match="key"):
            parse_verifier_key(mangled)
    # Wrong length key and unknown algorithm, each with an adjusted key hash.
    with pytest.raises(ValueError, match="key"):
        parse_verifier_key("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(ValueError, match="key"):
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_mangled_signer_keys_are_rejected() -> None:
    # Port of TestNewSigner.
    good = PETER_SKEY
    for i in range(len(good) + 1):
        for j in range(i + 1, len(good) + 1):
            if (i, j) != (0, len(good)):
                with pytest.raises(ValueError, match="key"):
                    parse_signer_key(good[i:j])
    for i in range(len(good)):
        mangled = good[:i] + chr(ord(good[i]) + 1) + good[i + 1 :]
        with pytest.raises(ValueError, match="key"):
            parse_signer_key(mangled)


# ------------------------------------------------------------------ real checkpoint


def test_verify_real_sum_golang_org_checkpoint() -> None:
    name, public = parse_verifier_key(SUMDB_VKEY)
    assert name == "sum.golang.org"
    assert key_id(name, public) == bytes.fromhex("033de0ae")
    cp = verify_checkpoint(SUMDB_CHECKPOINT, name, public)
    assert cp == Checkpoint(
        origin="go.sum database tree",
        size=30055305,
        root=base64.b64decode("mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM="),
    )
    assert cp.body() == SUMDB_CHECKPOINT.split("\n\n")[0] + "\n"
    parsed, signatures = parse_checkpoint(SUMDB_CHECKPOINT)
    assert parsed == cp
    assert len(signatures) == 1
    assert signatures[0].key_id == bytes.fromhex("033de0ae")
    tampered = SUMDB_CHECKPOINT.replace("30055305", "30055306")
    with pytest.raises(ValueError, match="invalid signature"):
        verify_checkpoint(tampered, name, public)


# ------------------------------------------------------------------- our checkpoints


def test_checkpoint_body_format() -> None:
    cp = Checkpoint(origin="example.com/log", size=8, root=ROOT8)
    assert cp.body() == f"example.com/log\n8\n{b64(ROOT8)}\n"
    assert Checkpoint("example.com/log", 0, EMPTY_ROOT).body() == (
        "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )


def test_sign_checkpoint_exact_layout(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(origin="example.com/log", size=8, root=ROOT8)
    note = sign_checkpoint(cp, "example.com/log", key)
    body = cp.body()
    kid = hashlib.sha256(
        b"example.com/log\n\x01" + key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).digest()[:4]
    sig = key.sign(body.encode())  # Ed25519 is deterministic
    assert note == body + "\n" + "\u2014 example.com/log " + b64(kid + sig) + "\n"
    assert verify_checkpoint(note, "example.com/log", key.public_key()) == cp


def test_checkpoint_round_trip_and_rejections(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(origin="example.com/log", size=123456789, root=ROOT8)
    note = sign_checkpoint(cp, "example.com/log", key)
    assert parse_checkpoint(note)[0] == cp
    other = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="no signature by key"):
        verify_checkpoint(note, "example.com/log", other.public_key())
    with pytest.raises(ValueError, match="no signature by key"):
        verify_checkpoint(note, "example.com/other", key.public_key())
    with pytest.raises(ValueError, match="invalid signature"):
        verify_checkpoint(note.replace("123456789", "123456780"), "example.com/log", key.public_key())
    tampered = note.replace("example.com/log\n1", "example.com/lag\n1")
    with pytest.raises(ValueError, match="invalid signature"):
        verify_checkpoint(tampered, "example.com/log", key.public_key())


def test_add_signature_cosigns_and_replaces(key: Ed25519PrivateKey) -> None:
    witness = Ed25519PrivateKey.generate()
    cp = Checkpoint(origin="example.com/log", size=3, root=ROOT8)
    note = sign_checkpoint(cp, "example.com/log", key)
    cosigned = add_signature(note, "witness.example", witness)
    assert cosigned.startswith(note)
    assert verify_checkpoint(cosigned, "example.com/log", key.public_key()) == cp
    assert verify_checkpoint(cosigned, "witness.example", witness.public_key()) == cp
    again = add_signature(cosigned, "witness.example", witness)
    assert again == cosigned  # deterministic Ed25519, replaced in place
    assert len(parse_checkpoint(again)[1]) == 2


def test_checkpoint_with_extension_lines(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(origin="example.com/log", size=1, root=ROOT8, extensions=("ext one", "ext2"))
    note = sign_checkpoint(cp, "log", key)
    assert verify_checkpoint(note, "log", key.public_key()) == cp


VALID_ROOT64 = b64(ROOT8)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (f"example.com/log\n8\n{VALID_ROOT64}\n— log AAAAAAAA\n", "missing blank line"),
        (f"example.com/log\n8\n{VALID_ROOT64}\n", "missing blank line"),
        (f"\n8\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "empty origin"),
        ("example.com/log\n8\n\n— log AAAAAAAA\n", "need origin, size and root"),
        (f"example.com/log\n08\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "leading zeros"),
        (f"example.com/log\n00\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "leading zeros"),
        (f"example.com/log\n-1\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n+1\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n 1\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n1a\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n\uff11\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "not a decimal"),
        (f"example.com/log\n18446744073709551616\n{VALID_ROOT64}\n\n— log AAAAAAAA\n", "out of range"),
        ("example.com/log\n8\nnot base64!\n\n— log AAAAAAAA\n", "not valid base64"),
        (f"example.com/log\n8\n{VALID_ROOT64[:-1]}\n\n— log AAAAAAAA\n", "not valid base64"),
        (f"example.com/log\n8\n{b64(ROOT8[:31])}\n\n— log AAAAAAAA\n", "not 32"),
        (f"example.com/log\n8\n{b64(ROOT8 + b'x')}\n\n— log AAAAAAAA\n", "not 32"),
        (f"example.com/log\n8\n{VALID_ROOT64}\next\n\nmore\n\n— log AAAAAAAA\n", "empty extension"),
        (f"example.com/log\n8\n{VALID_ROOT64}\n\n— log not-base64\n", "not valid base64"),
        (f"example.com/log\n8\n{VALID_ROOT64}\n\nlog AAAAAAAA\n", "must start with"),
        (f"example.com/log\n8\n{VALID_ROOT64}\n\n", "no signature lines"),
    ],
)
def test_parse_checkpoint_is_strict(note: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_checkpoint(note)


def test_checkpoint_constructor_validates() -> None:
    with pytest.raises(ValueError, match="origin"):
        Checkpoint(origin="", size=1, root=ROOT8)
    with pytest.raises(ValueError, match="newline"):
        Checkpoint(origin="a\nb", size=1, root=ROOT8)
    with pytest.raises(ValueError, match="32 bytes"):
        Checkpoint(origin="log", size=1, root=ROOT8[:16])
    with pytest.raises(ValueError, match="out of range"):
        Checkpoint(origin="log", size=-1, root=ROOT8)
    with pytest.raises(ValueError, match="integer"):
        Checkpoint(origin="log", size=True, root=ROOT8)
    with pytest.raises(ValueError, match="non-empty"):
        Checkpoint(origin="log", size=1, root=ROOT8, extensions=("",))
    with pytest.raises(ValueError, match="control character"):
        Checkpoint(origin="log\tname", size=1, root=ROOT8)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "nbsp\u00a0name"])
def test_invalid_key_names_are_rejected(name: str, key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(origin="log", size=1, root=ROOT8)
    with pytest.raises(ValueError, match="key name"):
        sign_checkpoint(cp, name, key)
    with pytest.raises(ValueError, match="key name"):
        key_id(name, key.public_key())


def test_sign_note_requires_final_newline(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="newline"):
        sign_note("no newline", "log", key)


origins = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], min_codepoint=0x20),
    min_size=1,
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(origin=origins, size=st.integers(0, (1 << 64) - 1), root_hash=st.binary(min_size=32, max_size=32))
def test_checkpoint_round_trip_property(origin: str, size: int, root_hash: bytes) -> None:
    key = Ed25519PrivateKey.generate()
    cp = Checkpoint(origin=origin, size=size, root=root_hash)
    note = sign_checkpoint(cp, "example.com/log", key)
    assert parse_checkpoint(note)[0] == cp
    assert verify_checkpoint(note, "example.com/log", key.public_key()) == cp


# The worked example in docs/log.md: the checkpoint for the eight RFC 6962 test-vector
# entries, signed with the Go note test key. Keep the two in sync.
DOC_EXAMPLE = (
    "example.com/dataex-test\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "\n"
    "— PeterNeumann "
    "x08go4SOgirNVZJw+ySWXBKdb6vxG+gaTcqTvcSb7f0rqgRxGWSS3hwRLeoMHt+wV6NXtzjjT4BfPhmtBCyWOBsnEAs=\n"
)


def test_docs_example_checkpoint() -> None:
    leaves = [
        bytes.fromhex(x)
        for x in [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
    ]
    expected_root = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    assert root(leaves) == expected_root
    name, private = parse_signer_key(PETER_SKEY)
    cp = Checkpoint(origin="example.com/dataex-test", size=8, root=expected_root)
    assert sign_checkpoint(cp, name, private) == DOC_EXAMPLE
    vname, public = parse_verifier_key(PETER_VKEY)
    assert verify_checkpoint(DOC_EXAMPLE, vname, public) == cp
