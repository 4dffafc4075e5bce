"""Wire models of PSI and compute-to-data: protocol messages are base64 strings, never identifiers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class PsiSessionRequest(BaseModel):
    mode: Literal["members", "count"]
    id_type: str
    column: str | None = Field(
        None, description="the provider's column; default: the one classified as id_type"
    )
    request: str = Field(description="the client's PSI request (openmined-psi protobuf, base64)")


class PsiSessionPublic(BaseModel):
    session_id: str
    contract_id: str
    dataset_id: str
    mode: str
    id_type: str
    column: str
    setup: str
    response: str
    consumer_items: int
    provider_items: int
    setup_sha256: str


class PsiThenStart(BaseModel):
    id_type: str
    column: str | None = None
    sql: str
    epsilon: float


class PsiThenStarted(BaseModel):
    session_id: str
    request: str
    provider_items: int
    ticket: str = Field(description="Signed session state: send it back with the finish call")


class PsiThenFinish(BaseModel):
    setup: str
    response: str
    consumer_items: int
    ticket: str


class PsiThenAnswer(BaseModel):
    session_id: str
    contract_id: str
    dataset_id: str
    columns: list[str]
    rows: list[dict[str, Any]]
    intervals: list[dict[str, Any]]
    epsilon_charged: float
    delta_charged: float
    epsilon_remaining: float | None
    consumer_items: int
    provider_items: int


class ComputeRequest(BaseModel):
    recipe: str | dict[str, Any] = Field(description="the recipe as YAML text or as a JSON object")


class JobPublic(BaseModel):
    id: str
    contract_id: str
    dataset_id: str
    consumer_id: str
    state: str
    reason: str | None
    recipe: dict[str, Any]
    limits: dict[str, Any]
    metrics: dict[str, Any]
    outputs: dict[str, Any]
    usage: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
