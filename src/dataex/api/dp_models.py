"""Wire models of the DP SQL routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class QueryRequest(BaseModel):
    sql: str = Field(description="One aggregate SELECT over the contract's dataset (see docs/dp.md)")
    epsilon: float = Field(description="ε to spend on this query (> 0)")
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
    unit: str = Field(description="Privacy unit column, or 'row'")
    max_contributions: int = 1
    bounds: dict[str, tuple[float, float]] = {}
    domains: dict[str, list[str]] = {}
    key_threshold: int | None = None
    not_null: list[str] = Field(default=[], description="Bounded columns declared without missing values")


class PrivacySettingsPublic(BaseModel):
    dataset_id: str
    unit: str
    max_contributions: int
    bounds: dict[str, tuple[float, float]]
    domains: dict[str, list[str]]
    key_threshold: int | None
    not_null: list[str] = []
    log_index: int
