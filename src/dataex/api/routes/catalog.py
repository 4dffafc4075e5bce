"""Catalog: dataset metadata, Croissant documents and the node's DCAT catalog."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dataex.api.catalog_models import MetadataPublic, MetadataUpdate
from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.catalog import croissant, dcat
from dataex.catalog.metadata import ANONYMOUS, Metadata, Viewer, describe, get_metadata

router = APIRouter(tags=["catalog"])
_optional_bearer = HTTPBearer(auto_error=False, description="A party's API token (optional here)")


def viewer(
    ex: ExchangeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]
) -> Viewer:
    """The calling party, or ``"anonymous"`` when no token is sent (public data needs none)."""
    return ex.authenticate(credentials.credentials) if credentials else ANONYMOUS


ViewerDep = Annotated[Viewer, Depends(viewer)]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _public(meta: Metadata) -> dict[str, Any]:
    return {"id": meta.dataset_id, **asdict(meta)}


@router.get("/datasets/{dataset_id}/croissant", response_model=dict[str, Any])
def croissant_document(dataset_id: str, request: Request, ex: ExchangeDep, who: ViewerDep) -> dict[str, Any]:
    """The dataset's Croissant 1.1 JSON-LD (contentUrl is the node's data route)."""
    return croissant.export_croissant(ex, dataset_id, local=False, base_url=_base_url(request), viewer=who)


@router.get("/datasets/{dataset_id}/metadata", response_model=MetadataPublic)
def read_metadata(dataset_id: str, ex: ExchangeDep, who: ViewerDep) -> dict[str, Any]:
    return _public(get_metadata(ex, dataset_id, viewer=who))


@router.put("/datasets/{dataset_id}/metadata", response_model=MetadataPublic)
def update_metadata(
    dataset_id: str, body: MetadataUpdate, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    """Change a dataset's metadata (its owner, or the operator)."""
    meta = describe(ex, dataset_id, actor=party, **body.model_dump(exclude_none=True))
    return _public(meta)


@router.get("/catalog/dcat", response_model=dict[str, Any])
def dcat_catalog(request: Request, ex: ExchangeDep) -> dict[str, Any]:
    """A DCAT 3 JSON-LD catalog of every public dataset on the node."""
    return dcat.dcat_catalog(ex, base_url=_base_url(request))
