"""Budgets and counters: charge a contract's ε, δ, queries and rows atomically, before release.

``charge`` locks the contract row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
transactions begin with ``BEGIN IMMEDIATE``, which serializes writers), checks every counter,
decrements them, appends ``budget.charged`` and, when ε, queries or rows reach zero, moves the
contract to ``exhausted`` — all in one transaction. A charge that would overspend raises
``BudgetExhausted`` and changes nothing. Callers charge first and release the result only after
``charge`` returned, so a crash between the two can lose budget but never spend it twice.

``charge_many`` charges a batch of requests the same way in one transaction, all or nothing (what a
metering pipeline calls); ``charge`` is a batch of one.

Counters are fixed-point integers (ε in 1e-9, δ in 1e-18), so they add up exactly: a budget of 3.0
serves exactly thirty charges of 0.1 and then stands at exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sqlalchemy import select

from dataex.contracts import odrl
from dataex.contracts.lifecycle import Contract, lock_contract
from dataex.db.models import ContractRow
from dataex.errors import BudgetExhausted, ContractNotFound, InvalidInput, InvalidTransition
from dataex.identity.parties import Party
from dataex.market import settlement
from dataex.policy import decide
from dataex.policy.states import transition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node


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

    def record(self) -> dict[str, object]:
        """The ``budget.charged`` entry's data."""
        charged = {"epsilon": self.epsilon, "delta": self.delta, "queries": self.queries, "rows": self.rows}
        return {"contract_id": self.contract_id, "charged": charged, "remaining": self.remaining}


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


@dataclass(frozen=True)
class ChargeRequest:
    """One charge for ``charge_many``: the same arguments as ``charge``."""

    contract_id: str
    epsilon: float | str = 0
    delta: float | str = 0
    queries: int = 0
    rows: int = 0
    actor: str | None = None


def charge(
    node: Node,
    contract_id: str,
    *,
    epsilon: float | str = 0,
    delta: float | str = 0,
    queries: int = 0,
    rows: int = 0,
    actor: str | None = None,
) -> Charge:
    """Charges the contract, or raises and changes nothing; see the module docstring."""
    request = ChargeRequest(
        contract_id, epsilon=epsilon, delta=delta, queries=queries, rows=rows, actor=actor
    )
    return charge_many(node, [request])[0]


def charge_many(node: Node, requests: Sequence[ChargeRequest]) -> list[Charge]:
    """Charges several requests in ONE transaction, in order, all or nothing (a metering batch).

    Each request is checked against what the earlier ones left, exactly as one ``charge`` after
    another; if any would overspend (``BudgetExhausted``), hits a contract that is not active or
    that an earlier request exhausted (``InvalidTransition``), or finds its consumer's wallet short
    (``InsufficientFunds``), nothing is charged. The log gets every ``budget.charged`` entry in
    request order, then the usage postings' ``ledger.posted`` entries in the same order, then the
    ``contract.exhausted`` transitions; one checkpoint is signed. ``charge`` is a batch of one.
    """
    wanted = [_units(r) for r in requests]
    if not wanted:
        return []
    with node.transaction() as s:
        rows = _lock_contracts(s, sorted({r.contract_id for r in requests}))
        return _charge_locked(node, s, rows, requests, wanted)


def authorize_and_charge(
    node: Node,
    party: Party,
    action: str,
    contract_id: str,
    *,
    epsilon: float | str = 0,
    delta: float | str = 0,
    queries: int = 0,
    rows: int = 0,
) -> Charge:
    """Decides ``action`` under ``contract_id`` and charges it, under ONE lock in ONE transaction.

    The contract row is locked, the policy decides on it as it is now (a contract revoked, expired
    or spent since the caller's first ``authorize`` is refused here), and the charge is taken from
    the same locked row: nothing can change the contract between the decision and the charge. A
    denial raises the policy's error and changes nothing (the caller logs its refusal).
    """
    request = ChargeRequest(
        contract_id, epsilon=epsilon, delta=delta, queries=queries, rows=rows, actor=party.id
    )
    wanted = [_units(request)]
    with node.transaction() as s:
        locked = _lock_contracts(s, [contract_id])
        decision = decide(s, party, action, None, {"contract_id": contract_id})
        if decision.contract_id != contract_id:
            decision = replace(decision, allow=False, rule="contract.not_yours")
        decision.raise_if_denied()
        return _charge_locked(node, s, locked, [request], wanted)[0]


def _charge_locked(
    node: Node,
    s: Session,
    rows: dict[str, ContractRow],
    requests: Sequence[ChargeRequest],
    wanted: list[tuple[int, int, int, int]],
) -> list[Charge]:
    """``charge_many``'s work on contract rows the caller locked in ``s``."""
    exhausted: dict[str, tuple[int, str]] = {}  # contract -> the charge that exhausted it, its actor
    done: list[tuple[Charge, str]] = []
    for r, (eps, dlt, queries, count) in zip(requests, wanted, strict=True):
        row = rows[r.contract_id]
        state = "exhausted" if row.id in exhausted else row.state
        if state != "active":
            raise InvalidTransition(
                f"contract {row.id} is {state}: only an active contract can be charged",
                contract_id=row.id,
                state=state,
                event="charge",
            )
        _take(row, eps, dlt, queries, count)
        who = r.actor or row.consumer_id
        c = Charge(
            contract_id=row.id,
            epsilon=eps / odrl.EPSILON_SCALE,
            delta=dlt / odrl.DELTA_SCALE,
            queries=queries,
            rows=count,
            remaining=Contract.of(row).remaining,
            state=row.state,
            log_index=-1,
        )
        done.append((c, who))
        if 0 in (row.remaining_epsilon_nano, row.remaining_queries, row.remaining_rows):
            exhausted[row.id] = (len(done) - 1, who)
    entries = node.log.append_many(s, [("budget.charged", c.record(), who) for c, who in done])
    usage = [
        settlement.UsageCharge(c.contract_id, who, epsilon=c.epsilon, queries=c.queries, rows=c.rows)
        for c, who in done
    ]
    settlement.charge_usage_many(s, usage, log=node.log)
    for contract_id, (i, who) in exhausted.items():
        why = "a budget or counter reached zero"
        transition(s, rows[contract_id], "exhaust", actor=who, reason=why, log=node.log)
        done[i] = (replace(done[i][0], state=rows[contract_id].state), who)
    node.log.checkpoint(s)
    return [replace(c, log_index=entry.index) for (c, _), entry in zip(done, entries, strict=True)]


def _units(r: ChargeRequest) -> tuple[int, int, int, int]:
    """The request's ε, δ, queries and rows in integer units; ``InvalidInput`` for a bad one."""
    eps = to_units(r.epsilon, odrl.EPSILON_SCALE, "epsilon")
    dlt = to_units(r.delta, odrl.DELTA_SCALE, "delta")
    for name, count in (("queries", r.queries), ("rows", r.rows)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(f"{name} must be a non-negative integer; got {count!r}")
    if not (eps or dlt or r.queries or r.rows):
        raise InvalidInput("nothing to charge: give epsilon, delta, queries or rows")
    return eps, dlt, r.queries, r.rows


def _lock_contracts(session: Session, ids: list[str]) -> dict[str, ContractRow]:
    """The contracts ``ids`` (sorted), locked for the rest of the transaction; ``ContractNotFound``."""
    if len(ids) == 1:
        return {ids[0]: lock_contract(session, ids[0])}
    q = select(ContractRow).where(ContractRow.id.in_(ids)).order_by(ContractRow.id).with_for_update()
    found = {row.id: row for row in session.scalars(q)}
    for contract_id in ids:
        if contract_id not in found:
            raise ContractNotFound(contract_id)
    return found


def _take(row: ContractRow, eps: int, dlt: int, queries: int, rows: int) -> None:
    """Decrements the contract's counters, or raises ``BudgetExhausted`` and changes nothing."""
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
            raise BudgetExhausted(f"contract {row.id} has no {name} budget", contract_id=row.id, counter=name)
        if left is not None and amount > left:
            raise BudgetExhausted(
                f"charging {name} {amount / scale:g} would overspend contract {row.id}: "
                f"{left / scale:g} remains",
                contract_id=row.id,
                counter=name,
            )
    if eps:
        row.remaining_epsilon_nano = _minus(row.remaining_epsilon_nano, eps)
    if dlt:
        row.remaining_delta_atto = _minus(row.remaining_delta_atto, dlt)
    row.remaining_queries = _minus(row.remaining_queries, queries)
    row.remaining_rows = _minus(row.remaining_rows, rows)


def _minus(left: int | None, amount: int) -> int | None:
    return None if left is None else left - amount
