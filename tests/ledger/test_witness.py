"""Witnessing (c2sp.org/tlog-witness, tlog-cosignature): two live nodes cosign each other's
checkpoints over HTTP; an operator who rewrites history and re-signs every checkpoint passes a plain
``audit verify`` but not ``audit verify --witness``, and the witness refuses the forked checkpoint.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nacl.signing
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text
from typer.testing import CliRunner

from dataex import witness
from dataex.api.app import create_app
from dataex.cli.main import app as cli
from dataex.db.models import CheckpointRow, CosignatureRow, LogEntryRow, LogHeadRow
from dataex.exchange import Exchange
from dataex.ledger import merkle, note
from tests.sdk.conftest import serve_in_thread

runner = CliRunner()


@dataclass
class Served:
    ex: Exchange
    home: Path
    url: str


def _serve(home: Path) -> Iterator[Served]:
    ex, _operator = Exchange.init(home=home)
    try:
        for url in serve_in_thread(ex):
            yield Served(ex, home, url)
    finally:
        ex.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """Nodes A and B, served on loopback, each a witness of the other (configured through the CLI)."""
    for a in _serve(tmp_path / "a"):
        for b in _serve(tmp_path / "b"):
            for me, other in ((a, b), (b, a)):
                keys = json.loads(_cli("witness", "key", "--json", home=other.home).stdout)
                _cli("witness", "add", keys["cosigner_vkey"], "--url", f"{other.url}/witness", home=me.home)
                mine = json.loads(_cli("witness", "key", "--json", home=me.home).stdout)
                _cli("witness", "trust", mine["log_vkey"], home=other.home)
            yield a, b


def _cli(*args: str, home: Path, code: int = 0) -> object:
    result = runner.invoke(cli, [*args, "--home", str(home)])
    assert result.exit_code == code, result.output
    return result


def _cosign(node: Served, code: int = 0) -> list[dict[str, object]]:
    out: list[dict[str, object]] = json.loads(
        _cli("witness", "cosign", "--json", home=node.home, code=code).stdout
    )
    return out


def _grow(node: Served, n: int = 3) -> None:
    for i in range(n):
        node.ex.create_party(f"party-{i}-{time.monotonic_ns()}", kind="enterprise", role="consumer")


def _verify(node: Served, *witnesses: str) -> dict[str, object]:
    args = ["audit", "verify", "--json"]
    for vkey in witnesses:
        args += ["--witness", vkey]
    result = runner.invoke(cli, [*args, "--home", str(node.home)])
    report: dict[str, object] = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    return report


def _codes(report: dict[str, object]) -> set[str]:
    return {p["code"] for p in report["problems"]}  # type: ignore[attr-defined, index]


def test_cosignature_bytes_match_the_spec_checked_with_pynacl(tmp_path: Path) -> None:
    """An independent Ed25519 (libsodium via PyNaCl) over the message c2sp.org/tlog-cosignature defines."""
    seed = bytes(range(32))
    key = nacl.signing.SigningKey(seed)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.from_private_bytes(seed)
    body = "example.com/log\n5\n" + base64.b64encode(b"\x01" * 32).decode() + "\n"
    signed = note.sign_note(body, "example.com/log", private)
    line = note.cosign_checkpoint(signed, "witness.example/w1", private, 1679315147)
    name, blob64 = line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    blob = base64.b64decode(blob64)
    import hashlib

    kid = hashlib.sha256(b"witness.example/w1\n\x04" + bytes(key.verify_key)).digest()[:4]
    assert name == "witness.example/w1" and blob[:4] == kid
    assert int.from_bytes(blob[4:12], "big") == 1679315147
    key.verify_key.verify(f"cosignature/v1\ntime 1679315147\n{body}".encode(), blob[12:])
    vkey = note.cosigner_verifier_key("witness.example/w1", private.public_key())
    material = base64.b64encode(bytes([4]) + bytes(key.verify_key)).decode()
    assert vkey == f"witness.example/w1+{kid.hex()}+{material}"
    assert note.verify_cosignature(signed + line, *note.parse_cosigner_key(vkey)) == 1679315147
    later = blob[:4] + (1679315148).to_bytes(8, "big") + blob[12:]
    forged = line.replace(blob64, base64.b64encode(later).decode())
    with pytest.raises(ValueError, match="invalid cosignature"):
        note.verify_cosignature(signed + forged, *note.parse_cosigner_key(vkey))


def test_two_nodes_cosign_each_other_and_a_rewritten_history_is_caught(pair: tuple[Served, Served]) -> None:
    a, b = pair
    b_vkey = json.loads(_cli("witness", "key", "--json", home=b.home).stdout)["cosigner_vkey"]
    a_vkey = json.loads(_cli("witness", "key", "--json", home=a.home).stdout)["cosigner_vkey"]

    assert _cosign(b)[0]["ok"]  # A cosigns B (and logs that it did, so A's log grows)
    first = _cosign(a)
    assert [r["ok"] for r in first] == [True]
    _grow(a)
    second = _cosign(a)  # old = the size B cosigned, with a consistency proof
    assert second[0]["ok"] and second[0]["size"] > first[0]["size"]

    # The served checkpoint carries B's cosignature, verifiable by anyone with B's vkey.
    served = httpx.get(f"{a.url}/log/checkpoint.txt").text
    assert note.verify_cosignature(served, *note.parse_cosigner_key(b_vkey)) > 0
    plain = httpx.get(f"{a.url}/log/checkpoint", headers={"Accept": "text/plain"})
    assert plain.headers["content-type"].startswith("text/plain") and plain.text == served
    assert note.verify_checkpoint(served, a.ex.origin, a.ex.key.public).size == second[0]["size"]

    assert _verify(a, b_vkey)["ok"] is True
    assert _codes(_verify(a, a_vkey)) == {"witness_missing"}  # A never cosigned its own log

    # The attack: the operator of A edits entry 1, rehashes the tree and re-signs every checkpoint.
    _rewrite_history(a.ex, index=1)
    assert _verify(a)["ok"] is True  # a plain audit cannot tell: everything is self-consistent
    assert "witness_fork" in _codes(_verify(a, b_vkey))

    # Presenting the forked checkpoint to B: 409 (same size, other root); B keeps the evidence.
    refused = _cosign(a, code=1)
    assert refused[0]["ok"] is False
    with b.ex.session() as s:
        conflicts = [e.body for e in b.ex.log.entries(s) if e.event == "witness.conflict"]
    assert len(conflicts) == 1 and conflicts[0]["data"]["reason"] == "same size, different root"
    cosigned = note.verify_checkpoint(conflicts[0]["data"]["cosigned"], a.ex.origin, a.ex.key.public)
    offered = note.verify_checkpoint(conflicts[0]["data"]["offered"], a.ex.origin, a.ex.key.public)
    assert cosigned.size == offered.size and cosigned.root != offered.root  # a signed fork, provable
    assert _verify(b)["ok"] is True


def _rewrite_history(ex: Exchange, *, index: int) -> None:
    with ex.transaction() as s:
        row = s.get(LogEntryRow, index)
        assert row is not None
        body = json.loads(row.entry)
        body["data"]["name"] = "rewritten"
        row.entry = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        row.leaf_hash = merkle.leaf_hash(row.entry)
        hashes = [bytes(h) for h in s.scalars(select(LogEntryRow.leaf_hash).order_by(LogEntryRow.idx))]
        frontier = merkle.Frontier()
        for h in hashes:
            frontier.append(h)
        head = s.get(LogHeadRow, 1)
        assert head is not None
        head.frontier = frontier.to_json()
        for cp in s.scalars(select(CheckpointRow)):
            root = merkle.root_from_hashes(hashes[: cp.size])
            cp.root = root
            cp.note = note.sign_checkpoint(
                note.Checkpoint(ex.origin, cp.size, root), ex.origin, ex.key.private
            )


def test_deleting_cosignatures_is_noticed(pair: tuple[Served, Served]) -> None:
    a, b = pair
    b_vkey = json.loads(_cli("witness", "key", "--json", home=b.home).stdout)["cosigner_vkey"]
    assert _cosign(a)[0]["ok"]
    with a.ex.transaction() as s:
        s.execute(delete(CosignatureRow))
    assert _codes(_verify(a, b_vkey)) == {"witness_missing"}


@pytest.fixture
def witness_node(tmp_path: Path) -> Iterator[tuple[Exchange, Exchange, TestClient]]:
    log, _ = Exchange.init(home=tmp_path / "log")
    wit, _ = Exchange.init(home=tmp_path / "wit")
    witness.trust_log(wit, witness.log_vkey(log))
    try:
        with TestClient(create_app(wit)) as client:
            yield log, wit, client
    finally:
        log.close()
        wit.close()


def _body(log: Exchange, old: int, *, proof: list[bytes] | None = None) -> bytes:
    with log.session() as s:
        cp = log.log.latest_checkpoint(s)
        assert cp is not None
        hashes = log.log.leaf_hashes(s, cp.size)
        checkpoint_note = cp.note
    if proof is None:
        proof = merkle.consistency_proof_from_hashes(hashes, old) if 0 < old < len(hashes) else []
    return witness.request_body(old, proof, checkpoint_note)


def test_witness_protocol_answers(witness_node: tuple[Exchange, Exchange, TestClient]) -> None:
    log, wit, client = witness_node
    post = lambda body: client.post("/witness/add-checkpoint", content=body)  # noqa: E731
    ok = post(_body(log, 0))
    assert ok.status_code == 200 and ok.text.startswith("\u2014 ")
    size = int(ok.text and _size(log))
    again = post(_body(log, 0))  # the witness is at `size` now, not 0
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/x.tlog.size")
    assert again.text == f"{size}\n"
    log.create_party("p", kind="enterprise", role="consumer")
    bad_proof = post(_body(log, size, proof=[b"\x00" * 32]))
    assert bad_proof.status_code == 422
    assert post(_body(log, size)).status_code == 200

    stranger, _ = Exchange.init(home=Path(wit.settings.home).parent / "stranger")
    try:
        assert post(_body(stranger, 0)).status_code == 404  # an origin this witness does not know
    finally:
        stranger.close()
    forged = _body(log, 0).decode().rsplit(" ", 1)[0] + " " + base64.b64encode(b"\x00" * 68).decode() + "\n"
    assert post(forged.encode()).status_code in (403, 409)
    assert post(b"old 01\n\nx").status_code == 400
    assert post(b"old 0\n" + b"AAAA\n" * 64 + b"\n").status_code == 400
    # refused before it is read: by the edge (anonymous and large: 401) or by the route (413)
    assert post(b"x" * (witness.MAX_REQUEST_BYTES + 1)).status_code in (401, 413)
    with wit.session() as s:
        events = [e.event for e in wit.log.entries(s)]
    assert events.count("witness.cosigned") == 2 and "witness.conflict" in events  # the bad proof


def _size(log: Exchange) -> int:
    with log.session() as s:
        return log.log.size(s)


def test_an_entry_stored_as_text_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    ex, _ = Exchange.init(home=tmp_path / "n")
    try:
        ex.create_party("p", kind="enterprise", role="consumer")
        with ex.transaction() as s:
            s.execute(text("UPDATE log_entries SET entry = CAST(entry AS TEXT) WHERE idx = 1"))
    finally:
        ex.close()
    result = runner.invoke(cli, ["audit", "verify", "--json", "--home", str(tmp_path / "n")])
    assert result.exit_code == 1, result.output
    assert "entry_malformed" in {p["code"] for p in json.loads(result.stdout)["problems"]}
