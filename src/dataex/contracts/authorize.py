"""``authorize()``: the single choke point in front of every access to a dataset.

Every caller (API, CLI, DP SQL, compute, extract, PSI, Delta Sharing) asks
``authorize(node, party, action, dataset_id, context)`` and gets a :class:`Decision` naming the rule
that decided. Every decision, allow or deny, is appended to the transparency log
(``access.allowed`` / ``access.denied``) and committed before it is returned: that is how an
auditor sees probing. Rules, first match wins:

1. ``dataset.unknown``     deny: no such dataset
2. ``metadata.*``          ``read_metadata`` is L0, open to every party (``metadata.private`` denies
                           a dataset whose catalog visibility is ``private`` to parties without a
                           contract on it)
3. ``auditor.no_data``     deny: auditors read every contract and the log, never data
4. ``owner``               allow: the dataset's owner
5. ``operator.no_data``    deny: the operator runs the node, it does not consume data
6. ``contract.*``          a live contract of the party on the dataset whose tier covers the action
                           (``tier.too_low``, ``contract.<state>``, ``purpose.mismatch``,
                           ``budget.no_epsilon``, ``budget.exhausted`` deny; ``contract.L<n>`` allows)

Tiers are cumulative for actions without a budget: compute/psi need L2+, extract L3+, download L4;
``dp_query`` needs L1+ and an ε budget on the contract. An allowed decision does not charge:
the caller charges with :func:`dataex.contracts.budget.charge` before it releases any result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from sqlalchemy import select

from dataex.contracts import odrl
from dataex.contracts.lifecycle import FINAL, NODE_ACTOR, transition
from dataex.db.models import ContractRow, DatasetMetadataRow, DatasetRow
from dataex.errors import AccessDenied, InvalidInput
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

Action = Literal["read_metadata", "dp_query", "compute", "extract", "psi", "download"]
ACTIONS: Final[tuple[str, ...]] = get_args(Action)
MIN_TIER: Final[dict[str, str]] = {
    "read_metadata": "L0",
    "dp_query": "L1",
    "compute": "L2",
    "psi": "L1",  # count and PSI-then-DP; the PSI service itself keeps members for L3/L4
    "extract": "L3",
    "download": "L4",
}
DATA_ACTIONS: Final = frozenset(ACTIONS) - {"read_metadata"}


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`authorize`; ``log_index`` is its transparency-log entry."""

    allow: bool
    rule: str
    contract_id: str | None = None
    tier: str | None = None
    log_index: int = -1

    def raise_if_denied(self) -> Decision:
        if not self.allow:
            raise AccessDenied(
                f"access denied by rule {self.rule}", rule=self.rule, contract_id=self.contract_id
            )
        return self


def authorize(
    node: Node, party: Party, action: str, dataset_id: str, context: dict[str, Any] | None = None
) -> Decision:
    """Decides whether ``party`` may do ``action`` on ``dataset_id``, and logs the decision.

    ``context`` may name a ``contract_id`` (else the party's live contracts are searched) and a
    ``purpose`` (which must then be the contract's).
    """
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    context = dict(context or {})
    with node.transaction() as s:
        decision = _decide(node, s, party, action, dataset_id, context)
        record = {
            "party": party.id,
            "role": party.role,
            "action": action,
            "dataset_id": dataset_id,
            "rule": decision.rule,
            "contract_id": decision.contract_id,
            "tier": decision.tier,
            "context": {
                k: v for k, v in context.items() if isinstance(v, str | int | float | bool) or v is None
            },
        }
        event = "access.allowed" if decision.allow else "access.denied"
        entry = node.log.append(s, event, record, actor=party.id)
        node.log.checkpoint(s)
    return replace(decision, log_index=entry.index)


def _decide(
    node: Node, s: Session, party: Party, action: str, dataset_id: str, context: dict[str, Any]
) -> Decision:
    dataset = s.get(DatasetRow, dataset_id)
    if dataset is None:
        return Decision(False, "dataset.unknown")
    if action == "read_metadata":
        return _metadata(s, party, dataset)
    if party.role == "auditor":
        return Decision(False, "auditor.no_data")
    if party.id == dataset.owner_id:
        return Decision(True, "owner")
    if party.is_operator:
        return Decision(False, "operator.no_data")
    return _by_contract(node, s, party, action, dataset_id, context)


def _metadata(s: Session, party: Party, dataset: DatasetRow) -> Decision:
    meta = s.get(DatasetMetadataRow, dataset.id)
    if meta is None or meta.visibility != "private":
        return Decision(True, "metadata.public")
    if party.id == dataset.owner_id or party.role in ("operator", "auditor"):
        return Decision(True, "metadata.private.privileged")
    holder = s.scalars(
        select(ContractRow.id)
        .where(ContractRow.dataset_id == dataset.id, ContractRow.consumer_id == party.id)
        .where(ContractRow.state.in_(("approved", "active")))
    ).first()
    return (
        Decision(True, "metadata.private.contract", holder) if holder else Decision(False, "metadata.private")
    )


def _by_contract(
    node: Node, s: Session, party: Party, action: str, dataset_id: str, context: dict[str, Any]
) -> Decision:
    wanted = context.get("contract_id")
    q = select(ContractRow).where(ContractRow.consumer_id == party.id).order_by(ContractRow.created_at)
    if wanted is not None:
        row = s.scalars(select(ContractRow).where(ContractRow.id == str(wanted)).with_for_update()).first()
        if row is None or row.consumer_id != party.id:
            return Decision(False, "contract.not_yours", str(wanted))
        if row.dataset_id != dataset_id:
            return Decision(False, "contract.other_dataset", row.id, row.tier)
        return _check(node, s, row, action, context)
    rows = list(s.scalars(q.where(ContractRow.dataset_id == dataset_id).with_for_update()))
    if not rows:
        return Decision(False, "contract.none")
    decisions = [_check(node, s, row, action, context) for row in rows]
    return next((d for d in decisions if d.allow), decisions[-1])


def _check(node: Node, s: Session, row: ContractRow, action: str, context: dict[str, Any]) -> Decision:
    def deny(rule: str) -> Decision:
        return Decision(False, rule, row.id, row.tier)

    if row.state not in FINAL and row.expires_at is not None and row.expires_at <= utc_now():
        transition(s, row, "expire", actor=NODE_ACTOR, reason="the contract's expiry passed", log=node.log)
    if row.state != "active":
        return deny(f"contract.{row.state}")
    if odrl.TIERS.index(row.tier) < odrl.TIERS.index(MIN_TIER[action]):
        return deny("tier.too_low")
    purpose = context.get("purpose")
    if purpose is not None and purpose != row.purpose:
        return deny("purpose.mismatch")
    if action == "dp_query":
        if row.remaining_epsilon_nano is None:
            return deny("budget.no_epsilon")
        if row.remaining_epsilon_nano <= 0:
            return deny("budget.exhausted")
    if action in ("dp_query", "compute", "psi") and row.remaining_queries == 0:
        return deny("budget.exhausted")
    if action in ("extract", "download") and row.remaining_rows == 0:
        return deny("budget.exhausted")
    return Decision(True, f"contract.{row.tier}", row.id, row.tier)
