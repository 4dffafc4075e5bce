"""Web sessions: a party token is exchanged once for a signed cookie; CSRF tokens derive from it.

The cookie ``dx_session`` holds ``base64url(json{p, n, t}) "." base64url(HMAC-SHA256)``: the party
id (``p``, ``None`` before sign-in), a random nonce (``n``, renewed at sign-in and sign-out) and the
issue time (``t``). Never the token. The HMAC key is derived from the node's Ed25519 private key, so
every worker of a node accepts the same cookies and no secret is added to the home. The CSRF token
of a session is ``HMAC(key, "csrf" | nonce)``: forms carry it in the ``csrf`` field, htmx requests
in the ``X-CSRF-Token`` header.

A signed-in session is also a row of ``web_sessions`` (``WebSessionRow``: SHA-256 of the nonce, the
party, the end), written at sign-in; a signed cookie counts only while its row is open, unexpired,
and its party live (not suspended, token not expired). Sign-out, a token rotation and a suspension
revoke the row, so a replayed cookie is anonymous at once. The lifetime is
``Settings.session_ttl_seconds`` (default 8 h).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography.hazmat.primitives import serialization
from fastapi import Request, Response

from dataex.db.models import PartyRow, WebSessionRow
from dataex.exchange import Exchange
from dataex.identity import signed
from dataex.identity.parties import is_live

COOKIE: Final = "dx_session"
TTL_SECONDS: Final = 8 * 3600  # the default of Settings.session_ttl_seconds
MAX_COOKIE_CHARS: Final = 1024
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"


class LoginRequired(Exception):
    """The page needs a signed-in party; the web shell redirects to /login."""


class CsrfFailed(Exception):
    """A state-changing form came without the session's CSRF token."""


@dataclass(frozen=True)
class WebSession:
    party_id: str | None
    nonce: str
    issued: int


def fresh(party_id: str | None = None) -> WebSession:
    return WebSession(party_id=party_id, nonce=secrets.token_urlsafe(18), issued=int(time.time()))


class Signer:
    """Signs and checks session cookies and CSRF tokens with one node-derived key."""

    def __init__(self, key: bytes, ttl: int = TTL_SECONDS) -> None:
        self._key = key
        self.ttl = ttl

    @classmethod
    def for_node(cls, ex: Exchange) -> Signer:
        raw = ex.key.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        key = hmac.new(raw, b"dataex web session v1", hashlib.sha256).digest()
        return cls(key, ex.settings.session_ttl_seconds)

    def dumps(self, session: WebSession) -> str:
        return signed.sign(self._key, {"p": session.party_id, "n": session.nonce, "t": session.issued})

    def loads(self, value: str | None, *, now: float | None = None) -> WebSession | None:
        """The session in a cookie, or None when it is missing, forged or older than the TTL."""
        if value is not None and len(value) > MAX_COOKIE_CHARS:
            return None
        data = signed.verify(self._key, value)
        if data is None:
            return None
        party, nonce, issued = data.get("p"), data.get("n"), data.get("t")
        if not isinstance(nonce, str) or not isinstance(issued, int) or not isinstance(party, str | None):
            return None
        if (now if now is not None else time.time()) - issued > self.ttl:
            return None
        return WebSession(party_id=party, nonce=nonce, issued=issued)

    def csrf(self, session: WebSession) -> str:
        return signed.b64(signed.mac(self._key, b"csrf|" + session.nonce.encode()))

    def csrf_ok(self, session: WebSession, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf(session))


def current(request: Request) -> WebSession:
    """The request's session; a new anonymous one (set on the response by ``render``) if none."""
    found: WebSession | None = getattr(request.state, "web_session", None)
    if found is not None:
        return found
    signer: Signer = request.app.state.web_signer
    found = signer.loads(request.cookies.get(COOKIE))
    if (
        found is not None
        and found.party_id is not None
        and not is_open(request.app.state.web_exchange, found)
    ):
        found = None  # signed out, rotated, suspended or expired: the cookie is worth nothing
    if found is None:
        found = fresh()
        request.state.web_session_new = True
    request.state.web_session = found
    return found


def record_id(session: WebSession) -> str:
    return hashlib.sha256(session.nonce.encode("utf-8")).hexdigest()


def is_open(ex: Exchange, session: WebSession) -> bool:
    """Whether ``session``'s server-side record is open, unexpired, and its party live."""
    now = datetime.now(UTC)
    with ex.session() as s:
        row = s.get(WebSessionRow, record_id(session))
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or row.party_id != session.party_id
        ):
            return False
        party = s.get(PartyRow, row.party_id)
        return party is not None and is_live(party, now)


def replace(request: Request, session: WebSession) -> None:
    """Makes ``session`` the request's session (sign-in, sign-out); the response will carry it.
    The old session's record is revoked and a signed-in new one gets its record, in one transaction."""
    ex: Exchange = request.app.state.web_exchange
    old: WebSession | None = getattr(request.state, "web_session", None)
    if old is None:
        old = request.app.state.web_signer.loads(request.cookies.get(COOKIE))
    now = datetime.now(UTC)
    with ex.transaction() as s:
        if old is not None and old.party_id is not None:
            row = s.get(WebSessionRow, record_id(old))
            if row is not None and row.revoked_at is None:
                row.revoked_at = now
        if session.party_id is not None:
            ttl = request.app.state.web_signer.ttl
            s.add(
                WebSessionRow(
                    id=record_id(session),
                    party_id=session.party_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                    revoked_at=None,
                )
            )
    request.state.web_session = session
    request.state.web_session_new = True


def signed_in_cookie(ex: Exchange, signer: Signer, cookie: str | None) -> bool:
    """Whether ``cookie`` is an open signed-in session of ``ex`` (the edge's check for large bodies)."""
    found = signer.loads(cookie)
    return found is not None and found.party_id is not None and is_open(ex, found)


def write_cookie(request: Request, response: Response) -> None:
    """Sets the session cookie on ``response`` when the request created or replaced its session."""
    if not getattr(request.state, "web_session_new", False):
        return
    signer: Signer = request.app.state.web_signer
    response.set_cookie(
        COOKIE,
        signer.dumps(request.state.web_session),
        max_age=signer.ttl,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


async def check_csrf(request: Request) -> None:
    """A dependency of every web POST: the form's ``csrf`` field or the htmx header must match."""
    signer: Signer = request.app.state.web_signer
    session = current(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not signer.csrf_ok(session, presented):
        raise CsrfFailed()
