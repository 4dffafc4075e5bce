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

**The dataset's privacy-loss account.** Every charge of ε is also taken from the lifetime ε account
of the contract's dataset and of every dataset it derives from (:mod:`dataex.policy.accounts`): the
total for all consumers together and the consumer's own total across all its contracts. The
account rows are locked after the contract rows, in dataset-id order (an account opens at its
first charge, inserted race-free with ``ON CONFLICT DO NOTHING`` before the lock), checked and
decremented in the same transaction; a charge that would pass either cap raises
``BudgetExhausted`` (``counter`` ``dataset_epsilon`` or ``party_epsilon``) and changes nothing.
The ``budget.charged`` entry carries each account's new totals (``privacy_accounts``). The owner
sets the caps with :func:`set_account` (logged as ``privacy.account.set``) and reads them with
:func:`get_account`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from dataex.contracts import odrl
from dataex.contracts.lifecycle import Contract, lock_contract
from dataex.db.models import (
    ContractRow,
    DatasetPrivacyAccountRow,
    DatasetPrivacySpendRow,
    DatasetRow,
    PrivacyAccountDefaultsRow,
)
from dataex.errors import (
    BudgetExhausted,
    ContractNotFound,
    DatasetNotFound,
    Forbidden,
    InvalidInput,
    InvalidTransition,
)
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now
from dataex.market import settlement
from dataex.policy import authorize, check, decide
from dataex.policy.accounts import AccountState, account_state, node_defaults, sources
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
    accounts: tuple[dict[str, Any], ...] = field(default=())

    def record(self) -> dict[str, object]:
        """The ``budget.charged`` entry's data (``privacy_accounts``: only when ε was charged)."""
        charged = {"epsilon": self.epsilon, "delta": self.delta, "queries": self.queries, "rows": self.rows}
        out: dict[str, object] = {
            "contract_id": self.contract_id,
            "charged": charged,
            "remaining": self.remaining,
        }
        if self.accounts:
            out["privacy_accounts"] = list(self.accounts)
        return out


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
        _lock_accounts(s, rows, requests, wanted)
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
        _lock_accounts(s, locked, [request], wanted)
        context = {"contract_id": contract_id, "epsilon": wanted[0][0] > 0}
        decision = decide(s, party, action, None, context)
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
        accounts = _take_accounts(s, row, eps)
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
            accounts=accounts,
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


# -- the dataset's privacy-loss account ------------------------------------------------------------
MAX_EPSILON_CAP = 1_000_000
"""The largest cap an owner may set (ε); any larger number is refused, not stored."""


@dataclass(frozen=True)
class Account:
    """A dataset's lifetime ε account, as its owner (or the operator) reads it."""

    dataset_id: str
    epsilon_cap: float
    epsilon_cap_source: str
    epsilon_cap_per_party: float | None
    epsilon_cap_per_party_source: str
    epsilon_spent: float
    epsilon_remaining: float
    parties: tuple[dict[str, Any], ...]
    sources: tuple[dict[str, Any], ...]
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "epsilon_cap": self.epsilon_cap,
            "epsilon_cap_source": self.epsilon_cap_source,
            "epsilon_cap_per_party": self.epsilon_cap_per_party,
            "epsilon_cap_per_party_source": self.epsilon_cap_per_party_source,
            "epsilon_spent": self.epsilon_spent,
            "epsilon_remaining": self.epsilon_remaining,
            "parties": [dict(p) for p in self.parties],
            "sources": [dict(p) for p in self.sources],
            "log_index": self.log_index,
        }


def set_account(
    node: Node,
    dataset_id: str,
    *,
    actor: Party,
    epsilon_cap: float | str | None = None,
    epsilon_cap_per_party: float | str | None = None,
) -> Account:
    """The owner sets the dataset's lifetime ε caps (``None``: leave that cap as it is); logged as
    ``privacy.account.set``. A cap below what was already spent closes the account at once."""
    if epsilon_cap is None and epsilon_cap_per_party is None:
        raise InvalidInput("give --epsilon-cap or --epsilon-cap-per-party (or both)")
    cap = None if epsilon_cap is None else cap_units(epsilon_cap, "epsilon cap")
    party_cap = (
        None if epsilon_cap_per_party is None else cap_units(epsilon_cap_per_party, "per-party epsilon cap")
    )
    check(node, actor, "set_privacy", dataset_id)
    with node.transaction() as s:
        if s.get(DatasetRow, dataset_id) is None:
            raise DatasetNotFound(dataset_id)
        _open_accounts(s, [dataset_id], [])
        row = s.scalars(
            select(DatasetPrivacyAccountRow)
            .where(DatasetPrivacyAccountRow.dataset_id == dataset_id)
            .with_for_update()
        ).one()
        if cap is not None:
            row.epsilon_cap_nano = cap
        if party_cap is not None:
            row.epsilon_cap_per_party_nano = party_cap
        row.updated_at = utc_now()
        state = account_state(s, dataset_id, None)
        record = {
            "dataset_id": dataset_id,
            "epsilon_cap": _eps(state.cap),
            "epsilon_cap_per_party": None if state.party_cap is None else _eps(state.party_cap),
            "epsilon_spent": _eps(state.spent),
        }
        entry = node.log.append(s, "privacy.account.set", record, actor=actor.id)
        row.log_index = entry.index
        node.log.checkpoint(s)
    return get_account(node, dataset_id, viewer=actor)


def set_defaults(
    node: Node,
    *,
    actor: Party,
    epsilon_cap: float | str,
    epsilon_cap_per_party: float | str | None = None,
) -> dict[str, float | None]:
    """The operator sets the node's default caps, for datasets whose owner set none (``None``: no
    per-party default); logged as ``privacy.defaults.set``. The total must be > 0."""
    cap = cap_units(epsilon_cap, "default epsilon cap")
    if cap == 0:
        raise InvalidInput("the default epsilon cap must be > 0 (an owner may close one dataset with 0)")
    party_cap = (
        None
        if epsilon_cap_per_party is None
        else cap_units(epsilon_cap_per_party, "default per-party epsilon cap")
    )
    check(node, actor, "set_privacy_defaults")
    with node.transaction() as s:
        row = s.get(PrivacyAccountDefaultsRow, 1, with_for_update=True)
        if row is None:
            row = PrivacyAccountDefaultsRow(id=1)
            s.add(row)
        row.epsilon_cap_nano, row.epsilon_cap_per_party_nano = cap, party_cap
        row.updated_at, row.log_index = utc_now(), -1
        record = {
            "epsilon_cap": _eps(cap),
            "epsilon_cap_per_party": None if party_cap is None else _eps(party_cap),
        }
        entry = node.log.append(s, "privacy.defaults.set", record, actor=actor.id)
        row.log_index = entry.index
        node.log.checkpoint(s)
    return record


def get_account(node: Node, dataset_id: str, *, viewer: Party | None) -> Account:
    """The dataset's account: caps, what was spent in total and by each party, and the accounts of
    the datasets it derives from; for the owner and the operator only."""
    decision = authorize(node, viewer, "read_details", dataset_id)
    if not decision.allow and decision.rule == "owner.details":
        raise Forbidden(f"only the owner of {dataset_id} (or the operator) sees its privacy account")
    decision.raise_if_denied()
    with node.session() as s:
        defaults = node_defaults(s)
        state = account_state(s, dataset_id, None, defaults=defaults)
        row = s.get(DatasetPrivacyAccountRow, dataset_id)
        spends = s.scalars(
            select(DatasetPrivacySpendRow)
            .where(DatasetPrivacySpendRow.dataset_id == dataset_id)
            .order_by(DatasetPrivacySpendRow.party_id)
        )
        parties = tuple(
            {
                "party_id": p.party_id,
                "epsilon_spent": _eps(p.spent_epsilon_nano),
                "epsilon_remaining": None
                if state.party_cap is None
                else _eps(max(state.party_cap - p.spent_epsilon_nano, 0)),
            }
            for p in spends
        )
        upstream = tuple(
            _summary(account_state(s, source, None, defaults=defaults))
            for source in sources(s, dataset_id)[1:]
        )
    return Account(
        dataset_id=dataset_id,
        epsilon_cap=_eps(state.cap),
        epsilon_cap_source=state.cap_source,
        epsilon_cap_per_party=None if state.party_cap is None else _eps(state.party_cap),
        epsilon_cap_per_party_source=state.party_cap_source,
        epsilon_spent=_eps(state.spent),
        epsilon_remaining=_eps(state.remaining),
        parties=parties,
        sources=upstream,
        log_index=-1 if row is None else row.log_index,
    )


def _summary(state: AccountState) -> dict[str, Any]:
    return {
        "dataset_id": state.dataset_id,
        "epsilon_cap": _eps(state.cap),
        "epsilon_spent": _eps(state.spent),
        "epsilon_remaining": _eps(state.remaining),
    }


def _eps(units: int) -> float:
    return units / odrl.EPSILON_SCALE


def cap_units(value: float | str, name: str) -> int:
    """A cap in ε units of 1e-9; ``InvalidInput`` for a negative, too precise or too large one."""
    units = to_units(value, odrl.EPSILON_SCALE, name)
    if units > MAX_EPSILON_CAP * odrl.EPSILON_SCALE:
        raise InvalidInput(f"{name} must be at most {MAX_EPSILON_CAP}; got {value!r}")
    return units


def _lock_accounts(
    s: Session,
    rows: dict[str, ContractRow],
    requests: Sequence[ChargeRequest],
    wanted: list[tuple[int, int, int, int]],
) -> None:
    """Opens and locks the ε accounts a batch charges (after its contract rows, in id order)."""
    keys: set[tuple[str, str]] = set()
    for r, (eps, _dlt, _queries, _rows) in zip(requests, wanted, strict=True):
        if eps:
            row = rows[r.contract_id]
            keys |= {(source, row.consumer_id) for source in sources(s, row.dataset_id)}
    if not keys:
        return
    datasets = sorted({d for d, _ in keys})
    parties = sorted({p for _, p in keys})
    _open_accounts(s, datasets, sorted(keys))
    list(
        s.scalars(
            select(DatasetPrivacyAccountRow)
            .where(DatasetPrivacyAccountRow.dataset_id.in_(datasets))
            .order_by(DatasetPrivacyAccountRow.dataset_id)
            .with_for_update()
        )
    )
    list(
        s.scalars(
            select(DatasetPrivacySpendRow)
            .where(
                DatasetPrivacySpendRow.dataset_id.in_(datasets),
                DatasetPrivacySpendRow.party_id.in_(parties),
            )
            .order_by(DatasetPrivacySpendRow.dataset_id, DatasetPrivacySpendRow.party_id)
            .with_for_update()
        )
    )


def _open_accounts(s: Session, datasets: list[str], pairs: list[tuple[str, str]]) -> None:
    """Inserts the account and spend rows that do not exist yet; concurrent openers do not collide
    (``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL)."""
    have = set(
        s.scalars(
            select(DatasetPrivacyAccountRow.dataset_id).where(
                DatasetPrivacyAccountRow.dataset_id.in_(datasets)
            )
        )
    )
    now = utc_now()
    missing = [
        {
            "dataset_id": d,
            "epsilon_cap_nano": None,
            "epsilon_cap_per_party_nano": None,
            "spent_epsilon_nano": 0,
            "updated_at": now,
            "log_index": -1,
        }
        for d in datasets
        if d not in have
    ]
    if missing:
        s.execute(_insert_ignoring(s, DatasetPrivacyAccountRow), missing)
    if pairs:
        spent = s.execute(
            select(DatasetPrivacySpendRow.dataset_id, DatasetPrivacySpendRow.party_id).where(
                tuple_(DatasetPrivacySpendRow.dataset_id, DatasetPrivacySpendRow.party_id).in_(pairs)
            )
        )
        known = {(d, p) for d, p in spent}
        new = [
            {"dataset_id": d, "party_id": p, "spent_epsilon_nano": 0} for d, p in pairs if (d, p) not in known
        ]
        if new:
            s.execute(_insert_ignoring(s, DatasetPrivacySpendRow), new)


def _insert_ignoring(s: Session, model: type[DatasetPrivacyAccountRow] | type[DatasetPrivacySpendRow]) -> Any:
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    return sqlite.insert(model).on_conflict_do_nothing()


def _take_accounts(s: Session, row: ContractRow, eps: int) -> tuple[dict[str, Any], ...]:
    """Takes ``eps`` from every account the contract's dataset answers to (locked by the caller), or
    raises ``BudgetExhausted`` and changes nothing; returns each account's new totals."""
    if not eps:
        return ()
    defaults = node_defaults(s)
    states = [account_state(s, d, row.consumer_id, defaults=defaults) for d in sources(s, row.dataset_id)]
    for state in states:
        over = state.affords(eps)
        if over == "dataset":
            raise BudgetExhausted(
                f"charging ε {_eps(eps):g} would pass the lifetime ε cap of this dataset (or of data it "
                "derives from), which all its consumers share: it cannot be charged under any contract",
                contract_id=row.id,
                counter="dataset_epsilon",
            )
        if over == "party":
            raise BudgetExhausted(
                f"charging ε {_eps(eps):g} would pass your lifetime ε cap on this dataset (or on data it "
                f"derives from), across all your contracts: {_eps(state.party_remaining or 0):g} remains",
                contract_id=row.id,
                counter="party_epsilon",
            )
    out = []
    now = utc_now()
    for state in states:
        account = s.get(DatasetPrivacyAccountRow, state.dataset_id)
        spend = s.get(DatasetPrivacySpendRow, (state.dataset_id, row.consumer_id))
        assert account is not None and spend is not None, "_lock_accounts opened them"
        account.spent_epsilon_nano += eps
        account.updated_at = now
        spend.spent_epsilon_nano += eps
        out.append(
            {
                "dataset_id": state.dataset_id,
                "epsilon_spent": _eps(account.spent_epsilon_nano),
                "epsilon_cap": _eps(state.cap),
                "party_id": row.consumer_id,
                "party_epsilon_spent": _eps(spend.spent_epsilon_nano),
                "party_epsilon_cap": None if state.party_cap is None else _eps(state.party_cap),
            }
        )
    return tuple(out)
