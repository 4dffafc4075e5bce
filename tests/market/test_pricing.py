"""Prices in whole fen, and the arbitrage-free per-ε schedule check."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dataex.errors import ArbitragePrice, InvalidInput
from dataex.market.pricing import (
    Usage,
    check_schedule,
    fee_of,
    parse_schedule,
    schedule_violations,
    usage_fen,
)


def test_a_concave_schedule_is_accepted_and_priced_with_ceil() -> None:
    s = check_schedule([["0.5", 100], ["1", 180], ["2", 300]])
    assert s.price(Fraction(1, 4)) == 50
    assert s.price(Fraction(3, 4)) == 140
    assert s.price(Fraction(4)) == 600  # past the last point: its unit price
    price = {"amount_fen": 0, "unit": "epsilon", "schedule": s.to_json()}
    assert usage_fen(price, Usage(epsilon=Fraction(1, 3))) == 67  # 66.67 rounds up


def test_a_decreasing_price_is_refused_naming_the_points() -> None:
    with pytest.raises(ArbitragePrice) as e:
        check_schedule([["1", 200], ["2", 150]])
    monotone = [v for v in e.value.violations if v["rule"] == "monotone"]
    assert monotone[0]["points"] == [["1", 200], ["2", 150]]


def test_a_superadditive_schedule_is_refused_naming_the_points() -> None:
    # two answers at ε 1 cost 200 < one answer at ε 2 for 300: buy two and compose
    with pytest.raises(ArbitragePrice) as e:
        check_schedule([["1", 100], ["2", 300]])
    points = [v["points"] for v in e.value.violations if v["rule"] == "subadditive"]
    assert ["1", "1", "2"] in points
    assert e.value.code == "arbitrage_price" and e.value.status == 400


def test_subadditive_but_not_concave_is_accepted() -> None:
    assert schedule_violations(parse_schedule([["1", 100], ["2", 120], ["3", 150]])) == []


@pytest.mark.parametrize(
    "points", [[], [["0", 5]], [["1", -1]], [["1", 1.5]], [["2", 1], ["1", 2]], [["x", 1]], [["1", 2, 3]]]
)
def test_malformed_schedules_are_invalid_input(points: list[list[object]]) -> None:
    with pytest.raises(InvalidInput):
        check_schedule(points)


def test_unit_prices_are_integers() -> None:
    assert usage_fen({"amount_fen": 2, "unit": "row"}, Usage(rows=37)) == 74
    assert usage_fen({"amount_fen": 50, "unit": "query"}, Usage(queries=2, jobs=1)) == 150
    assert usage_fen({"amount_fen": 150, "unit": "epsilon"}, Usage(epsilon=Fraction(1, 10))) == 15
    assert usage_fen({"amount_fen": 150, "unit": "epsilon"}, Usage(epsilon=Fraction(1, 1000))) == 1
    assert usage_fen({"amount_fen": 2000, "unit": "flat"}, Usage(rows=5)) == 0
    assert fee_of(2000, 200) == 40 and fee_of(49, 200) == 0


def test_a_rising_unit_price_at_the_end_is_refused() -> None:
    # ε 4 would cost 266.67 (the last point's unit price) but ε 2 + ε 2 cost 240
    violations = schedule_violations(parse_schedule([["1", 100], ["2", 120], ["3", 200]]))
    assert [v["points"] for v in violations] == [["2", "3"]]
