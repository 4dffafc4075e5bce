"""Wire models of offers and contracts (never table rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer


class PriceModel(BaseModel):
    amount_fen: int | None = Field(
        None, description="Integer fen (0.01 CNY) per unit; derived when a schedule is given"
    )
    unit: str = Field("flat", description="flat, row, epsilon, query or job")
    schedule: list[list[Any]] | None = Field(
        None, description="Per-ε price points [[ε, fen], …] (unit epsilon), checked arbitrage-free"
    )

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class OfferCreate(BaseModel):
    dataset_id: str
    tier: str = Field(description="L0, L1, L2, L3 or L4")
    purposes: list[str] = Field(min_length=1)
    expires: str | None = Field(None, description="YYYY-MM-DD (end of that day, UTC) or ISO 8601 time")
    price: PriceModel | str | int = Field(
        0, description='fen (2000), yuan per unit ("0.02/row"), or an object'
    )
    epsilon: float | None = None
    delta: float | None = None
    max_rows: int | None = None
    max_queries: int | None = None
    prohibitions: list[str] = Field(default_factory=list)
    duties: list[str] | None = None
    approval: str = "manual"
    legal_basis: str | None = None


class OfferPublic(BaseModel):
    id: str
    dataset_id: str
    provider_id: str
    tier: str
    purposes: list[str]
    expires_at: datetime | None
    price: PriceModel
    epsilon: float | None
    delta: float | None
    max_rows: int | None
    max_queries: int | None
    prohibitions: list[str]
    duties: list[str]
    approval: str
    legal_basis: str | None
    policy: dict[str, Any] = Field(description="The W3C ODRL 2.2 Offer (JSON-LD)")
    created_at: datetime
    log_index: int


class ContractRequest(BaseModel):
    purpose: str
    note: str = Field("", max_length=2000)


class ContractDecision(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class RemainingModel(BaseModel):
    epsilon: float | None
    delta: float | None
    rows: int | None
    queries: int | None


class ContractPublic(BaseModel):
    id: str
    offer_id: str
    dataset_id: str
    provider_id: str
    consumer_id: str
    tier: str
    purpose: str
    note: str
    state: str
    expires_at: datetime | None
    remaining: RemainingModel
    reason: str | None
    agreement: dict[str, Any] | None = Field(description="The W3C ODRL 2.2 Agreement, once approved")
    created_at: datetime
    updated_at: datetime
