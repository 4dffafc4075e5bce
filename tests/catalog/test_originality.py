"""Issue 20, originality rows: copies that were edited to slip past an exact-row MinHash.

The adversary is a registered party holding (part of) another party's dataset — bought, leaked or
received as a fingerprinted L4 extract — who edits it and registers it as its own. Each edit of the
issue is one case; independent tables of the same kind must still be accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dataex.catalog.metadata import describe
from dataex.catalog.sketch import Sketch
from dataex.db.models import DatasetRow
from dataex.delivery.extracts import extract
from dataex.demo.data import hospital_visits
from dataex.errors import NotOriginal
from tests.conftest import Actor, Node, add
from tests.delivery import delivery
from tests.state import snapshot

Edit = Callable[[pa.Table], pa.Table]


def _scattered(n: int, seed: int) -> list[int]:
    """A fixed permutation of range(n) that scatters neighbours (the random module is banned here)."""
    step = next(p for p in (7919, 104729, 1299709) if n % p)
    return [(i * step + seed) % n for i in range(n)]


def _subset(share: float, seed: int = 1) -> Edit:
    def edit(t: pa.Table) -> pa.Table:
        return t.take(sorted(_scattered(t.num_rows, seed)[: int(t.num_rows * share)]))

    return edit


def _plus_one(*names: str) -> Edit:
    def edit(t: pa.Table) -> pa.Table:
        for name in names:
            t = t.set_column(t.schema.get_field_index(name), name, pc.add(t[name], 1))
        return t

    return edit


def _drop_keys_rename(t: pa.Table) -> pa.Table:
    t = t.drop_columns(["visit_id", "patient_id"])
    return t.rename_columns([f"col_{i}" for i in range(t.num_columns)])


def _rename(t: pa.Table) -> pa.Table:
    return t.rename_columns([f"c{i}" for i in range(t.num_columns)])


def _shuffle_reorder(t: pa.Table) -> pa.Table:
    return t.take(_scattered(t.num_rows, 2)).select(list(reversed(t.schema.names)))


def _round(t: pa.Table) -> pa.Table:
    return t.set_column(t.schema.get_field_index("cost"), "cost", pc.round(t["cost"], 0))


def _formats(t: pa.Table) -> pa.Table:
    cols = [pc.cast(t[n], pa.string()) for n in t.schema.names]  # every value as text
    return pa.table(cols, names=[n.upper() for n in t.schema.names])


def _combined(t: pa.Table) -> pa.Table:
    return _shuffle_reorder(_rename(_plus_one("cost")(_subset(0.2)(t))))


EDITS: dict[str, Edit] = {
    "60% of rows": _subset(0.6),
    "20% of rows": _subset(0.2),
    "+1 on two numeric columns": _plus_one("age", "cost"),
    "keys dropped, columns renamed": _drop_keys_rename,
    "rows shuffled, columns reordered": _shuffle_reorder,
    "cost rounded to integers": _round,
    "every value as text, names upper-cased": _formats,
    "20% of rows, shuffled, renamed, reordered, cost +1": _combined,
}


@pytest.fixture
def hospital_data(sqlite_node: Node, tmp_path: Path) -> tuple[Actor, str, pa.Table]:
    hospital = add(sqlite_node, "Ruijin Hospital")
    visits = hospital_visits(3000, seed=11)
    src = tmp_path / "visits.csv"
    pacsv.write_csv(visits, src)
    d = sqlite_node.ex.register(
        src, owner=hospital.party.id, title="Visits", license="proprietary", analyze=False
    )
    return hospital, d.dataset.id, visits


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_an_edited_copy_is_refused(
    sqlite_node: Node, tmp_path: Path, hospital_data: tuple[Actor, str, pa.Table], edit: str
) -> None:
    _, dataset_id, visits = hospital_data
    broker = add(sqlite_node, "Broker", kind="enterprise")
    copy = tmp_path / "copy.parquet"
    pq.write_table(EDITS[edit](visits), copy)
    before = snapshot(sqlite_node.ex)
    with pytest.raises(NotOriginal) as info:
        sqlite_node.ex.register(copy, owner=broker.party.id, title="mine", license="CC0-1.0", analyze=False)
    assert info.value.similarity >= 0.5
    assert info.value.dataset_id == dataset_id  # public dataset: the broker may know it exists
    assert snapshot(sqlite_node.ex) == before


def test_independent_tables_of_the_same_kind_are_accepted(
    sqlite_node: Node, tmp_path: Path, hospital_data: tuple[Actor, str, pa.Table]
) -> None:
    other = add(sqlite_node, "Another hospital")
    for seed in (12, 13, 14):
        src = tmp_path / f"other-{seed}.csv"
        pacsv.write_csv(hospital_visits(3000, seed=seed), src)
        reg = sqlite_node.ex.register(src, owner=other.party.id, title=f"v{seed}", license="x", analyze=False)
        assert reg.created and reg.report["similar_to"] == []


def test_the_fingerprinted_l4_extract_is_refused(fresh_node: Node, tmp_path: Path) -> None:
    d = delivery(fresh_node, tmp_path, rows=1500, consumers=1)
    insurer = d.consumers[0]
    c = d.contract(insurer, max_rows=2000)
    out = tmp_path / "extract.csv"
    extract(d.ex, c.id, actor=insurer.party, out=out, format="csv")
    reseller = add(fresh_node, "Reseller", kind="enterprise")  # the insurer's provider arm
    before = snapshot(d.ex)
    with pytest.raises(NotOriginal) as info:
        d.ex.register(out, owner=reseller.party.id, title="our claims data", license="CC0-1.0", analyze=False)
    assert info.value.dataset_id == d.dataset_id and info.value.similarity >= 0.9
    assert snapshot(d.ex) == before


def test_a_private_dataset_is_not_named_in_the_refusal(fresh_node: Node, tmp_path: Path) -> None:
    ex = fresh_node.ex
    hospital = add(fresh_node, "Ruijin Hospital")
    visits = hospital_visits(1500, seed=21)
    src = tmp_path / "visits.csv"
    pacsv.write_csv(visits, src)
    d = ex.register(src, owner=hospital.party.id, title="Secret visits", license="proprietary", analyze=False)
    describe(ex, d.dataset.id, actor=hospital.party, visibility="private")
    thief = add(fresh_node, "Thief", kind="enterprise")
    copy = tmp_path / "copy.parquet"
    pq.write_table(_drop_keys_rename(visits), copy)
    with pytest.raises(NotOriginal) as info:
        ex.register(copy, owner=thief.party.id, title="mine", license="CC0-1.0", analyze=False)
    assert d.dataset.id not in info.value.message and "Secret visits" not in info.value.message
    assert info.value.details["dataset_id"] == "" and info.value.details["certificate"] == ""


def test_the_same_owners_edited_copy_is_linked_not_refused(fresh_node: Node, tmp_path: Path) -> None:
    ex = fresh_node.ex
    hospital = add(fresh_node, "Ruijin Hospital")
    visits = hospital_visits(1500, seed=22)
    src, sub = tmp_path / "visits.csv", tmp_path / "sub.parquet"
    pacsv.write_csv(visits, src)
    first = ex.register(src, owner=hospital.party.id, title="all", license="x", analyze=False).dataset
    pq.write_table(_round(_subset(0.5, seed=3)(visits)), sub)
    reg = ex.register(sub, owner=hospital.party.id, title="half", license="x", analyze=False)
    assert reg.created
    [link] = reg.report["similar_to"]
    assert link["dataset_id"] == first.id and link["overlap"] >= 0.5
    entry = ex.prove_inclusion(reg.dataset.log_index)["entry"]
    assert entry["data"]["similar_to"] == [link]
    with ex.session() as s:
        stored = s.get(DatasetRow, reg.dataset.id)
        assert stored is not None and stored.sketch is not None
        assert Sketch.of(bytes(stored.sketch)).tokens > 1000


def test_disjoint_samples_of_a_categorical_census_are_not_copies(sqlite_node: Node, tmp_path: Path) -> None:
    # the Adult extract (tests/data/adult): nine categorical columns whose combinations recur in
    # any sample; its two disjoint halves overlap at 0.86, so pairs are no evidence there
    adult = pacsv.read_csv(Path(__file__).resolve().parents[1] / "data" / "adult" / "adult.csv")
    half = adult.num_rows // 2
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    pq.write_table(adult.slice(0, half), first)
    pq.write_table(adult.slice(half), second)
    a, b = add(sqlite_node, "Census bureau A"), add(sqlite_node, "Census bureau B")
    sqlite_node.ex.register(first, owner=a.party.id, title="first half", license="x", analyze=False)
    assert sqlite_node.ex.register(
        second, owner=b.party.id, title="second half", license="x", analyze=False
    ).created
