"""MinHash signatures of a dataset's rows, and the LSH index behind the originality check.

The set a signature describes is the set of distinct rows, each represented by its SHA-256 row
hash (see ``digest``). Row hashes are already uniformly random, so instead of 128 independent
permutations (128 multiply-adds per row, minutes for 10 million rows) the signature uses
**one-permutation hashing** (Li, Owen and Zhang, NIPS 2012): the top 7 bits of a row hash choose one
of 128 bins, the next 32 bits are its value, and each bin keeps its minimum. Empty bins (tables of a
few hundred rows) are filled by **rotation densification** (Shrivastava and Li, ICML 2014): an empty
bin takes the value of the next non-empty bin to its right, plus ``distance * 2**32``. The fraction of
equal bins estimates the Jaccard similarity, exactly as for classic MinHash, so the signature is
handed to ``datasketch`` (``MinHash`` and ``MinHashLSH``) for estimation and indexing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_BINS = 128
_EMPTY = np.uint64(np.iinfo(np.uint64).max)
_SEED = 1
_SCHEME = "affine64"


class OnePermutationBuilder:
    """Accumulates a one-permutation MinHash over 64-bit row-hash prefixes given in sorted order."""

    def __init__(self) -> None:
        self._mins = np.full(NUM_BINS, _EMPTY, dtype=np.uint64)

    def update_sorted(self, prefixes: np.ndarray) -> None:
        bins = (prefixes >> np.uint64(57)).astype(np.int64)
        values = (prefixes >> np.uint64(25)) & np.uint64(0xFFFFFFFF)
        # the input is sorted, so the first occurrence of each bin holds the bin's minimum
        first_bins, first_idx = np.unique(bins, return_index=True)
        np.minimum.at(self._mins, first_bins, values[first_idx])

    def update(self, prefixes: np.ndarray) -> None:
        """Same as ``update_sorted`` for input in any order."""
        bins = (prefixes >> np.uint64(57)).astype(np.int64)
        values = (prefixes >> np.uint64(25)) & np.uint64(0xFFFFFFFF)
        np.minimum.at(self._mins, bins, values)

    def signature(self) -> bytes:
        return densify(self._mins).astype("<u8").tobytes()


def densify(mins: np.ndarray) -> np.ndarray:
    """Rotation densification: empty bins borrow from the next non-empty bin to the right."""
    out = mins.copy()
    filled = np.flatnonzero(mins != _EMPTY)
    if len(filled) == 0:
        return out
    n = len(mins)
    for i in np.flatnonzero(mins == _EMPTY):
        j = filled[np.searchsorted(filled, i) % len(filled)]
        distance = (int(j) - int(i)) % n
        out[i] = mins[j] + np.uint64(distance << 32)
    return out


def to_minhash(signature: bytes) -> MinHash:
    from datasketch import MinHash  # imported here: it pulls in scipy, slow for `dataex --help`

    return MinHash(seed=_SEED, scheme=_SCHEME, hashvalues=np.frombuffer(signature, dtype="<u8"))


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two row sets."""
    return float(to_minhash(a).jaccard(to_minhash(b)))


def similar(
    signature: bytes, candidates: Iterable[tuple[str, bytes]], threshold: float
) -> list[tuple[str, float]]:
    """Candidates whose estimated Jaccard similarity is >= ``threshold``, most similar first.

    An LSH index, banded for a lower threshold so that pairs near the threshold are not missed,
    picks the candidates; each is then confirmed on the full signature.
    """
    from datasketch import MinHashLSH

    sigs = dict(candidates)
    if not sigs:
        return []
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.3), num_perm=NUM_BINS)
    with lsh.insertion_session() as session:
        for key, sig in sigs.items():
            session.insert(key, to_minhash(sig))
    hits = [(key, similarity(signature, sigs[key])) for key in lsh.query(to_minhash(signature))]
    return sorted((h for h in hits if h[1] >= threshold), key=lambda h: -h[1])
