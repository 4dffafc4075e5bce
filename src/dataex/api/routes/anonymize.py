"""Anonymization: the dataset's owner derives a k-anonymous (l-diverse, t-close) dataset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dataex.api.anonymize_models import AnonymizeOut, AnonymizeRequest
from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.privacy.anonymize import service

router = APIRouter(prefix="/datasets", tags=["privacy"])


@router.post(
    "/{dataset_id}/anonymize",
    response_model=AnonymizeOut,
    responses={
        422: {"description": "No transformation meets the privacy models (`anonymization_infeasible`)"}
    },
)
def anonymize_dataset(
    dataset_id: str, body: AnonymizeRequest, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    spec = service.spec_from_options(**body.model_dump(exclude={"hierarchies", "check"}))
    if body.check:
        return service.check(ex, dataset_id, spec, actor=party)
    return service.anonymize(ex, dataset_id, spec, actor=party, inline_hierarchies=body.hierarchies).to_dict()
