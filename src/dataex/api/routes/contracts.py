"""Offers and contracts. Every handler parses, calls one service of dataex.contracts, returns.

The services check the acting party against the offer or contract (owner, consumer, operator,
auditor) and log refusals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from dataex.api.contracts_models import (
    ContractDecision,
    ContractPublic,
    ContractRequest,
    OfferCreate,
    OfferPublic,
)
from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.contracts import lifecycle
from dataex.contracts.lifecycle import Contract
from dataex.contracts.offers import Offer, create_offer, list_offers

router = APIRouter(tags=["contracts"])
JSONLD = "application/ld+json"


@router.post("/offers", response_model=OfferPublic, status_code=201)
def create(body: OfferCreate, ex: ExchangeDep, party: CurrentParty) -> Offer:
    options = body.model_dump(exclude={"dataset_id", "price"})
    price = body.price.model_dump() if not isinstance(body.price, str | int) else body.price
    return create_offer(ex, body.dataset_id, actor=party, price=price, **options)


@router.get("/offers", response_model=list[OfferPublic])
def offers(
    ex: ExchangeDep, party: CurrentParty, dataset: Annotated[str | None, Query()] = None
) -> list[Offer]:
    return list_offers(ex, viewer=party, dataset_id=dataset)


@router.post("/offers/{offer_id}/contracts", response_model=ContractPublic, status_code=201)
def request(offer_id: str, body: ContractRequest, ex: ExchangeDep, party: CurrentParty) -> Contract:
    return lifecycle.request_contract(ex, offer_id, actor=party, purpose=body.purpose, note=body.note)


@router.get("/contracts", response_model=list[ContractPublic])
def contracts(
    ex: ExchangeDep, party: CurrentParty, dataset: Annotated[str | None, Query()] = None
) -> list[Contract]:
    return lifecycle.list_contracts(ex, actor=party, dataset_id=dataset)


@router.get("/contracts/{contract_id}", response_model=ContractPublic)
def show(contract_id: str, ex: ExchangeDep, party: CurrentParty) -> Contract:
    return lifecycle.get_contract(ex, contract_id, actor=party)


@router.post("/contracts/{contract_id}/approve", response_model=ContractPublic)
def approve(contract_id: str, body: ContractDecision, ex: ExchangeDep, party: CurrentParty) -> Contract:
    return lifecycle.approve_contract(ex, contract_id, actor=party, reason=body.reason)


@router.post("/contracts/{contract_id}/reject", response_model=ContractPublic)
def reject(contract_id: str, body: ContractDecision, ex: ExchangeDep, party: CurrentParty) -> Contract:
    return lifecycle.reject_contract(ex, contract_id, actor=party, reason=body.reason)


@router.post("/contracts/{contract_id}/revoke", response_model=ContractPublic)
def revoke(contract_id: str, body: ContractDecision, ex: ExchangeDep, party: CurrentParty) -> Contract:
    return lifecycle.revoke_contract(ex, contract_id, actor=party, reason=body.reason)


@router.get("/contracts/{contract_id}/odrl", response_model=dict[str, Any])
def odrl(contract_id: str, ex: ExchangeDep, party: CurrentParty) -> JSONResponse:
    return JSONResponse(lifecycle.contract_odrl(ex, contract_id, actor=party), media_type=JSONLD)
