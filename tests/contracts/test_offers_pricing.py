"""Offer prices beyond {amount_fen, unit}: the arbitrage-free per-ε schedule and the ``job`` unit."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from dataex.contracts.budget import charge
from dataex.contracts.offers import Price, parse_price
from dataex.db.models import OrderRow
from dataex.errors import ArbitragePrice, InvalidInput
from dataex.market import pricing
from dataex.market.pricing import Usage, usage_fen
from dataex.market.settlement import deposit, wallet_view
from tests.conftest import Node
from tests.contracts import Market, log_size, market, rows_snapshot
from tests.state import snapshot

SCHEDULE = [["0.5", 1000], ["1", 1800], ["2", 3400]]


@pytest.fixture
def m(fresh_node: Node, visits_csv: Path) -> Market:
    return market(fresh_node, visits_csv)


def _wallet(m: Market, party_id: str) -> int:
    operator = next(p for p in m.ex.list_parties() if p.is_operator)
    return int(wallet_view(m.ex, party_id, actor=operator)["balances"]["wallet"])


# -- parsing (no storage) --------------------------------------------------------------------------
def test_schedule_forms_parse_to_the_shape_settlement_reads() -> None:
    text = parse_price("schedule:0.5=1000, 1=1800, 2=3400")
    as_dict = parse_price({"unit": "epsilon", "schedule": [[0.5, 1000], [1, 1800], [2, 3400]]})
    assert text == as_dict
    assert text.to_dict() == {"amount_fen": 1700, "unit": "epsilon", "schedule": SCHEDULE}
    assert parse_price(Price(1700, "epsilon", SCHEDULE)) == text  # a stored price round-trips
    assert parse_price("500/job") == Price(500, "job")
    assert parse_price("5.00/job") == Price(500, "job")


@pytest.mark.parametrize(
    "bad",
    [
        "schedule:",
        "schedule:1=10.5",  # fen are whole
        "schedule:1=100,0.5=50",  # ε must increase
        "schedule:0=0",
        "schedule:one=100",
        {"unit": "row", "schedule": [[1, 100]]},
        {"unit": "epsilon", "schedule": [[1, 100]], "amount_fen": 7},  # not the derived 100
        {"unit": "epsilon", "schedule": "1=100"},
    ],
)
def test_malformed_schedules_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_price(bad)  # type: ignore[arg-type]


# -- offers on both backends -----------------------------------------------------------------------
def test_schedule_is_stored_and_settlement_prices_it(m: Market) -> None:
    offer = m.offer("L1", price="schedule:0.5=1000,1=1800,2=3400", epsilon=3.0, approval="auto")
    assert offer.price == {"amount_fen": 1700, "unit": "epsilon", "schedule": SCHEDULE}
    c = m.contract("L1", price={"unit": "epsilon", "schedule": SCHEDULE}, epsilon=3.0)
    with m.ex.session() as s:
        order = s.scalars(select(OrderRow).where(OrderRow.contract_id == c.id)).one()
        stored = dict(order.price)
    assert stored["schedule"] == SCHEDULE
    # ε 1.5 lies halfway between (1, 1800) and (2, 3400): 2600 fen, as pricing says.
    expected = pricing.ceil_fen(pricing.parse_schedule(SCHEDULE).price(Fraction(3, 2)))
    assert expected == usage_fen(stored, Usage(epsilon=Fraction(3, 2))) == 2600
    operator = next(p for p in m.ex.list_parties() if p.is_operator)
    deposit(m.ex, m.insurer.party.id, 10_000, actor=operator)
    charge(m.ex, c.id, epsilon="1.5")
    assert _wallet(m, m.insurer.party.id) == 10_000 - 2600
    with m.ex.session() as s:
        order = s.scalars(select(OrderRow).where(OrderRow.contract_id == c.id)).one()
        assert order.usage_fen == 2600


def test_arbitrage_schedule_is_refused_naming_points_and_nothing_changes(m: Market) -> None:
    state, rows, size = snapshot(m.ex), rows_snapshot(m.ex), log_size(m.ex)
    with pytest.raises(ArbitragePrice) as e:
        m.offer("L1", price="schedule:1=100,2=300")  # ε 1 + ε 1 cost 200, less than ε 2 at 300
    violations = e.value.violations
    assert {"rule": "subadditive", "points": ["1", "1", "2"]}.items() <= violations[0].items()
    assert any(v["points"] == ["1", "2"] for v in violations)  # the unit price past the last point
    with pytest.raises(ArbitragePrice) as e:
        m.offer("L1", price={"unit": "epsilon", "schedule": [[1, 500], [2, 400]]})
    assert e.value.violations[0]["rule"] == "monotone"
    assert e.value.violations[0]["points"] == [["1", 500], ["2", 400]]
    assert (snapshot(m.ex), rows_snapshot(m.ex), log_size(m.ex)) == (state, rows, size)


def test_schedule_fits_l1_and_l2_with_an_epsilon_budget_only(m: Market) -> None:
    o = m.offer("L2", price="schedule:1=100", epsilon=2.0)
    assert o.price["schedule"] == [["1", 100]]
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    for tier, options in (("L2", {}), ("L3", {"max_rows": 10}), ("L4", {}), ("L0", {})):
        with pytest.raises(InvalidInput):
            m.offer(tier, price="schedule:1=100", **options)
    assert (rows_snapshot(m.ex), log_size(m.ex)) == (before, size)


def test_job_unit_fits_l2_only(m: Market) -> None:
    o = m.offer("L2", price="500/job")
    assert o.price == {"amount_fen": 500, "unit": "job"}
    assert m.offer("L2", price={"amount_fen": 300, "unit": "job"}).price["amount_fen"] == 300
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    for tier, options in (("L3", {"max_rows": 10}), ("L1", {}), ("L4", {})):
        with pytest.raises(InvalidInput, match="per job"):
            m.offer(tier, price="500/job", **options)
    assert (rows_snapshot(m.ex), log_size(m.ex)) == (before, size)
