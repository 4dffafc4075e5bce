"""Wire models of the market: wallets, products, valuations, the ledger (never table rows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DepositCreate(BaseModel):
    amount_fen: Any = Field(description="A positive whole number of fen (1 yuan = 100 fen)")


class DepositPublic(BaseModel):
    id: str
    party_id: str
    amount_fen: int
    settled_orders: list[str]


class OrderPublic(BaseModel):
    id: str
    contract_id: str | None
    product_id: str | None
    consumer_id: str
    provider_id: str | None
    price: dict[str, Any]
    status: str
    flat_fen: int
    usage_fen: int
    refunded_fen: int
    created_at: str


class WalletPublic(BaseModel):
    id: str
    party_id: str
    balances: dict[str, int]
    orders: list[OrderPublic]


class ProductCreate(BaseModel):
    title: str
    dataset_ids: list[str] = Field(min_length=2)
    split: str = Field("rows", description="equal, rows or shapley")
    price_fen: int = 0


class ProductPublic(BaseModel):
    id: str
    title: str
    creator_id: str
    split: str
    price_fen: int
    columns: list[Any]
    members: list[dict[str, Any]]
    shares: dict[str, Any]
    duplicates: dict[str, Any]
    created_at: str
    log_index: int


class PurchasePublic(BaseModel):
    id: str
    product_id: str
    amount_fen: int
    fee_fen: int
    shares_fen: dict[str, int]
    posting_id: str


class ValuationPublic(BaseModel):
    id: str
    target_id: str
    method: str
    k: int
    dataset_sums: dict[str, float]
    provider_sums: dict[str, float]
    shares: dict[str, Any]
    total_value: float
    log_index: int
    rows: dict[str, list[float]] = Field(description="Per-row values of the caller's own datasets only")
    suspects: dict[str, list[int]]


class StatementPublic(BaseModel):
    id: str
    party_id: str | None
    accounts: dict[str, int]
    postings: list[dict[str, Any]]


class LedgerReport(BaseModel):
    ok: bool
    problems: list[str]
    trial_balance: int
    accounts: int
    postings: int
    lines: int
    totals: dict[str, int]
