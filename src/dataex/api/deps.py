"""Shared dependencies: the node, the acting party."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dataex.contracts.authorize import Decision, authorize
from dataex.errors import Forbidden
from dataex.exchange import Exchange
from dataex.identity.parties import Party

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


def operator(party: CurrentParty) -> Party:
    if not party.is_operator:
        raise Forbidden("only the node operator may do this")
    return party


Operator = Annotated[Party, Depends(operator)]


def authorized(action: str) -> Callable[..., Decision]:
    """A dependency running ``authorize(party, action, {dataset_id})``; a denial becomes HTTP 403."""

    def dependency(
        dataset_id: str, ex: ExchangeDep, party: CurrentParty, contract_id: str | None = None
    ) -> Decision:
        context = {"contract_id": contract_id} if contract_id else {}
        return authorize(ex, party, action, dataset_id, context).raise_if_denied()

    dependency.__dataex_authorize__ = action  # type: ignore[attr-defined]
    return dependency
