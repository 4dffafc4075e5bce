"""Web sessions: a party token is exchanged once for a signed cookie; CSRF tokens derive from it.

The cookie ``dx_session`` holds ``base64url(json{p, n, t}) "." base64url(HMAC-SHA256)``: the party
id (``p``, ``None`` before sign-in), a random nonce (``n``, renewed at sign-in and sign-out) and the
issue time (``t``). Never the token. The HMAC key is derived from the node's Ed25519 private key, so
every worker of a node accepts the same cookies and no secret is added to the home. The CSRF token
of a session is ``HMAC(key, "csrf" | nonce)``: forms carry it in the ``csrf`` field, htmx requests
in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import serialization
from fastapi import Request, Response

from dataex.exchange import Exchange
from dataex.identity import signed

COOKIE: Final = "dx_session"
TTL_SECONDS: Final = 8 * 3600
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

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_node(cls, ex: Exchange) -> Signer:
        raw = ex.key.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(hmac.new(raw, b"dataex web session v1", hashlib.sha256).digest())

    def dumps(self, session: WebSession) -> str:
        return signed.sign(self._key, {"p": session.party_id, "n": session.nonce, "t": session.issued})

    def loads(self, value: str | None, *, now: float | None = None) -> WebSession | None:
        """The session in a cookie, or None when it is missing, forged or older than the TTL."""
        data = signed.verify(self._key, value)
        if data is None:
            return None
        party, nonce, issued = data.get("p"), data.get("n"), data.get("t")
        if not isinstance(nonce, str) or not isinstance(issued, int) or not isinstance(party, str | None):
            return None
        if (now if now is not None else time.time()) - issued > TTL_SECONDS:
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
    if found is None:
        found = fresh()
        request.state.web_session_new = True
    request.state.web_session = found
    return found


def replace(request: Request, session: WebSession) -> None:
    """Makes ``session`` the request's session (sign-in, sign-out); the response will carry it."""
    request.state.web_session = session
    request.state.web_session_new = True


def write_cookie(request: Request, response: Response) -> None:
    """Sets the session cookie on ``response`` when the request created or replaced its session."""
    if not getattr(request.state, "web_session_new", False):
        return
    signer: Signer = request.app.state.web_signer
    response.set_cookie(
        COOKIE,
        signer.dumps(request.state.web_session),
        max_age=TTL_SECONDS,
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

