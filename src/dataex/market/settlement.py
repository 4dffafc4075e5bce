"""Settlement: deposits, the order a priced contract opens, usage charges, fees and refunds.

* **Deposit**: ``funding -> wallet:<party>`` (``wallet.deposited``); then every order the party
  still owes is settled from the new credit, oldest first (``wallet -> due``).
* **Order** (on approval, in the approval's transaction, tied to its ``contract.activated``
  entry): a priced contract opens one order. A flat price is charged at once,
  ``wallet:<consumer> -> revenue:<provider> + fee``; when the wallet cannot cover it the order is
  **due** (``due:<consumer>`` instead of the wallet) and settled by the next deposit that can.
  Approval never fails for lack of credit; usage does.
* **Usage** (:func:`charge_usage`, in the caller's transaction, e.g. ``budget.charge``): rows,
  queries, jobs or ε priced per unit are paid from the wallet as they happen; a wallet that cannot
  pay raises ``InsufficientFunds`` and the whole charge (budget included) rolls back.
* **Fee**: ``fee_bps`` basis points of every payment, rounded down (the remainder goes to the
  provider).
* **Refund** on revocation: the flat price times the unused share of the contract's budget
  (the smallest remaining fraction of ε, queries and rows; a contract without a budget gets no
  refund), rounded down, taken back from the provider and the fee in proportion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataex.db.models import ContractRow, OfferRow, OrderRow, PartyRow
from dataex.errors import InvalidInput, PartyNotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import TransparencyLog, iso, utc_now
from dataex.market import ledger
from dataex.market.ledger import Posting
from dataex.market.pricing import Usage, exact, fee_of, flat_fen, usage_fen
from dataex.policy import allows, check

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

MAX_DEPOSIT_FEN = 10**15


@dataclass(frozen=True)
class Order:
    id: str
    contract_id: str | None
    product_id: str | None
    consumer_id: str
    provider_id: str | None
    price: dict[str, Any]
    status: str
    flat_fen: int
    usage_fen: int
    refunded_fen: int
    created_at: str

    @classmethod
    def of(cls, row: OrderRow) -> Order:
        return cls(
            id=row.id,
            contract_id=row.contract_id,
            product_id=row.product_id,
            consumer_id=row.consumer_id,
            provider_id=row.provider_id,
            price=dict(row.price),
            status=row.status,
            flat_fen=row.flat_fen,
            usage_fen=row.usage_fen,
            refunded_fen=row.refunded_fen,
            created_at=iso(row.created_at),
        )


def payment_lines(payer: str, provider_id: str, amount: int, bps: int) -> list[tuple[str, int]]:
    """``payer`` pays ``amount``: the provider's revenue gets it less the exchange's fee."""
    fee = fee_of(amount, bps)
    return [(payer, -amount), (ledger.revenue(provider_id), amount - fee), (ledger.FEE, fee)]


def parse_amount(amount: Any) -> int:
    """A positive whole number of fen (``100000``); zero, negatives, fractions and text are refused."""
    if isinstance(amount, str) and amount.strip().isdigit():
        amount = int(amount.strip())
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(f"an amount is a whole number of fen (1 yuan = 100 fen); got {amount!r}")
    if amount <= 0 or amount > MAX_DEPOSIT_FEN:
        raise InvalidInput(f"an amount must be between 1 and {MAX_DEPOSIT_FEN} fen; got {amount}")
    return amount


# -- deposits --------------------------------------------------------------------------------------
def deposit(node: Node, party_id: str, amount: Any, *, actor: Party) -> dict[str, Any]:
    """The operator credits ``amount`` fen to a party's wallet, then settles what the party owes."""
    fen = parse_amount(amount)
    check(node, actor, "deposit")
    with node.transaction() as s:
        party = s.get(PartyRow, party_id)
        if party is None:
            raise PartyNotFound(party_id)
        posting = ledger.post(
            s,
            node.log,
            kind="deposit",
            lines=[(ledger.FUNDING, -fen), (ledger.wallet(party_id), fen)],
            actor=actor.id,
            event="wallet.deposited",
            data={"party_id": party_id, "amount_fen": fen},
        )
        settled = _settle_due(s, node.log, party_id, actor=actor.id)
        node.log.checkpoint(s)
        return {"id": posting.id, "party_id": party_id, "amount_fen": fen, "settled_orders": settled}


def _settle_due(session: Session, log: TransparencyLog, party_id: str, *, actor: str) -> list[str]:
    q = (
        select(OrderRow)
        .where(OrderRow.consumer_id == party_id, OrderRow.status == "due")
        .order_by(OrderRow.created_at, OrderRow.id)
    )
    done: list[str] = []
    for order in session.scalars(q):
        owed = order.flat_fen - order.refunded_fen
        if owed > ledger.balance(session, ledger.wallet(party_id)):
            break
        if owed > 0:
            ledger.post(
                session,
                log,
                kind="settle",
                lines=[(ledger.wallet(party_id), -owed), (ledger.due(party_id), owed)],
                actor=actor,
                contract_id=order.contract_id,
                order_id=order.id,
                data={"order_id": order.id},
            )
        order.status = "paid"
        done.append(order.id)
    return done


# -- orders (the approval hook) --------------------------------------------------------------------
def open_order(
    session: Session, log: TransparencyLog, contract: ContractRow, offer: OfferRow
) -> dict[str, Any]:
    """Opens the order of a contract being activated; returns what its activation entry must carry.

    Called by ``contracts.lifecycle`` between ``contract.approved`` and ``contract.activated``;
    the flat price's posting is tied to that ``contract.activated`` entry. A free contract opens
    no order (``{}``).
    """
    price = dict(offer.price)
    if int(price.get("amount_fen", 0)) <= 0:
        return {}
    flat = flat_fen(price)
    bps = ledger.fee_bps(session)
    order = OrderRow(
        id=new_id("ord"),
        contract_id=contract.id,
        product_id=None,
        consumer_id=contract.consumer_id,
        provider_id=contract.provider_id,
        price=price,
        status="open",
        flat_fen=flat,
        flat_fee_fen=fee_of(flat, bps),
        usage_fen=0,
        refunded_fen=0,
        created_at=utc_now(),
        log_index=log.lock(session).size,
    )
    session.add(order)
    session.flush()
    session.info.setdefault("dataex.orders", {})[contract.id] = order.id
    out: dict[str, Any] = {"order": {"id": order.id, "price": price, "flat_fen": flat}}
    if flat == 0:
        return out
    paid = ledger.balance(session, ledger.wallet(contract.consumer_id)) >= flat
    payer = ledger.wallet(contract.consumer_id) if paid else ledger.due(contract.consumer_id)
    order.status = "paid" if paid else "due"
    posting = ledger.post(
        session,
        log,
        kind="order",
        lines=payment_lines(payer, contract.provider_id, flat, bps),
        actor=contract.provider_id,
        event=None,
        contract_id=contract.id,
        order_id=order.id,
    )
    out["order"]["status"] = order.status
    out["posting"] = posting.record()
    return out


@dataclass(frozen=True)
class UsageCharge:
    """One contract's priced usage to charge: ε, queries, rows and compute jobs."""

    contract_id: str
    actor: str
    epsilon: float | str = 0.0
    queries: int = 0
    rows: int = 0
    jobs: int = 0


def charge_usage(
    session: Session,
    contract_id: str,
    *,
    epsilon: float | str = 0.0,
    queries: int = 0,
    rows: int = 0,
    jobs: int = 0,
    actor: str,
    log: TransparencyLog | None = None,
) -> Posting | None:
    """Posts the charge for a contract's priced usage inside the CALLER's transaction.

    Returns ``None`` when the usage costs nothing (a flat or free price). Appends
    ``ledger.posted`` to the log in ``session`` (``log`` defaults to an appender: appending needs
    no key; the caller signs its checkpoint as usual). ``InsufficientFunds`` when the wallet cannot
    pay: the caller's transaction must then roll back, so neither budget nor money is spent.
    ``charge_usage_many`` of one charge.
    """
    usage = UsageCharge(contract_id, actor, epsilon=epsilon, queries=queries, rows=rows, jobs=jobs)
    return charge_usage_many(session, [usage], log=log)[0]


def charge_usage_many(
    session: Session, charges: Sequence[UsageCharge], *, log: TransparencyLog | None = None
) -> list[Posting | None]:
    """Posts several usage charges in order inside the CALLER's transaction (one ``post_many``).

    One result per charge, as ``charge_usage`` would return it. A wallet that cannot pay one of
    them raises ``InsufficientFunds`` (the caller rolls back the whole batch).
    """
    for c in charges:
        for name, count in (("queries", c.queries), ("rows", c.rows), ("jobs", c.jobs)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidInput(f"{name} must be a non-negative integer; got {count!r}")
    if log is None:
        log = TransparencyLog.__new__(TransparencyLog)  # append and lock use neither key nor origin
    bps: int | None = None
    specs: list[ledger.PostingSpec] = []
    paid: list[tuple[int, OrderRow, int]] = []
    orders: dict[str, OrderRow | None] = {}
    for i, c in enumerate(charges):
        eps = exact(c.epsilon, "epsilon")
        if eps < 0:
            raise InvalidInput(f"epsilon cannot be negative; got {c.epsilon!r}")
        if c.contract_id not in orders:
            orders[c.contract_id] = _order_of(session, c.contract_id)
        order = orders[c.contract_id]
        if order is None:
            continue
        usage = Usage(epsilon=eps, queries=c.queries, rows=c.rows, jobs=c.jobs)
        fen = usage_fen(dict(order.price), usage)
        if fen == 0:
            continue
        assert order.provider_id is not None  # a contract's order names its provider
        bps = ledger.fee_bps(session) if bps is None else bps
        specs.append(
            ledger.PostingSpec(
                kind="usage",
                lines=payment_lines(ledger.wallet(order.consumer_id), order.provider_id, fen, bps),
                actor=c.actor,
                data={
                    "contract_id": c.contract_id,
                    "usage": {"epsilon": str(eps), "queries": c.queries, "rows": c.rows, "jobs": c.jobs},
                    "amount_fen": fen,
                },
                contract_id=c.contract_id,
                order_id=order.id,
            )
        )
        paid.append((i, order, fen))
    out: list[Posting | None] = [None] * len(charges)
    for (i, order, fen), posting in zip(paid, ledger.post_many(session, log, specs), strict=True):
        order.usage_fen += fen
        out[i] = posting
    return out


def _order_of(session: Session, contract_id: str) -> OrderRow | None:
    """The contract's order, looked up once per session (then from the identity map)."""
    known: dict[str, str | None] = session.info.setdefault("dataex.orders", {})
    if contract_id in known:
        order_id = known[contract_id]
        return None if order_id is None else session.get(OrderRow, order_id)
    order = session.scalars(select(OrderRow).where(OrderRow.contract_id == contract_id)).first()
    known[contract_id] = None if order is None else order.id
    return order


# -- refunds (the revocation hook) -----------------------------------------------------------------
def unused_share(contract: ContractRow, offer: OfferRow) -> Fraction:
    """The smallest remaining fraction of the contract's ε, queries and rows (0 without a budget)."""
    pairs = [
        (contract.remaining_epsilon_nano, offer.epsilon_nano),
        (contract.remaining_queries, offer.max_queries),
        (contract.remaining_rows, offer.max_rows),
    ]
    shares = [Fraction(left, total) for left, total in pairs if left is not None and total]
    return min(shares) if shares else Fraction(0)


def refund_on_revoke(session: Session, log: TransparencyLog, contract: ContractRow) -> dict[str, Any]:
    """Refunds a revoked contract's flat price pro rata to its unused budget; returns the log data.

    Called by ``contracts.lifecycle`` just before ``contract.revoked`` is appended; the refund's
    posting is tied to that entry. ``{}`` when nothing is refunded.
    """
    order = session.scalars(select(OrderRow).where(OrderRow.contract_id == contract.id)).first()
    if order is None or order.flat_fen == 0 or order.status not in ("paid", "due"):
        return {}
    offer = session.get(OfferRow, contract.offer_id)
    assert offer is not None
    share = unused_share(contract, offer)
    refund = order.flat_fen * share.numerator // share.denominator - order.refunded_fen
    if refund <= 0:
        return {}
    fee_back = order.flat_fee_fen * refund // order.flat_fen
    to = ledger.wallet(order.consumer_id) if order.status == "paid" else ledger.due(order.consumer_id)
    posting = ledger.post(
        session,
        log,
        kind="refund",
        lines=[
            (ledger.revenue(contract.provider_id), -(refund - fee_back)),
            (ledger.FEE, -fee_back),
            (to, refund),
        ],
        actor=contract.provider_id,
        event=None,
        contract_id=contract.id,
        order_id=order.id,
        memo={"unused_share": [share.numerator, share.denominator]},
    )
    order.refunded_fen += refund
    if order.status == "due" and order.refunded_fen >= order.flat_fen:
        order.status = "paid"
    return {"refund": {"order_id": order.id, "amount_fen": refund}, "posting": posting.record()}


# -- reading ---------------------------------------------------------------------------------------
def wallet_view(node: Node, party_id: str, *, actor: Party) -> dict[str, Any]:
    """A party's balances and orders: the party itself, the operator and auditors may read it."""
    check(node, actor, "read_wallet", party_id)
    with node.session() as s:
        if s.get(PartyRow, party_id) is None:
            raise PartyNotFound(party_id)
        q = select(OrderRow).where(OrderRow.consumer_id == party_id).order_by(OrderRow.created_at)
        return {
            "id": party_id,
            "party_id": party_id,
            "balances": ledger.party_balances(s, party_id),
            "orders": [Order.of(r) for r in s.scalars(q)],
        }


def set_fee(node: Node, bps: int, *, actor: Party) -> dict[str, Any]:
    """The operator sets the exchange's fee rate (basis points), logged as ``market.fee_set``."""
    check(node, actor, "set_fee")
    with node.transaction() as s:
        ledger.set_fee_bps(s, bps)
        node.log.append(s, "market.fee_set", {"fee_bps": bps}, actor=actor.id)
        node.log.checkpoint(s)
    return {"fee_bps": bps}


def ledger_statement(node: Node, *, actor: Party, party_id: str | None = None) -> dict[str, Any]:
    """Accounts and postings: a party reads its own; the operator and auditors read any or all."""
    if party_id is None and not allows(node, actor, "read_statement", None):
        party_id = actor.id  # a party's statement is its own
    check(node, actor, "read_statement", party_id or actor.id)
    with node.session() as s:
        return {"id": party_id or "ledger", **ledger.statement(s, party_id)}


def verify_ledger(node: Node, *, actor: Party | None = None) -> dict[str, Any]:
    """Every ledger invariant (see ``ledger.verify``); the operator and auditors run it."""
    check(node, actor, "verify_ledger")
    with node.session() as s:
        return ledger.verify(s)
