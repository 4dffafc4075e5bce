"""The node's public key and its log: readable by anyone."""

from __future__ import annotations

from fastapi import APIRouter

from dataex.api.deps import ExchangeDep
from dataex.api.models import CheckpointOut, ConsistencyProofOut, InclusionProofOut, NodeKeyOut

router = APIRouter(tags=["node"])


@router.get("/.well-known/dataex/node-key", response_model=NodeKeyOut)
def node_key(ex: ExchangeDep) -> dict[str, str]:
    return {**ex.key.jwk(), "origin": ex.origin, "node_id": ex.node_id}


@router.get("/log/checkpoint", response_model=CheckpointOut)
def checkpoint(ex: ExchangeDep) -> dict[str, str]:
    return {"checkpoint": ex.latest_checkpoint()}


@router.get("/log/proof/{index}", response_model=InclusionProofOut)
def inclusion_proof(index: int, ex: ExchangeDep) -> dict[str, object]:
    return ex.prove_inclusion(index)


@router.get("/log/consistency", response_model=ConsistencyProofOut)
def consistency_proof(old: int, new: int, ex: ExchangeDep) -> dict[str, object]:
    return ex.prove_consistency(old, new)
