"""Contracts' lifecycle services: request, approve, reject, revoke, expire, read.

The state machine itself (states, events, ``transition``) is :mod:`dataex.policy.states`. Who may
trigger an event is decided by :func:`dataex.policy.authorize` (a denial is logged there as
``access.denied``); any other refusal (an expired offer, a purpose the offer does not allow, an
illegal transition, an ε-bearing contract on a dataset whose lifetime ε account is spent for the
consumer: :mod:`dataex.policy.accounts`) is logged as ``contract.refused`` and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataex.contracts import odrl
from dataex.contracts.offers import get_offer_row
from dataex.db.models import ContractRow, OfferRow
from dataex.errors import BudgetExhausted, Conflict, ContractNotFound, Forbidden, InvalidInput
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import iso, utc_now
from dataex.market import settlement
from dataex.policy import check, visible_contracts
from dataex.policy.accounts import spent_account
from dataex.policy.states import (
    FINAL,
    NEW,
    NODE_ACTOR,
    transition,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node


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


# -- services --------------------------------------------------------------------------------------
def request_contract(node: Node, offer_id: str, *, actor: Party, purpose: str, note: str = "") -> Contract:
    """A consumer requests a contract under an offer, for one of the offer's purposes."""
    if len(note) > 2000:
        raise InvalidInput("a note is at most 2000 characters")
    check(node, actor, "request_contract", offer_id)
    try:
        with node.transaction() as s:
            offer = get_offer_row(s, offer_id)
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
                # the starting budget in exact units, so that `audit verify` can replay it (docs/log.md)
                "budget": {
                    "epsilon_nano": row.remaining_epsilon_nano,
                    "delta_atto": row.remaining_delta_atto,
                    "rows": row.remaining_rows,
                    "queries": row.remaining_queries,
                },
            }
            transition(s, row, "request", actor=actor.id, log=node.log, data=data)
            if offer.approval == "auto":
                _approve(node, s, row, offer, actor=NODE_ACTOR, reason="auto-approval (the offer allows it)")
            node.log.checkpoint(s)
            return Contract.of(row)
    except (Forbidden, Conflict) as e:
        refused = {"event": "request", "offer_id": offer_id}
        node.log.refusal(node.transaction, "contract.refused", e, actor=actor.id, data=refused)
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
    check(node, actor, event, contract_id)
    try:
        with node.transaction() as s:
            row = lock_contract(s, contract_id)
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
        refused = {"event": event, "contract_id": contract_id}
        node.log.refusal(node.transaction, "contract.refused", e, actor=actor.id, data=refused)
        raise


def _approve(
    node: Node, s: Session, row: ContractRow, offer: OfferRow, *, actor: str, reason: str | None
) -> None:
    spent = spent_account(s, row.dataset_id, row.consumer_id) if offer.epsilon_nano else None
    if spent is not None:
        raise BudgetExhausted(
            f"the lifetime ε cap of dataset {row.dataset_id} (or of data it derives from) is reached "
            "for this consumer: no new ε-bearing contract can be approved",
            contract_id=row.id,
            counter=f"{spent.spent_up()}_epsilon",
        )
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


def get_contract(node: Node, contract_id: str, *, actor: Party) -> Contract:
    """The contract, for its two parties, the operator and auditors (rule 11 of the policy)."""
    check(node, actor, "read_contract", contract_id)
    with node.session() as s:
        row = s.get(ContractRow, contract_id)
        if row is None:
            raise ContractNotFound(contract_id)
        return Contract.of(row)


def contract_odrl(node: Node, contract_id: str, *, actor: Party) -> dict[str, Any]:
    """The contract's ODRL Agreement (JSON-LD); a contract never approved has none."""
    contract = get_contract(node, contract_id, actor=actor)
    if contract.agreement is None:
        raise Conflict(f"contract {contract_id} is {contract.state}: it has no agreement (never approved)")
    return contract.agreement


def list_contracts(node: Node, *, actor: Party, dataset_id: str | None = None) -> list[Contract]:
    """The actor's contracts (as consumer or provider); every contract for auditors and the operator."""
    q = select(ContractRow).order_by(ContractRow.created_at, ContractRow.id)
    visible = visible_contracts(actor)
    if visible is not None:
        q = q.where(visible)
    if dataset_id is not None:
        q = q.where(ContractRow.dataset_id == dataset_id)
    with node.session() as s:
        return [Contract.of(r) for r in s.scalars(q)]
