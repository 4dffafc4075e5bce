"""KNN-Shapley: the hand-checkable case, efficiency, symmetry, pyDVL agreement; LOO and TMC."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from bench.market import PYDVL_REQUIREMENTS
from bench.peers import PeerUnavailable, peer_python
from dataex.errors import InvalidInput
from dataex.market.shapley import knn_loo, knn_shapley, knn_utility, suspects, tmc_shapley

ROOT = Path(__file__).resolve().parents[2]


def pydvl_python() -> Path:
    """pyDVL 0.10 wants numpy < 2, so it lives in its own venv (built once; a failure fails the test)."""
    try:
        return peer_python("pydvl", PYDVL_REQUIREMENTS)
    except PeerUnavailable as e:
        pytest.fail(str(e))


def exact_knn_shapley(x: list[float], y: list[int], xv: list[float], yv: list[int], k: int) -> list[Fraction]:
    """The paper's recursion in exact fractions, written independently of the vectorized code."""
    n = len(x)
    total = [Fraction(0)] * n
    for v, label in zip(xv, yv, strict=True):
        order = sorted(range(n), key=lambda i: abs(x[i] - v))
        m = [int(y[i] == label) for i in order]
        s = [Fraction(0)] * n
        s[n - 1] = Fraction(m[n - 1], n)
        for i in range(n - 2, -1, -1):
            s[i] = s[i + 1] + Fraction(m[i] - m[i + 1], k) * Fraction(min(k, i + 1), i + 1)
        for rank, i in enumerate(order):
            total[i] += s[rank]
    return [t / len(xv) for t in total]


X, Y = [0, 1, 2.5, 4, 6, 9], [0, 0, 1, 1, 0, 1]
XV, YV = [1.2, 5.1], [0, 1]
EXPECTED = [
    Fraction(17, 120),
    Fraction(17, 120),
    Fraction(1, 10),
    Fraction(1, 10),
    Fraction(7, 120),
    Fraction(1, 8),
]


def test_the_hand_checkable_case() -> None:
    assert exact_knn_shapley(X, Y, XV, YV, 3) == EXPECTED
    values = knn_shapley(np.array(X, float)[:, None], np.array(Y), np.array(XV)[:, None], np.array(YV), 3)
    assert values == pytest.approx([float(e) for e in EXPECTED], abs=1e-15)


def data(n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)  # noqa: TID251  (seeded benchmark data, not privacy noise)
    x, xv = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    w = rng.normal(size=d)
    return x, (x @ w > 0).astype(int), xv, (xv @ w + rng.normal(0, 0.5, m) > 0).astype(int)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_efficiency_axiom_and_chunking(k: int) -> None:
    x, y, xv, yv = data(60, 25, 3, seed=k)
    values = knn_shapley(x, y, xv, yv, k)
    utility = knn_utility(x, y, xv, yv, k)
    assert values.sum() == pytest.approx(utility(np.arange(60)) - utility(np.arange(0)), abs=1e-12)
    small = knn_shapley(x, y, xv, yv, k, chunk_elements=60, workers=2)  # one validation point per chunk
    assert np.allclose(values, small, atol=1e-14)


def test_symmetric_duplicates_get_equal_values() -> None:
    x, y, xv, yv = data(40, 20, 2, seed=5)
    x, y = np.vstack([x, x[:5]]), np.concatenate([y, y[:5]])
    values = knn_shapley(x, y, xv, yv, 5)
    assert np.allclose(values[:5], values[40:], atol=1e-12)


def test_loo_matches_brute_force() -> None:
    x, y, xv, yv = data(30, 10, 2, seed=3)
    utility = knn_utility(x, y, xv, yv, 4)
    full = utility(np.arange(30))
    brute = [full - utility(np.delete(np.arange(30), i)) for i in range(30)]
    assert knn_loo(x, y, xv, yv, 4) == pytest.approx(brute, abs=1e-12)


def test_tmc_shapley_approximates_the_exact_values() -> None:
    values = tmc_shapley(
        knn_utility(np.array(X, float)[:, None], np.array(Y), np.array(XV)[:, None], np.array(YV), 3),
        6,
        permutations=3000,
        truncation=0,
        seed=1,
    )
    assert values == pytest.approx([float(e) for e in EXPECTED], abs=0.02)


def test_bad_input() -> None:
    x, y, xv, yv = data(5, 3, 2, seed=0)
    with pytest.raises(InvalidInput, match="larger than the training set"):
        knn_shapley(x, y, xv, yv, 6)
    with pytest.raises(InvalidInput, match="same columns"):
        knn_shapley(x, y, xv[:, :1], yv, 2)


def test_suspects_are_strongly_negative() -> None:
    assert suspects([0.01] * 50 + [-0.5]) == [50]
    assert suspects([0.01, 0.02, 0.0]) == []


def test_agrees_with_pydvl_0_10(tmp_path: Path) -> None:
    x, y, xv, yv = data(400, 60, 5, seed=11)
    np.savez(tmp_path / "d.npz", x=x, y=y, xv=xv, yv=yv)
    script = (
        "import sys, json, numpy as np\n"
        "from sklearn.neighbors import KNeighborsClassifier\n"
        "from pydvl.valuation import Dataset, KNNShapleyValuation\n"
        "d = np.load(sys.argv[1])\n"
        "model = KNeighborsClassifier(n_neighbors=7)\n"
        "v = KNNShapleyValuation(model, Dataset(d['xv'], d['yv']), progress=False)\n"
        "v.fit(Dataset(d['x'], d['y']))\n"
        "r = v.result\n"
        "out = np.zeros(len(d['x'])); out[r.indices] = r.values\n"
        "print(json.dumps(out.tolist()))\n"
    )
    done = subprocess.run(
        [str(pydvl_python()), "-W", "ignore", "-c", script, str(tmp_path / "d.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = np.array(json.loads(done.stdout))
    ours = knn_shapley(x, y, xv, yv, 7)
    assert np.max(np.abs(ours - theirs)) <= 1e-9
