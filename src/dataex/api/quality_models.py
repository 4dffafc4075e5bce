"""Wire models of the quality routes (never the table row)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Dimensions(BaseModel):
    normativity: float
    completeness: float
    accuracy: float
    consistency: float
    timeliness: float
    accessibility: float


class LabelIssuesOut(BaseModel):
    count: int
    target: str | None = None
    examined: int = 0
    rows: list[int] | None = Field(default=None, description="0-based row positions; owner and operator only")


class QualityReportOut(BaseModel):
    dataset_id: str
    view: str = Field(description="owner (full) or public (redacted)")
    grade: str
    score: float
    dimensions: Dimensions
    details: dict[str, Any]
    rows: int
    columns: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    label_issues: LabelIssuesOut
    personal_fields: str
    notes: list[str]
    computed_at: str | None = None


class QualityRequest(BaseModel):
    rules: str | None = Field(default=None, description="A rules file in YAML (see docs/quality.md)")
    target: str | None = Field(default=None, description="Label column to search for label issues")
