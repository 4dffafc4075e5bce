"""Search and the demand board: GET /search, /demands…, GET /datasets/{id}/demands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.search_models import (
    DemandCreate,
    DemandMatchOut,
    DemandPublic,
    MatchOut,
    SearchResultOut,
)
from dataex.catalog import demand as demands
from dataex.catalog.search import SearchResult, search

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResultOut)
def search_catalog(
    ex: ExchangeDep,
    party: CurrentParty,
    q: Annotated[str, Query(description="Words in Chinese and/or English")],
    license: str | None = None,
    owner: str | None = None,
    quality_grade: str | None = None,
    sensitivity: str | None = None,
    tier: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchResult:
    return search(
        ex,
        q,
        limit=limit,
        offset=offset,
        license=license,
        owner=owner,
        quality_grade=quality_grade,
        sensitivity=sensitivity,
        tier=tier,
        actor=party,
    )


@router.post("/demands", response_model=DemandPublic, status_code=201)
def post_demand(ex: ExchangeDep, party: CurrentParty, body: DemandCreate) -> demands.Demand:
    return demands.post_demand(ex, actor=party, **body.model_dump())


@router.get("/demands", response_model=list[DemandPublic])
def list_demands(ex: ExchangeDep, _party: CurrentParty, status: str = "open") -> list[demands.Demand]:
    return demands.list_demands(ex, status=status)


@router.get("/demands/{demand_id}", response_model=DemandPublic)
def show_demand(demand_id: str, ex: ExchangeDep, _party: CurrentParty) -> demands.Demand:
    return demands.get_demand(ex, demand_id)


@router.post("/demands/{demand_id}/close", response_model=DemandPublic)
def close_demand(demand_id: str, ex: ExchangeDep, party: CurrentParty) -> demands.Demand:
    return demands.close_demand(ex, demand_id, actor=party)


@router.get("/demands/{demand_id}/matches", response_model=list[MatchOut])
def demand_matches(
    demand_id: str, ex: ExchangeDep, party: CurrentParty, limit: int = 10
) -> list[demands.Match]:
    return demands.match_demand(ex, demand_id, limit=limit, actor=party)


@router.get("/datasets/{dataset_id}/demands", response_model=list[DemandMatchOut])
def dataset_demands(dataset_id: str, ex: ExchangeDep, party: CurrentParty) -> list[demands.DemandMatch]:
    return demands.demands_for_dataset(ex, dataset_id, actor=party)
