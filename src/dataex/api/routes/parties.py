"""Parties: the operator adds and lists them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dataex.api.deps import CurrentParty, ExchangeDep, Operator
from dataex.api.models import PartyCreate, PartyCreated, PartyPublic
from dataex.identity.parties import Party

router = APIRouter(prefix="/parties", tags=["parties"])


@router.post("", response_model=PartyCreated, status_code=201)
def create_party(body: PartyCreate, ex: ExchangeDep, op: Operator) -> dict[str, Any]:
    party, token = ex.create_party(body.name, kind=body.kind, role=body.role, actor=op.id)
    return {**party.__dict__, "token": token}


@router.get("", response_model=list[PartyPublic])
def list_parties(ex: ExchangeDep, _op: Operator) -> list[Party]:
    return ex.list_parties()


@router.get("/me", response_model=PartyPublic)
def me(party: CurrentParty) -> Party:
    return party
