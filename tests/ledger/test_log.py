"""The transparency log's appends: one by one or in a batch, the same entries and the same tree."""

from __future__ import annotations

from dataex.ledger import merkle
from tests.conftest import Node


def test_append_many_equals_appends_one_by_one(fresh_node: Node) -> None:
    ex = fresh_node.ex
    items = [("test.one", {"n": i, "名": "值"}, f"pty_{i}") for i in range(5)]
    with ex.transaction() as s:
        start = ex.log.size(s)
        singles = [ex.log.append(s, event, data, actor=actor) for event, data, actor in items]
        batch = ex.log.append_many(s, items)
        assert ex.log.append_many(s, []) == []
        cp = ex.log.checkpoint(s)
    assert [e.index for e in singles + batch] == list(range(start, start + 10))
    for one, many in zip(singles, batch, strict=True):
        a, b = one.body, many.body
        assert a["index"] + 5 == b["index"]
        assert {k: v for k, v in a.items() if k not in ("index", "time")} == {
            k: v for k, v in b.items() if k not in ("index", "time")
        }
        assert many.leaf_hash == merkle.leaf_hash(many.raw)
    with ex.session() as s:
        stored = ex.log.entries(s, start)
        hashes = ex.log.leaf_hashes(s, cp.size)
        proof = ex.log.prove_inclusion(s, batch[-1].index)
    assert [e.raw for e in stored] == [e.raw for e in singles + batch]
    assert cp.size == start + 10
    assert cp.root == merkle.root_from_hashes(hashes)
    assert proof["ok"] is True
    assert ex.audit().ok
