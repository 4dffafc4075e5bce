"""Wire models of the classification routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FieldClassificationOut(BaseModel):
    name: str
    type: str
    confidence: float
    category: str
    grade: str
    spans: dict[str, int] | None = Field(
        default=None, description="free_text_with_pii only: identifiers found per kind in the sample"
    )
    note: str | None = None


class OverrideOut(BaseModel):
    type: str
    reason: str
    actor: str
    at: str


class ClassificationOut(BaseModel):
    dataset_id: str
    grade: str
    minors: bool = Field(description="the data holds people under 14 (PIPL art. 28: sensitive)")
    fields: list[FieldClassificationOut]
    overrides: dict[str, OverrideOut]
    computed_at: datetime


class OverrideIn(BaseModel):
    field: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=40, description="a field type such as cn_resident_id")
    reason: str = Field(max_length=1000, description="required: why the override is right")
