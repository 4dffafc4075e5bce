"""Wire models of the catalog routes: dataset metadata in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FieldMetadata(BaseModel):
    description: str = ""
    semantic_type: str | None = None


class MetadataPublic(BaseModel):
    id: str = Field(description="The dataset id")
    description: str
    keywords: list[str]
    temporal_coverage: str | None
    spatial_coverage: str | None
    languages: list[str]
    fields: dict[str, FieldMetadata]
    rai: dict[str, str | list[str]] = Field(description="Croissant RAI properties by snake_case key")
    visibility: Literal["public", "private"]
    updated_at: datetime | None


class MetadataUpdate(BaseModel):
    """Parts to change; an absent (null) part is kept as it is."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    keywords: list[str] | None = None
    fields: dict[str, str] | None = Field(default=None, description="column → description ('' removes)")
    semantic_types: dict[str, str] | None = Field(
        default=None, description="column → e.g. sc:Text, wd:Q48277"
    )
    rai: dict[str, str | list[str] | None] | None = Field(
        default=None, description="RAI property → text or list of texts (null removes)"
    )
    temporal_coverage: str | None = None
    spatial_coverage: str | None = None
    languages: list[str] | None = None
    visibility: Literal["public", "private"] | None = None
