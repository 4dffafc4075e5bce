"""The independent verifier: recompute k, l and t from an output file alone.

It shares no code with the anonymizer (no hierarchies, no encodings, no lattice): it reads the
released file with pandas, groups the rows by their quasi-identifier values as text and measures

* ``k`` — the smallest class size;
* ``l_distinct`` — the fewest distinct sensitive values in a class; ``l_entropy`` — the smallest
  ``exp(−Σ p·ln p)``; ``recursive_c`` — the largest ``r1 / (r_l + … + r_m)`` for a given ``l``
  (the class satisfies recursive (c, l) iff this is < c);
* ``t`` — the largest earth mover's distance between a class's sensitive distribution and the
  file's (``equal``: ``½ Σ |p − q|``; ``ordered``: ``Σ |cumulative diff| / (m − 1)`` over the
  numerically sorted values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dataex.errors import InvalidInput


def read_output(path: Path) -> pd.DataFrame:
    """A released file as text columns (CSV written by dataex, or Parquet)."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def verify_frame(
    df: pd.DataFrame,
    qi: list[str],
    sensitive: list[str],
    *,
    l: int | None = None,  # noqa: E741
    distance: dict[str, Literal["equal", "ordered"]] | None = None,
) -> dict[str, Any]:
    """k, l and t of ``df`` (an empty frame has k = 0)."""
    missing = [c for c in [*qi, *sensitive] if c not in df.columns]
    if missing:
        raise InvalidInput(f"the output has no column {missing[0]!r}")
    if df.empty:
        return {"rows": 0, "classes": 0, "k": 0, "sensitive": {}}
    keys = df[qi].astype(str)
    cls = keys.groupby(qi, sort=False).ngroup().to_numpy() if qi else np.zeros(len(df), dtype=np.int64)
    sizes = np.bincount(cls)
    out: dict[str, Any] = {"rows": len(df), "classes": len(sizes), "k": int(sizes.min()), "sensitive": {}}
    for s in sensitive:
        frame = pd.DataFrame({"c": cls, "v": df[s].astype(str).to_numpy()})
        counts = frame.groupby(["c", "v"], sort=False).size().rename("n").reset_index()
        counts["p"] = counts["n"] / sizes[counts["c"].to_numpy()]
        by = counts.groupby("c")
        distinct = by.size()
        entropy = by["p"].apply(lambda p: float(-(p * np.log(p)).sum()))
        result: dict[str, Any] = {
            "l_distinct": int(distinct.min()),
            "l_entropy": float(np.exp(entropy.min())),
        }
        if l is not None:
            ranked = counts.sort_values(["c", "n"], ascending=[True, False])
            ranked["rank"] = ranked.groupby("c").cumcount()
            r1 = ranked.groupby("c")["n"].max()
            tail = ranked[ranked["rank"] >= l - 1].groupby("c")["n"].sum().reindex(r1.index, fill_value=0)
            ratio = np.where(tail > 0, r1 / tail.replace(0, 1), np.inf)
            result["recursive_c"] = float(np.max(ratio))
        kind = (distance or {}).get(s, "equal")
        result["t"] = _t(frame, kind)
        result["t_distance"] = kind
        out["sensitive"][s] = result
    return out


def _t(frame: pd.DataFrame, kind: str) -> float:
    table = pd.crosstab(frame["c"], frame["v"])
    if kind == "ordered":
        table = table[sorted(table.columns, key=lambda v: float(str(v)))]
    p = table.to_numpy(dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    q = table.to_numpy(dtype=np.float64).sum(axis=0)
    q = q / q.sum()
    diff = p - q
    if kind == "ordered":
        m = diff.shape[1]
        return float((np.abs(np.cumsum(diff, axis=1)[:, :-1]).sum(axis=1) / max(m - 1, 1)).max())
    return float((0.5 * np.abs(diff).sum(axis=1)).max())


def verify_file(path: Path, qi: list[str], sensitive: list[str], **options: Any) -> dict[str, Any]:
    """:func:`verify_frame` of the file at ``path``."""
    return verify_frame(read_output(path), qi, sensitive, **options)
