"""Differential test: random whitelisted predicates answer alike on neighbouring datasets (DuckDB).

Each example is a DP query whose WHERE clause is drawn from the grammar with hostile constants
(INT64 and DOUBLE overflow, division by zero, string/date casts, huge literals, ill-typed terms).
Its status — answered, or the error code and message — must be identical on D and on D plus one
unit holding extreme values, both for a dataset's bounded copy (DP SQL) and for input bounded inside
the query (PSI-then-DP). The Spark run is tests/engines/test_spark_differential.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from dataex.engines import get_engine
from tests.privacy.dp.strategies import MEDIAN_QUERY, neighbours, queries, status

ATTACKS = [
    "(age + 3037000403) * (age + 3037000403) > 0",
    "patient_id = 'PX' AND (age - age + 3037000500) * (age - age + 3037000500) > 0",
    "-age > 0",
    "age * age * age > 0",
    "cost * 10 > 0",
    "age * 1e308 * 1e308 > 0",
    "age > 99999999999999999999999999999 OR cost < -1e-308",
    "1 / (age - 3037000500) > 0",
    "fee * fee * fee * fee > 0",
    "visit > '2020-06-01' AND name LIKE 'Alice%'",
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return neighbours(tmp_path_factory.mktemp("neighbours"))


@pytest.mark.parametrize("where", ATTACKS)
def test_known_attacks_are_answered_on_both_neighbours(pair: tuple[Path, Path], where: str) -> None:
    duck = get_engine("duckdb")
    for prebounded in (True, False):
        for sql in (
            f"SELECT COUNT(*) AS n, SUM(cost) AS s FROM t WHERE {where}",
            MEDIAN_QUERY.format(p=where),
        ):
            assert [status(duck, sql, p, prebounded=prebounded) for p in pair] == ["ok", "ok"], sql


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=queries)
def test_random_predicates_have_the_same_status_on_neighbours(pair: tuple[Path, Path], sql: str) -> None:
    duck = get_engine("duckdb")
    for prebounded in (True, False):
        small, large = (status(duck, sql, p, prebounded=prebounded) for p in pair)
        assert small == large, sql
