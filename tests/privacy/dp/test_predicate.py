"""The safe predicate (dataex.privacy.dp.predicate): typed as a whole, so no row can make it raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataex.engines import get_engine
from dataex.errors import DataexError, QueryRefused
from dataex.privacy.dp import mechanisms
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.predicate import safe_predicate
from dataex.privacy.dp.rewrite import GRID_LIMIT, plan_query
from dataex.privacy.dp.service import ENGINE_FAILURE, run_plan
from dataex.privacy.dp.settings import PrivacySettings
from tests.privacy.dp.strategies import SETTINGS, TYPES


def where(predicate: str) -> str:
    tree = parse(f"SELECT COUNT(*) AS n FROM t WHERE {predicate}").where
    assert tree is not None
    return safe_predicate(tree, TYPES)


def test_numbers_are_doubles_and_time_literals_typed_constants() -> None:
    assert where("(age + 3037000403) * age > 0") == (
        '(CAST("age" AS DOUBLE) + CAST(3037000403.0 AS DOUBLE)) * CAST("age" AS DOUBLE) > CAST(0.0 AS DOUBLE)'
    )
    assert where("visit >= '20200131'") == "\"visit\" >= CAST('2020-01-31' AS DATE)"
    assert where("name LIKE 'a%' AND NOT flag") == '"name" LIKE \'a%\' AND NOT "flag"'


@pytest.mark.parametrize(
    ("predicate", "why"),
    [
        ("name", "not a condition"),  # WHERE name casts every name to BOOLEAN
        ("age", "not a condition"),
        ("name IS TRUE", "not a condition"),
        ("NOT name", "not a condition"),
        ("-name > 0", "arithmetic takes numbers only"),
        ("name * name > 0", "arithmetic takes numbers only"),
        ("visit + 1 > 0", "arithmetic takes numbers only"),
        ("age > 1e400", "out of range"),
        ("age = 'A'", "different types"),
        ("visit > '2020-13-45'", "not an ISO 8601 date"),
        ("age LIKE '9%'", "different types"),
        ("(age, cost) = (1, 2)", "not allowed in WHERE"),
    ],
)
def test_predicates_that_could_raise_per_row_are_refused_before_the_charge(predicate: str, why: str) -> None:
    with pytest.raises(QueryRefused, match=why) as caught:
        where(predicate)
    assert caught.value.details["construct"] == "types"


def test_a_failing_engine_is_answered_with_one_fixed_message(tmp_path: Path) -> None:
    plan = plan_query(parse("SELECT COUNT(*) AS n FROM t"), settings=SETTINGS, types=TYPES, dataset_id="ds_x",
                      epsilon=1.0, prebounded=True)  # fmt: skip
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not a parquet file PAR1")
    messages = set()
    for path in (tmp_path / "missing.parquet", corrupt):  # two different DuckDB errors
        with pytest.raises(DataexError) as caught:
            run_plan(get_engine("duckdb"), plan, str(path))
        assert type(caught.value) is DataexError
        messages.add(caught.value.message)
    assert messages == {ENGINE_FAILURE.format(engine="duckdb")}


def test_grid_values_and_exact_aggregates_cannot_overflow_64_bits() -> None:
    settings = PrivacySettings("ds_x", "row", 1, bounds={"cost": (-1e12, 1e12)})
    plan = plan_query(parse("SELECT SUM(cost) AS s FROM t"), settings=settings, types={"cost": "DOUBLE"},
                      dataset_id="ds_x", epsilon=1000.0)  # fmt: skip
    [m] = plan.measurements
    assert 1e12 / m.step <= GRID_LIMIT
    assert mechanisms.clamp_exact(2**70) == mechanisms.EXACT_LIMIT
    assert mechanisms.clamp_exact(-(2**70)) == -mechanisms.EXACT_LIMIT
    assert mechanisms.clamp_exact(None) == 0
