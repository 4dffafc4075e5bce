"""DP SQL end to end on DuckDB: exactness without noise, bounding, caching, charging, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select, update

from dataex.db.models import ContractRow, DpAnswerRow
from dataex.errors import (
    AccessDenied,
    BudgetExhausted,
    Forbidden,
    InvalidInput,
    PrivacySettingsMissing,
    QueryRefused,
    UnknownColumn,
)
from dataex.privacy.dp import mechanisms, query, set_privacy
from tests.conftest import Node
from tests.contracts import log_events, log_size, rows_snapshot
from tests.privacy.dp import QUERY, UNUSED_KEY, DpMarket, dp_market, small_visits


@pytest.fixture
def dm(sqlite_node: Node, tmp_path: Path) -> DpMarket:
    return dp_market(sqlite_node, small_visits(tmp_path / "visits.csv"))


def reference(csv: Path, where: str = "age >= 60") -> dict[str, tuple[int, float, float]]:
    rows = duckdb.sql(
        f"SELECT diagnosis, COUNT(*), SUM(LEAST(GREATEST(cost, 0), 250)), AVG(LEAST(GREATEST(cost, 0), 250)) "
        f"FROM read_csv('{csv}') WHERE {where} GROUP BY diagnosis"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_exact_mode_equals_plain_sql_on_clipped_data(dm: DpMarket, tmp_path: Path) -> None:
    with mechanisms.exact_mode():
        answer = query(dm.m.ex, dm.contract.id, QUERY, epsilon=1.0, actor=dm.m.insurer.party)
    expected = reference(tmp_path / "visits.csv")
    got = {r["diagnosis"]: (r["n"], r["total"], r["avg_cost"]) for r in answer.rows}
    assert set(got) == {*expected, UNUSED_KEY}
    assert got[UNUSED_KEY][:2] == (0, 0)
    for key, (n, total, avg) in expected.items():
        assert got[key][0] == n
        assert got[key][1] == pytest.approx(total, abs=1e-6)
        assert got[key][2] == pytest.approx(avg, abs=1e-6)
    assert answer.epsilon_charged == 1.0


def test_bounding_keeps_at_most_k_rows_per_unit_reproducibly(sqlite_node: Node, tmp_path: Path) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "v.csv", units=30, per_unit=5))
    sql = "SELECT diagnosis, COUNT(*) AS n, SUM(cost) AS s FROM v GROUP BY diagnosis"
    with mechanisms.exact_mode():
        first = query(dm.m.ex, dm.contract.id, sql, epsilon=0.5, actor=dm.m.insurer.party)
        second = query(dm.m.ex, dm.contract.id, sql, epsilon=0.5, actor=dm.m.insurer.party)
    assert sum(r["n"] for r in first.rows) == 30 * 2  # k = 2 of 5 rows per patient
    assert first.rows == second.rows


def test_median_and_distinct_units_exact(dm: DpMarket, tmp_path: Path) -> None:
    sql = "SELECT MEDIAN(age) AS med, COUNT(DISTINCT patient_id) AS patients FROM visits WHERE cost > 10"
    with mechanisms.exact_mode():
        answer = query(dm.m.ex, dm.contract.id, sql, epsilon=1.0, actor=dm.m.insurer.party)
    [(median, patients)] = duckdb.sql(
        f"SELECT MEDIAN(age), COUNT(DISTINCT patient_id) FROM read_csv('{tmp_path / 'visits.csv'}') "
        "WHERE cost > 10"
    ).fetchall()
    assert answer.rows[0]["patients"] == patients
    assert abs(answer.rows[0]["med"] - median) <= 1.2  # one candidate step: 120 / 100


def test_noisy_answer_has_intervals_and_is_cached_and_charged_once(fresh_node: Node, tmp_path: Path) -> None:
    dm = dp_market(fresh_node, small_visits(tmp_path / "visits.csv"))
    ex, me = dm.m.ex, dm.m.insurer.party
    start = log_size(ex)
    first = query(ex, dm.contract.id, QUERY, epsilon=0.5, actor=me)
    assert (first.epsilon_charged, first.epsilon_remaining, first.cached) == (0.5, 2.5, False)
    for row, spans in zip(first.rows, first.intervals, strict=True):
        lo, hi = spans["n"]  # type: ignore[misc]
        assert lo <= row["n"] <= hi
        assert set(spans) == {"n", "total", "avg_cost"}
    again = query(ex, dm.contract.id, QUERY.lower().replace("select", "SELECT  "), epsilon=0.5, actor=me)
    assert again.cached and again.rows == first.rows and again.intervals == first.intervals
    assert (again.epsilon_charged, again.epsilon_remaining) == (0.0, 2.5)
    assert log_events(ex, start).count("budget.charged") == 1
    other = query(ex, dm.contract.id, QUERY, epsilon=0.25, actor=me)  # another ε: a new release
    assert not other.cached and other.epsilon_remaining == 2.25
    with ex.session() as s:
        assert len(list(s.scalars(select(DpAnswerRow)))) == 2


def test_explain_shows_the_plan_and_charges_nothing(dm: DpMarket) -> None:
    before = rows_snapshot(dm.m.ex)
    answer = query(dm.m.ex, dm.contract.id, QUERY, epsilon=0.5, actor=dm.m.insurer.party, explain=True)
    plan = answer.explain
    assert plan is not None and not plan["charged"]
    assert "ROW_NUMBER" not in plan["sql"]  # the query reads the contribution-bounded copy
    assert "at most 2 row(s)" in plan["bounding"]
    assert [m["statistic"] for m in plan["measurements"]] == ["count", "sum", "sum", "count"]
    # three outputs (n, total, avg_cost) get ε/3 each; AVG splits its third over its sum and count
    assert [m["epsilon"] for m in plan["measurements"]] == pytest.approx([0.5 / 3, 0.5 / 3, 0.5 / 6, 0.5 / 6])
    assert sum(m["epsilon"] for m in plan["measurements"]) == pytest.approx(0.5)
    assert plan["measurements"][0]["laplace_scale"] == pytest.approx(2 / (0.5 / 3))
    assert rows_snapshot(dm.m.ex) == before


def test_exact_mode_is_never_cached(dm: DpMarket) -> None:
    with mechanisms.exact_mode():
        query(dm.m.ex, dm.contract.id, QUERY, epsilon=0.5, actor=dm.m.insurer.party)
    with dm.m.ex.session() as s:
        assert list(s.scalars(select(DpAnswerRow))) == []


def test_keys_without_domain_pass_a_noisy_threshold(sqlite_node: Node, tmp_path: Path) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "visits.csv", units=300), delta=1e-5)
    set_privacy(
        dm.m.ex, dm.m.dataset_id, actor=dm.m.hospital.party, unit="patient_id", max_contributions=2,
        bounds={"cost": (0.0, 250.0)}, domains={}, key_threshold=5,
    )  # fmt: skip
    answer = query(
        dm.m.ex, dm.contract.id, "SELECT diagnosis, COUNT(*) AS n FROM visits GROUP BY diagnosis",
        epsilon=1.0, actor=dm.m.insurer.party,
    )  # fmt: skip
    assert answer.delta_charged == 1e-6
    assert {r["diagnosis"] for r in answer.rows} == {"A", "B", "C"}  # 200 rows each: far above it


BAD = {
    "epsilon_zero": (QUERY, 0.0, InvalidInput),
    "epsilon_negative": (QUERY, -1.0, InvalidInput),
    "epsilon_over_remaining": (QUERY, 3.5, BudgetExhausted),
    "unknown_column": ("SELECT SUM(salary) FROM visits", 0.5, UnknownColumn),
    "missing_domain": (
        "SELECT patient_id, COUNT(*) FROM visits GROUP BY patient_id",
        0.5,
        PrivacySettingsMissing,
    ),
    "other_table": ("SELECT COUNT(*) FROM secrets", 0.5, QueryRefused),
    "mismatched_types": ("SELECT COUNT(*) FROM visits WHERE diagnosis > 3", 0.5, QueryRefused),
}


@pytest.mark.parametrize(("sql", "epsilon", "error"), list(BAD.values()), ids=list(BAD))
def test_bad_input_is_refused_logged_and_charges_nothing(
    dm: DpMarket, sql: str, epsilon: float, error: type[Exception]
) -> None:
    ex = dm.m.ex
    before, start = rows_snapshot(ex), log_size(ex)
    with pytest.raises(error):
        query(ex, dm.contract.id, sql, epsilon=epsilon, actor=dm.m.insurer.party)
    assert rows_snapshot(ex) == before
    assert log_events(ex, start) == ["access.allowed", "dp.query.refused"]


@pytest.mark.parametrize(("tier", "rule"), [("L0", "tier.too_low"), ("L2", "budget.no_epsilon")])
def test_a_contract_without_an_l1_budget_is_denied_and_logged(
    sqlite_node: Node, tmp_path: Path, tier: str, rule: str
) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "visits.csv"))
    other = dm.m.contract(tier)
    start = log_size(dm.m.ex)
    with pytest.raises(AccessDenied) as info:
        query(dm.m.ex, other.id, QUERY, epsilon=0.5, actor=dm.m.insurer.party)
    assert info.value.rule == rule
    assert log_events(dm.m.ex, start) == ["access.denied"]


def test_expired_contract_is_denied_and_logged(dm: DpMarket) -> None:
    ex = dm.m.ex
    with ex.transaction() as s:
        past = datetime.now(UTC) - timedelta(days=1)
        s.execute(update(ContractRow).where(ContractRow.id == dm.contract.id).values(expires_at=past))
    start = log_size(ex)
    with pytest.raises(AccessDenied) as info:
        query(ex, dm.contract.id, QUERY, epsilon=0.5, actor=dm.m.insurer.party)
    assert info.value.rule == "contract.expired"
    assert log_events(ex, start) == ["contract.expired", "access.denied"]


def test_only_the_owner_sets_privacy_metadata(fresh_node: Node, tmp_path: Path) -> None:
    dm = dp_market(fresh_node, small_visits(tmp_path / "visits.csv"))
    with pytest.raises(Forbidden):
        set_privacy(dm.m.ex, dm.m.dataset_id, actor=dm.m.insurer.party, unit="row", max_contributions=1)
    with pytest.raises(UnknownColumn):
        set_privacy(dm.m.ex, dm.m.dataset_id, actor=dm.m.hospital.party, unit="nope", max_contributions=1)
    with pytest.raises(InvalidInput):
        set_privacy(
            dm.m.ex, dm.m.dataset_id, actor=dm.m.hospital.party, unit="row", max_contributions=1,
            bounds={"cost": (5.0, 1.0)},
        )  # fmt: skip
    start = log_size(dm.m.ex)
    got = set_privacy(dm.m.ex, dm.m.dataset_id, actor=dm.m.hospital.party, unit="row", max_contributions=1)
    assert got.unit == "row" and log_events(dm.m.ex, start) == ["dp.settings.set"]


def test_the_owner_cannot_spend_a_consumers_budget(dm: DpMarket) -> None:
    with pytest.raises(AccessDenied):
        query(dm.m.ex, dm.contract.id, QUERY, epsilon=0.5, actor=dm.m.hospital.party)
