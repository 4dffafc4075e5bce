"""``audit verify`` finds and names every kind of tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from dataex.db.models import CheckpointRow, DatasetRow, LogEntryRow
from dataex.ledger import note
from tests.conftest import Actor, Node, add


@pytest.fixture
def busy_node(fresh_node: Node, hospital: Actor, visits_csv: Path) -> Node:
    fresh_node.ex.register(visits_csv, owner=hospital.party.id, title="visits", license="x")
    add(fresh_node, "Insurer", kind="insurer")
    add(fresh_node, "Lab", kind="ai_team", role="consumer")
    assert fresh_node.ex.audit().ok
    return fresh_node


def codes(node: Node) -> set[str]:
    return {p["code"] for p in node.ex.audit().problems}


def test_edited_entry_payload(busy_node: Node) -> None:
    with busy_node.ex.transaction() as s:
        row = s.get(LogEntryRow, 2)
        assert row is not None
        body = json.loads(row.entry)
        body["data"]["name"] = "Someone else"
        s.execute(update(LogEntryRow).where(LogEntryRow.idx == 2).values(entry=json.dumps(body).encode()))
    found = busy_node.ex.audit().problems
    assert any(p["code"] == "entry_edited" and p["index"] == 2 for p in found)


def test_deleted_entry(busy_node: Node) -> None:
    with busy_node.ex.transaction() as s:
        s.execute(delete(LogEntryRow).where(LogEntryRow.idx == 1))
    found = busy_node.ex.audit().problems
    assert any(p["code"] == "entry_missing" and p["index"] == 1 for p in found)


def test_last_entry_deleted(busy_node: Node) -> None:
    with busy_node.ex.transaction() as s:
        last = s.scalar(select(LogEntryRow.idx).order_by(LogEntryRow.idx.desc()).limit(1))
        s.execute(delete(LogEntryRow).where(LogEntryRow.idx == last))
    assert "entry_missing" in codes(busy_node)


def test_reordered_entries(busy_node: Node) -> None:
    with busy_node.ex.transaction() as s:
        a, b = s.get(LogEntryRow, 1), s.get(LogEntryRow, 2)
        assert a is not None and b is not None
        ea, ha, eb, hb = a.entry, a.leaf_hash, b.entry, b.leaf_hash
        s.execute(update(LogEntryRow).where(LogEntryRow.idx == 1).values(entry=eb, leaf_hash=hb))
        s.execute(update(LogEntryRow).where(LogEntryRow.idx == 2).values(entry=ea, leaf_hash=ha))
    found = codes(busy_node)
    assert "entry_misplaced" in found and "checkpoint_mismatch" in found


def test_checkpoint_inconsistent_with_an_earlier_one(busy_node: Node) -> None:
    ex = busy_node.ex
    with ex.transaction() as s:
        cps = list(s.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))
        forged_root = bytes(32)
        target = cps[-1]
        text = note.sign_checkpoint(
            note.Checkpoint(ex.origin, target.size, forged_root), ex.origin, ex.key.private
        )
        s.execute(
            update(CheckpointRow).where(CheckpointRow.size == target.size).values(root=forged_root, note=text)
        )
    found = busy_node.ex.audit().problems
    assert any(p["code"] == "checkpoint_inconsistent" and p["new_size"] == target.size for p in found)


def test_checkpoint_with_a_foreign_signature(busy_node: Node) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ex = busy_node.ex
    with ex.transaction() as s:
        cp = s.scalars(select(CheckpointRow).order_by(CheckpointRow.size.desc())).first()
        assert cp is not None
        text = note.sign_checkpoint(
            note.Checkpoint(ex.origin, cp.size, bytes(cp.root)), ex.origin, Ed25519PrivateKey.generate()
        )
        s.execute(update(CheckpointRow).where(CheckpointRow.size == cp.size).values(note=text))
    assert "checkpoint_signature" in codes(busy_node)


def test_corrupted_data_file(busy_node: Node) -> None:
    ex = busy_node.ex
    (d,) = ex.list_datasets()
    path = Path(ex.store.url(d.file_sha256))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    found = ex.audit().problems
    assert any(p["code"] == "file_corrupt" and p["dataset_id"] == d.id for p in found)


def test_missing_and_orphan_files(busy_node: Node) -> None:
    ex = busy_node.ex
    (d,) = ex.list_datasets()
    path = Path(ex.store.url(d.file_sha256))
    moved = path.with_name("0" * 64 + ".parquet")
    path.rename(moved)
    found = codes(busy_node)
    assert {"file_missing", "file_orphan"} <= found


def test_dataset_row_edited(busy_node: Node) -> None:
    ex = busy_node.ex
    (d,) = ex.list_datasets()
    with ex.transaction() as s:
        s.execute(update(DatasetRow).where(DatasetRow.id == d.id).values(rows=d.rows + 1))
    assert "dataset_mismatch" in codes(busy_node)


def test_external_checkpoint_detects_a_rewritten_history(busy_node: Node) -> None:
    ex = busy_node.ex
    saved = ex.latest_checkpoint()
    assert ex.audit(checkpoints=[saved]).ok
    with ex.transaction() as s:
        row = s.get(LogEntryRow, 1)
        assert row is not None
        body = json.loads(row.entry)
        body["data"]["role"] = "auditor"
        raw = json.dumps(body).encode()
        from dataex.ledger import merkle

        s.execute(
            update(LogEntryRow).where(LogEntryRow.idx == 1).values(entry=raw, leaf_hash=merkle.leaf_hash(raw))
        )
    found = {p["code"] for p in ex.audit(checkpoints=[saved]).problems}
    assert "checkpoint_inconsistent" in found and "checkpoint_mismatch" in found
