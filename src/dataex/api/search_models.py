"""Wire models of search and the demand board (never table rows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class SearchHitOut(BaseModel):
    dataset_id: str
    title: str
    owner_id: str
    license: str
    score: float = Field(description="Relevance; higher is better; comparable within one backend only")
    snippet: str = Field(description="Escaped HTML; query terms wrapped in <mark>…</mark>")
    matched_fields: list[str]


class SearchResultOut(BaseModel):
    query: str
    terms: list[str] = Field(description="The query's search terms after segmentation")
    mode: Literal["all", "any"] = Field(description="'any' when no dataset matched every term")
    total: int
    hits: list[SearchHitOut]


class DemandCreate(BaseModel):
    """Limits are checked by the service, so a bad demand gets the usual 400 error envelope."""

    title: str = Field(description="1 to 500 characters")
    fields: list[str] = Field(description="1 to 50 wanted fields, e.g. image, report, age")
    purpose: str = Field(description="1 to 500 characters")
    budget: int | None = Field(default=None, description="In fen (1 yuan = 100 fen), 0 or more")
    deadline: date | None = Field(default=None, description="Today or later")
    description: str = Field(default="", description="At most 10,000 characters")


class DemandPublic(BaseModel):
    id: str
    consumer_id: str
    title: str
    description: str
    fields: list[str]
    purpose: str
    budget: int | None
    deadline: date | None
    status: str
    created_at: datetime


class FieldMatchOut(BaseModel):
    field: str = Field(description="The wanted field")
    column: str = Field(description="The dataset column that serves it")
    reason: str = Field(description="same_name, synonym, semantic_type, name_part or description")
    score: float


class MatchOut(BaseModel):
    dataset_id: str
    title: str
    owner_id: str
    score: float
    field_score: float
    text_score: float
    matched_fields: list[FieldMatchOut]
    missing_fields: list[str]


class DemandMatchOut(BaseModel):
    demand: DemandPublic
    score: float
    field_score: float
    text_score: float
    matched_fields: list[FieldMatchOut]
    missing_fields: list[str]
