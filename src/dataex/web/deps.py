"""Dependencies of the web pages: the node, the signed-in party, role gates, CSRF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from dataex.errors import Forbidden, NotFound
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.web import session


def get_exchange(request: Request) -> Exchange:
    """The node the console was mounted for (``mount_web`` keeps it on the app)."""
    ex: Exchange = request.app.state.web_exchange
    return ex


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]


def signed_in(request: Request, ex: ExchangeDep) -> Party:
    """The session's party; LoginRequired (a redirect to /login) without one."""
    party_id = session.current(request).party_id
    if party_id is None:
        raise session.LoginRequired()
    try:
        return ex.get_party(party_id)
    except NotFound as e:  # the party was removed after sign-in
        raise session.LoginRequired() from e


SignedIn = Annotated[Party, Depends(signed_in)]


def role(*roles: str) -> Callable[..., Party]:
    """A page for some roles only (the operator passes too); others get the 403 page."""

    def dependency(party: SignedIn) -> Party:
        if party.role not in roles and not party.is_operator:
            raise Forbidden(f"this page is for the role {' / '.join(roles)}; you are {party.role}")
        return party

    return dependency


Provider = Annotated[Party, Depends(role("provider"))]
Consumer = Annotated[Party, Depends(role("consumer"))]
Auditor = Annotated[Party, Depends(role("auditor"))]
CSRF = [Depends(session.check_csrf)]
