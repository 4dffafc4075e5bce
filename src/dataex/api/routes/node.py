"""The node's public key and its log: readable by anyone. The witness endpoint (c2sp.org/tlog-witness)
is public too: it authenticates the checkpoint's signature, not the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse, Response

from dataex import witness
from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.models import CheckpointOut, ConsistencyProofOut, InclusionProofOut, NodeKeyOut, OpeningsOut
from dataex.audit import openings_for
from dataex.errors import CheckpointConflict, WitnessRefused

router = APIRouter(tags=["node"])

CHECKPOINT_TEXT = {"text/plain": {"schema": {"type": "string"}}}


@router.get("/.well-known/dataex/node-key", response_model=NodeKeyOut)
def node_key(ex: ExchangeDep) -> dict[str, str]:
    return {
        **ex.key.jwk(),
        "origin": ex.origin,
        "node_id": ex.node_id,
        "vkey": witness.log_vkey(ex),
        "cosigner_vkey": witness.cosigner_vkey(ex),
    }


@router.get(
    "/log/checkpoint",
    response_model=CheckpointOut,
    responses={200: {"content": CHECKPOINT_TEXT}},
    description="The latest signed checkpoint. With `Accept: text/plain`: the C2SP checkpoint note itself, "
    "with the cosignatures witnesses have returned for it.",
)
def checkpoint(ex: ExchangeDep, accept: Annotated[str, Header()] = "application/json") -> object:
    if "text/plain" in accept and "application/json" not in accept:
        return _checkpoint_text(ex)
    return {"checkpoint": ex.latest_checkpoint()}


@router.get(
    "/log/checkpoint.txt",
    response_class=PlainTextResponse,
    responses={200: {"content": CHECKPOINT_TEXT}},
    description="The latest checkpoint as a C2SP note (text/plain), with its cosignatures.",
)
def checkpoint_text(ex: ExchangeDep) -> Response:
    return _checkpoint_text(ex)


def _checkpoint_text(ex: ExchangeDep) -> Response:
    with ex.session() as s:
        text = witness.cosigned_note(ex, s)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/log/proof/{index}", response_model=InclusionProofOut)
def inclusion_proof(index: int, ex: ExchangeDep) -> dict[str, object]:
    return ex.prove_inclusion(index)


@router.get(
    "/log/openings/{index}",
    response_model=OpeningsOut,
    description="The openings (salt and value) of an entry's sealed fields, for a party with a right to "
    "see them (the party itself, a dataset's readers, a contract's parties, auditors); anyone else gets "
    "the answer an unknown index gets.",
)
def log_openings(index: int, ex: ExchangeDep, party: CurrentParty) -> dict[str, object]:
    return openings_for(ex, party, index)


@router.get("/log/consistency", response_model=ConsistencyProofOut)
def consistency_proof(old: int, new: int, ex: ExchangeDep) -> dict[str, object]:
    return ex.prove_consistency(old, new)


@router.post(
    "/witness/add-checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        409: {"content": {witness.SIZE_CONTENT_TYPE: {"schema": {"type": "string"}}}},
    },
    description="c2sp.org/tlog-witness add-checkpoint: `old <size>`, consistency proof lines, an empty "
    "line and a signed checkpoint of a log this node witnesses; answers a cosignature/v1 line.",
)
async def add_checkpoint(request: Request, ex: ExchangeDep) -> Response:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > witness.MAX_REQUEST_BYTES):
        return PlainTextResponse("request too large\n", status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > witness.MAX_REQUEST_BYTES:
            return PlainTextResponse("request too large\n", status_code=413)
    try:
        line = await _run(ex, bytes(body))
    except CheckpointConflict as e:
        return PlainTextResponse(f"{e.size}\n", status_code=409, media_type=witness.SIZE_CONTENT_TYPE)
    except WitnessRefused as e:
        return PlainTextResponse(f"{e.message}\n", status_code=e.status)
    return PlainTextResponse(line)


async def _run(ex: ExchangeDep, body: bytes) -> str:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(witness.add_checkpoint, ex, body)
