"""``dataex value``: value a dataset's or a product's rows on a consumer-supplied validation set.

Features are the training data's numeric columns (integers, floats, booleans) other than the
target, or the ``features`` given; they are standardized with the training mean and standard
deviation. Labels compare as text. The validation file (Parquet or CSV) must carry the target and
every feature column.

Who sees what: per-row values only for rows of datasets the acting party owns (the owner); the
per-dataset and per-provider sums are logged (``valuation.computed``) with every input's digest,
so any party holding the validation file can recompute them. Valuing a product splitting by
``shapley`` sets its weights. Rows whose value is strongly negative are reported as suspects
(possible label errors or poisoning) to their owner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import ProductMemberRow, ProductRow, ValuationRow
from dataex.errors import BadFile, Forbidden, InputFileNotFound, InvalidInput
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.market import shapley
from dataex.market.products import get_product_row, keep_masks, read_table, shapley_weights
from dataex.policy import check

if TYPE_CHECKING:
    from dataex.node import Node

METHODS: Final = ("knn-shapley", "loo", "tmc-shapley")


@dataclass(frozen=True)
class Valuation:
    """A valuation: sums for everyone; ``rows`` (the acting owner's rows only) and ``suspects``."""

    id: str
    target_id: str
    method: str
    k: int
    dataset_sums: dict[str, float]
    provider_sums: dict[str, float]
    shares: dict[str, Any]
    total_value: float
    log_index: int
    rows: dict[str, list[float]]
    suspects: dict[str, list[int]]


def read_validation(path: Path) -> pa.Table:
    if not path.is_file():
        raise InputFileNotFound(f"no validation file at {path}")
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path)
        if path.suffix.lower() in (".csv", ".tsv"):
            options = pacsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            return pacsv.read_csv(path, parse_options=options)
    except (pa.ArrowInvalid, OSError) as e:
        raise BadFile(f"cannot read the validation file {path.name}: {e}") from e
    raise InvalidInput(f"a validation file is .parquet or .csv; got {path.name}")


def _features(table: pa.Table, target: str, features: list[str] | None) -> list[str]:
    if target not in table.column_names:
        raise InvalidInput(f"no target column {target!r}; the data has {', '.join(table.column_names)}")
    if features:
        missing = [f for f in features if f not in table.column_names]
        if missing:
            raise InvalidInput(f"unknown feature column(s) {', '.join(missing)}")
        return features
    numeric = [
        f.name
        for f in table.schema
        if f.name != target
        and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type))
    ]
    if not numeric:
        raise InvalidInput(
            "the data has no numeric feature columns besides the target; name them with --feature"
        )
    return numeric


def _matrix(table: pa.Table, names: list[str]) -> NDArray[np.float64]:
    cols = [table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in names]
    x = np.column_stack(cols).astype(np.float64)
    if np.isnan(x).any():
        raise InvalidInput("feature columns hold missing values; valuation needs complete rows")
    return x


def prepare(
    train: pa.Table, val: pa.Table, target: str, features: list[str] | None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], list[str]]:
    """Standardized feature matrices and integer label codes shared by training and validation."""
    names = _features(train, target, features)
    missing = [n for n in [*names, target] if n not in val.column_names]
    if missing:
        raise InvalidInput(
            f"the validation file's columns do not match the data: missing {', '.join(missing)}",
            missing=missing,
        )
    x_train, x_val = _matrix(train, names), _matrix(val, names)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    labels_train = [str(v) for v in train.column(target).to_pylist()]
    labels_val = [str(v) for v in val.column(target).to_pylist()]
    codes = {label: i for i, label in enumerate(sorted(set(labels_train) | set(labels_val)))}
    y_train = np.array([codes[v] for v in labels_train], dtype=np.int64)
    y_val = np.array([codes[v] for v in labels_val], dtype=np.int64)
    return (x_train - mean) / std, y_train, (x_val - mean) / std, y_val, names


def compute(
    method: str,
    x_train: NDArray[np.float64],
    y_train: NDArray[np.int64],
    x_val: NDArray[np.float64],
    y_val: NDArray[np.int64],
    k: int,
    *,
    permutations: int = 100,
    seed: int = 0,
) -> NDArray[np.float64]:
    if method == "knn-shapley":
        return shapley.knn_shapley(x_train, y_train, x_val, y_val, k)
    if method == "loo":
        return shapley.knn_loo(x_train, y_train, x_val, y_val, k)
    if method == "tmc-shapley":
        if k > len(x_train):
            raise InvalidInput(f"k = {k} is larger than the training set ({len(x_train)} rows)")
        from sklearn.neighbors import KNeighborsClassifier

        def model() -> Any:
            return _Knn(KNeighborsClassifier, k)

        utility = shapley.model_utility(x_train, y_train, x_val, y_val, model)
        return shapley.tmc_shapley(utility, len(x_train), permutations=permutations, seed=seed)
    raise InvalidInput(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


class _Knn:
    """A KNN classifier that never asks for more neighbours than the subset holds."""

    def __init__(self, cls: Any, k: int) -> None:
        self.cls, self.k, self.model = cls, k, None

    def fit(self, x: NDArray[np.float64], y: NDArray[np.int64]) -> None:
        self.model = self.cls(n_neighbors=min(self.k, len(x))).fit(x, y)

    def predict(self, x: NDArray[np.float64]) -> Any:
        assert self.model is not None
        return self.model.predict(x)


def value(
    node: Node,
    target_id: str,
    *,
    target: str,
    validation: Path,
    method: str = "knn-shapley",
    k: int = 10,
    features: list[str] | None = None,
    actor: Party,
    out: Path | None = None,
    permutations: int = 100,
    seed: int = 0,
) -> Valuation:
    """Values a dataset (its owner only) or a product (its creator, a member's provider, the operator)."""
    if method not in METHODS:
        raise InvalidInput(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    val = read_validation(validation)
    is_product = target_id.startswith("prd_")
    check(node, actor, "value_product" if is_product else "value", target_id)
    with node.session() as s:
        product: ProductRow | None = None
        if is_product:
            product = get_product_row(s, target_id)
            q = s.query(ProductMemberRow).filter(ProductMemberRow.product_id == target_id)
            members = [get_dataset_row(s, m.dataset_id) for m in q.order_by(ProductMemberRow.position)]
        else:
            members = [get_dataset_row(s, target_id)]
        s.expunge_all()
    tables = [(m.id, m.owner_id, read_table(node, m)) for m in members]
    masks = keep_masks(tables)[0] if product is not None else [np.ones(tables[0][2].num_rows, dtype=bool)]
    kept = [t.filter(pa.array(mask)) for (_d, _p, t), mask in zip(tables, masks, strict=True)]
    train = pa.concat_tables(kept, promote_options="default")
    x_train, y_train, x_val, y_val, names = prepare(train, val, target, features)
    values = compute(method, x_train, y_train, x_val, y_val, k, permutations=permutations, seed=seed)
    total = float(values.sum())
    bounds = np.cumsum([0] + [int(mask.sum()) for mask in masks])
    dataset_sums = {m.id: float(values[bounds[i] : bounds[i + 1]].sum()) for i, m in enumerate(members)}
    provider_sums: dict[str, float] = {}
    for m in members:
        provider_sums[m.owner_id] = provider_sums.get(m.owner_id, 0.0) + dataset_sums[m.id]
    mine = {m.id: i for i, m in enumerate(members) if m.owner_id == actor.id}
    rows = {d: values[bounds[i] : bounds[i + 1]].tolist() for d, i in mine.items()}
    suspects = {
        d: [int(r) for r in np.flatnonzero(masks[i])[shapley.suspects(rows[d])]] for d, i in mine.items()
    }
    shares: dict[str, Any] = {}
    if product is not None and product.split == "shapley":
        shares = {"basis": "shapley", "weights": shapley_weights(provider_sums)}
    digest = hashlib.sha256(validation.read_bytes()).hexdigest()
    with node.transaction() as s:
        vid = new_id("val")
        record = {
            "valuation_id": vid,
            "target_id": target_id,
            "method": method,
            "k": k,
            "tmc": {"permutations": permutations, "seed": seed} if method == "tmc-shapley" else None,
            "target": target,
            "features": names,
            "validation_sha256": digest,
            "validation_rows": val.num_rows,
            "datasets": [
                {"dataset_id": m.id, "digest": m.digest, "provider_id": m.owner_id} for m in members
            ],
            "dataset_sums": {d: repr(v) for d, v in dataset_sums.items()},
            "provider_sums": {p: repr(v) for p, v in provider_sums.items()},
            "shares": shares,
        }
        entry = node.log.append(s, "valuation.computed", record, actor=actor.id)
        if shares:
            get_product_row(s, target_id).shares = shares | {"valuation_id": vid}
        s.add(
            ValuationRow(
                id=vid,
                target_id=target_id,
                requested_by=actor.id,
                method=method,
                params={
                    "k": k,
                    "permutations": permutations,
                    "seed": seed,
                    "target": target,
                    "features": names,
                    "validation_sha256": digest,
                },
                result={
                    "dataset_sums": dataset_sums,
                    "provider_sums": provider_sums,
                    "total_value": total,
                    "suspects": {d: v[:1000] for d, v in suspects.items()},
                },
                created_at=utc_now(),
                log_index=entry.index,
            )
        )
        node.log.checkpoint(s)
    if out is not None:
        write_values(out, [(t, mask, rows.get(d)) for (d, _p, t), mask in zip(tables, masks, strict=True)])
    return Valuation(
        vid, target_id, method, k, dataset_sums, provider_sums, shares, total, entry.index, rows, suspects
    )


def write_values(out: Path, parts: list[tuple[pa.Table, NDArray[np.bool_], list[float] | None]]) -> None:
    """Writes the acting owner's rows with a ``value`` column (CSV or Parquet by suffix)."""
    tables = []
    for table, mask, values in parts:
        if values is None:
            continue
        full = np.zeros(table.num_rows)
        full[mask] = values
        tables.append(table.append_column("value", pa.array(full)))
    if not tables:
        raise Forbidden("none of the valued rows are yours: per-row values go to their owner only")
    result = pa.concat_tables(tables, promote_options="default")
    if out.suffix.lower() == ".parquet":
        pq.write_table(result, out)
    else:
        pacsv.write_csv(result, out)
