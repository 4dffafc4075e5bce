"""The contribution-bounded copy DP queries read, and AVG over columns declared not null."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataex.contracts.consent import withdraw_consent
from dataex.privacy.dp import mechanisms, query, set_privacy
from dataex.privacy.dp.bounding import bounded_source, bounding_sql
from dataex.privacy.dp.settings_service import find_privacy
from tests.conftest import Node
from tests.privacy.dp import QUERY, DpMarket, dp_market, small_visits


def _rows_per_unit(path: str) -> dict[str, int]:
    return dict(duckdb.sql(f"SELECT patient_id, COUNT(*) FROM '{path}' GROUP BY 1").fetchall())


def _bounded(tmp_path: Path, rows: list[dict[str, object]], k: int) -> set[tuple[object, ...]]:
    src = tmp_path / f"src{len(rows)}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    return set(duckdb.sql(bounding_sql(str(src), "u", k)).fetchall())


def test_each_unit_keeps_at_most_k_rows_chosen_by_its_own_rows_only(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"u": f"P{i % 7}", "v": i} for i in range(60)]
    rows += [{"u": None, "v": 1000 + i} for i in range(5)]  # NULL units form one unit
    kept = _bounded(tmp_path, rows, 3)
    per_unit: dict[object, int] = {}
    for u, _ in kept:
        per_unit[u] = per_unit.get(u, 0) + 1
    assert per_unit == {**{f"P{i}": 3 for i in range(7)}, None: 3}
    # stability: adding a unit (with many rows) leaves every other unit's kept rows unchanged
    more = _bounded(tmp_path, [*rows, *({"u": "NEW", "v": 5000 + i} for i in range(9))], 3)
    assert {r for r in more if r[0] != "NEW"} == kept
    assert sum(1 for r in more if r[0] == "NEW") == 3
    # a unit at or under the bound keeps all its rows
    assert _bounded(tmp_path, rows, 100) == {(r["u"], r["v"]) for r in rows}


def test_the_copy_is_built_when_privacy_is_set_and_rebuilt_after_a_withdrawal(
    sqlite_node: Node, tmp_path: Path
) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "v.csv", units=30, per_unit=5))
    ex, dataset = dm.m.ex, dm.m.dataset_id
    settings = find_privacy(ex, dataset)
    assert settings is not None
    built = sorted((ex.settings.home / "cache" / "dp").glob(f"{dataset}.*.parquet"))
    assert len(built) == 1  # written by set_privacy, before any query
    path = bounded_source(ex, dataset, settings)
    assert path == str(built[0])
    counts = _rows_per_unit(path)
    assert len(counts) == 30 and set(counts.values()) == {2}
    withdraw_consent(ex, dataset, "P0003", actor=dm.m.hospital.party, column="patient_id")
    after = bounded_source(ex, dataset, settings)
    assert after != path and "P0003" not in _rows_per_unit(after)
    with mechanisms.exact_mode():
        answer = query(
            ex, dm.contract.id, "SELECT COUNT(*) AS n FROM v", epsilon=0.1, actor=dm.m.insurer.party
        )
    assert answer.rows[0]["n"] == 29 * 2


@pytest.fixture
def complete(sqlite_node: Node, tmp_path: Path) -> DpMarket:
    csv = small_visits(tmp_path / "visits.csv")
    dm = dp_market(sqlite_node, csv)
    set_privacy(
        dm.m.ex,
        dm.m.dataset_id,
        actor=dm.m.hospital.party,
        unit="patient_id",
        max_contributions=2,
        bounds={"cost": (0.0, 250.0), "age": (0.0, 120.0)},
        domains={"diagnosis": ["A", "B", "C", "Z"]},
        not_null=["cost"],
    )
    return dm


def test_avg_over_a_not_null_column_shares_the_count(complete: DpMarket, tmp_path: Path) -> None:
    ex, me = complete.m.ex, complete.m.insurer.party
    plan = query(ex, complete.contract.id, QUERY, epsilon=0.6, actor=me, explain=True).explain
    assert plan is not None
    assert [m["statistic"] for m in plan["measurements"]] == ["count", "sum", "sum"]
    # n: 0.2 to COUNT(*); total: 0.2 to its sum; avg_cost: 0.1 to its sum and 0.1 to the shared COUNT(*)
    assert [m["epsilon"] for m in plan["measurements"]] == pytest.approx([0.3, 0.2, 0.1])
    avg = next(o for o in plan["outputs"] if o["name"] == "avg_cost")
    n = next(o for o in plan["outputs"] if o["name"] == "n")
    assert avg["measurements"][1] == n["measurements"][0]
    with mechanisms.exact_mode():
        answer = query(ex, complete.contract.id, QUERY, epsilon=0.6, actor=me)
    expected = dict(
        duckdb.sql(
            "SELECT diagnosis, AVG(LEAST(GREATEST(cost, 0), 250)) "
            f"FROM read_csv('{tmp_path / 'visits.csv'}') WHERE age >= 60 GROUP BY 1"
        ).fetchall()
    )
    for row in answer.rows:
        if row["diagnosis"] in expected:
            assert row["avg_cost"] == pytest.approx(expected[row["diagnosis"]], abs=1e-6)


def test_not_null_needs_bounds_and_a_known_column(complete: DpMarket) -> None:
    from dataex.errors import InvalidInput, UnknownColumn

    ex, owner = complete.m.ex, complete.m.hospital.party
    with pytest.raises(InvalidInput, match="needs bounds"):
        set_privacy(
            ex,
            complete.m.dataset_id,
            actor=owner,
            unit="patient_id",
            max_contributions=2,
            bounds={"cost": (0.0, 250.0)},
            not_null=["age"],
        )
    with pytest.raises(UnknownColumn):
        set_privacy(
            ex,
            complete.m.dataset_id,
            actor=owner,
            unit="patient_id",
            max_contributions=2,
            bounds={"cost": (0.0, 250.0)},
            not_null=["nope"],
        )
    settings = find_privacy(ex, complete.m.dataset_id)
    assert settings is not None and settings.not_null == ("cost",)  # nothing changed
