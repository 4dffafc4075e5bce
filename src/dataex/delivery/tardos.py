"""A keyed, collusion-resistant Tardos code and its accusation score with a rigorous p-value.

Code (Tardos 2003, symmetric score of Škorić et al. 2008):

* ``m`` = :data:`CODE_LENGTH` positions (dx-fp-2: 65,536, so that nearly every marked cell of an
  extract carries its own position; dx-fp-1: :data:`LEGACY_CODE_LENGTH` = 1,024).
  Position ``i`` has a bias ``p_i = sin²(r_i)`` with ``r_i`` uniform in
  ``[t', π/2 − t']``, ``t' = arcsin(√t)``, cutoff ``t`` = :data:`CUTOFF` (the arcsine
  distribution cut at ``t`` and ``1 − t``). ``r_i`` comes from the node secret.
* Contract ``j``'s codeword: ``X_ji = 1`` iff ``u_ji < p_i``, ``u_ji`` uniform from
  HMAC(secret, contract id). Nothing is stored: the secret and the id regenerate it.
* A leak gives, per observed position, a soft symbol ``w_i`` in ``[−1, 1]``: dx-fp-2 the mean of
  its cells' non-zero estimates of ``2X_i − 1`` (:meth:`Observation.soft`); dx-fp-1 ``2·y_i − 1``
  with ``y_i`` the share of its marked cells that read 1 (:meth:`Observation.of`).
* Score ``S_j = Σ_i w_i · g(X_ji, p_i)`` with ``g(1, p) = √((1−p)/p)``, ``g(0, p) = −√(p/(1−p))``.

For an innocent contract, ``X_j`` is independent of the leak, so given the leak the terms are
independent, each with mean 0 and variance ``w_i² <= 1``. The false-accusation probability of a
score ``s`` is bounded by the Chernoff bound of that exact distribution,
``P(S_j >= s) <= min_λ exp(Σ_i log(p_i e^{λ w_i a_i} + (1−p_i) e^{−λ w_i b_i}) − λ s)``
(``a_i = √((1−p_i)/p_i)``, ``b_i = √(p_i/(1−p_i))``), minimized over λ: a geometric grid of 25
values in ``[10⁻³, 4]``, then 17 evenly spaced between the best one's neighbours (every λ >= 0
gives a valid bound, so the search can only be loose, never wrong) — a valid p-value with no
Gaussian approximation. Over ``N`` candidate contracts the union bound gives ``N · P``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from dataex.delivery.fingerprint import stream_u64

CODE_LENGTH: Final = 1 << 16
LEGACY_CODE_LENGTH: Final = 1024
CUTOFF: Final = 0.005
_LAMBDAS: Final = np.geomspace(1e-3, 4.0, 25)
_REFINE: Final = 17

F64 = npt.NDArray[np.float64]


def _uniform(words: npt.NDArray[np.uint64]) -> F64:
    return (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def biases(secret: bytes, length: int = CODE_LENGTH, cutoff: float = CUTOFF) -> F64:
    """The per-position biases ``p_i`` (shared by every codeword of the node)."""
    low = math.asin(math.sqrt(cutoff))
    r = low + _uniform(stream_u64(secret, "tardos:p", length)) * (math.pi / 2 - 2 * low)
    return np.sin(r) ** 2


def codeword(secret: bytes, contract_id: str, p: F64) -> npt.NDArray[np.bool_]:
    """Contract ``contract_id``'s codeword for the biases ``p``."""
    return _uniform(stream_u64(secret, f"tardos:x:{contract_id}", len(p))) < p


@dataclass(frozen=True)
class Observation:
    """What a leak shows: the observed positions and their soft symbols ``w`` in [-1, 1]."""

    positions: npt.NDArray[np.int64]
    w: F64
    cells: int

    @classmethod
    def of(cls, positions: npt.NDArray[np.int64], bits: npt.NDArray[np.int64], length: int) -> Observation:
        total = np.bincount(positions, minlength=length)
        ones = np.bincount(positions, weights=bits.astype(np.float64), minlength=length)
        seen = np.flatnonzero(total > 0)
        w = 2.0 * ones[seen] / total[seen] - 1.0
        return cls(seen.astype(np.int64), w, len(positions))

    @classmethod
    def soft(cls, positions: npt.NDArray[np.int64], estimates: F64, length: int) -> Observation:
        """dx-fp-2: ``w_j`` = the mean of the non-zero estimates (in [−1, 1]) of position ``j``."""
        told = estimates != 0
        total = np.bincount(positions[told], minlength=length)
        sums = np.bincount(positions[told], weights=estimates[told], minlength=length)
        seen = np.flatnonzero(total > 0)
        w = np.clip(sums[seen] / total[seen], -1.0, 1.0)
        return cls(seen.astype(np.int64), w, int(np.count_nonzero(told)))


def score(obs: Observation, x: npt.NDArray[np.bool_], p: F64) -> float:
    """The symmetric Tardos score of codeword ``x`` against the observation."""
    pi, xi = p[obs.positions], x[obs.positions]
    g = np.where(xi, np.sqrt((1 - pi) / pi), -np.sqrt(pi / (1 - pi)))
    return float(np.sum(obs.w * g))


def p_value(obs: Observation, s: float, p: F64) -> float:
    """A rigorous upper bound on P(an innocent codeword scores >= ``s``) (Chernoff, see above)."""
    if len(obs.positions) == 0 or s <= 0:
        return 1.0
    pi = p[obs.positions]
    a = obs.w * np.sqrt((1 - pi) / pi)
    b = obs.w * np.sqrt(pi / (1 - pi))
    log_p, log_q = np.log(pi), np.log1p(-pi)

    def exponents(lams: F64) -> F64:
        lam = lams[:, None]
        out: F64 = np.logaddexp(log_p + lam * a, log_q - lam * b).sum(axis=1) - lams * s
        return out

    coarse = exponents(_LAMBDAS)
    i = int(np.argmin(coarse))
    fine = np.linspace(_LAMBDAS[max(i - 1, 0)], _LAMBDAS[min(i + 1, len(_LAMBDAS) - 1)], _REFINE)
    exponent = float(min(coarse.min(), exponents(fine).min()))
    return math.exp(min(0.0, exponent))
