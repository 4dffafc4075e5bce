"""Budgets and counters: charge a contract's ε, δ, queries and rows atomically, before release.

``charge`` locks the contract row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
transactions begin with ``BEGIN IMMEDIATE``, which serializes writers), checks every counter,
decrements them, appends ``budget.charged`` and, when ε, queries or rows reach zero, moves the
contract to ``exhausted`` — all in one transaction. A charge that would overspend raises
``BudgetExhausted`` and changes nothing. Callers charge first and release the result only after
``charge`` returned, so a crash between the two can lose budget but never spend it twice.

Counters are fixed-point integers (ε in 1e-9, δ in 1e-18), so they add up exactly: a budget of 3.0
serves exactly thirty charges of 0.1 and then stands at exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from dataex.contracts import odrl
from dataex.contracts.lifecycle import Contract, lock_contract, transition
from dataex.errors import BudgetExhausted, InvalidInput, InvalidTransition
from dataex.market import settlement

if TYPE_CHECKING:
    from dataex.exchange import Exchange


@dataclass(frozen=True)
class Charge:
    """A committed charge and what remains after it (``None``: no limit)."""

    contract_id: str
    epsilon: float
    delta: float
    queries: int
    rows: int
    remaining: dict[str, float | int | None]
    state: str
    log_index: int


def to_units(value: float | str | int, scale: int, name: str) -> int:
    """``value`` in integer units of ``1/scale``; negative or too precise values are refused."""
    try:
        amount = Decimal(str(value)) * scale
    except InvalidOperation as e:
        raise InvalidInput(f"{name} must be a number; got {value!r}") from e
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(f"{name} cannot be negative; got {value!r}")
    if amount != amount.to_integral_value():
        raise InvalidInput(f"{name} has more precision than 1/{scale}; got {value!r}")
    return int(amount)


def charge(
    ex: Exchange,
    contract_id: str,
    *,
    epsilon: float | str = 0,
    delta: float | str = 0,
    queries: int = 0,
    rows: int = 0,
    actor: str | None = None,
) -> Charge:
    """Charges the contract, or raises and changes nothing; see the module docstring."""
    eps = to_units(epsilon, odrl.EPSILON_SCALE, "epsilon")
    dlt = to_units(delta, odrl.DELTA_SCALE, "delta")
    for name, count in (("queries", queries), ("rows", rows)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(f"{name} must be a non-negative integer; got {count!r}")
    if not (eps or dlt or queries or rows):
        raise InvalidInput("nothing to charge: give epsilon, delta, queries or rows")
    with ex.transaction() as s:
        row = lock_contract(s, contract_id)
        if row.state != "active":
            raise InvalidTransition(
                f"contract {contract_id} is {row.state}: only an active contract can be charged",
                contract_id=contract_id,
                state=row.state,
                event="charge",
            )
        wanted = {
            "epsilon": (eps, row.remaining_epsilon_nano, odrl.EPSILON_SCALE),
            "delta": (dlt, row.remaining_delta_atto, odrl.DELTA_SCALE),
            "queries": (queries, row.remaining_queries, 1),
            "rows": (rows, row.remaining_rows, 1),
        }
        for name, (amount, left, scale) in wanted.items():
            if amount == 0:
                continue
            if left is None and name in ("epsilon", "delta"):
                raise BudgetExhausted(
                    f"contract {contract_id} has no {name} budget", contract_id=contract_id, counter=name
                )
            if left is not None and amount > left:
                raise BudgetExhausted(
                    f"charging {name} {amount / scale:g} would overspend contract {contract_id}: "
                    f"{left / scale:g} remains",
                    contract_id=contract_id,
                    counter=name,
                )
        if eps:
            row.remaining_epsilon_nano = _minus(row.remaining_epsilon_nano, eps)
        if dlt:
            row.remaining_delta_atto = _minus(row.remaining_delta_atto, dlt)
        row.remaining_queries = _minus(row.remaining_queries, queries)
        row.remaining_rows = _minus(row.remaining_rows, rows)
        s.flush()
        after = Contract.of(row).remaining
        charged = {"epsilon": eps / odrl.EPSILON_SCALE, "delta": dlt / odrl.DELTA_SCALE}
        charged |= {"queries": queries, "rows": rows}
        who = actor or row.consumer_id
        entry = ex.log.append(
            s,
            "budget.charged",
            {"contract_id": contract_id, "charged": charged, "remaining": after},
            actor=who,
        )
        settlement.charge_usage(
            s, contract_id, epsilon=charged["epsilon"], queries=queries, rows=rows, actor=who, log=ex.log
        )
        if 0 in (row.remaining_epsilon_nano, row.remaining_queries, row.remaining_rows):
            transition(s, row, "exhaust", actor=who, reason="a budget or counter reached zero", log=ex.log)
        ex.log.checkpoint(s)
        return Charge(
            contract_id=contract_id,
            epsilon=charged["epsilon"],
            delta=charged["delta"],
            queries=queries,
            rows=rows,
            remaining=after,
            state=row.state,
            log_index=entry.index,
        )


def _minus(left: int | None, amount: int) -> int | None:
    return None if left is None else left - amount
