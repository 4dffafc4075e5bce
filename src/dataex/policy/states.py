"""The contract state machine: one ``Literal`` of states, one table, one ``transition`` function.

::

    (new) ──request──▶ requested ──approve──▶ approved ──activate──▶ active ──exhaust──▶ exhausted
                          │  │                   │  │                 │  │
                          │  └─expire─▶ expired ◀┘  └─revoke─▶ revoked ◀┘  └─expire─▶ expired
                          └─reject──▶ rejected

``rejected``, ``expired``, ``revoked`` and ``exhausted`` are final: a final contract is never
reused. Each transition appends ``contract.<past tense>`` to the log in the caller's transaction.
It lives beside the policy because the policy reads it: a contract past its expiry is expired the
moment anyone asks for access under it. Who may trigger an event is decided by
:func:`dataex.policy.authorize`; the services in :mod:`dataex.contracts.lifecycle` run the events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from dataex.db.models import ContractRow
from dataex.errors import InvalidTransition
from dataex.ledger.log import Entry, TransparencyLog, utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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
