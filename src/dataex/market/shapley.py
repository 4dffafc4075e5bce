"""Data valuation: exact KNN-Shapley, leave-one-out and truncated Monte-Carlo Data Shapley.

All three value training rows by their contribution to a utility on a validation set.

**KNN-Shapley** (Jia et al., VLDB 2019) is exact for the K-nearest-neighbour utility
``U(S) = (1/K) * #{the min(K, |S|) nearest points of S carrying the validation label}``.
For one validation point, with the training rows sorted nearest first (``a_1 … a_N``) and
``m_i = 1[y(a_i) = y_val]``::

    s(a_N) = m_N / N
    s(a_i) = s(a_(i+1)) + (m_i - m_(i+1)) / max(K, i)        (i = N-1 … 1)

the value of a row is the mean over validation points. Vectorized here: per chunk of
validation points one distance matrix (``|x|^2 + |v|^2 - 2 x.v``, BLAS), one ``argsort`` per row,
the recursion as a reversed cumulative sum (the same additions in the same order as the loop),
and one ``bincount`` to scatter the values back to rows. Chunks bound memory to about
``chunk_elements`` floats per array and run on a few threads (NumPy releases the GIL).

**Leave-one-out** for the same utility is closed-form too: only the K nearest rows matter.
**TMC Data Shapley** (Ghorbani & Zou, 2019) works for any utility (e.g. a scikit-learn model's
accuracy): random permutations, marginal gains, truncated once the prefix's utility is within
``truncation`` of the full set's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dataex.errors import InvalidInput

FloatArray = NDArray[np.float64]
Utility = Callable[[NDArray[np.intp]], float]
DEFAULT_CHUNK_ELEMENTS = 2_000_000


def _check(
    x_train: FloatArray, y_train: NDArray[Any], x_val: FloatArray, y_val: NDArray[Any], k: int
) -> None:
    if x_train.ndim != 2 or x_val.ndim != 2 or x_train.shape[1] != x_val.shape[1]:
        raise InvalidInput(
            f"training and validation features must be 2-D with the same columns; "
            f"got {x_train.shape} and {x_val.shape}"
        )
    if len(y_train) != len(x_train) or len(y_val) != len(x_val):
        raise InvalidInput("each feature row needs exactly one label")
    if len(x_train) == 0 or len(x_val) == 0:
        raise InvalidInput("valuation needs at least one training and one validation row")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be a positive integer; got {k!r}")
    if k > len(x_train):
        raise InvalidInput(f"k = {k} is larger than the training set ({len(x_train)} rows)")


def _sorted_matches(
    x_train: FloatArray, y_train: NDArray[Any], train_sq: FloatArray, xv: FloatArray, yv: NDArray[Any]
) -> tuple[NDArray[np.intp], FloatArray]:
    dist = (xv * xv).sum(axis=1)[:, None] + train_sq[None, :] - 2.0 * (xv @ x_train.T)
    order = np.argsort(dist, axis=1)
    matches = (y_train[order] == yv[:, None]).astype(np.float64)
    return order, matches


def knn_shapley(
    x_train: FloatArray,
    y_train: NDArray[Any],
    x_val: FloatArray,
    y_val: NDArray[Any],
    k: int,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    workers: int | None = None,
) -> FloatArray:
    """Exact KNN-Shapley values of the training rows (mean over validation points)."""
    x_train, x_val = np.asarray(x_train, np.float64), np.asarray(x_val, np.float64)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    _check(x_train, y_train, x_val, y_val, k)
    n = len(x_train)
    train_sq = (x_train * x_train).sum(axis=1)
    ranks = np.arange(1, n, dtype=np.float64)  # i = 1 … N-1 (the 1-indexed rank of a_i)
    denominators = np.maximum(float(k), ranks)
    step = max(1, chunk_elements // n)

    def chunk(start: int) -> FloatArray:
        xv, yv = x_val[start : start + step], y_val[start : start + step]
        order, m = _sorted_matches(x_train, y_train, train_sq, xv, yv)
        # d_i = (m_i - m_(i+1)) / max(K, i), summed from the farthest row inwards: s(a_N) + d_(N-1) + …
        steps = np.empty_like(m)
        steps[:, 0] = m[:, -1] / n
        np.divide(m[:, -2::-1] - m[:, :0:-1], denominators[::-1], out=steps[:, 1:])
        np.cumsum(steps, axis=1, out=steps)  # steps[:, j] is now s(a_(N-j)), farthest first
        return np.asarray(np.bincount(order[:, ::-1].ravel(), weights=steps.ravel(), minlength=n), np.float64)

    starts = range(0, len(x_val), step)
    threads = workers or min(4, os.cpu_count() or 1)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(chunk, starts))
    else:
        parts = [chunk(s) for s in starts]
    total = np.zeros(n)
    for part in parts:
        total += part
    result: FloatArray = total / len(x_val)
    return result


def knn_loo(
    x_train: FloatArray,
    y_train: NDArray[Any],
    x_val: FloatArray,
    y_val: NDArray[Any],
    k: int,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> FloatArray:
    """Leave-one-out values ``U(N) - U(N \\ {i})`` for the KNN utility (mean over validation points)."""
    x_train, x_val = np.asarray(x_train, np.float64), np.asarray(x_val, np.float64)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    _check(x_train, y_train, x_val, y_val, k)
    n = len(x_train)
    train_sq = (x_train * x_train).sum(axis=1)
    total = np.zeros(n)
    step = max(1, chunk_elements // n)
    for start in range(0, len(x_val), step):
        order, m = _sorted_matches(
            x_train, y_train, train_sq, x_val[start : start + step], y_val[start : start + step]
        )
        top = min(k, n)
        replacement = m[:, k] if n > k else np.zeros(len(m))
        loo = (m[:, :top] - replacement[:, None]) / k
        total += np.bincount(order[:, :top].ravel(), weights=loo.ravel(), minlength=n)
    result: FloatArray = total / len(x_val)
    return result


def knn_utility(
    x_train: FloatArray, y_train: NDArray[Any], x_val: FloatArray, y_val: NDArray[Any], k: int
) -> Utility:
    """The KNN utility ``U(S)`` over subsets of training rows (for TMC and tests)."""
    x_train, x_val = np.asarray(x_train, np.float64), np.asarray(x_val, np.float64)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    dist = ((x_val[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=2)

    def utility(subset: NDArray[np.intp]) -> float:
        if len(subset) == 0:
            return 0.0
        sub = dist[:, subset]
        nearest = np.asarray(subset)[np.argsort(sub, axis=1, kind="stable")[:, :k]]
        return float((y_train[nearest] == y_val[:, None]).sum(axis=1).mean() / k)

    return utility


def model_utility(
    x_train: FloatArray,
    y_train: NDArray[Any],
    x_val: FloatArray,
    y_val: NDArray[Any],
    model: Callable[[], Any],
) -> Utility:
    """Validation accuracy of ``model()`` (a scikit-learn estimator) fitted on a subset.

    An empty subset scores 0; a subset with one label predicts that label.
    """
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)

    def utility(subset: NDArray[np.intp]) -> float:
        if len(subset) == 0:
            return 0.0
        labels = y_train[subset]
        if len(np.unique(labels)) == 1:
            return float((y_val == labels[0]).mean())
        estimator = model()
        estimator.fit(x_train[subset], labels)
        return float((estimator.predict(x_val) == y_val).mean())

    return utility


def tmc_shapley(
    utility: Utility,
    n: int,
    *,
    permutations: int = 200,
    truncation: float = 0.01,
    seed: int = 0,
) -> FloatArray:
    """Truncated Monte-Carlo Data Shapley: the mean marginal gain over random permutations."""
    if permutations < 1:
        raise InvalidInput(f"permutations must be at least 1; got {permutations}")
    # Not privacy noise: a seeded generator makes the Monte-Carlo estimate reproducible.
    rng = np.random.default_rng(seed)  # noqa: TID251
    full = utility(np.arange(n))
    empty = utility(np.arange(0))
    total = np.zeros(n)
    for _ in range(permutations):
        order = rng.permutation(n)
        previous = empty
        for j in range(n):
            if truncation > 0 and abs(full - previous) <= truncation * abs(full):
                break  # the rest of this permutation adds (about) nothing
            current = utility(order[: j + 1])
            total[order[j]] += current - previous
            previous = current
    result: FloatArray = total / permutations
    return result


def suspects(values: Sequence[float] | FloatArray, *, sigmas: float = 3.0) -> list[int]:
    """Rows with strongly negative value (below 0 and ``sigmas`` deviations under the mean)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return []
    cut = min(0.0, float(v.mean() - sigmas * v.std()))
    return [int(i) for i in np.flatnonzero(v < cut)]
