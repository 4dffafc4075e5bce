"""The contract state machine: one ``Literal`` of states, one table, one ``transition`` function.

::

    (new) ──request──▶ requested ──approve──▶ approved ──activate──▶ active ──exhaust──▶ exhausted
                          │  │                   │  │                 │  │
                          │  └─expire─▶ expired ◀┘  └─revoke─▶ revoked ◀┘  └─expire─▶ expired
                          └─reject──▶ rejected

``rejected``, ``expired``, ``revoked`` and ``exhausted`` are final: a final contract is never
reused. Each transition appends ``contract.<past tense>`` to the log in the caller's transaction.
Who may trigger an event is checked by the service functions below; a refused request is logged
as ``contract.refused`` and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from sqlalchemy import select

from dataex.contracts import odrl
from dataex.contracts.offers import get_offer_row, log_refusal
from dataex.db.models import ContractRow, OfferRow
from dataex.errors import Conflict, ContractNotFound, Forbidden, InvalidInput, InvalidTransition
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import Entry, TransparencyLog, iso, utc_now
from dataex.market import settlement

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

ContractState = Literal["requested", "approved", "rejected", "active", "expired", "revoked", "exhausted"]
STATES: Final[tuple[str, ...]] = get_args(ContractState)
ContractEvent = Literal["request", "approve", "reject", "activate", "expire", "revoke", "exhaust"]
EVENTS: Final[tuple[str, ...]] = get_args(ContractEvent)
NEW: Final = "new"
"""The pseudo-state of a contract row not yet requested (never committed)."""
TRANSITIONS: Final[dict[tuple[str, str], ContractState]] = {
    (NEW, "request"): "requested",
    ("requested", "approve"): "approved",
    ("requested", "reject"): "rejected",
    ("requested", "expire"): "expired",
    ("approved", "activate"): "active",
    ("approved", "revoke"): "revoked",
    ("approved", "expire"): "expired",
    ("active", "revoke"): "revoked",
    ("active", "expire"): "expired",
    ("active", "exhaust"): "exhausted",
}
LOG_EVENTS: Final[dict[str, str]] = {
    "request": "contract.requested",
    "approve": "contract.approved",
    "reject": "contract.rejected",
    "activate": "contract.activated",
    "expire": "contract.expired",
    "revoke": "contract.revoked",
    "exhaust": "contract.exhausted",
}
FINAL: Final = frozenset({"rejected", "expired", "revoked", "exhausted"})
NODE_ACTOR: Final = "node"
"""The actor of transitions the node makes by itself (expiry by time)."""


@dataclass(frozen=True)
class Contract:
    id: str
    offer_id: str
    dataset_id: str
    provider_id: str
    consumer_id: str
    tier: str
    purpose: str
    note: str
    state: str
    expires_at: datetime | None
    remaining: dict[str, float | int | None]
    reason: str | None
    agreement: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ContractRow) -> Contract:
        eps, dlt = row.remaining_epsilon_nano, row.remaining_delta_atto
        return cls(
            id=row.id,
            offer_id=row.offer_id,
            dataset_id=row.dataset_id,
            provider_id=row.provider_id,
            consumer_id=row.consumer_id,
            tier=row.tier,
            purpose=row.purpose,
            note=row.note,
            state=row.state,
            expires_at=row.expires_at,
            remaining={
                "epsilon": None if eps is None else eps / odrl.EPSILON_SCALE,
                "delta": None if dlt is None else dlt / odrl.DELTA_SCALE,
                "rows": row.remaining_rows,
                "queries": row.remaining_queries,
            },
            reason=row.reason,
            agreement=None if row.agreement is None else dict(row.agreement),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def transition(
    session: Session,
    contract: ContractRow,
    event: str,
    *,
    actor: str,
    reason: str | None = None,
    log: TransparencyLog,
    data: dict[str, Any] | None = None,
) -> Entry:
    """Moves ``contract`` by ``event`` and logs it in ``session``; ``InvalidTransition`` if illegal."""
    before = contract.state
    after = TRANSITIONS.get((before, event))
    if after is None:
        legal = [e for (s, e) in TRANSITIONS if s == before]
        raise InvalidTransition(
            f"contract {contract.id} is {before}: it cannot {event}"
            + (f" (it can: {', '.join(legal)})" if legal else " (a final state: request a new contract)"),
            contract_id=contract.id,
            state=before,
            event=event,
        )
    contract.state = after
    contract.updated_at = utc_now()
    if reason is not None:
        contract.reason = reason
    session.flush()
    record = {"contract_id": contract.id, "from": None if before == NEW else before, "to": after}
    record |= {"reason": reason, **(data or {})}
    return log.append(session, LOG_EVENTS[event], record, actor=actor)


# -- services --------------------------------------------------------------------------------------
def request_contract(node: Node, offer_id: str, *, actor: Party, purpose: str, note: str = "") -> Contract:
    """A consumer requests a contract under an offer, for one of the offer's purposes."""
    if len(note) > 2000:
        raise InvalidInput("a note is at most 2000 characters")
    try:
        with node.transaction() as s:
            offer = get_offer_row(s, offer_id)
            if actor.role not in ("consumer", "provider"):
                raise Forbidden(f"a party with role {actor.role!r} cannot request contracts")
            if offer.provider_id == actor.id:
                raise Forbidden("a provider cannot request a contract on its own offer")
            if purpose not in offer.purposes:
                raise Forbidden(
                    f"purpose {purpose!r} is not allowed by {offer_id}: {', '.join(offer.purposes)}"
                )
            now = utc_now()
            if offer.expires_at is not None and offer.expires_at <= now:
                raise Conflict(f"offer {offer_id} expired at {iso(offer.expires_at)}")
            row = ContractRow(
                id=new_id("ctr"),
                offer_id=offer.id,
                dataset_id=offer.dataset_id,
                provider_id=offer.provider_id,
                consumer_id=actor.id,
                tier=offer.tier,
                purpose=purpose,
                note=note,
                state=NEW,
                expires_at=offer.expires_at,
                remaining_epsilon_nano=offer.epsilon_nano,
                remaining_delta_atto=offer.delta_atto,
                remaining_rows=offer.max_rows,
                remaining_queries=offer.max_queries,
                agreement=None,
                reason=None,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            data = {
                "offer_id": offer.id,
                "dataset_id": offer.dataset_id,
                "purpose": purpose,
                "tier": offer.tier,
            }
            transition(s, row, "request", actor=actor.id, log=node.log, data=data)
            if offer.approval == "auto":
                _approve(node, s, row, offer, actor=NODE_ACTOR, reason="auto-approval (the offer allows it)")
            node.log.checkpoint(s)
            return Contract.of(row)
    except (Forbidden, Conflict) as e:
        log_refusal(
            node, "contract.refused", e, actor=actor.id, data={"event": "request", "offer_id": offer_id}
        )
        raise


def approve_contract(node: Node, contract_id: str, *, actor: Party, reason: str | None = None) -> Contract:
    """The dataset's owner approves a requested contract; it becomes active at once."""
    return _decide(node, contract_id, "approve", actor=actor, reason=reason)


def reject_contract(node: Node, contract_id: str, *, actor: Party, reason: str | None = None) -> Contract:
    """The dataset's owner rejects a requested contract."""
    return _decide(node, contract_id, "reject", actor=actor, reason=reason)


def revoke_contract(node: Node, contract_id: str, *, actor: Party, reason: str | None = None) -> Contract:
    """The dataset's owner or the operator revokes an approved or active contract."""
    return _decide(node, contract_id, "revoke", actor=actor, reason=reason)


def _decide(node: Node, contract_id: str, event: str, *, actor: Party, reason: str | None) -> Contract:
    if reason is not None and len(reason) > 2000:
        raise InvalidInput("a reason is at most 2000 characters")
    try:
        with node.transaction() as s:
            row = lock_contract(s, contract_id)
            if event in ("approve", "reject") and actor.id == row.consumer_id:
                raise Forbidden(f"a party cannot {event} its own request")
            allowed = actor.id == row.provider_id or (event == "revoke" and actor.is_operator)
            if not allowed:
                who = "the dataset's owner or the operator" if event == "revoke" else "the dataset's owner"
                raise Forbidden(f"only {who} may {event} contract {contract_id}")
            if event == "approve":
                offer = get_offer_row(s, row.offer_id)
                if _expire_if_due(node, s, row):
                    node.log.checkpoint(s)
                    return Contract.of(row)
                _approve(node, s, row, offer, actor=actor.id, reason=reason)
            else:
                refund = settlement.refund_on_revoke(s, node.log, row) if event == "revoke" else {}
                transition(s, row, event, actor=actor.id, reason=reason, log=node.log, data=refund)
            node.log.checkpoint(s)
            return Contract.of(row)
    except (Forbidden, Conflict) as e:
        log_refusal(
            node, "contract.refused", e, actor=actor.id, data={"event": event, "contract_id": contract_id}
        )
        raise


def _approve(
    node: Node, s: Session, row: ContractRow, offer: OfferRow, *, actor: str, reason: str | None
) -> None:
    row.agreement = odrl.to_jsonld(agreement_policy(row, offer))
    transition(s, row, "approve", actor=actor, reason=reason, log=node.log)
    order = settlement.open_order(s, node.log, row, offer)  # the order rides on contract.activated
    transition(s, row, "activate", actor=actor, log=node.log, data={"agreement": row.agreement, **order})


def agreement_policy(row: ContractRow, offer: OfferRow) -> odrl.Policy:
    """The ODRL Agreement of a contract: the offer's terms, narrowed to the agreed purpose."""
    return odrl.Policy(
        kind="Agreement",
        uid=row.id,
        target=row.dataset_id,
        assigner=row.provider_id,
        assignee=row.consumer_id,
        tier=row.tier,
        purposes=(row.purpose,),
        expires=row.expires_at,
        max_queries=offer.max_queries,
        epsilon_nano=offer.epsilon_nano,
        delta_atto=offer.delta_atto,
        max_rows=offer.max_rows,
        prohibitions=tuple(offer.prohibitions),
        duties=tuple(offer.duties),
        legal_basis=offer.legal_basis,
    )


def _expire_if_due(node: Node, s: Session, row: ContractRow) -> bool:
    if row.expires_at is not None and row.expires_at <= utc_now() and row.state not in FINAL:
        transition(s, row, "expire", actor=NODE_ACTOR, reason="the contract's expiry passed", log=node.log)
        return True
    return False


def expire_due(node: Node) -> list[str]:
    """Expires every unfinished contract whose expiry has passed; returns their ids."""
    with node.transaction() as s:
        q = (
            select(ContractRow)
            .where(ContractRow.state.in_(("requested", "approved", "active")))
            .where(ContractRow.expires_at <= utc_now())
            .order_by(ContractRow.id)
            .with_for_update()
        )
        done = [row.id for row in s.scalars(q) if _expire_if_due(node, s, row)]
        if done:
            node.log.checkpoint(s)
        return done


# -- reading ---------------------------------------------------------------------------------------
def lock_contract(session: Session, contract_id: str) -> ContractRow:
    """The contract row, locked for the rest of the transaction (``SELECT … FOR UPDATE``)."""
    row = session.scalars(select(ContractRow).where(ContractRow.id == contract_id).with_for_update()).first()
    if row is None:
        raise ContractNotFound(contract_id)
    return row


def may_read(party: Party, row: ContractRow) -> bool:
    """Its two parties, the operator and every auditor may read a contract."""
    return party.id in (row.provider_id, row.consumer_id) or party.role in ("operator", "auditor")


def get_contract(node: Node, contract_id: str, *, actor: Party) -> Contract:
    with node.session() as s:
        row = s.get(ContractRow, contract_id)
        if row is None:
            raise ContractNotFound(contract_id)
        if may_read(actor, row):
            return Contract.of(row)
    error = Forbidden(f"contract {contract_id} is not yours to read")
    log_refusal(
        node, "contract.refused", error, actor=actor.id, data={"event": "read", "contract_id": contract_id}
    )
    raise error


def contract_odrl(node: Node, contract_id: str, *, actor: Party) -> dict[str, Any]:
    """The contract's ODRL Agreement (JSON-LD); a contract never approved has none."""
    contract = get_contract(node, contract_id, actor=actor)
    if contract.agreement is None:
        raise Conflict(f"contract {contract_id} is {contract.state}: it has no agreement (never approved)")
    return contract.agreement


def list_contracts(node: Node, *, actor: Party, dataset_id: str | None = None) -> list[Contract]:
    """The actor's contracts (as consumer or provider); every contract for auditors and the operator."""
    q = select(ContractRow).order_by(ContractRow.created_at, ContractRow.id)
    if actor.role not in ("operator", "auditor"):
        q = q.where((ContractRow.consumer_id == actor.id) | (ContractRow.provider_id == actor.id))
    if dataset_id is not None:
        q = q.where(ContractRow.dataset_id == dataset_id)
    with node.session() as s:
        return [Contract.of(r) for r in s.scalars(q)]
