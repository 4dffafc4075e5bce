"""The Delta Sharing protocol (delta-io/delta-sharing PROTOCOL.md) over contracts: wire objects,
profiles, shares, metadata and query responses, and pre-signed file URLs.

Mapping: **one share per L3/L4 contract**, named by the contract id; one schema, ``dataex``; one
table, named by the dataset id. The profile's bearer token belongs to that contract alone and is
stored as its SHA-256; issuing a profile again replaces the token. Every protocol request
authenticates the token and runs ``authorize(consumer, "extract", dataset, {contract_id})``
(logged), so a revoked, expired or exhausted contract is refused at once (403).

A query returns one Parquet file: the contract's fingerprinted copy, made by the extract service
(charged once, logged as ``extract.delivered`` with channel ``delta-sharing``) and cached under
``<home>/shares/<contract>/``. Its URL is served by dataex itself and carries its own signature:
``/delta-sharing/files/<contract>/<name>?exp=<unix seconds>&sig=<hex HMAC-SHA-256(url key,
"<contract>\\n<name>\\n<exp>")>``, the URL key being derived from the node's fingerprint secret. A
file request checks the signature and expiry, then authorizes the contract again — revoking the
contract invalidates URLs already handed out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from dataex.catalog.datasets import get_dataset_row
from dataex.contracts.consent import dataset_version
from dataex.db.models import ContractRow, ExtractRow, ShareRow
from dataex.delivery.extracts import deliver
from dataex.delivery.fingerprint import derive, load_or_create_secret
from dataex.errors import ContractNotFound, ExtractRefused, NotFound, SignatureInvalid, Unauthorized
from dataex.identity.parties import Party, get_party, hash_token
from dataex.ledger.log import iso, utc_now
from dataex.policy import authorize

if TYPE_CHECKING:
    from dataex.node import Node

PREFIX: Final = "/delta-sharing"
SCHEMA: Final = "dataex"
URL_LIFETIME_SECONDS: Final = 3600
TOKEN_PREFIX: Final = "dxs_"  # noqa: S105 - a prefix, not a secret
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8000" + PREFIX


@dataclass(frozen=True)
class ShareContext:
    """An authenticated share: the contract, its consumer and its dataset."""

    contract_id: str
    dataset_id: str
    consumer: Party


def issue_profile(
    node: Node, contract_id: str, *, actor: Party, endpoint: str = DEFAULT_ENDPOINT
) -> dict[str, Any]:
    """A Delta Sharing profile for the contract (its consumer only); a new token each time."""
    with node.session() as s:
        row = s.get(ContractRow, contract_id)
        if row is None:
            raise ContractNotFound(contract_id)
        dataset_id, consumer_id, expires = row.dataset_id, row.consumer_id, row.expires_at
    authorize(node, actor, "extract", dataset_id, {"contract_id": contract_id}).raise_if_denied()
    if actor.id != consumer_id:
        raise ExtractRefused(
            "only the contract's consumer may get its sharing profile", contract_id=contract_id
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    with node.transaction() as s:
        entry = node.log.append(s, "share.token_issued", {"contract_id": contract_id}, actor=actor.id)
        share = s.get(ShareRow, contract_id)
        if share is None:
            share = ShareRow(contract_id=contract_id, created_at=now)
            s.add(share)
        share.token_hash = hash_token(token)
        share.token_issued_at = now
        share.log_index = entry.index
        node.log.checkpoint(s)
    profile: dict[str, Any] = {
        "shareCredentialsVersion": 1,
        "endpoint": endpoint.rstrip("/"),
        "bearerToken": token,
    }
    if expires is not None:
        profile["expirationTime"] = iso(expires)
    return profile


def open_share(node: Node, token: str | None, share: str | None = None) -> ShareContext:
    """Authenticates a share token and authorizes the contract's extract access (logged)."""
    if not token:
        raise Unauthorized("a Delta Sharing request needs the profile's bearer token")
    with node.session() as s:
        row = s.scalars(select(ShareRow).where(ShareRow.token_hash == hash_token(token))).first()
        if row is None:
            raise Unauthorized("unknown or replaced share token")
        contract = s.get_one(ContractRow, row.contract_id)
        consumer = get_party(s, contract.consumer_id)
        ctx = ShareContext(contract.id, contract.dataset_id, consumer)
    if share is not None and share.lower() != ctx.contract_id.lower():
        raise NotFound(f"no share {share!r} for this token")
    context = {"contract_id": ctx.contract_id}
    authorize(node, ctx.consumer, "extract", ctx.dataset_id, context).raise_if_denied()
    return ctx


def check_table(ctx: ShareContext, schema: str, table: str | None = None) -> None:
    if schema.lower() != SCHEMA or (table is not None and table.lower() != ctx.dataset_id.lower()):
        raise NotFound(f"no table {schema}.{table or ''} in share {ctx.contract_id}")


def shares(ctx: ShareContext) -> dict[str, Any]:
    return {"items": [{"name": ctx.contract_id, "id": ctx.contract_id}]}


def schemas(ctx: ShareContext) -> dict[str, Any]:
    return {"items": [{"name": SCHEMA, "share": ctx.contract_id}]}


def tables(ctx: ShareContext) -> dict[str, Any]:
    item = {
        "name": ctx.dataset_id,
        "schema": SCHEMA,
        "share": ctx.contract_id,
        "shareId": ctx.contract_id,
        "id": ctx.dataset_id,
    }
    return {"items": [item]}


def version(node: Node, ctx: ShareContext) -> int:
    """The table version: how many copies the contract has been served (at least 1)."""
    with node.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(ExtractRow)
            .where(ExtractRow.contract_id == ctx.contract_id, ExtractRow.channel == "delta-sharing")
        )
    return max(1, int(n or 0))


_SPARK: Final = {
    "int8": "byte",
    "int16": "short",
    "int32": "integer",
    "int64": "long",
    "float": "float",
    "double": "double",
    "bool": "boolean",
    "date32[day]": "date",
    "string": "string",
    "large_string": "string",
    "binary": "binary",
    "large_binary": "binary",
}


def spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_unsigned_integer(t):
        return "long"
    return _SPARK.get(str(t), "string")


def metadata_lines(node: Node, ctx: ShareContext) -> list[str]:
    """The ``protocol`` and ``metaData`` lines (NDJSON) of the contract's table."""
    with node.session() as s:
        ds = get_dataset_row(s, ctx.dataset_id)
        schema = pq.read_schema(node.store.url(ds.file_sha256))
        title = ds.title
    fields = [{"name": f.name, "type": spark_type(f.type), "nullable": True, "metadata": {}} for f in schema]
    meta = {
        "id": ctx.dataset_id,
        "name": title,
        "format": {"provider": "parquet"},
        "schemaString": json.dumps({"type": "struct", "fields": fields}),
        "partitionColumns": [],
        "configuration": {},
    }
    return [_line({"protocol": {"minReaderVersion": 1}}), _line({"metaData": meta})]


def query_lines(node: Node, ctx: ShareContext, base_url: str) -> list[str]:
    """Metadata plus one ``file`` line: the fingerprinted copy, with a pre-signed URL."""
    path = materialize(node, ctx)
    rows = pq.read_metadata(path).num_rows
    exp = int(time.time()) + URL_LIFETIME_SECONDS
    name = path.name
    sig = sign(node, ctx.contract_id, name, exp)
    url = f"{base_url.rstrip('/')}{PREFIX}/files/{ctx.contract_id}/{name}?exp={exp}&sig={sig}"
    entry = {
        "url": url,
        "id": path.stem,
        "partitionValues": {},
        "size": path.stat().st_size,
        "stats": json.dumps({"numRecords": rows}),
        "expirationTimestamp": exp * 1000,
    }
    return [*metadata_lines(node, ctx), _line({"file": entry})]


def materialize(node: Node, ctx: ShareContext) -> Path:
    """The contract's fingerprinted Parquet copy, made (and charged) on first use, then cached."""
    key = dataset_version(node, ctx.dataset_id)[:32]  # file SHA-256 and the withdrawals reaching it
    path = node.settings.home / "shares" / ctx.contract_id / f"{key}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        deliver(
            node, ctx.contract_id, actor=ctx.consumer, out=path, format="parquet", channel="delta-sharing"
        )
    return path


def _url_key(node: Node) -> bytes:
    return derive(load_or_create_secret(node.settings.home), "delta-sharing:url")


def sign(node: Node, contract_id: str, name: str, exp: int) -> str:
    return hmac.new(_url_key(node), f"{contract_id}\n{name}\n{exp}".encode(), hashlib.sha256).hexdigest()


def open_file(node: Node, contract_id: str, name: str, exp: str, sig: str) -> Path:
    """Verifies a pre-signed URL and the contract (logged); returns the file to serve."""
    if not exp.isdigit() or not hmac.compare_digest(sign(node, contract_id, name, int(exp)), sig):
        raise SignatureInvalid("the pre-signed URL's signature does not verify")
    if int(exp) < time.time():
        raise SignatureInvalid("the pre-signed URL has expired; query the table again")
    with node.session() as s:
        contract = s.get(ContractRow, contract_id)
        if contract is None or s.get(ShareRow, contract_id) is None:
            raise NotFound("no such shared file")
        consumer = get_party(s, contract.consumer_id)
        dataset_id = contract.dataset_id
    context = {"contract_id": contract_id, "file": name}
    authorize(node, consumer, "extract", dataset_id, context).raise_if_denied()
    path = node.settings.home / "shares" / contract_id / name
    if "/" in name or not name.endswith(".parquet") or not path.is_file():
        raise NotFound("no such shared file")
    return path


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


ERROR_CODES: Final = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
}


def error_body(code: str, status: int, message: str) -> dict[str, Any]:
    """The protocol's error object, plus dataex's envelope fields."""
    return {
        "errorCode": ERROR_CODES.get(status, "INTERNAL_ERROR"),
        "message": message,
        "ok": False,
        "error": message,
        "code": code,
        "status": status,
    }
