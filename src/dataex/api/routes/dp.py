"""Differentially private SQL: each handler parses, calls one dataex.privacy.dp service, returns.

``POST /contracts/{id}/query`` runs ``authorize(dp_query)`` inside the service, on the dataset the
contract names; ``PUT /datasets/{id}/privacy`` lets only the dataset's owner set its privacy metadata.
"""

from __future__ import annotations

from fastapi import APIRouter

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.dp_models import AnswerPublic, PrivacySettingsPublic, PrivacySettingsUpdate, QueryRequest
from dataex.privacy.dp import Answer, PrivacySettings, query, set_privacy

router = APIRouter(tags=["differential privacy"])


@router.post("/contracts/{contract_id}/query", response_model=AnswerPublic)
def dp_query(contract_id: str, body: QueryRequest, ex: ExchangeDep, party: CurrentParty) -> Answer:
    return query(
        ex, contract_id, body.sql, epsilon=body.epsilon, actor=party, engine=body.engine, explain=body.explain
    )


@router.put("/datasets/{dataset_id}/privacy", response_model=PrivacySettingsPublic)
def put_privacy(
    dataset_id: str, body: PrivacySettingsUpdate, ex: ExchangeDep, party: CurrentParty
) -> PrivacySettings:
    return set_privacy(ex, dataset_id, actor=party, **body.model_dump())
