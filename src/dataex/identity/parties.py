"""Parties (providers, consumers, auditors, the operator) and their API tokens.

A token is shown once, when its party is created; the node keeps only its SHA-256. Tokens are 256
random bits, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.db.models import PartyRow
from dataex.errors import InvalidInput, PartyNotFound, Unauthorized

Role = Literal["provider", "consumer", "auditor", "operator"]
Kind = Literal[
    "hospital", "enterprise", "government", "insurer", "research", "ai_team", "individual", "other"
]
ROLES: tuple[str, ...] = get_args(Role)
KINDS: tuple[str, ...] = get_args(Kind)
TOKEN_PREFIX = "dxt_"  # noqa: S105  (a prefix, not a secret)


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


def insert_party(session: Session, *, name: str, kind: str, role: str) -> tuple[PartyRow, str]:
    """Adds a party row (the caller logs it in the same transaction); returns it and its token."""
    name = validate_party(name, kind, role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = PartyRow(
        id=new_id("pty"),
        name=name,
        kind=kind,
        role=role,
        token_hash=hash_token(token),
        created_at=datetime.now(UTC),
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
    """The party holding ``token``; ``Unauthorized`` for a missing or unknown token (no detail)."""
    if not token:
        raise Unauthorized("missing token: pass --as TOKEN or an Authorization: Bearer header")
    row = session.scalar(select(PartyRow).where(PartyRow.token_hash == hash_token(token)))
    if row is None:
        raise Unauthorized("unknown token")
    return Party.of(row)
