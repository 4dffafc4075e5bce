"""Wire models of the DP SQL routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from dataex.config import MAX_CONTRIBUTIONS, MAX_EPSILON, MAX_LIST_ITEMS, MAX_NAME_CHARS, MAX_SQL_CHARS


class QueryRequest(BaseModel):
    sql: str = Field(
        max_length=MAX_SQL_CHARS,
        description="One aggregate SELECT over the contract's dataset (see docs/dp.md)",
    )
    epsilon: float = Field(gt=0, le=MAX_EPSILON, description="ε to spend on this query (> 0)")
    engine: Literal["duckdb", "spark"] | None = None
    explain: bool = Field(False, description="Return the plan only; nothing is charged")


class AnswerPublic(BaseModel):
    contract_id: str
    dataset_id: str
    columns: list[str]
    rows: list[dict[str, Any]]
    intervals: list[dict[str, list[float] | None]]
    epsilon_charged: float
    delta_charged: float
    epsilon_remaining: float | None
    cached: bool
    engine: str
    query_hash: str
    explain: dict[str, Any] | None = None
    notes: list[str] = []


class PrivacySettingsUpdate(BaseModel):
    unit: str = Field(max_length=MAX_NAME_CHARS, description="Privacy unit column, or 'row'")
    max_contributions: int = Field(1, ge=1, le=MAX_CONTRIBUTIONS)
    bounds: dict[str, tuple[float, float]] = {}
    domains: dict[str, list[str]] = {}
    key_threshold: int | None = None
    not_null: list[str] = Field(
        default=[], max_length=MAX_LIST_ITEMS, description="Bounded columns declared without missing values"
    )


class PrivacySettingsPublic(BaseModel):
    dataset_id: str
    unit: str
    max_contributions: int
    bounds: dict[str, tuple[float, float]]
    domains: dict[str, list[str]]
    key_threshold: int | None
    not_null: list[str] = []
    log_index: int
