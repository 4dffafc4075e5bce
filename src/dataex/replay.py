"""State from the log: replay every entry, rebuild the mutable state, compare it with the database.

The database is a cache of the log. Each projection below folds the entries that change one kind of
state and names every difference with the database as ``state_mismatch``, e.g.
``contract ctr_… state: the log says revoked, the database says active``. An operator who edits a
table directly — turns a revoked contract back to active, multiplies its remaining ε, changes a
wallet balance, a party's role or status, deletes a consent withdrawal or flips a dataset's
visibility — is named by ``audit verify``, because the signed, witnessed log says otherwise.

Projections (event → state):

* **contracts** — ``contract.<event>`` (``to``) → ``state``; ``contract.requested`` (``budget``, in
  exact units: ε in 1e-9, δ in 1e-18) and every ``budget.charged`` (``remaining``) → the remaining
  ε, δ, rows and queries.
* **privacy accounts** — ``budget.charged`` (``privacy_accounts``) → each dataset's lifetime ε spent and
  each party's spend on it.
* **wallets** — every entry carrying a ``posting`` (``lines``: ``[account, amount]``) → each
  account's balance (the double-entry ledger's postings ride on the entries that cause them).
* **parties** — ``party.added`` (``role``) and ``party.suspended`` / ``party.reinstated`` → the
  role and whether the party is suspended.
* **consent** — ``consent.withdrawn`` (``dataset_id``, ``subject_hash``) → the withdrawals.
* **metadata** — ``dataset.described`` (``metadata_sha256``, ``visibility``) → the descriptive
  metadata (every field, visibility included, through its SHA-256) of each dataset.

Replaying is one pass over the entries in index order (linear; ``bench/log.py`` has the time for a
large log). An entry that does not parse is reported by the entry checks and skipped here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataex.db.models import (
    AccountRow,
    ConsentWithdrawalRow,
    ContractRow,
    DatasetMetadataRow,
    DatasetPrivacyAccountRow,
    DatasetPrivacySpendRow,
    DatasetRow,
    PartyRow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

EPS_SCALE = 10**9
DELTA_SCALE = 10**18
BUDGET_FIELDS = {
    "epsilon": ("remaining_epsilon_nano", EPS_SCALE),
    "delta": ("remaining_delta_atto", DELTA_SCALE),
    "rows": ("remaining_rows", 1),
    "queries": ("remaining_queries", 1),
}
REQUESTED_KEYS = {"epsilon": "epsilon_nano", "delta": "delta_atto", "rows": "rows", "queries": "queries"}
"""``contract.requested``'s ``budget`` keys (exact units) for each budget."""
UNKNOWN = object()
"""A value the log does not determine (an entry written before the event carried it)."""

Problem = Callable[..., None]


def _units(value: Any, scale: int) -> int | None:
    if value is None:
        return None
    return round(float(value) * scale) if scale != 1 else int(value)


@dataclass
class Replay:
    """The state the log's entries imply, built by :meth:`apply` one entry body at a time."""

    contract_state: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    party_role: dict[str, str] = field(default_factory=dict)
    party_suspended: dict[str, bool] = field(default_factory=dict)
    withdrawals: set[tuple[str, str]] = field(default_factory=set)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    epsilon_spent: dict[str, int] = field(default_factory=dict)
    party_epsilon_spent: dict[tuple[str, str], int] = field(default_factory=dict)
    applied: int = 0

    def apply(self, body: dict[str, Any]) -> None:
        event, data = body.get("event"), body.get("data")
        if not isinstance(event, str) or not isinstance(data, dict):
            return
        self.applied += 1
        posting = data.get("posting")
        if isinstance(posting, dict):
            for line in posting.get("lines") or []:
                account, amount = line
                self.balances[str(account)] += int(amount)
        if event.startswith("contract.") and "contract_id" in data and "to" in data:
            cid = str(data["contract_id"])
            self.contract_state[cid] = str(data["to"])
            if event == "contract.requested":
                budget = data.get("budget")
                self.budgets[cid] = (
                    {name: budget.get(key) for name, key in REQUESTED_KEYS.items()}
                    if isinstance(budget, dict)
                    else {}
                )
        elif event == "budget.charged" and isinstance(data.get("remaining"), dict):
            remaining = data["remaining"]
            self.budgets[str(data["contract_id"])] = {
                name: _units(remaining.get(name), scale) for name, (_col, scale) in BUDGET_FIELDS.items()
            }
            for account in data.get("privacy_accounts") or []:
                dataset_id = str(account["dataset_id"])
                self.epsilon_spent[dataset_id] = round(float(account["epsilon_spent"]) * EPS_SCALE)
                key = (dataset_id, str(account["party_id"]))
                self.party_epsilon_spent[key] = round(float(account["party_epsilon_spent"]) * EPS_SCALE)
        elif event == "party.added":
            self.party_role[str(data["party_id"])] = str(data.get("role"))
            self.party_suspended[str(data["party_id"])] = False
        elif event in ("party.suspended", "party.reinstated") and "party_id" in data:
            self.party_suspended[str(data["party_id"])] = event == "party.suspended"
        elif event == "consent.withdrawn":
            self.withdrawals.add((str(data["dataset_id"]), str(data["subject_hash"])))
        elif event == "dataset.registered" and data.get("visibility") == "private":
            self.metadata[str(data["dataset_id"])] = {"sha256": None, "visibility": "private"}
        elif event == "dataset.described" and "metadata_sha256" in data:
            self.metadata[str(data["dataset_id"])] = {
                "sha256": data["metadata_sha256"],
                "visibility": data.get("visibility", UNKNOWN),
            }

    # -- comparing -----------------------------------------------------------------------------
    def compare(self, s: Session, problem: Problem) -> dict[str, int]:
        """Reports every difference between this replay and the database; returns what was checked."""
        counts = {
            "contracts": self._contracts(s, problem),
            "wallets": self._wallets(s, problem),
            "parties": self._parties(s, problem),
            "consent": self._consent(s, problem),
            "metadata": self._metadata(s, problem),
            "privacy_accounts": self._privacy_accounts(s, problem),
        }
        return {f"state:{k}": v for k, v in counts.items()}

    def _contracts(self, s: Session, problem: Problem) -> int:
        rows = {r.id: r for r in s.scalars(select(ContractRow))}
        for cid in sorted(set(rows) | set(self.contract_state)):
            row, logged = rows.get(cid), self.contract_state.get(cid)
            if row is None:
                problem(
                    f"contract {cid}: the log records it, the database has no such contract", contract_id=cid
                )
                continue
            if logged is None:
                problem(f"contract {cid}: the database holds it, the log never recorded it", contract_id=cid)
                continue
            if row.state != logged:
                problem(
                    f"contract {cid} state: the log says {logged}, the database says {row.state}",
                    contract_id=cid,
                    field="state",
                )
            budget = self.budgets.get(cid) or {}
            for name, (column, scale) in BUDGET_FIELDS.items():
                if name not in budget:
                    continue  # an entry from before requests carried their budget
                want, have = budget[name], getattr(row, column)
                if want != have:
                    problem(
                        f"contract {cid} remaining {name}: the log says {_show(want, scale)}, "
                        f"the database says {_show(have, scale)}",
                        contract_id=cid,
                        field=f"remaining_{name}",
                    )
        return len(rows)

    def _wallets(self, s: Session, problem: Problem) -> int:
        rows = {r.id: r.balance for r in s.scalars(select(AccountRow))}
        for account in sorted(set(rows) | {a for a, n in self.balances.items() if n}):
            want, have = self.balances.get(account, 0), rows.get(account)
            if have is None:
                problem(
                    f"account {account}: the log posts to it, the database has no such account",
                    account=account,
                )
            elif want != have:
                problem(
                    f"account {account} balance: the log says {want}, the database says {have}",
                    account=account,
                    field="balance",
                )
        return len(rows)

    def _parties(self, s: Session, problem: Problem) -> int:
        rows = list(s.scalars(select(PartyRow)))
        for row in rows:
            role = self.party_role.get(row.id)
            if role is None:
                problem(f"party {row.id}: the database holds it, the log never recorded it", party_id=row.id)
                continue
            if row.role != role:
                problem(
                    f"party {row.id} role: the log says {role}, the database says {row.role}",
                    party_id=row.id,
                    field="role",
                )
            suspended = row.suspended_at is not None
            if suspended != self.party_suspended.get(row.id, False):
                want = "suspended" if self.party_suspended.get(row.id) else "active"
                have = "suspended" if suspended else "active"
                problem(
                    f"party {row.id} status: the log says {want}, the database says {have}",
                    party_id=row.id,
                    field="status",
                )
        return len(rows)

    def _consent(self, s: Session, problem: Problem) -> int:
        stored = {(r.dataset_id, r.subject_hash) for r in s.scalars(select(ConsentWithdrawalRow))}
        for dataset_id, subject in sorted(self.withdrawals - stored):
            problem(
                f"dataset {dataset_id}: the log records a consent withdrawal (subject {subject[:12]}…) "
                "the database no longer holds",
                dataset_id=dataset_id,
                field="consent",
            )
        for dataset_id, subject in sorted(stored - self.withdrawals):
            problem(
                f"dataset {dataset_id}: the database holds a consent withdrawal (subject {subject[:12]}…) "
                "the log never recorded",
                dataset_id=dataset_id,
                field="consent",
            )
        return len(stored)

    def _privacy_accounts(self, s: Session, problem: Problem) -> int:
        """Each dataset's lifetime ε spent, and each party's, as the last charge entry left them."""
        accounts = {r.dataset_id: r.spent_epsilon_nano for r in s.scalars(select(DatasetPrivacyAccountRow))}
        for dataset_id in sorted(set(accounts) | set(self.epsilon_spent)):
            want, have = self.epsilon_spent.get(dataset_id, 0), accounts.get(dataset_id, 0)
            if want != have:
                problem(
                    f"dataset {dataset_id} lifetime ε spent: the log says {want / EPS_SCALE:g}, "
                    f"the database says {have / EPS_SCALE:g}",
                    dataset_id=dataset_id,
                    field="epsilon_spent",
                )
        spends = {
            (r.dataset_id, r.party_id): r.spent_epsilon_nano
            for r in s.scalars(select(DatasetPrivacySpendRow))
        }
        for key in sorted(set(spends) | set(self.party_epsilon_spent)):
            want, have = self.party_epsilon_spent.get(key, 0), spends.get(key, 0)
            if want != have:
                problem(
                    f"dataset {key[0]} ε spent by party {key[1]}: the log says {want / EPS_SCALE:g}, "
                    f"the database says {have / EPS_SCALE:g}",
                    dataset_id=key[0],
                    party_id=key[1],
                    field="party_epsilon_spent",
                )
        return len(accounts)

    def _metadata(self, s: Session, problem: Problem) -> int:
        from dataex.catalog.metadata import Metadata

        ids = list(s.scalars(select(DatasetRow.id)))
        for dataset_id in ids:
            row = s.get(DatasetMetadataRow, dataset_id)
            current = Metadata(dataset_id=dataset_id) if row is None else Metadata.of(row)
            logged = self.metadata.get(dataset_id)
            if logged and logged["sha256"] is None:  # registered private, never described since
                want = Metadata(dataset_id=dataset_id, visibility="private").sha256()
            else:
                want = logged["sha256"] if logged else Metadata(dataset_id=dataset_id).sha256()
            if current.sha256() == want:
                continue
            visibility = logged.get("visibility", UNKNOWN) if logged else "public"
            if visibility is not UNKNOWN and visibility != current.visibility:
                problem(
                    f"dataset {dataset_id} visibility: the log says {visibility}, "
                    f"the database says {current.visibility}",
                    dataset_id=dataset_id,
                    field="visibility",
                )
            else:
                problem(
                    f"dataset {dataset_id} metadata: differs from what the log last described",
                    dataset_id=dataset_id,
                    field="metadata",
                )
        return len(ids)


def _show(value: int | None, scale: int) -> str:
    if value is None:
        return "unlimited"
    return f"{value / scale:g}" if scale != 1 else str(value)
