"""Parties (providers, consumers, auditors, the operator) and their API tokens.

A token is shown once, when its party is created or its token rotated; the node keeps only its
SHA-256. Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
A token expires ``token_ttl_days`` after it was issued (``Settings.token_ttl_days``, default 365;
0: never); ``rotate_token`` replaces it (the old one stops working at once) and ``suspend`` refuses
a party's token until ``reinstate``. The console's sessions of a party end with either (the caller
revokes them in the same transaction: ``dataex.web.session``'s table is ``WebSessionRow``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dataex.db.models import PartyRow, WebSessionRow
from dataex.errors import InvalidInput, PartyNotFound, Unauthorized

Role = Literal["provider", "consumer", "auditor", "operator"]
Kind = Literal[
    "hospital", "enterprise", "government", "insurer", "research", "ai_team", "individual", "other"
]
ROLES: tuple[str, ...] = get_args(Role)
KINDS: tuple[str, ...] = get_args(Kind)
TOKEN_PREFIX = "dxt_"  # noqa: S105  (a prefix, not a secret)
MAX_TOKEN_CHARS = 200  # a presented token longer than this is refused unhashed


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    kind: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, row: PartyRow) -> Party:
        return cls(id=row.id, name=row.name, kind=row.kind, role=row.role, created_at=row.created_at)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def validate_party(name: str, kind: str, role: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a party needs a name of 1 to 200 characters")
    if kind not in KINDS:
        raise InvalidInput(f"unknown party kind {kind!r}; use one of {', '.join(KINDS)}")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return name


def _expiry(now: datetime, ttl_days: int) -> datetime | None:
    return now + timedelta(days=ttl_days) if ttl_days > 0 else None


def insert_party(
    session: Session, *, name: str, kind: str, role: str, token_ttl_days: int = 365
) -> tuple[PartyRow, str]:
    """Adds a party row (the caller logs it in the same transaction); returns it and its token."""
    name = validate_party(name, kind, role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = PartyRow(
        id=new_id("pty"),
        name=name,
        kind=kind,
        role=role,
        token_hash=hash_token(token),
        created_at=now,
        token_expires_at=_expiry(now, token_ttl_days),
    )
    session.add(row)
    session.flush()
    return row, token


def get_party(session: Session, party_id: str) -> Party:
    row = session.get(PartyRow, party_id)
    if row is None:
        raise PartyNotFound(party_id)
    return Party.of(row)


def list_parties(session: Session) -> list[Party]:
    return [Party.of(r) for r in session.scalars(select(PartyRow).order_by(PartyRow.created_at, PartyRow.id))]


def authenticate(session: Session, token: str | None) -> Party:
    """The party holding ``token``; ``Unauthorized`` for a missing, unknown, expired or suspended
    token, with one message for the last three (no detail)."""
    if not token:
        raise Unauthorized("missing token: pass --as TOKEN or an Authorization: Bearer header")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("unknown token")
    row = session.scalar(select(PartyRow).where(PartyRow.token_hash == hash_token(token)))
    if row is None or not is_live(row):
        raise Unauthorized("unknown token")
    return Party.of(row)


def is_live(row: PartyRow, now: datetime | None = None) -> bool:
    """Whether ``row``'s token (and so its sessions) may be used: not suspended, not expired."""
    now = now or datetime.now(UTC)
    return row.suspended_at is None and (row.token_expires_at is None or row.token_expires_at > now)


def revoke_sessions(session: Session, party_id: str, now: datetime | None = None) -> int:
    """Ends every open console session of ``party_id``; returns how many."""
    result = session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.party_id == party_id, WebSessionRow.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rotate_token(
    session: Session, party_id: str, *, token_ttl_days: int = 365
) -> tuple[Party, str, datetime | None]:
    """Gives ``party_id`` a new token (returned once) and ends its old token and its sessions at once;
    the caller logs it in the same transaction. Returns the party, the token and its expiry."""
    row = session.get(PartyRow, party_id, with_for_update=True)
    if row is None:
        raise PartyNotFound(party_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row.token_hash = hash_token(token)
    row.token_expires_at = _expiry(now, token_ttl_days)
    revoke_sessions(session, party_id, now)
    session.flush()
    return Party.of(row), token, row.token_expires_at


def set_suspended(session: Session, party_id: str, suspended: bool) -> Party:
    """Suspends (its token and sessions refused at once; sessions revoked) or reinstates a party."""
    row = session.get(PartyRow, party_id, with_for_update=True)
    if row is None:
        raise PartyNotFound(party_id)
    if row.role == "operator" and suspended:
        raise InvalidInput("the operator cannot be suspended (rotate its token instead)")
    now = datetime.now(UTC)
    row.suspended_at = now if suspended else None
    if suspended:
        revoke_sessions(session, party_id, now)
    session.flush()
    return Party.of(row)
