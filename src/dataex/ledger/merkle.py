"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right),
and the hash of the empty tree is SHA-256(""). Proofs are lists of 32-byte
hashes ordered from the leaf (or old subtree) upwards, exactly as in
RFC 9162 sections 2.1.3 and 2.1.4, so they interoperate with other RFC 6962
logs (Certificate Transparency, Go checksum database, Trillian, Tessera, ...).

Generation is iterative (no recursion) and every function works on plain
lists; the ``*_from_hashes`` variants take leaf hashes, the others raw entries.
Verification functions never raise on malformed input: they return False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "consistency_proof_from_hashes",
    "inclusion_proof",
    "inclusion_proof_from_hashes",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_hashes",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusion_hash",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || entry)."""
    return _sha256(_LEAF_PREFIX + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --------------------------------------------------------------------------- roots


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of leaf hashes.

    Hashes level by level, promoting an unpaired last node unchanged; this
    yields exactly the RFC 6962 tree that splits at the largest power of two.
    """
    count = len(hashes)
    if count == 0:
        return EMPTY_ROOT
    level = list(hashes)
    sha256 = _sha256
    prefix = _NODE_PREFIX
    while count > 1:
        paired = [sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)]
        if count & 1:
            paired.append(level[-1])
        level = paired
        count = len(level)
    return bytes(level[0])


def root(leaves: list[bytes]) -> bytes:
    """Return the Merkle tree hash of a list of raw entries."""
    return root_from_hashes([leaf_hash(leaf) for leaf in leaves])


def _range_root(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of ``hashes[start:end]`` (``start < end``)."""
    if end - start == 1:
        return bytes(hashes[start])
    return root_from_hashes(hashes[start:end])


# ------------------------------------------------------------------ inclusion proofs


def inclusion_proof_from_hashes(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 9162 audit path PATH(index, D[n]) over leaf hashes.

    Raises ``ValueError`` unless ``0 <= index < len(hashes)``.
    """
    size = len(hashes)
    if not _is_size(index) or index >= size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            path.append(_range_root(hashes, mid, end))
            end = mid
        else:
            path.append(_range_root(hashes, start, mid))
            start = mid
    path.reverse()
    return path


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """Return the inclusion proof for raw entry ``leaves[index]``."""
    return inclusion_proof_from_hashes([leaf_hash(leaf) for leaf in leaves], index)


def _root_from_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: recompute the root, or None if the path is malformed."""
    fn = index
    sn = size - 1
    r = bytes(leaf_hash_)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion_hash(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify that ``leaf_hash`` is at ``index`` in the tree of ``size`` leaves with ``root``."""
    if not (_is_size(index) and _is_size(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not isinstance(proof, Sequence) or not all(_is_hash(p) for p in proof):
        return False
    computed = _root_from_inclusion(leaf_hash, index, size, proof)
    return computed is not None and computed == bytes(root)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Verify an inclusion proof for the raw entry ``leaf``."""
    if not isinstance(leaf, bytes | bytearray):
        return False
    return verify_inclusion_hash(leaf_hash(leaf), index, size, proof, root)


# ---------------------------------------------------------------- consistency proofs


def consistency_proof_from_hashes(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(old_size, D[n]) over leaf hashes.

    The proof is empty when ``old_size`` is 0 or equals the tree size.
    Raises ``ValueError`` unless ``0 <= old_size <= len(hashes)``.
    """
    size = len(hashes)
    if not _is_size(old_size) or old_size > size:
        raise ValueError(f"old size {old_size} out of range for tree size {size}")
    if old_size == 0:
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, size, old_size, True
    # SUBPROOF(m, D[start:end], complete), unrolled; appended nodes come out in
    # reverse order and the final reverse puts them leaf-side first.
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_range_root(hashes, start + k, end))
            end = start + k
        else:
            proof.append(_range_root(hashes, start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(_range_root(hashes, start, end))
    proof.reverse()
    return proof


def consistency_proof(leaves: list[bytes], old_size: int) -> list[bytes]:
    """Return the consistency proof from the first ``old_size`` raw entries to all of them."""
    return consistency_proof_from_hashes([leaf_hash(leaf) for leaf in leaves], old_size)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """Verify that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    Follows RFC 9162 section 2.1.4.2 for ``0 < old_size < new_size``. Edge cases:
    equal sizes need an empty proof and equal roots; ``old_size == 0`` needs an
    empty proof and ``old_root`` equal to the empty-tree hash.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if not isinstance(proof, Sequence) or not all(_is_hash(p) for p in proof):
        return False
    old_root = bytes(old_root)
    new_root = bytes(new_root)
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if len(proof) == 0:
        return False

    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is a subtree
        path.insert(0, old_root)
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --------------------------------------------------------------------- compact range


class Frontier:
    """Compact range [0, size): one perfect-subtree hash per set bit of ``size``.

    Hashes are ordered from the largest (leftmost) subtree to the smallest, so
    appending is O(log n) and ``root()`` equals ``root_from_hashes`` of all leaves.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Perfect-subtree hashes, largest subtree first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash, merging completed subtrees."""
        if not _is_hash(leaf_hash):
            raise ValueError("leaf hash must be 32 bytes")
        h = bytes(leaf_hash)
        s = self._size
        while s & 1:
            h = node_hash(self._hashes.pop(), h)
            s >>= 1
        self._hashes.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the Merkle tree hash of all appended leaves."""
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> Frontier:
        """Return an independent copy."""
        return Frontier._make(self._size, list(self._hashes))

    def to_json(self) -> list[str]:
        """Return the subtree hashes as lowercase hex strings (size is stored separately)."""
        return [h.hex() for h in self._hashes]

    @classmethod
    def from_json(cls, size: int, hashes: list[str]) -> Frontier:
        """Rebuild a frontier from ``size`` and ``to_json()`` output; ``ValueError`` if inconsistent."""
        if not _is_size(size):
            raise ValueError(f"invalid frontier size {size!r}")
        if not isinstance(hashes, list) or len(hashes) != size.bit_count():
            raise ValueError(f"frontier of size {size} needs exactly {size.bit_count()} hashes")
        decoded: list[bytes] = []
        for h in hashes:
            if not isinstance(h, str) or len(h) != 2 * HASH_SIZE:
                raise ValueError("frontier hashes must be 64 hex characters")
            try:
                decoded.append(bytes.fromhex(h))
            except ValueError as exc:
                raise ValueError(f"invalid hex in frontier hash {h!r}") from exc
        return cls._make(size, decoded)

    @classmethod
    def from_hashes(cls, hashes: Sequence[bytes]) -> Frontier:
        """Build the frontier of a whole list of leaf hashes in O(n)."""
        size = len(hashes)
        subtrees: list[bytes] = []
        start = 0
        for bit in range(size.bit_length() - 1, -1, -1):
            width = 1 << bit
            if size & width:
                subtrees.append(_range_root(hashes, start, start + width))
                start += width
        return cls._make(size, subtrees)

    @classmethod
    def _make(cls, size: int, hashes: list[bytes]) -> Frontier:
        frontier = cls()
        frontier._size = size
        frontier._hashes = hashes
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"
