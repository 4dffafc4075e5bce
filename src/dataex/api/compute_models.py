"""Wire models of PSI and compute-to-data: protocol messages are base64 strings, never identifiers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

PSI_MESSAGE_MAX = 64 << 20
"""Base64 characters of one PSI message: 2^20 items of 33 bytes encoded, with room to spare."""


class PsiSessionRequest(BaseModel):
    mode: Literal["members", "count"]
    id_type: str = Field(max_length=40)
    column: str | None = Field(
        None, max_length=200, description="the provider's column; default: the one classified as id_type"
    )
    request: str = Field(
        max_length=PSI_MESSAGE_MAX, description="the client's PSI request (openmined-psi protobuf, base64)"
    )


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
    id_type: str = Field(max_length=40)
    column: str | None = Field(None, max_length=200)
    sql: str | None = Field(
        None,
        max_length=20_000,
        description="DP SQL over the table `matched`; null: the DP count of the intersection",
    )
    epsilon: float


class PsiThenStarted(BaseModel):
    session_id: str
    request: str
    provider_items: int
    ticket: str = Field(description="Signed session state: send it back with the finish call")


class PsiThenFinish(BaseModel):
    setup: str = Field(max_length=PSI_MESSAGE_MAX)
    response: str = Field(max_length=PSI_MESSAGE_MAX)
    consumer_items: int = Field(ge=0, le=1 << 20)
    ticket: str = Field(max_length=65_536)


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
    provider_items: int = Field(description="the node's set size, rounded up (docs/psi.md)")
    mechanism: str | None = Field(None, description="the DP count's mechanism (null for SQL answers)")


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
