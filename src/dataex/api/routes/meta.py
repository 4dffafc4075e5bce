"""The API's own version, for clients to check once (``dataex.sdk.connect``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dataex import __version__

API_VERSION = 1
"""Bump on an incompatible change of the HTTP API; clients refuse a node newer than they know."""

router = APIRouter(tags=["meta"])


class VersionOut(BaseModel):
    api: int = Field(description="The HTTP API version (incompatible changes bump it)")
    dataex: str = Field(description="The dataex release the node runs")


@router.get("/version", response_model=VersionOut)
def version() -> dict[str, object]:
    return {"api": API_VERSION, "dataex": __version__}
