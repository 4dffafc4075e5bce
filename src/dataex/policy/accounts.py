"""The dataset-level privacy-loss account as the policy reads it (rule 8, ``dataset.epsilon_cap``).

A dataset's lifetime ε account caps what all its consumers together may spend on it (``cap``) and
what each party may spend across all its contracts (``party_cap``). A charge of ε under a contract
on a dataset is taken from the account of that dataset and of every dataset it derives from (its
``derived_from`` chain): a release derived from the data spends the same people's privacy.

The caps are the owner's (``dataex privacy set --epsilon-cap … --epsilon-cap-per-party …``) or,
where the owner set none, the node's defaults (:class:`PrivacyAccountDefaultsRow`, else the built-in
:data:`BUILTIN_EPSILON_CAP_NANO` and no separate per-party cap). :mod:`dataex.contracts.budget`
charges the accounts; this module only reads them, so that the policy and lifecycle can refuse a
query or an approval once an account is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from dataex.db.models import (
    DatasetPrivacyAccountRow,
    DatasetPrivacySpendRow,
    DatasetRow,
    PrivacyAccountDefaultsRow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NANO: Final = 1_000_000_000
"""ε units per 1.0 (the same fixed point as contracts' budgets: 1e-9)."""
BUILTIN_EPSILON_CAP_NANO: Final = 10 * NANO
"""The node's default lifetime ε cap of a dataset when neither the owner nor the operator set one."""
BUILTIN_EPSILON_CAP_PER_PARTY_NANO: Final[int | None] = None
"""No separate per-party default: each party is bounded by the dataset's total."""
MAX_LINEAGE: Final = 64
"""How far a ``derived_from`` chain is followed (a cycle cannot be registered; this bounds a bad one)."""


@dataclass(frozen=True)
class AccountState:
    """One dataset's account as seen for one party (all amounts in ε units of 1e-9)."""

    dataset_id: str
    cap: int
    cap_source: Literal["owner", "node"]
    party_cap: int | None
    party_cap_source: Literal["owner", "node"]
    spent: int
    party_id: str | None
    party_spent: int

    @property
    def remaining(self) -> int:
        return max(self.cap - self.spent, 0)

    @property
    def party_remaining(self) -> int | None:
        return None if self.party_cap is None else max(self.party_cap - self.party_spent, 0)

    def spent_up(self) -> Literal["dataset", "party"] | None:
        """Which cap is reached (``None``: ε may still be spent)."""
        if self.spent >= self.cap:
            return "dataset"
        if self.party_cap is not None and self.party_spent >= self.party_cap:
            return "party"
        return None

    def affords(self, amount: int) -> Literal["dataset", "party"] | None:
        """Which cap ``amount`` more would exceed (``None``: it fits both)."""
        if amount > self.remaining:
            return "dataset"
        left = self.party_remaining
        if left is not None and amount > left:
            return "party"
        return None


def sources(s: Session, dataset_id: str) -> list[str]:
    """The dataset and every dataset it derives from (``derived_from``), nearest first."""
    chain: list[str] = []
    current: str | None = dataset_id
    while current is not None and current not in chain and len(chain) < MAX_LINEAGE:
        row = s.get(DatasetRow, current)
        if row is None:
            break
        chain.append(row.id)
        current = row.derived_from
    return chain


def node_defaults(s: Session) -> tuple[int, int | None]:
    """The node's default (total cap, per-party cap), in ε units of 1e-9."""
    row = s.get(PrivacyAccountDefaultsRow, 1)
    if row is None:
        return BUILTIN_EPSILON_CAP_NANO, BUILTIN_EPSILON_CAP_PER_PARTY_NANO
    return row.epsilon_cap_nano, row.epsilon_cap_per_party_nano


def account_state(
    s: Session,
    dataset_id: str,
    party_id: str | None,
    *,
    defaults: tuple[int, int | None] | None = None,
) -> AccountState:
    """The account of ``dataset_id`` for ``party_id`` as the session sees it (the caller locks)."""
    default_cap, default_party_cap = defaults if defaults is not None else node_defaults(s)
    row = s.get(DatasetPrivacyAccountRow, dataset_id)
    own_cap = None if row is None else row.epsilon_cap_nano
    own_party_cap = None if row is None else row.epsilon_cap_per_party_nano
    spend = None if party_id is None else s.get(DatasetPrivacySpendRow, (dataset_id, party_id))
    return AccountState(
        dataset_id=dataset_id,
        cap=default_cap if own_cap is None else own_cap,
        cap_source="node" if own_cap is None else "owner",
        party_cap=default_party_cap if own_party_cap is None else own_party_cap,
        party_cap_source="node" if own_party_cap is None else "owner",
        spent=0 if row is None else row.spent_epsilon_nano,
        party_id=party_id,
        party_spent=0 if spend is None else spend.spent_epsilon_nano,
    )


def spent_account(s: Session, dataset_id: str, party_id: str) -> AccountState | None:
    """The first account along the dataset's lineage whose cap ``party_id`` has reached, if any."""
    defaults = node_defaults(s)
    for source in sources(s, dataset_id):
        state = account_state(s, source, party_id, defaults=defaults)
        if state.spent_up() is not None:
            return state
    return None
