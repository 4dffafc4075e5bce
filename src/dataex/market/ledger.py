"""The double-entry settlement ledger: accounts, postings that balance, statements, verification.

Every account balance is in integer fen, signed so that **all balances sum to zero**:

=================  =====================================================  ===========
account            holds                                                  sign
=================  =====================================================  ===========
``wallet:<pty>``   a party's prepaid credits                              >= 0
``revenue:<pty>``  what a provider has earned                             >= 0
``due:<pty>``      what a party owes (a flat price it could not prepay)   <= 0
``fee``            the exchange's fee income                              >= 0
``funding``        money from outside (the counterpart of deposits)       <= 0
=================  =====================================================  ===========

A posting is one transaction: lines whose amounts sum to zero, written with the log entry that
names it (``posting``: ``{id, kind, lines}``) in the caller's database transaction. Writers lock
the log head first, then the accounts they touch (in id order), so postings are serialized on
SQLite and PostgreSQL alike and a wallet can never be overdrawn by concurrent charges.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, func, insert, select

from dataex.db.models import AccountRow, LogEntryRow, MarketSettingsRow, PostingLineRow, PostingRow
from dataex.errors import InsufficientFunds, IntegrityError, InvalidInput
from dataex.identity.parties import new_id
from dataex.ledger.log import TransparencyLog, iso, utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

FEE: Final = "fee"
FUNDING: Final = "funding"
DEFAULT_FEE_BPS: Final = 200
"""The exchange's fee rate until the operator sets one: 2 % (200 basis points)."""
NON_NEGATIVE: Final = ("wallet", "revenue", "fee")
NON_POSITIVE: Final = ("due", "funding")
_POSTINGS: Final = cast(Table, PostingRow.__table__)  # Core inserts: no ORM work per row
_LINES: Final = cast(Table, PostingLineRow.__table__)


def wallet(party_id: str) -> str:
    return f"wallet:{party_id}"


def revenue(party_id: str) -> str:
    return f"revenue:{party_id}"


def due(party_id: str) -> str:
    return f"due:{party_id}"


def kind_of(account_id: str) -> str:
    return account_id.split(":", 1)[0]


@dataclass(frozen=True)
class Posting:
    """A committed (or about to be committed) posting; ``lines`` are ``(account, fen)``."""

    id: str
    kind: str
    lines: list[tuple[str, int]]
    log_index: int
    contract_id: str | None = None
    order_id: str | None = None
    product_id: str | None = None
    memo: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """What the log entry carries about this posting (and what ``verify`` compares)."""
        return {"id": self.id, "kind": self.kind, "lines": [[a, n] for a, n in self.lines]}


def fee_bps(session: Session) -> int:
    """The fee rate, read once per session (dataex opens one session per transaction)."""
    cached = session.info.get("dataex.fee_bps")
    if isinstance(cached, int):
        return cached
    row = session.get(MarketSettingsRow, 1)
    bps = DEFAULT_FEE_BPS if row is None else row.fee_bps
    session.info["dataex.fee_bps"] = bps
    return bps


def set_fee_bps(session: Session, bps: int) -> None:
    if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= 10_000:
        raise InvalidInput(f"a fee rate is 0 to 10000 basis points; got {bps!r}")
    row = session.get(MarketSettingsRow, 1)
    if row is None:
        session.add(MarketSettingsRow(id=1, fee_bps=bps, updated_at=utc_now()))
    else:
        row.fee_bps, row.updated_at = bps, utc_now()
    session.info["dataex.fee_bps"] = bps
    session.flush()


def _accounts(session: Session, ids: list[str]) -> dict[str, AccountRow]:
    """The accounts ``ids`` (sorted), locked; the missing ones are created at zero."""
    q = select(AccountRow).where(AccountRow.id.in_(ids)).order_by(AccountRow.id).with_for_update()
    found = {r.id: r for r in session.scalars(q)}
    for account_id in ids:
        if account_id not in found:
            party = account_id.split(":", 1)[1] if ":" in account_id else None
            row = AccountRow(
                id=account_id, party_id=party, kind=kind_of(account_id), balance=0, created_at=utc_now()
            )
            session.add(row)
            found[account_id] = row
    return found


@dataclass(frozen=True)
class PostingSpec:
    """A posting to make: its lines, the log entry that names it (``event``, ``data``) and its ties."""

    kind: str
    lines: list[tuple[str, int]]
    actor: str
    event: str | None = "ledger.posted"
    data: dict[str, Any] | None = None
    contract_id: str | None = None
    order_id: str | None = None
    product_id: str | None = None
    memo: dict[str, Any] | None = None


def post(
    session: Session,
    log: TransparencyLog,
    *,
    kind: str,
    lines: list[tuple[str, int]],
    actor: str,
    event: str | None = "ledger.posted",
    data: dict[str, Any] | None = None,
    contract_id: str | None = None,
    order_id: str | None = None,
    product_id: str | None = None,
    memo: dict[str, Any] | None = None,
) -> Posting:
    """Posts ``lines`` (which must sum to zero) and logs them as ``event`` with ``data``.

    With ``event=None`` the posting is tied to the **next** log entry, which the caller must append
    in this transaction with ``{"posting": posting.record()}`` in its data (how an order rides on
    ``contract.activated``). A wallet that would go negative raises ``InsufficientFunds``; the
    caller's transaction then rolls back whole. ``post_many`` of one posting.
    """
    spec = PostingSpec(kind, lines, actor, event, data, contract_id, order_id, product_id, memo)
    return post_many(session, log, [spec])[0]


def post_many(session: Session, log: TransparencyLog, specs: Sequence[PostingSpec]) -> list[Posting]:
    """Posts ``specs`` in order, as if one by one, with one lock and one insert per table.

    Locks the log head, then every account the postings touch (in id order); checks each posting
    against the balances the earlier ones left (a wallet that would go negative raises
    ``InsufficientFunds`` and the caller's transaction rolls back whole); appends the postings' log
    entries in order (``append_many``); inserts the postings and their lines. At most one posting
    may have ``event=None``: it is tied to the entry after this call's entries.
    """
    cleaned: list[tuple[PostingSpec, list[tuple[str, int]]]] = []
    for spec in specs:
        lines = [(a, n) for a, n in spec.lines if n != 0]
        if not lines:
            raise InvalidInput("a posting needs at least one non-zero line")
        if sum(n for _, n in lines) != 0:
            raise IntegrityError(f"a {spec.kind} posting does not balance: {lines}")
        cleaned.append((spec, lines))
    if not cleaned:
        return []
    if sum(spec.event is None for spec in specs) > 1:
        raise IntegrityError("only one posting can ride on the caller's next log entry")
    head = log.lock(session)
    accounts = _accounts(session, sorted({a for _, lines in cleaned for a, _ in lines}))
    running = {a: row.balance for a, row in accounts.items()}
    for spec, lines in cleaned:
        _apply(running, spec.kind, lines)
    for a, row in accounts.items():
        if row.balance != running[a]:
            row.balance = running[a]
    postings = [
        Posting(
            id=new_id("pst"),
            kind=spec.kind,
            lines=lines,
            log_index=-1,
            contract_id=spec.contract_id,
            order_id=spec.order_id,
            product_id=spec.product_id,
            memo=spec.memo or {},
        )
        for spec, lines in cleaned
    ]
    logged = [
        (i, (spec.event, {"posting": postings[i].record(), **(spec.data or {})}, spec.actor))
        for i, (spec, _) in enumerate(cleaned)
        if spec.event is not None
    ]
    entries = log.append_many(session, [item for _, item in logged])
    indexes = {i: e.index for (i, _), e in zip(logged, entries, strict=True)}
    postings = [replace(p, log_index=indexes.get(i, head.size)) for i, p in enumerate(postings)]
    session.flush()  # new accounts exist before their lines
    now = utc_now()
    session.execute(
        insert(_POSTINGS),
        [
            {
                "id": p.id,
                "kind": p.kind,
                "contract_id": p.contract_id,
                "order_id": p.order_id,
                "product_id": p.product_id,
                "memo": p.memo,
                "log_index": p.log_index,
                "created_at": now,
            }
            for p in postings
        ],
    )
    session.execute(
        insert(_LINES),
        [{"posting_id": p.id, "account_id": a, "amount": n} for p in postings for a, n in p.lines],
    )
    return postings


def _apply(running: dict[str, int], kind: str, lines: list[tuple[str, int]]) -> None:
    """Adds one posting's lines to ``running`` balances, refusing an overdraft or a wrong sign."""
    change: dict[str, int] = defaultdict(int)
    for a, n in lines:
        change[a] += n
    for a, n in change.items():
        balance = running[a] + n
        if kind_of(a) == "wallet" and balance < 0:
            party = a.split(":", 1)[1]
            raise InsufficientFunds(
                f"party {party}'s wallet holds {running[a]} fen; {-n} fen are needed "
                f"(deposit with `dataex wallet deposit {party} AMOUNT`)",
                party_id=party,
                balance_fen=running[a],
                needed_fen=-n,
            )
        if (kind_of(a) in NON_NEGATIVE and balance < 0) or (kind_of(a) in NON_POSITIVE and balance > 0):
            raise IntegrityError(f"posting {kind} would leave account {a} at {balance} fen")
    for a, n in change.items():
        running[a] += n


# -- reading ---------------------------------------------------------------------------------------
def balance(session: Session, account_id: str) -> int:
    row = session.get(AccountRow, account_id)
    return 0 if row is None else row.balance


def party_balances(session: Session, party_id: str) -> dict[str, int]:
    """The party's wallet, revenue and due balances (0 for accounts never used)."""
    out = {"wallet": 0, "revenue": 0, "due": 0}
    for row in session.scalars(select(AccountRow).where(AccountRow.party_id == party_id)):
        out[row.kind] = row.balance
    return out


def statement(session: Session, party_id: str | None = None, *, limit: int = 1000) -> dict[str, Any]:
    """Accounts with balances and the postings touching them (all, or one party's)."""
    q = select(AccountRow).order_by(AccountRow.id)
    if party_id is not None:
        q = q.where(AccountRow.party_id == party_id)
    accounts = {r.id: r.balance for r in session.scalars(q)}
    lines_q = (
        select(PostingRow, PostingLineRow)
        .join(PostingLineRow, PostingLineRow.posting_id == PostingRow.id)
        .order_by(PostingRow.log_index, PostingLineRow.id)
    )
    if party_id is not None:
        mine = select(PostingLineRow.posting_id).where(PostingLineRow.account_id.in_(list(accounts) or [""]))
        lines_q = lines_q.where(PostingRow.id.in_(mine))
    postings: dict[str, dict[str, Any]] = {}
    for p, line in session.execute(lines_q):
        rec = postings.setdefault(
            p.id,
            {
                "id": p.id,
                "kind": p.kind,
                "log_index": p.log_index,
                "time": iso(p.created_at),
                "contract_id": p.contract_id,
                "order_id": p.order_id,
                "product_id": p.product_id,
                "lines": [],
            },
        )
        rec["lines"].append({"account": line.account_id, "amount_fen": line.amount})
    listed = list(postings.values())[-limit:]
    return {"party_id": party_id, "accounts": accounts, "postings": listed}


def verify(session: Session) -> dict[str, Any]:
    """Checks every ledger invariant; ``{"ok", "problems", "trial_balance", …}``."""
    problems: list[str] = []
    accounts = {r.id: r for r in session.scalars(select(AccountRow))}
    total = sum(r.balance for r in accounts.values())
    if total != 0:
        problems.append(f"trial balance: the accounts sum to {total} fen, not 0")
    sums: dict[str, int] = defaultdict(int)
    per_posting: dict[str, list[list[Any]]] = defaultdict(list)
    for line in session.scalars(select(PostingLineRow).order_by(PostingLineRow.id)):
        sums[line.account_id] += line.amount
        per_posting[line.posting_id].append([line.account_id, line.amount])
    for a, row in accounts.items():
        if row.balance != sums.get(a, 0):
            problems.append(
                f"account {a}: balance {row.balance} fen but its postings sum to {sums.get(a, 0)}"
            )
        if (row.kind in NON_NEGATIVE and row.balance < 0) or (row.kind in NON_POSITIVE and row.balance > 0):
            problems.append(f"account {a} ({row.kind}) has the wrong sign: {row.balance} fen")
    for a in set(sums) - set(accounts):
        problems.append(f"posting lines name the unknown account {a}")
    postings = list(session.scalars(select(PostingRow).order_by(PostingRow.log_index)))
    indexes = [p.log_index for p in postings]
    entries = {
        e.idx: e.entry for e in session.scalars(select(LogEntryRow).where(LogEntryRow.idx.in_(indexes)))
    }
    for p in postings:
        lines = per_posting.get(p.id, [])
        if not lines or sum(n for _, n in lines) != 0:
            problems.append(f"posting {p.id} does not balance: {lines}")
        raw = entries.get(p.log_index)
        if raw is None:
            problems.append(f"posting {p.id}: no log entry at index {p.log_index}")
            continue
        data = json.loads(raw).get("data", {})
        record = {"id": p.id, "kind": p.kind, "lines": lines}
        if data.get("posting") != record:
            problems.append(f"posting {p.id} differs from its log entry {p.log_index}")
    lines_total = session.scalar(select(func.count()).select_from(PostingLineRow)) or 0
    return {
        "ok": not problems,
        "problems": problems,
        "trial_balance": total,
        "accounts": len(accounts),
        "postings": len(postings),
        "lines": int(lines_total),
        "totals": _totals(accounts.values()),
    }


def _totals(rows: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r.kind] += r.balance
    return dict(out)
