"""Utility of a release: how much the generalization and suppression cost.

With ``N`` records (suppressed ones included), quasi-identifiers ``Q``, classes ``E`` of the
released records and ``S`` suppressed records:

* ``entropy`` — ARX's monotonic non-uniform entropy: ``Σ_q Σ_r −log2(cnt_q(orig_r) / cnt_q(gen_r))``
  over **all** records, counts over all records (suppression does not change it);
* ``loss`` — generalization intensity: per cell ``(leaves(g) − 1) / (domain − 1)`` (for numeric
  Mondrian ranges ``(max − min) / (column max − column min)``), a suppressed cell counts 1, averaged
  over ``N·|Q|`` cells;
* ``discernibility`` — ``Σ_E |E|² + S·N``;
* ``average_class_size`` — ``(N − S) / |E|``; ``c_avg`` — that divided by ``k``.

``ml_utility`` trains the same scikit-learn model on original and on anonymized features of the
same released records and scores both on the same held-out rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
HOLDOUT_EVERY = 5


def non_uniform_entropy(orig: IntArray, gen: IntArray) -> float:
    """``Σ_r −log2(count(orig_r) / count(gen_r))`` for one column (codes per record)."""
    co = np.bincount(orig)[orig]
    cg = np.bincount(gen)[gen]
    return float(-np.log2(co / cg).sum())


def summary(
    *, sizes: IntArray, suppressed: int, rows: int, k: int | None, entropy: float, loss: float
) -> dict[str, Any]:
    """The utility block of a result (``sizes`` are the released classes)."""
    sizes = sizes[sizes > 0]
    kept = int(sizes.sum())
    avg = kept / len(sizes) if len(sizes) else 0.0
    return {
        "entropy": entropy,
        "loss": loss,
        "discernibility": float((sizes.astype(np.float64) ** 2).sum() + suppressed * rows),
        "average_class_size": avg,
        "c_avg": avg / k if k else None,
        "classes": len(sizes),
        "suppressed": suppressed,
    }


def ml_utility(
    original: dict[str, npt.NDArray[Any]], anonymized: dict[str, npt.NDArray[Any]], target: npt.NDArray[Any]
) -> dict[str, float]:
    """Accuracy of a logistic regression (one-hot features) trained on original vs anonymized
    features; every ``HOLDOUT_EVERY``-th record is held out for both (deterministic, no RNG)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder
    except ImportError as e:  # pragma: no cover - scikit-learn is a dependency of the ML extra
        raise ImportError("ML utility needs scikit-learn: pip install scikit-learn") from e
    n = len(target)
    test = np.arange(n) % HOLDOUT_EVERY == 0
    y = np.asarray(target).astype(str)
    scores = {}
    for name, feats in (("original", original), ("anonymized", anonymized)):
        x = np.stack([np.asarray(v).astype(str) for v in feats.values()], axis=1)
        model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=300))
        model.fit(x[~test], y[~test])
        scores[name] = float((model.predict(x[test]) == y[test]).mean())
    scores["held_out"] = int(test.sum())
    return scores
