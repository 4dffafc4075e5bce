"""The API's dependencies: the node, the acting party (its bearer token), the operator gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.policy import check

_bearer = HTTPBearer(auto_error=False, description="A party's API token")


def get_exchange(request: Request) -> Exchange:
    ex: Exchange = request.app.state.exchange
    return ex


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]


def current_party(
    ex: ExchangeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Party:
    return ex.authenticate(credentials.credentials if credentials else None)


CurrentParty = Annotated[Party, Depends(current_party)]


def operator(ex: ExchangeDep, party: CurrentParty) -> Party:
    """Operator-only routes (parties, deposits): the policy's ``manage_parties`` rule."""
    check(ex, party, "manage_parties")
    return party


Operator = Annotated[Party, Depends(operator)]
