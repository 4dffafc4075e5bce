"""Label issues: rows whose given label disagrees with what the other rows say it should be.

Method (confident learning, Northcutt et al. 2021): out-of-fold predicted probabilities from
scikit-learn's ``cross_val_predict(..., method="predict_proba")`` with a logistic regression on
standardised numbers and one-hot categories (5 stratified folds, ``random_state`` fixed, so a
run is deterministic), then cleanlab's ``find_label_issues`` ranked by self-confidence.

Features: numeric and boolean columns as they are (missing values imputed with the median), dates as
day numbers, and string columns with at most ``MAX_CATEGORIES`` distinct values as categorical
features; high-cardinality strings (identifiers, names, free text) are left out. Tables larger
than ``MAX_ROWS`` are sampled systematically (every k-th row, no randomness); positions reported
are always positions in the registered data. Classes with fewer than ``MIN_CLASS_ROWS`` rows are
left out of the analysis (too few to cross-validate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataex.engines.sql import quote_ident
from dataex.errors import InvalidInput
from dataex.quality.profile import Profile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

MAX_ROWS = 50_000
MAX_CATEGORIES = 50
MIN_CLASS_ROWS = 5
FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class LabelIssues:
    target: str
    count: int
    rows: list[int]
    examined: int
    """Rows the model saw (all rows, or the systematic sample)."""


def _features(p: Profile, target: str) -> tuple[list[str], list[str]]:
    numeric, categorical = [], []
    for c in p.columns:
        if c.name == target:
            continue
        if c.kind in ("number", "bool", "date"):
            numeric.append(c.name)
        elif c.kind == "string" and 0 < c.distinct <= MAX_CATEGORIES:
            categorical.append(c.name)
    return numeric, categorical


def _load(con: duckdb.DuckDBPyConnection, p: Profile, target: str, cols: list[str]) -> pd.DataFrame:
    kinds = {c.name: c.kind for c in p.columns}

    def expr(name: str) -> str:
        q = quote_ident(name)
        if kinds[name] == "date":
            return f"(epoch({q}) / 86400)::DOUBLE AS {q}"
        if kinds[name] == "bool":
            return f"{q}::INTEGER AS {q}"
        return q

    step = max(1, -(-p.rows // MAX_ROWS))
    label = f"{quote_ident(target)}::VARCHAR AS __label"
    select = ", ".join(["file_row_number", *(expr(c) for c in cols), label])
    return con.execute(
        f"SELECT {select} FROM t WHERE {quote_ident(target)} IS NOT NULL AND file_row_number % {step} = 0 "
        "ORDER BY file_row_number"
    ).df()


def _check_target(p: Profile, target: str | None) -> str:
    names = [c.name for c in p.columns]
    if not target or target not in names:
        raise InvalidInput(
            f"--target {target!r} is not a column of the dataset; columns are {', '.join(names)}",
            target=target,
        )
    return target


def find_label_issues(con: duckdb.DuckDBPyConnection, p: Profile, target: str | None) -> LabelIssues:
    """Label issues in column ``target`` (see the module docstring for the method)."""
    target = _check_target(p, target)
    numeric, categorical = _features(p, target)
    frame = _load(con, p, target, numeric + categorical)
    counts = frame["__label"].value_counts()
    if len(counts) < 2:
        raise InvalidInput(
            f"--target {target!r} has {len(counts)} class(es); label issues need at least two", target=target
        )
    frame = frame[frame["__label"].isin(counts[counts >= MIN_CLASS_ROWS].index)]
    if frame["__label"].nunique() < 2:
        raise InvalidInput(
            f"--target {target!r} has fewer than two classes with {MIN_CLASS_ROWS} or more rows",
            target=target,
        )
    if not numeric and not categorical:
        raise InvalidInput(f"no usable feature columns to predict {target!r} from", target=target)
    found = _issues(frame, numeric, categorical)
    positions = frame["file_row_number"].to_numpy()
    rows = sorted(int(positions[i]) for i in found)
    return LabelIssues(target=target, count=len(rows), rows=rows, examined=len(frame))


def _model(numeric: list[str], categorical: list[str]) -> Any:
    """One-hot categories + imputed, standardised numbers into a multinomial logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", min_frequency=MIN_CLASS_ROWS)
        parts.append(
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value=""), encoder), categorical)
        )
    return make_pipeline(
        ColumnTransformer(parts), LogisticRegression(C=1.0, max_iter=2000, random_state=SEED)
    )


def _issues(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> list[int]:
    import numpy as np
    from cleanlab.filter import find_label_issues as cleanlab_find
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = frame[numeric + categorical].copy()
    for name in numeric:
        x[name] = x[name].astype("float64")
    for name in categorical:
        x[name] = x[name].astype("object").where(x[name].notna(), "")
    _, y = np.unique(frame["__label"].to_numpy(), return_inverse=True)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    probs = cross_val_predict(_model(numeric, categorical), x, y, cv=folds, method="predict_proba")
    found = cleanlab_find(labels=y, pred_probs=probs, return_indices_ranked_by="self_confidence")
    return [int(i) for i in found]
