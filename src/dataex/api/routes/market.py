"""Wallets, products, valuations and the ledger. Each handler parses, calls one dataex.market service."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from dataex.api.deps import CurrentParty, ExchangeDep, Operator
from dataex.api.market_models import (
    DepositCreate,
    DepositPublic,
    LedgerReport,
    ProductCreate,
    ProductPublic,
    PurchasePublic,
    StatementPublic,
    ValuationPublic,
    WalletPublic,
)
from dataex.market import products, settlement, valuation
from dataex.market.products import Product
from dataex.market.valuation import Valuation

router = APIRouter(tags=["market"])


@router.post("/wallets/{party_id}/deposits", response_model=DepositPublic, status_code=201)
def deposit(party_id: str, body: DepositCreate, ex: ExchangeDep, operator: Operator) -> dict[str, Any]:
    return settlement.deposit(ex, party_id, body.amount_fen, actor=operator)


@router.get("/wallets/{party_id}", response_model=WalletPublic)
def wallet(party_id: str, ex: ExchangeDep, party: CurrentParty) -> dict[str, Any]:
    return settlement.wallet_view(ex, party_id, actor=party)


@router.post("/products", response_model=ProductPublic, status_code=201)
def create_product(body: ProductCreate, ex: ExchangeDep, party: CurrentParty) -> Product:
    return products.create_product(
        ex,
        title=body.title,
        dataset_ids=body.dataset_ids,
        split=body.split,
        price_fen=body.price_fen,
        actor=party,
    )


@router.get("/products", response_model=list[ProductPublic])
def list_products(ex: ExchangeDep, party: CurrentParty) -> list[Product]:
    return products.list_products(ex, viewer=party)


@router.get("/products/{product_id}", response_model=ProductPublic)
def show_product(product_id: str, ex: ExchangeDep, party: CurrentParty) -> Product:
    return products.get_product(ex, product_id, viewer=party)


@router.post("/products/{product_id}/purchases", response_model=PurchasePublic, status_code=201)
def buy_product(product_id: str, ex: ExchangeDep, party: CurrentParty) -> dict[str, Any]:
    return products.buy_product(ex, product_id, actor=party)


@router.post("/valuations", response_model=ValuationPublic, status_code=201)
def value(
    ex: ExchangeDep,
    party: CurrentParty,
    target_id: Annotated[str, Form()],
    target: Annotated[str, Form()],
    validation: Annotated[UploadFile, File()],
    method: Annotated[str, Form()] = "knn-shapley",
    k: Annotated[int, Form()] = 10,
) -> Valuation:
    suffix = Path(validation.filename or "validation.csv").suffix
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"validation{suffix}"
        path.write_bytes(validation.file.read())
        return valuation.value(ex, target_id, target=target, validation=path, method=method, k=k, actor=party)


@router.get("/ledger", response_model=StatementPublic)
def ledger(
    ex: ExchangeDep, party: CurrentParty, party_id: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    return settlement.ledger_statement(ex, actor=party, party_id=party_id)


@router.get("/ledger/verify", response_model=LedgerReport)
def verify(ex: ExchangeDep, party: CurrentParty) -> dict[str, Any]:
    return settlement.verify_ledger(ex, actor=party)
