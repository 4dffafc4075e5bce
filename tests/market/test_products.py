"""Joint products: rights, one schema, duplicates across providers, splits, Shapley valuation."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from dataex.errors import Conflict, Forbidden, InsufficientFunds, InvalidInput
from dataex.market.products import buy_product, create_product, get_product, split_amount
from dataex.market.settlement import verify_ledger, wallet_view
from dataex.market.valuation import value
from tests.conftest import Node
from tests.market import Mkt, labelled, market, write


@pytest.fixture
def m(sqlite_node: Node, tmp_path: Path) -> Mkt:
    return market(sqlite_node, tmp_path, dup_rows=20)


def test_split_amount_is_whole_fen_and_sums_exactly() -> None:
    assert split_amount(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert split_amount(7, {"a": 2, "b": 5}) == {"a": 2, "b": 5}
    with pytest.raises(Conflict):
        split_amount(5, {"a": 0})


def test_rows_split_drops_the_later_providers_duplicates(m: Mkt) -> None:
    p = create_product(
        m.ex,
        title="Panel",
        dataset_ids=[m.ds_a, m.ds_b],
        split="rows",
        price_fen=10_000,
        actor=m.operator.party,
    )
    assert p.duplicates[m.ds_b]["exact"] == 20
    assert p.duplicates[m.ds_a] == {"exact": 0, "near": 0, "kept": 120}
    assert p.shares["weights"] == {m.a.party.id: 120, m.b.party.id: 100}
    m.deposit(m.insurer, 10_000)
    sold = buy_product(m.ex, p.id, actor=m.insurer.party)
    assert sold["fee_fen"] == 200
    assert sold["shares_fen"] == {m.a.party.id: 5345, m.b.party.id: 4455}
    assert sum(sold["shares_fen"].values()) + sold["fee_fen"] == 10_000
    assert verify_ledger(m.ex)["ok"]
    with pytest.raises(InsufficientFunds):
        buy_product(m.ex, p.id, actor=m.insurer.party)


def test_who_may_combine_what(m: Mkt, tmp_path: Path) -> None:
    with pytest.raises(Forbidden, match="not yours"):
        create_product(m.ex, title="x", dataset_ids=[m.ds_a, m.ds_b], split="equal", actor=m.a.party)
    other = m.ex.register(
        write(labelled(50, 9), tmp_path / "c.csv"),
        owner=m.a.party.id,
        title="C",
        license="p",
        rights=["holding"],
    )
    with pytest.raises(Forbidden, match="product-operation"):
        create_product(
            m.ex, title="x", dataset_ids=[m.ds_a, other.dataset.id], split="equal", actor=m.operator.party
        )
    t = labelled(50, 10).rename_columns(["a", "b", "label"])
    wrong = m.ex.register(write(t, tmp_path / "d.csv"), owner=m.b.party.id, title="D", license="p")
    with pytest.raises(InvalidInput, match="one schema"):
        create_product(
            m.ex, title="x", dataset_ids=[m.ds_a, wrong.dataset.id], split="equal", actor=m.operator.party
        )
    with pytest.raises(InvalidInput):
        create_product(m.ex, title="x", dataset_ids=[m.ds_a], split="equal", actor=m.operator.party)
    with pytest.raises(InvalidInput):
        create_product(m.ex, title="x", dataset_ids=[m.ds_a, m.ds_b], split="votes", actor=m.operator.party)


def test_shapley_split_from_a_valuation(m: Mkt, tmp_path: Path) -> None:
    p = create_product(
        m.ex,
        title="Panel",
        dataset_ids=[m.ds_a, m.ds_b],
        split="shapley",
        price_fen=5000,
        actor=m.operator.party,
    )
    m.deposit(m.insurer, 10_000)
    with pytest.raises(Conflict, match="value it first"):
        buy_product(m.ex, p.id, actor=m.insurer.party)
    val = write(labelled(80, 77), tmp_path / "val.csv")
    out = tmp_path / "values.csv"
    v = value(m.ex, p.id, target="label", validation=val, k=5, actor=m.a.party, out=out)
    assert set(v.rows) == {m.ds_a}  # A sees its own rows only
    assert len(v.rows[m.ds_a]) == 120
    assert sum(v.provider_sums.values()) == pytest.approx(v.total_value)
    written = pacsv.read_csv(out)
    assert written.column_names == ["x1", "x2", "label", "value"] and written.num_rows == 120
    shares = get_product(m.ex, p.id).shares
    assert shares["basis"] == "shapley" and set(shares["weights"]) == {m.a.party.id, m.b.party.id}
    sold = buy_product(m.ex, p.id, actor=m.insurer.party)
    assert sum(sold["shares_fen"].values()) == 5000 - 100
    assert (
        wallet_view(m.ex, m.b.party.id, actor=m.b.party)["balances"]["revenue"]
        == sold["shares_fen"][m.b.party.id]
    )


def test_valuation_bad_input(m: Mkt, tmp_path: Path) -> None:
    val = write(labelled(30, 5).drop(["x2"]), tmp_path / "val.csv")
    with pytest.raises(InvalidInput, match="missing x2"):
        value(m.ex, m.ds_a, target="label", validation=val, k=3, actor=m.a.party)
    good = write(labelled(30, 5), tmp_path / "good.csv")
    with pytest.raises(InvalidInput, match="larger than the training set"):
        value(m.ex, m.ds_a, target="label", validation=good, k=500, actor=m.a.party)
    with pytest.raises(Forbidden):
        value(m.ex, m.ds_a, target="label", validation=good, k=3, actor=m.b.party)
    v = value(m.ex, m.ds_a, target="label", validation=good, method="loo", k=3, actor=m.a.party)
    assert len(v.rows[m.ds_a]) == 120
    t = value(
        m.ex,
        m.ds_a,
        target="label",
        validation=good,
        method="tmc-shapley",
        k=3,
        actor=m.a.party,
        permutations=3,
    )
    assert len(t.rows[m.ds_a]) == 120
