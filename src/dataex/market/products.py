"""Joint data products: several providers' datasets of one schema, sold together, revenue split.

Who may combine what: the operator (the exchange operating the product) may combine datasets
whose owners claimed the ``product_operation`` right; a provider may combine only datasets it
owns that carry that right. Every dataset must have the same columns (names and types).

**Duplicates across providers** are found before any split (plain Shapley would reward a
provider for copying rows): members are taken in registration order and a row of a later
provider equal to a row an earlier *other* provider already brought is dropped from the
product's row counts and from valuation. *Exact* duplicates compare the values as stored;
*near* duplicates compare them normalized (text trimmed and case-folded, numbers rounded to 6
decimals). A provider's duplicates of its own rows are its own business and are kept.

Split rules (``equal``, ``rows``, ``shapley``) give each provider an integer weight; a payment
is divided by the largest-remainder method (whole fen, ties to the smaller provider id), so the
parts always add up to the amount. ``shapley`` weights come from ``dataex value`` on the product
(negative sums count as zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray
from sqlalchemy import select

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import DatasetRow, OrderRow, ProductMemberRow, ProductRow
from dataex.errors import Conflict, Forbidden, InvalidInput, ProductNotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import TransparencyLog, iso, utc_now
from dataex.market import ledger
from dataex.market.pricing import fee_of
from dataex.policy import Viewer, check, visible_products

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

SPLITS: Final = ("equal", "rows", "shapley")
NEAR_DECIMALS: Final = 6


@dataclass(frozen=True)
class Product:
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


def _of(session: Session, row: ProductRow) -> Product:
    q = (
        select(ProductMemberRow)
        .where(ProductMemberRow.product_id == row.id)
        .order_by(ProductMemberRow.position)
    )
    members = [
        {"dataset_id": m.dataset_id, "provider_id": m.provider_id, "rows": m.rows} for m in session.scalars(q)
    ]
    return Product(
        id=row.id,
        title=row.title,
        creator_id=row.creator_id,
        split=row.split,
        price_fen=row.price_fen,
        columns=list(row.columns),
        members=members,
        shares=dict(row.shares),
        duplicates=dict(row.duplicates),
        created_at=iso(row.created_at),
        log_index=row.log_index,
    )


# -- reading the member tables and finding duplicates ---------------------------------------------
def read_table(node: Node, row: DatasetRow) -> pa.Table:
    with node.store.open(row.file_sha256) as f:
        return pq.read_table(f)


def _row_hashes(table: pa.Table, *, near: bool) -> NDArray[np.uint64]:
    import pandas as pd

    df = table.to_pandas()
    if near:
        for name in df.columns:
            col = df[name]
            if pd.api.types.is_float_dtype(col):
                df[name] = col.round(NEAR_DECIMALS)
            elif pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
                df[name] = col.astype("string").str.strip().str.casefold()
    hashes = np.asarray(pd.util.hash_pandas_object(df, index=False).to_numpy(), dtype=np.uint64)
    return hashes


def keep_masks(tables: list[tuple[str, str, pa.Table]]) -> tuple[list[NDArray[np.bool_]], dict[str, Any]]:
    """Per member ``(dataset, provider, table)`` in order: which rows count, and the duplicates report."""
    seen_exact: dict[int, str] = {}
    seen_near: dict[int, str] = {}
    masks: list[NDArray[np.bool_]] = []
    report: dict[str, Any] = {}
    for dataset_id, provider, table in tables:
        exact, near = _row_hashes(table, near=False), _row_hashes(table, near=True)
        is_exact = np.array([seen_exact.get(int(h), provider) != provider for h in exact], dtype=bool)
        is_near = (
            np.array([seen_near.get(int(h), provider) != provider for h in near], dtype=bool) & ~is_exact
        )
        keep = ~(is_exact | is_near)
        for h, n in zip(exact[keep], near[keep], strict=True):
            seen_exact.setdefault(int(h), provider)
            seen_near.setdefault(int(n), provider)
        masks.append(keep)
        report[dataset_id] = {
            "exact": int(is_exact.sum()),
            "near": int(is_near.sum()),
            "kept": int(keep.sum()),
        }
    return masks, report


# -- creating --------------------------------------------------------------------------------------
def create_product(
    node: Node,
    *,
    title: str,
    dataset_ids: list[str],
    split: str,
    price_fen: int = 0,
    actor: Party,
) -> Product:
    """Creates a joint product (logged as ``product.created`` with its members and duplicates)."""
    title = title.strip()
    if not title or len(title) > 500:
        raise InvalidInput("a product needs a title of 1 to 500 characters")
    if split not in SPLITS:
        raise InvalidInput(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen < 0:
        raise InvalidInput(f"a product price is a non-negative whole number of fen; got {price_fen!r}")
    if len(dataset_ids) < 2 or len(set(dataset_ids)) != len(dataset_ids):
        raise InvalidInput("a joint product needs at least two distinct datasets")
    check(node, actor, "create_product")
    for dataset_id in dataset_ids:  # unknown, or another's private dataset: 404 before anything else
        check(node, actor, "read_metadata", dataset_id)
    with node.session() as s:
        rows = sorted((get_dataset_row(s, d) for d in dataset_ids), key=lambda r: (r.registered_at, r.id))
        _check_rights(node, rows, actor)
        tables = [(r.id, r.owner_id, read_table(node, r)) for r in rows]
    masks, duplicates = keep_masks(tables)
    with node.transaction() as s:
        now = utc_now()
        row = ProductRow(
            id=new_id("prd"),
            title=title,
            creator_id=actor.id,
            split=split,
            price_fen=price_fen,
            columns=list(rows[0].columns),
            shares={},
            duplicates=duplicates,
            created_at=now,
            log_index=-1,
        )
        s.add(row)
        s.flush()
        for position, (r, keep) in enumerate(zip(rows, masks, strict=True)):
            s.add(
                ProductMemberRow(
                    product_id=row.id,
                    dataset_id=r.id,
                    provider_id=r.owner_id,
                    position=position,
                    rows=int(keep.sum()),
                )
            )
        s.flush()
        if split != "shapley":
            row.shares = {"basis": split, "weights": _weights(s, row.id, split)}
        record = {
            "product_id": row.id,
            "title": title,
            "split": split,
            "price_fen": price_fen,
            "datasets": [{"dataset_id": r.id, "digest": r.digest, "provider_id": r.owner_id} for r in rows],
            "duplicates": duplicates,
            "shares": row.shares,
        }
        row.log_index = node.log.append(s, "product.created", record, actor=actor.id).index
        node.log.checkpoint(s)
        return _of(s, row)


def _check_rights(node: Node, rows: list[DatasetRow], actor: Party) -> None:
    for r in rows:
        if "product_operation" not in r.rights:
            raise Forbidden(
                f"dataset {r.id}'s owner claimed no product-operation right; it cannot join a product"
            )
        check(node, actor, "join_product", r.id)
    first = [(c["name"], c["type"]) for c in rows[0].columns]
    for r in rows[1:]:
        cols = [(c["name"], c["type"]) for c in r.columns]
        if cols != first:
            raise InvalidInput(
                f"dataset {r.id} has columns {cols}, not the product's {first}: a product needs one schema"
            )


def _weights(session: Session, product_id: str, split: str) -> dict[str, int]:
    q = select(ProductMemberRow).where(ProductMemberRow.product_id == product_id)
    weights: dict[str, int] = {}
    for m in session.scalars(q):
        weights[m.provider_id] = 1 if split == "equal" else weights.get(m.provider_id, 0) + m.rows
    return weights


def shapley_weights(provider_sums: dict[str, float]) -> dict[str, int]:
    """Integer weights (1e-9 resolution) from per-provider Shapley sums; negatives count as zero."""
    return {p: max(0, round(v * 1e9)) for p, v in sorted(provider_sums.items())}


def split_amount(amount: int, weights: dict[str, int]) -> dict[str, int]:
    """Divides ``amount`` fen by ``weights`` (largest remainder; ties to the smaller id)."""
    total = sum(weights.values())
    if total <= 0:
        raise Conflict("no provider has a positive share: the product's revenue cannot be split")
    parts = {p: amount * w // total for p, w in weights.items()}
    rest = amount - sum(parts.values())
    order = sorted(weights, key=lambda p: (-(amount * weights[p] % total), p))
    for p in order[:rest]:
        parts[p] += 1
    return parts


# -- reading and selling ---------------------------------------------------------------------------
def get_product_row(session: Session, product_id: str) -> ProductRow:
    row = session.get(ProductRow, product_id)
    if row is None:
        raise ProductNotFound(product_id)
    return row


def get_product(node: Node, product_id: str, *, viewer: Viewer = None) -> Product:
    """A product, for a viewer that may see every member dataset (else: as an unknown id)."""
    check(node, viewer, "read_product", product_id)
    with node.session() as s:
        return _of(s, get_product_row(s, product_id))


def list_products(node: Node, *, viewer: Viewer = None) -> list[Product]:
    """The products ``viewer`` may see: those whose member datasets it may all see."""
    q = select(ProductRow).order_by(ProductRow.created_at, ProductRow.id)
    visible = visible_products(viewer)
    if visible is not None:
        q = q.where(visible)
    with node.session() as s:
        return [_of(s, r) for r in s.scalars(q)]


def buy_product(node: Node, product_id: str, *, actor: Party) -> dict[str, Any]:
    """A consumer pays the product's price from its wallet; the providers share it by the split."""
    check(node, actor, "buy_product", product_id)
    with node.transaction() as s:
        row = get_product_row(s, product_id)
        weights = {p: int(w) for p, w in row.shares.get("weights", {}).items()}
        if not weights:
            raise Conflict(f"product {product_id} splits by Shapley value: value it first (`dataex value`)")
        if row.price_fen <= 0:
            raise Conflict(f"product {product_id} is free: there is nothing to pay")
        fee = fee_of(row.price_fen, ledger.fee_bps(s))
        parts = split_amount(row.price_fen - fee, weights)
        order = OrderRow(
            id=new_id("ord"),
            contract_id=None,
            product_id=product_id,
            consumer_id=actor.id,
            provider_id=None,
            price={"amount_fen": row.price_fen, "unit": "flat"},
            status="paid",
            flat_fen=row.price_fen,
            flat_fee_fen=fee,
            usage_fen=0,
            refunded_fen=0,
            created_at=utc_now(),
            log_index=TransparencyLog.lock(s).size,
        )
        s.add(order)
        lines = [(ledger.wallet(actor.id), -row.price_fen), (ledger.FEE, fee)]
        lines += [(ledger.revenue(p), n) for p, n in sorted(parts.items())]
        posting = ledger.post(
            s,
            node.log,
            kind="product",
            lines=lines,
            actor=actor.id,
            event="product.sold",
            data={"product_id": product_id, "order_id": order.id, "weights": weights, "shares_fen": parts},
            order_id=order.id,
            product_id=product_id,
        )
        node.log.checkpoint(s)
        return {
            "id": order.id,
            "product_id": product_id,
            "amount_fen": row.price_fen,
            "fee_fen": fee,
            "shares_fen": parts,
            "posting_id": posting.id,
        }
