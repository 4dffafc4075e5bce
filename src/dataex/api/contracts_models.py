"""Wire models of offers and contracts (never table rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from dataex.config import (
    MAX_COUNT,
    MAX_EPSILON,
    MAX_EXPIRY_YEAR,
    MAX_FEN,
    MAX_ID_CHARS,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
)

Fen = Annotated[int, Field(ge=0, le=MAX_FEN)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


class PriceModel(BaseModel):
    amount_fen: Fen | None = Field(
        None, description="Integer fen (0.01 CNY) per unit; derived when a schedule is given"
    )
    unit: str = Field("flat", max_length=20, description="flat, row, epsilon, query or job")
    schedule: list[list[Any]] | None = Field(
        None,
        max_length=MAX_LIST_ITEMS,
        description="Per-ε price points [[ε, fen], …] (unit epsilon), checked arbitrage-free",
    )

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class OfferCreate(BaseModel):
    dataset_id: str = Field(max_length=MAX_ID_CHARS)
    tier: str = Field(max_length=10, description="L0, L1, L2, L3 or L4")
    purposes: list[Name] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    expires: str | None = Field(
        None, max_length=40, description="YYYY-MM-DD (end of that day, UTC) or ISO 8601 time"
    )
    price: PriceModel | Annotated[str, Field(max_length=40)] | Fen = Field(
        0, description='fen (2000), yuan per unit ("0.02/row"), or an object'
    )
    epsilon: float | None = Field(None, gt=0, le=MAX_EPSILON)
    delta: float | None = Field(None, ge=0, lt=1)
    max_rows: Count | None = None
    max_queries: Count | None = None
    prohibitions: list[Name] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    duties: list[Name] | None = Field(None, max_length=MAX_LIST_ITEMS)
    approval: str = Field("manual", max_length=20)
    legal_basis: str | None = Field(None, max_length=MAX_NAME_CHARS)

    @field_validator("expires")
    @classmethod
    def _expiry_year(cls, value: str | None) -> str | None:
        """A year beyond ``MAX_EXPIRY_YEAR`` would overflow the end-of-day arithmetic."""
        year = value[:4] if value else ""
        if year.isdigit() and int(year) > MAX_EXPIRY_YEAR:
            raise ValueError(f"an expiry must be in {MAX_EXPIRY_YEAR} or earlier")
        return value


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
    purpose: str = Field(max_length=MAX_NAME_CHARS)
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class ContractDecision(BaseModel):
    reason: str | None = Field(None, max_length=MAX_NOTE_CHARS)


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
