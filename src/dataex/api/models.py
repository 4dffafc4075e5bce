"""Wire models: what the API accepts and returns (never table rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    ok: bool = False
    error: str
    code: str
    status: int
    details: dict[str, Any] | None = None


class OpeningOut(BaseModel):
    field: str
    salt: str
    value: Any
    commitment: str


class OpeningsOut(BaseModel):
    index: int
    openings: list[OpeningOut]


class NodeKeyOut(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str
    origin: str
    node_id: str
    vkey: str
    cosigner_vkey: str


class PartyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "other"
    role: str = "provider"


class PartyPublic(BaseModel):
    id: str
    name: str
    kind: str
    role: str
    created_at: datetime


class PartyCreated(PartyPublic):
    token: str = Field(description="The party's API token, shown once")


class ColumnOut(BaseModel):
    name: str
    type: str


class SourceOut(BaseModel):
    name: str
    format: str
    encoding: str | None


class DatasetPublic(BaseModel):
    id: str
    owner_id: str
    title: str
    license: str
    digest: str
    schema_hash: str
    rows: int
    columns: list[ColumnOut]
    file_sha256: str
    size_bytes: int
    source: SourceOut
    rights: list[str]
    derived_from: str | None
    registered_at: datetime
    log_index: int


class Registered(BaseModel):
    id: str
    digest: str
    rows: int
    created: bool
    log_index: int
    certificate: str


class CertificateOut(BaseModel):
    id: str
    certificate: str


class CheckpointOut(BaseModel):
    checkpoint: str


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    entry: dict[str, Any]
    entry_b64: str
    leaf_hash: str
    proof: list[str]
    root: str
    checkpoint: str
    ok: bool


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]
    ok: bool
    old_checkpoint: str
    new_checkpoint: str
