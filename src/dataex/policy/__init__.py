"""The one policy point: ``authorize(node, party, action, object_id)`` decides every action.

Every service asks this module before it reads data, shows an object or changes state: data
actions (DP SQL, PSI, compute, extracts, downloads), reads of catalog and business objects, and
management (describe, classify, set privacy, offer, approve, revoke, anonymize, value, consent …).
There is no other place where a permission is decided; a service that needs one names an action
of :data:`ACTIONS`. Each action acts on one kind of object (:data:`OBJECT_KIND`): a dataset, an
offer, a contract, a demand, a compute job, a product, a party (wallets and statements), or the
node itself (``object_id`` is ``None``).

``party`` is the authenticated party, or ``None`` for the local operator: whoever holds the node's
home directory (the CLI without ``--as``), who may do what the operator may. An HTTP client without
a token is ``"anonymous"`` and may only read public catalog entries (rule 3).

Rules (numbered; the first that matches decides; the rule's name is in the decision)

 1. ``<kind>.unknown``        deny: no such object (``dataset.unknown``, ``offer.unknown``,
                              ``contract.unknown``, ``demand.unknown``, ``job.unknown``,
                              ``product.unknown``, ``party.unknown``). A **private** dataset
                              (catalog visibility ``private``) is unknown to every party
                              without a right to know it exists (rule 2), and so are its
                              offers: the denial is the same ``<kind>.unknown`` with the same
                              error as for an id that was never registered (no existence oracle).
 2. ``visible``               a dataset is visible to everyone when public; a private one to its
                              owner, the operator and the consumers of its contracts (in any
                              state: they were told it exists). Auditors read contracts and the
                              log, not private catalogs.
 3. ``metadata.*``            ``read_metadata`` (catalog entry, Croissant, DCAT, quality summary,
                              classification, lineage, certificate, offers listing): allowed when
                              visible (``metadata.public``, ``metadata.private.<who>``).
 4. ``owner.details``         ``read_details`` (the full quality report, matching demands): the
                              owner and the operator; others get the public view (not an error).
 5. ``auditor.no_data``       deny data actions to auditors: they read every contract and the log,
                              never data.
 6. ``owner``                 allow data actions to the dataset's owner.
 7. ``operator.no_data``      deny data actions to the operator: it runs the node, it does not
                              consume data.
 8. ``contract.*``            data actions need a live contract of the party on the dataset whose
                              tier covers the action (``tier.too_low``, ``contract.<state>``,
                              ``contract.none``, ``contract.not_yours``, ``contract.other_dataset``,
                              ``purpose.mismatch``, ``budget.no_epsilon``, ``budget.exhausted``,
                              ``psi.exact_needs_L3`` (PSI members or exact count below L3:
                              there a count is released only with DP noise, ``dp_count``),
                              ``dataset.epsilon_cap`` (ε asked of a dataset whose lifetime ε
                              account, or one of its sources', is spent in total or for this
                              party: dataex.policy.accounts) deny;
                              ``contract.L<n>`` allows). Tiers are cumulative: dp_query and psi need
                              L1+, compute L2+, extract L3+, download L4. A contract past its expiry
                              is expired (and logged) the moment it is asked.
 9. ``manage.owner``          dataset management that only the owner does: ``set_privacy``,
                              ``set_fingerprint``, ``create_offer``, ``derive`` (register data derived
                              from it), ``value`` (a dataset's row values).
10. ``manage.owner_or_operator``  ``describe``, ``classify``, ``evaluate_quality``, ``anonymize``,
                              ``prepare_psi``, ``record_consent``, ``read_details``,
                              ``see_demands``, ``join_product``.
11. ``contract.party``        a contract exists for its consumer and provider, the operator and
                              auditors (``read_contract``); for anyone else it is
                              ``contract.unknown``, as an id never issued, for every action
                              that names it (data actions included).
    ``contract.provider``     ``approve``/``reject``: the provider, never the consumer
                              (``contract.own_request``); ``revoke``: the provider or the operator.
12. ``offer.requester``       ``request_contract``: consumers and providers, never on their own
                              offer (``offer.own``); the offer must be visible (rule 1).
13. ``demand.*``              ``post_demand``: consumers; ``close_demand``: its consumer or the
                              operator.
14. ``job.*``                 ``read_job``: the job's consumer, the dataset's owner, the operator
                              and auditors (anyone else: ``job.unknown``); ``read_job_output``: the
                              consumer only.
15. ``product.*``             a product exists for a party that may see every one of its member
                              datasets (rule 2; else ``product.unknown``), ``product.visible``
                              for ``read_product``; ``create_product``: providers and the
                              operator; ``value_product``: the operator, the product's creator
                              and its members' owners; ``buy_product``: consumers and providers.
16. ``party.*``               ``register_for``: a party registers for itself, only the operator
                              names another owner, and the owner must be a provider (or the
                              operator); ``read_wallet``/``read_statement``: the party itself, the
                              operator and auditors.
17. ``operator.only``         ``deposit``, ``set_fee``, ``manage_parties`` (add and list
                              parties), ``set_privacy_defaults`` (the node's default lifetime ε
                              caps of datasets): the operator; ``verify_ledger``: the operator and
                              auditors.

What is logged. Data actions: every decision, allowed or denied (``access.allowed`` /
``access.denied``), committed before it is returned: that is how an auditor sees probing.
Management and reads of business objects: every denial (``access.denied``); an allowed change is
logged by the action's own entry (``offer.created``, ``contract.approved`` …), which names the
actor. Catalog reads (``read_metadata``, ``read_details``) are never logged: they are L0
information, and an entry per page view would let anyone write to the public log and would
publish who looked at which dataset (and that a private id exists).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from dataex.db.models import (
    ComputeJobRow,
    ContractRow,
    DatasetMetadataRow,
    DatasetRow,
    DemandRow,
    OfferRow,
    PartyRow,
    ProductMemberRow,
    ProductRow,
)
from dataex.errors import (
    AccessDenied,
    ContractNotFound,
    DataexError,
    DatasetNotFound,
    Forbidden,
    InvalidInput,
    JobNotFound,
    NotFound,
    OfferNotFound,
    PartyNotFound,
    ProductNotFound,
)
from dataex.identity.parties import Party
from dataex.ledger.log import bounded, utc_now
from dataex.policy.accounts import spent_account
from dataex.policy.states import FINAL, NODE_ACTOR, transition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

ANONYMOUS: Final = "anonymous"
Viewer = Party | Literal["anonymous"] | None
"""Who asks: a party, an HTTP client without a token (``"anonymous"``), or the local operator."""
TIERS: Final = ("L0", "L1", "L2", "L3", "L4")
"""Access tiers, cumulative: each allows what the ones below it allow."""

DATA_ACTIONS: Final = frozenset({"dp_query", "compute", "extract", "psi", "download"})
"""Rules 5-8: actions on a dataset's rows, allowed by ownership or a contract's tier."""
CATALOG_READS: Final = frozenset({"read_metadata", "read_details"})
"""Rules 1-4: L0 reads, decided by visibility and never logged."""
OWNER_ONLY: Final = frozenset({"set_privacy", "set_fingerprint", "create_offer", "derive", "value"})
"""Rule 9: the owner's own terms, which not even the operator sets."""
OWNER_OR_OPERATOR: Final = frozenset(
    {
        "describe",
        "classify",
        "evaluate_quality",
        "anonymize",
        "prepare_psi",
        "record_consent",
        "see_demands",
        "join_product",
    }
)
"""Rule 10: dataset management the operator may do on the owner's behalf."""
Kind = Literal["dataset", "offer", "contract", "demand", "job", "product", "party", "node"]
OBJECT_KIND: Final[dict[str, Kind]] = {
    **dict.fromkeys(sorted(DATA_ACTIONS | CATALOG_READS | OWNER_ONLY | OWNER_OR_OPERATOR), "dataset"),
    **dict.fromkeys(("read_contract", "approve", "reject", "revoke"), "contract"),  # rule 11
    "request_contract": "offer",  # rule 12
    "close_demand": "demand",  # rule 13
    **dict.fromkeys(("read_job", "read_job_output"), "job"),  # rule 14
    **dict.fromkeys(("read_product", "value_product", "buy_product"), "product"),  # rule 15
    **dict.fromkeys(("register_for", "read_wallet", "read_statement"), "party"),  # rule 16
    **dict.fromkeys(  # rules 13, 15 and 17
        ("post_demand", "create_product", "deposit", "set_fee", "verify_ledger", "manage_parties"), "node"
    ),
    "set_privacy_defaults": "node",  # rule 17
}
"""Every action the policy decides, and the kind of object it acts on."""
ACTIONS: Final[tuple[str, ...]] = tuple(OBJECT_KIND)
MEMBERS_TIERS: Final = ("L3", "L4")
"""PSI's exact modes (members; an exact count, which over one item says whether a named person is
in the data) are disclosures only L3/L4 contracts allow; below, a count is a DP release."""
PSI_EXACT_MODES: Final = ("members", "count")
MIN_TIER: Final[dict[str, str]] = {
    "dp_query": "L1",
    "compute": "L2",
    "psi": "L1",  # DP count and PSI-then-DP; members and exact count need MEMBERS_TIERS
    "extract": "L3",
    "download": "L4",
}


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`authorize`; ``log_index`` is its transparency-log entry (-1: none)."""

    allow: bool
    rule: str
    action: str = ""
    object_id: str | None = None
    contract_id: str | None = None
    tier: str | None = None
    message: str = ""
    log_index: int = -1

    def raise_if_denied(self) -> Decision:
        """The decision when allowed; else the error a caller shows (see :func:`error_of`)."""
        if not self.allow:
            raise error_of(self)
        return self


class Ask(NamedTuple):
    """What a rule is asked: who, what, on which object, with which context (``node``: may log)."""

    party: Party | None
    action: str
    object_id: str | None
    context: dict[str, Any]
    node: Node | None


def error_of(decision: Decision) -> DataexError:
    """The error for a denial: an unknown (or invisible) object's own not-found error, exactly
    as for an id that does not exist; ``AccessDenied`` (naming the rule) for a data action;
    ``Forbidden`` with the rule's message for anything else."""
    oid = decision.object_id or decision.contract_id or ""
    if decision.rule.endswith(".unknown"):
        kind = decision.rule.removesuffix(".unknown")
        if kind == "contract":
            oid = decision.contract_id or oid
        return _not_found(kind, oid)
    if decision.action in DATA_ACTIONS:
        message = decision.message or f"access denied by rule {decision.rule}"
        return AccessDenied(message, rule=decision.rule, contract_id=decision.contract_id)
    return Forbidden(decision.message or f"denied by rule {decision.rule}")


def _not_found(kind: str, object_id: str) -> NotFound:
    if kind == "dataset":
        return DatasetNotFound(object_id)
    if kind == "offer":
        return OfferNotFound(object_id)
    if kind == "contract":
        return ContractNotFound(object_id)
    if kind == "job":
        return JobNotFound(object_id)
    if kind == "product":
        return ProductNotFound(object_id)
    if kind == "party":
        return PartyNotFound(object_id)
    return NotFound(
        f"no {kind} with id {object_id!r} (list them with `dataex {kind} list`)", **{f"{kind}_id": object_id}
    )


# -- the entry points ---------------------------------------------------------------------------------
def authorize(
    node: Node,
    party: Viewer,
    action: str,
    object_id: str | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    """Decides whether ``party`` may do ``action`` on ``object_id``, and logs it (module docstring).

    ``context`` may name a ``contract_id`` (data actions: else the party's live contracts are
    searched; with no ``object_id`` the dataset is the contract's) and a ``purpose`` (which must
    then be the contract's).
    """
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    context = dict(context or {})
    if action in DATA_ACTIONS:
        with node.transaction() as s:  # locks the contract rows; may expire a due contract
            decision = decide(s, party, action, object_id, context, log=node)
            if isinstance(party, Party):
                decision = _logged(node, s, decision, party, context)
        return decision
    with node.session() as s:
        decision = decide(s, party, action, object_id, context)
    if decision.allow or not isinstance(party, Party) or action in CATALOG_READS:
        return decision
    with node.transaction() as s:
        return _logged(node, s, decision, party, context)


def _logged(node: Node, s: Session, decision: Decision, party: Party, context: dict[str, Any]) -> Decision:
    event = "access.allowed" if decision.allow else "access.denied"
    entry = node.log.append(s, event, record(decision, party, context), actor=party.id)
    node.log.checkpoint(s)
    return replace(decision, log_index=entry.index)


def check(node: Node, party: Viewer, action: str, object_id: str | None = None, **context: Any) -> None:
    """``authorize(...).raise_if_denied()``: for services that only need a yes."""
    authorize(node, party, action, object_id, context).raise_if_denied()


def allows(node: Node, party: Viewer, action: str, object_id: str | None = None) -> bool:
    """Whether the policy allows it, for choosing a view or a scope (the full report or the
    public one, every statement or one's own); nothing is logged: nothing was refused."""
    with node.session() as s:
        return decide(s, party, action, object_id).allow


def visible_contracts(party: Party | None) -> ColumnElement[bool] | None:
    """Rule 11 as a SQL condition on ``ContractRow`` (``None``: every contract)."""
    if party is None or party.role in ("operator", "auditor"):
        return None
    return or_(ContractRow.consumer_id == party.id, ContractRow.provider_id == party.id)


def record(decision: Decision, party: Party, context: dict[str, Any]) -> dict[str, Any]:
    """A decision's log entry: who, what, on which object, and the rule that decided."""
    body: dict[str, Any] = {
        "party": party.id,
        "role": party.role,
        "action": decision.action,
        "rule": decision.rule,
    }
    kind = OBJECT_KIND[decision.action]
    if kind != "node":
        body[f"{kind}_id"] = bounded(decision.object_id)  # ids come from the caller: bounded
    if decision.action in DATA_ACTIONS:
        body |= {"contract_id": bounded(decision.contract_id), "tier": decision.tier}
        body["context"] = bounded(
            {k: v for k, v in context.items() if isinstance(v, str | int | float | bool) or v is None}
        )
    return body


def decide(
    s: Session,
    party: Viewer,
    action: str,
    object_id: str | None,
    context: dict[str, Any] | None = None,
    *,
    log: Node | None = None,
) -> Decision:
    """The decision alone, read in ``s`` (no log entry); ``log`` lets rule 8 expire a contract."""
    if action in DATA_ACTIONS and context and context.get("contract_id") is not None:
        # rule 11 first: a contract the party may not know answers as an unknown one, whatever
        # dataset it names (a private dataset's id must not come back in the error)
        wanted = str(context["contract_id"])
        contract = s.get(ContractRow, wanted)
        if contract is None or not isinstance(party, Party) or not may_know_contract(party, contract):
            return Decision(False, "contract.unknown", action, None, wanted)
        if object_id is None:  # the dataset the contract names
            if contract.consumer_id != party.id:
                return Decision(False, "contract.not_yours", action, None, wanted)
            object_id = contract.dataset_id
    if isinstance(party, str):  # anonymous: public catalog entries only
        d = _anonymous(s, action, object_id)
    else:
        d = _RULES[OBJECT_KIND[action]](s, Ask(party, action, object_id, context or {}, log))
    return replace(d, action=action, object_id=object_id)


# -- catalog visibility (rules 1-2) -------------------------------------------------------------------
def _anonymous(s: Session, action: str, dataset_id: str | None) -> Decision:
    dataset = s.get(DatasetRow, dataset_id) if dataset_id and OBJECT_KIND[action] == "dataset" else None
    if dataset is None or _private(s, dataset):
        return Decision(False, f"{OBJECT_KIND[action]}.unknown")
    if action == "read_metadata":
        return Decision(True, "metadata.public")
    return Decision(
        False, "party.anonymous", message="sign in: an anonymous client reads public entries only"
    )


def visible_datasets(party: Viewer) -> ColumnElement[bool] | None:
    """Rule 2 as a SQL condition on ``DatasetRow`` (``None``: every dataset is visible)."""
    private = (
        exists()
        .where(DatasetMetadataRow.dataset_id == DatasetRow.id, DatasetMetadataRow.visibility == "private")
        .correlate_except(DatasetMetadataRow)  # the outer query may join the metadata table itself
    )
    return visible_condition(party, dataset_id=DatasetRow.id, owner_id=DatasetRow.owner_id, private=private)


def visible_condition(
    party: Viewer,
    *,
    dataset_id: ColumnElement[str] | InstrumentedAttribute[str],
    owner_id: ColumnElement[str] | InstrumentedAttribute[str],
    private: ColumnElement[bool],
) -> ColumnElement[bool] | None:
    """Rule 2 over any row naming a dataset, its owner and whether it is private (the catalog
    table, or the search index's copy of those columns); ``None``: every row is visible."""
    if party is None or (isinstance(party, Party) and party.is_operator):
        return None
    if not isinstance(party, Party):
        return ~private
    holder = (
        exists()
        .where(ContractRow.dataset_id == dataset_id, ContractRow.consumer_id == party.id)
        .correlate_except(ContractRow)
    )
    return or_(~private, owner_id == party.id, holder)


def is_visible(s: Session, party: Party | None, dataset: DatasetRow) -> bool:
    """Rule 2 for one dataset."""
    meta = s.get(DatasetMetadataRow, dataset.id)
    if meta is None or meta.visibility != "private":
        return True
    if party is None or party.is_operator or party.id == dataset.owner_id:
        return True
    holder = select(ContractRow.id).where(
        ContractRow.dataset_id == dataset.id, ContractRow.consumer_id == party.id
    )
    return s.scalars(holder).first() is not None


def _is_operator(party: Party | None) -> bool:
    return party is None or party.is_operator


# -- datasets (rules 1-10) ----------------------------------------------------------------------------
def _dataset(s: Session, ask: Ask) -> Decision:
    party, action, dataset_id, context, node = ask
    dataset = s.get(DatasetRow, dataset_id) if dataset_id else None
    if dataset is None or not is_visible(s, party, dataset):
        return Decision(False, "dataset.unknown")
    owner = party is not None and party.id == dataset.owner_id
    if action == "read_metadata":
        if _private(s, dataset):
            who = "owner" if owner else "operator" if _is_operator(party) else "contract"
            return Decision(True, f"metadata.private.{who}")
        return Decision(True, "metadata.public")
    if action in DATA_ACTIONS:
        assert party is not None, "data actions are always taken by a party"
        return _data(s, party, action, dataset, context, node)
    if action in OWNER_ONLY:
        if owner:
            return Decision(True, "manage.owner")
        return Decision(False, "manage.owner", message=_OWNER_ONLY_MESSAGES[action].format(id=dataset.id))
    if owner or _is_operator(party):
        rule = "owner.details" if action == "read_details" else "manage.owner_or_operator"
        return Decision(True, rule)
    message = _OWNER_OR_OPERATOR_MESSAGES.get(action, "only the owner of {id} (or the operator) may do this")
    rule = "owner.details" if action == "read_details" else "manage.owner_or_operator"
    return Decision(False, rule, message=message.format(id=dataset.id))


_OWNER_ONLY_MESSAGES: Final = {
    "set_privacy": "only the owner of {id} may set its privacy metadata",
    "set_fingerprint": "only the dataset's owner may declare its fingerprint tolerances",
    "create_offer": "only the owner of {id} may offer it",
    "derive": "only the owner of {id} may register data derived from it",
    "value": "{id} is not yours to value",
}
_OWNER_OR_OPERATOR_MESSAGES: Final = {
    "describe": "only the owner of {id} (or the operator) may describe it",
    "classify": "only the owner of {id} or the operator may change its classification",
    "evaluate_quality": "only the owner of {id} (or the operator) may evaluate its quality",
    "anonymize": "only the owner of {id} may anonymize it",
    "prepare_psi": "only the owner of {id} (or the operator) may prepare its PSI sets",
    "record_consent": "only the owner of {id} or the operator records consent withdrawals",
    "see_demands": "only the owner of {id} (or the operator) sees the demands it matches",
    "join_product": "dataset {id} is not yours: only the operator combines other providers' datasets",
    "read_details": "only the owner of {id} (or the operator) sees its full report",
}


def _private(s: Session, dataset: DatasetRow) -> bool:
    meta = s.get(DatasetMetadataRow, dataset.id)
    return meta is not None and meta.visibility == "private"


def _data(
    s: Session, party: Party, action: str, dataset: DatasetRow, context: dict[str, Any], node: Node | None
) -> Decision:
    if party.role == "auditor":
        return Decision(False, "auditor.no_data")
    if party.id == dataset.owner_id:
        return Decision(True, "owner")
    if party.is_operator:
        return Decision(False, "operator.no_data")
    wanted = context.get("contract_id")
    if wanted is not None:
        row = s.scalars(select(ContractRow).where(ContractRow.id == str(wanted)).with_for_update()).first()
        if row is None or row.consumer_id != party.id:
            return Decision(False, "contract.not_yours", contract_id=str(wanted))
        if row.dataset_id != dataset.id:
            return Decision(False, "contract.other_dataset", contract_id=row.id, tier=row.tier)
        return contract_allows(s, row, action, context, node)
    q = (
        select(ContractRow)
        .where(ContractRow.consumer_id == party.id, ContractRow.dataset_id == dataset.id)
        .order_by(ContractRow.created_at)
        .with_for_update()
    )
    rows = list(s.scalars(q))
    if not rows:
        return Decision(False, "contract.none")
    decisions = [contract_allows(s, row, action, context, node) for row in rows]
    return next((d for d in decisions if d.allow), decisions[-1])


def contract_allows(
    s: Session, row: ContractRow, action: str, context: dict[str, Any], node: Node | None = None
) -> Decision:
    """Rule 8 on one contract row (locked by the caller); ``node`` lets it expire a due contract."""

    def deny(rule: str) -> Decision:
        return Decision(False, rule, contract_id=row.id, tier=row.tier)

    if row.state not in FINAL and row.expires_at is not None and row.expires_at <= utc_now():
        if node is not None:
            transition(
                s, row, "expire", actor=NODE_ACTOR, reason="the contract's expiry passed", log=node.log
            )
        else:
            return deny("contract.expired")
    if row.state != "active":
        return deny(f"contract.{row.state}")
    if TIERS.index(row.tier) < TIERS.index(MIN_TIER[action]):
        return deny("tier.too_low")
    if action == "psi" and context.get("mode") in PSI_EXACT_MODES and row.tier not in MEMBERS_TIERS:
        return replace(
            deny("psi.exact_needs_L3"),
            message=f"PSI {context.get('mode')} mode needs an L3 or L4 contract ({row.id} is {row.tier}): "
            "an exact answer says whether a named person is in the data; ask a DP count with --epsilon",
        )
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
    if action == "dp_query" or context.get("epsilon"):
        spent = spent_account(s, row.dataset_id, row.consumer_id)
        if spent is not None:
            whose = "your party's" if spent.spent_up() == "party" else "the"
            return replace(
                deny("dataset.epsilon_cap"),
                message=f"{whose} lifetime ε cap on this dataset (or on data it derives from) is "
                "reached: no more ε can be spent on it, under any contract",
            )
    return Decision(True, f"contract.{row.tier}", contract_id=row.id, tier=row.tier)


# -- contracts and offers (rules 11-12) ---------------------------------------------------------------
def _contract(s: Session, ask: Ask) -> Decision:
    party, action, contract_id, _context, _node = ask
    row = s.get(ContractRow, contract_id) if contract_id else None
    if row is None or not may_know_contract(party, row):
        return Decision(False, "contract.unknown", contract_id=contract_id)
    if action == "read_contract":
        return Decision(True, "contract.party", contract_id=row.id)
    if action in ("approve", "reject") and party is not None and party.id == row.consumer_id:
        return Decision(
            False,
            "contract.own_request",
            contract_id=row.id,
            message=f"a party cannot {action} its own request",
        )
    if (party is not None and party.id == row.provider_id) or (action == "revoke" and _is_operator(party)):
        return Decision(True, "contract.provider", contract_id=row.id)
    who = "the dataset's owner or the operator" if action == "revoke" else "the dataset's owner"
    return Decision(
        False, "contract.provider", contract_id=row.id, message=f"only {who} may {action} contract {row.id}"
    )


def may_know_contract(party: Party | None, row: ContractRow) -> bool:
    """Rule 11: a contract exists for its two parties, the operator and auditors; for anyone else
    it answers as an unknown id."""
    return (
        party is None
        or party.id in (row.provider_id, row.consumer_id)
        or party.role in ("operator", "auditor")
    )


def _offer(s: Session, ask: Ask) -> Decision:
    party, _action, offer_id, _context, _node = ask
    row = s.get(OfferRow, offer_id) if offer_id else None
    dataset = s.get(DatasetRow, row.dataset_id) if row is not None else None
    if row is None or dataset is None or not is_visible(s, party, dataset):
        return Decision(False, "offer.unknown")
    if party is None or party.role not in ("consumer", "provider"):
        role = "operator" if party is None else party.role
        return Decision(
            False, "offer.requester", message=f"a party with role {role!r} cannot request contracts"
        )
    if row.provider_id == party.id:
        return Decision(False, "offer.own", message="a provider cannot request a contract on its own offer")
    return Decision(True, "offer.requester")


def visible_offers(party: Viewer) -> ColumnElement[bool] | None:
    """Rule 1 for offers as a SQL condition on ``OfferRow``: the offers of visible datasets."""
    visible = visible_datasets(party)
    if visible is None:
        return None
    return exists().where(DatasetRow.id == OfferRow.dataset_id, visible).correlate_except(DatasetRow)


# -- demands, jobs, products (rules 13-15) ------------------------------------------------------------
def _demand(s: Session, ask: Ask) -> Decision:
    party, _action, demand_id, _context, _node = ask
    row = s.get(DemandRow, demand_id) if demand_id else None
    if row is None:
        return Decision(False, "demand.unknown")
    if _is_operator(party) or (party is not None and party.id == row.consumer_id):
        return Decision(True, "demand.consumer")
    return Decision(
        False,
        "demand.consumer",
        message=f"only the consumer who posted {row.id} (or the operator) may close it",
    )


def _job(s: Session, ask: Ask) -> Decision:
    party, action, job_id, _context, _node = ask
    row = s.get(ComputeJobRow, job_id) if job_id else None
    if row is None:
        return Decision(False, "job.unknown")
    consumer = party is not None and party.id == row.consumer_id
    if action == "read_job_output":
        return Decision(True, "job.consumer") if consumer else Decision(False, "job.unknown")
    if consumer or party is None or party.role in ("operator", "auditor"):
        return Decision(True, "job.reader")
    dataset = s.get(DatasetRow, row.dataset_id)
    if dataset is not None and dataset.owner_id == party.id:
        return Decision(True, "job.reader")
    return Decision(False, "job.unknown")


def _product_visible(s: Session, party: Party | None, row: ProductRow) -> bool:
    """A product exists for a party that may see every one of its member datasets (rule 2)."""
    members = select(ProductMemberRow.dataset_id).where(ProductMemberRow.product_id == row.id)
    for dataset_id in s.scalars(members):
        dataset = s.get(DatasetRow, dataset_id)
        if dataset is None or not is_visible(s, party, dataset):
            return False
    return True


def visible_products(party: Viewer) -> ColumnElement[bool] | None:
    """Rule 15 as a SQL condition on ``ProductRow``: products whose members are all visible."""
    visible = visible_datasets(party)
    if visible is None:
        return None
    hidden = (
        exists()
        .where(
            ProductMemberRow.product_id == ProductRow.id,
            ProductMemberRow.dataset_id == DatasetRow.id,
            ~visible,
        )
        .correlate_except(ProductMemberRow, DatasetRow)
    )
    return ~hidden


def _product(s: Session, ask: Ask) -> Decision:
    party, action, product_id, _context, _node = ask
    row = s.get(ProductRow, product_id) if product_id else None
    if row is None or not _product_visible(s, party, row):
        return Decision(False, "product.unknown")
    if action == "read_product":
        return Decision(True, "product.visible")
    if action == "buy_product":
        if party is not None and party.role in ("consumer", "provider"):
            return Decision(True, "product.buyer")
        role = "operator" if party is None else party.role
        return Decision(False, "product.buyer", message=f"a party with role {role!r} cannot buy products")
    if _is_operator(party) or (party is not None and party.id == row.creator_id):
        return Decision(True, "product.valuer")
    assert party is not None
    member = select(ProductMemberRow.dataset_id).where(
        ProductMemberRow.product_id == row.id, ProductMemberRow.provider_id == party.id
    )
    if s.scalars(member).first() is not None:
        return Decision(True, "product.valuer")
    return Decision(False, "product.valuer", message=f"{row.id} is not yours to value")


# -- parties and the node (rules 13, 15-17) -----------------------------------------------------------
def _party(s: Session, ask: Ask) -> Decision:
    party, action, party_id, _context, _node = ask
    if action == "register_for":
        if not _is_operator(party) and party is not None and party_id != party.id:
            return Decision(
                False, "party.self", message="a party registers data for itself only; leave out the owner"
            )
        owner = s.get(PartyRow, party_id) if party_id else None
        if owner is None:
            return Decision(False, "party.unknown")
        if owner.role not in ("provider", "operator"):
            return Decision(
                False,
                "party.provider",
                message=f"party {owner.id} has role {owner.role!r}; only providers own datasets",
            )
        return Decision(True, "party.self")
    if party is None or party.role in ("operator", "auditor") or party.id == party_id:
        return Decision(True, "party.self")
    if action == "read_wallet":
        return Decision(
            False, "party.self", message="a wallet is readable by its party, the operator and auditors"
        )
    return Decision(False, "party.self", message="a party reads its own ledger statement only")


_NODE_RULES: Final[dict[str, tuple[tuple[str, ...], str, str]]] = {
    "post_demand": (
        ("consumer",),
        "demand.consumer",
        "only consumers post demands; party {id} has role {role!r}",
    ),
    "create_product": (
        ("operator", "provider"),
        "product.creator",
        "a party with role {role!r} cannot create products",
    ),
    "deposit": (
        ("operator",),
        "operator.only",
        "only the node operator records deposits (money arriving from outside)",
    ),
    "set_fee": (("operator",), "operator.only", "only the node operator sets the exchange's fee rate"),
    "verify_ledger": (
        ("operator", "auditor"),
        "operator.only",
        "only the operator and auditors verify the whole ledger",
    ),
    "manage_parties": (("operator",), "operator.only", "only the node operator may do this"),
    "set_privacy_defaults": (
        ("operator",),
        "operator.only",
        "only the node operator sets the default lifetime ε caps of datasets",
    ),
}


def _node(_s: Session, ask: Ask) -> Decision:
    party, action, _object_id, _context, _node = ask
    roles, rule, message = _NODE_RULES[action]
    role = "operator" if party is None else party.role
    if role in roles:
        return Decision(True, rule)
    return Decision(False, rule, message=message.format(id=party.id if party else "", role=role))


_RULES: Final = {
    "dataset": _dataset,
    "offer": _offer,
    "contract": _contract,
    "demand": _demand,
    "job": _job,
    "product": _product,
    "party": _party,
    "node": _node,
}

__all__ = [
    "ACTIONS",
    "ANONYMOUS",
    "DATA_ACTIONS",
    "MIN_TIER",
    "OBJECT_KIND",
    "TIERS",
    "Decision",
    "Viewer",
    "allows",
    "authorize",
    "check",
    "contract_allows",
    "decide",
    "error_of",
    "is_visible",
    "visible_condition",
    "visible_contracts",
    "visible_datasets",
    "visible_offers",
    "visible_products",
]
