"""Consent withdrawals (dataset owner or operator) and a party's notices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.contracts.consent import list_notices, notice_record, withdraw_consent

router = APIRouter(tags=["consent"])


class WithdrawalIn(BaseModel):
    subject_key: str = Field(min_length=1, max_length=500)
    column: str | None = Field(default=None, min_length=1, max_length=200)


class WithdrawalOut(BaseModel):
    id: str
    dataset_id: str
    column: str
    subject_hash: str
    datasets: list[str]
    notices: int
    created: bool
    unreached: list[str]


class NoticeOut(BaseModel):
    id: str
    contract_id: str | None
    dataset_id: str
    kind: str
    message: str
    created_at: Any


@router.post("/datasets/{dataset_id}/consent-withdrawals", response_model=WithdrawalOut, status_code=201)
def withdraw(dataset_id: str, body: WithdrawalIn, ex: ExchangeDep, party: CurrentParty) -> dict[str, Any]:
    w = withdraw_consent(ex, dataset_id, body.subject_key, column=body.column, actor=party)
    return {**w.__dict__}  # ``unreached``: derived datasets the withdrawal cannot reach


@router.get("/notices", response_model=list[NoticeOut])
def notices(ex: ExchangeDep, party: CurrentParty) -> list[dict[str, Any]]:
    return [notice_record(n) for n in list_notices(ex, actor=party)]
