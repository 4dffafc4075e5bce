"""RFC 6962 / RFC 9162 Merkle tree tests against published vectors and properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataex.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_from_hashes,
    inclusion_proof,
    inclusion_proof_from_hashes,
    leaf_hash,
    node_hash,
    root,
    root_from_hashes,
    verify_consistency,
    verify_inclusion,
    verify_inclusion_hash,
)


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


# --------------------------------------------------------------------------------------
# Published vectors.
#
# LEAVES, NODE_HASHES, ROOTS and COMPACT_TREES: transparency-dev/merkle,
# testonly/constants.go (LeafInputs, NodeHashes, RootHashes, CompactTrees); the same
# eight leaves and roots are used by google/trillian and the certificate-transparency
# C++ merkle tree tests.
# INCLUSION_VECTORS, CONSISTENCY_VECTORS: transparency-dev/merkle, proof/verify_test.go
# (inclusionProofs, consistencyProofs). The Go file uses 1-based leaf numbers; the
# indices below are 0-based.
# Hasher vectors: transparency-dev/merkle, rfc6962/rfc6962_test.go (TestRFC6962Hasher).
# --------------------------------------------------------------------------------------

LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# ROOTS[n] is the root of the tree of the first n leaves.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

_NH = NODE_HASHES
COMPACT_TREES: list[list[bytes]] = [
    [],
    [_NH[0][0]],
    [_NH[1][0]],
    [_NH[1][0], _NH[0][2]],
    [_NH[2][0]],
    [_NH[2][0], _NH[0][4]],
    [_NH[2][0], _NH[1][2]],
    [_NH[2][0], _NH[1][2], _NH[0][6]],
    [_NH[3][0]],
]

# (0-based leaf index, tree size, audit path)
INCLUSION_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, consistency proof)
CONSISTENCY_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


# --------------------------------------------------------------------------------------
# Reference implementation: a literal transcription of the recursive RFC 9162 definitions
# (sections 2.1.1, 2.1.3.1, 2.1.4.1), used to cross-check the iterative code.
# --------------------------------------------------------------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True) if m > 0 else []


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


# ----------------------------------------------------------------------- hashing vectors


def test_hasher_vectors() -> None:
    empty = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert root_from_hashes([]) == empty
    assert empty == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_hashes_match_node_hashes_level_zero() -> None:
    assert [leaf_hash(leaf) for leaf in LEAVES] == NODE_HASHES[0]


@pytest.mark.parametrize("size", range(9))
def test_roots_for_every_prefix(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    assert root_from_hashes(NODE_HASHES[0][:size]) == ROOTS[size]


def test_empty_tree_root_is_not_empty_leaf_hash() -> None:
    assert root([]) == EMPTY_ROOT
    assert root([b""]) != EMPTY_ROOT


# ---------------------------------------------------------------------- inclusion proofs


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, expected: list[bytes]) -> None:
    leaves = LEAVES[:size]
    assert inclusion_proof(leaves, index) == expected
    assert inclusion_proof_from_hashes(NODE_HASHES[0][:size], index) == expected
    assert verify_inclusion(LEAVES[index], index, size, expected, ROOTS[size])
    assert verify_inclusion_hash(NODE_HASHES[0][index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize("index", range(8))
def test_inclusion_paths_from_published_node_hashes(index: int) -> None:
    expected = [NODE_HASHES[level][(index >> level) ^ 1] for level in range(3)]
    assert inclusion_proof(LEAVES, index) == expected
    assert verify_inclusion(LEAVES[index], index, 8, expected, ROOTS[8])


@pytest.mark.parametrize(("index", "size", "proof"), [v for v in INCLUSION_VECTORS if v[2]])
def test_inclusion_vectors_reject_corruption(index: int, size: int, proof: list[bytes]) -> None:
    # Probes mirror corruptInclusionProof in transparency-dev/merkle proof/verify_test.go.
    leaf = NODE_HASHES[0][index]
    good_root = ROOTS[size]
    probes: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, leaf, proof, good_root),
        (index + 1, size, leaf, proof, good_root),
        (index ^ 2, size, leaf, proof, good_root),
        (index, size * 2, leaf, proof, good_root),
        (index, size // 2, leaf, proof, good_root),
        (index, size, leaf_hash(b"WrongLeaf"), proof, good_root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], good_root),
        (index, size, leaf, [*proof, good_root], good_root),
        (index, size, leaf, [b"", *proof], good_root),
        (index, size, leaf, [good_root, *proof], good_root),
        (index, size, leaf, proof[:-1], good_root),
    ]
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], good_root))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i])
        probes.append((index, size, leaf, bad, good_root))
    for p_index, p_size, p_leaf, p_proof, p_root in probes:
        assert not verify_inclusion_hash(p_leaf, p_index, p_size, p_proof, p_root), (p_index, p_size)


def test_inclusion_single_entry() -> None:
    data_hash = leaf_hash(b"data")
    assert verify_inclusion(b"data", 0, 1, [], data_hash)
    assert not verify_inclusion_hash(data_hash, 0, 1, [], b"")
    assert not verify_inclusion_hash(b"", 0, 1, [], data_hash)
    assert not verify_inclusion_hash(b"", 0, 1, [], b"")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_rejects_bad_index_size(index: int, size: int) -> None:
    assert not verify_inclusion_hash(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion_hash(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion_hash(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_inclusion_verification_never_raises_on_malformed_input() -> None:
    proof = inclusion_proof(LEAVES, 3)
    leaf = LEAVES[3]
    assert verify_inclusion(leaf, 3, 8, proof, ROOTS[8])
    assert not verify_inclusion(leaf, 8, 8, proof, ROOTS[8])  # index >= size
    assert not verify_inclusion(leaf, -1, 8, proof, ROOTS[8])
    assert not verify_inclusion(leaf, 3, -8, proof, ROOTS[8])
    assert not verify_inclusion(leaf, 3, 8, proof[:2], ROOTS[8])  # too short
    assert not verify_inclusion(leaf, 3, 8, [*proof, proof[0]], ROOTS[8])  # too long
    assert not verify_inclusion(leaf, 3, 8, [proof[0][:31], *proof[1:]], ROOTS[8])  # short hash
    assert not verify_inclusion(leaf, 3, 8, proof, ROOTS[8][:31])
    assert not verify_inclusion(leaf, 3, 8, proof, ROOTS[8] + b"\x00")
    assert not verify_inclusion(leaf, True, 8, proof, ROOTS[8])  # bool is not an index
    assert not verify_inclusion(leaf, 3, 8, None, ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion(None, 3, 8, proof, ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion_hash(leaf_hash(leaf), 3, 8, [*proof[:2], "x" * 32], ROOTS[8])  # type: ignore[list-item]


def test_inclusion_proof_generation_rejects_bad_index() -> None:
    for bad in (-1, 8, 9):
        with pytest.raises(ValueError, match="out of range"):
            inclusion_proof(LEAVES, bad)
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof([], 0)


# -------------------------------------------------------------------- consistency proofs


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, expected: list[bytes]) -> None:
    assert consistency_proof(LEAVES[:new], old) == expected
    assert consistency_proof_from_hashes(NODE_HASHES[0][:new], old) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


@pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_consistency_vectors_reject_corruption(old: int, new: int, proof: list[bytes]) -> None:
    # Probes mirror corruptConsistencyProof in transparency-dev/merkle proof/verify_test.go.
    r1, r2 = ROOTS[old], ROOTS[new]
    wrong = hashlib.sha256(b"WrongRoot").digest()
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, wrong, r2, proof),
        (old, new, r1, wrong, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], 4)
        probes.append((old, new, r1, r2, bad))
    for p_old, p_new, p_r1, p_r2, p_proof in probes:
        assert not verify_consistency(p_old, p_new, p_r1, p_r2, p_proof), (p_old, p_new)


def test_consistency_edge_cases() -> None:
    # Adapted from TestVerifyConsistency in transparency-dev/merkle proof/verify_test.go.
    # Differences: roots must be 32 bytes here, and a size-0 old tree must carry the
    # empty-tree root (transparency-dev accepts any old root for size 0).
    root1 = hashlib.sha256(b"don't care 1").digest()
    root2 = hashlib.sha256(b"don't care 2").digest()
    assert not verify_consistency(0, 0, root1, root2, [])
    assert not verify_consistency(1, 1, root1, root2, [])
    assert verify_consistency(0, 0, root1, root1, [])
    assert verify_consistency(1, 1, root2, root2, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, root2, [])
    assert not verify_consistency(0, 1, root1, root2, [])
    assert not verify_consistency(1, 0, root1, root2, [])  # old_size > new_size
    assert not verify_consistency(2, 1, root1, root2, [])
    assert not verify_consistency(1, 2, root1, root2, [])  # empty proof
    assert not verify_consistency(0, 0, EMPTY_ROOT, root2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, root2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_consistency_verification_never_raises_on_malformed_input() -> None:
    proof = consistency_proof(LEAVES, 3)
    assert verify_consistency(3, 8, ROOTS[3], ROOTS[8], proof)
    assert not verify_consistency(-1, 8, ROOTS[3], ROOTS[8], proof)
    assert not verify_consistency(3, -8, ROOTS[3], ROOTS[8], proof)
    assert not verify_consistency(9, 8, ROOTS[3], ROOTS[8], proof)
    assert not verify_consistency(3, 8, ROOTS[3][:16], ROOTS[8], proof)
    assert not verify_consistency(3, 8, ROOTS[3], b"", proof)
    assert not verify_consistency(3, 8, ROOTS[3], ROOTS[8], [p[:31] for p in proof])
    assert not verify_consistency(3, 8, ROOTS[3], ROOTS[8], None)  # type: ignore[arg-type]
    assert not verify_consistency(3, 8, None, ROOTS[8], proof)  # type: ignore[arg-type]
    assert not verify_consistency(3.0, 8, ROOTS[3], ROOTS[8], proof)  # type: ignore[arg-type]
    # Long proofs run out of sn and must be rejected, not crash.
    assert not verify_consistency(3, 8, ROOTS[3], ROOTS[8], proof * 10)


def test_consistency_proof_generation_rejects_bad_size() -> None:
    for bad in (-1, 9):
        with pytest.raises(ValueError, match="out of range"):
            consistency_proof(LEAVES, bad)
    assert consistency_proof(LEAVES, 0) == []
    assert consistency_proof(LEAVES, 8) == []


# ------------------------------------------------------------------------- compact range


@pytest.mark.parametrize("size", range(9))
def test_frontier_matches_published_compact_trees(size: int) -> None:
    frontier = Frontier()
    frontier.extend(NODE_HASHES[0][:size])
    assert frontier.size == size
    assert list(frontier.hashes) == COMPACT_TREES[size]
    assert frontier.root() == ROOTS[size]
    assert Frontier.from_hashes(NODE_HASHES[0][:size]) == frontier


def test_frontier_json_round_trip() -> None:
    frontier = Frontier.from_hashes(NODE_HASHES[0][:7])
    encoded = frontier.to_json()
    assert encoded == [x.hex() for x in COMPACT_TREES[7]]
    restored = Frontier.from_json(7, encoded)
    assert restored == frontier
    assert restored.root() == ROOTS[7]
    restored.append(NODE_HASHES[0][7])
    assert restored.root() == ROOTS[8]
    assert frontier.size == 7  # independent state


def test_frontier_copy_is_independent() -> None:
    frontier = Frontier.from_hashes(NODE_HASHES[0][:5])
    clone = frontier.copy()
    clone.append(NODE_HASHES[0][5])
    assert frontier.root() == ROOTS[5]
    assert clone.root() == ROOTS[6]


@pytest.mark.parametrize(
    ("size", "hashes"),
    [
        (3, [NODE_HASHES[1][0].hex()]),  # needs two hashes
        (4, [NODE_HASHES[2][0].hex(), NODE_HASHES[0][0].hex()]),  # needs one
        (1, ["zz" * 32]),
        (1, [NODE_HASHES[0][0].hex()[:-2]]),
        (-1, []),
        (0, [NODE_HASHES[0][0].hex()]),
    ],
)
def test_frontier_from_json_rejects_inconsistent_input(size: int, hashes: list[str]) -> None:
    with pytest.raises(ValueError, match="frontier"):
        Frontier.from_json(size, hashes)


def test_frontier_append_rejects_bad_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"short")


# ---------------------------------------------------------------------- scale (speed lives in bench/)


def test_large_tree_is_consistent_across_methods() -> None:
    hashes = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(1_000_000)]
    big_root = root_from_hashes(hashes)
    assert Frontier.from_hashes(hashes).root() == big_root
    index = 765_432
    path = inclusion_proof_from_hashes(hashes, index)
    assert len(path) == 20
    assert verify_inclusion_hash(hashes[index], index, len(hashes), path, big_root)
    old = 524_289
    cproof = consistency_proof_from_hashes(hashes, old)
    assert verify_consistency(old, len(hashes), root_from_hashes(hashes[:old]), big_root, cproof)


# ---------------------------------------------------------------------- property tests

entries = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


@settings(max_examples=200, deadline=None)
@given(leaves=entries)
def test_root_matches_rfc_reference(leaves: list[bytes]) -> None:
    assert root(leaves) == ref_mth(leaves)


@settings(max_examples=200, deadline=None)
@given(leaves=entries, data=st.data())
def test_inclusion_properties(leaves: list[bytes], data: st.DataObject) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    tree_root = root(leaves)
    proof = inclusion_proof(leaves, index)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, tree_root)

    # Tampered proof element.
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], data.draw(st.integers(0, 7), label="bit"))
        assert not verify_inclusion(leaves[index], index, size, bad, tree_root)
    # Tampered leaf.
    assert not verify_inclusion(leaves[index] + b"x", index, size, proof, tree_root)
    # Any other index (leaves are unique, so no accidental equal leaf hashes).
    for other in range(size):
        if other != index:
            assert not verify_inclusion(leaves[index], other, size, proof, tree_root)
    # Wrong length.
    assert not verify_inclusion(leaves[index], index, size, [*proof, tree_root], tree_root)
    if proof:
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], tree_root)
    # Wrong root (root of a different prefix).
    if size > 1:
        assert not verify_inclusion(leaves[index], index, size, proof, root(leaves[:-1]))


@settings(max_examples=200, deadline=None)
@given(leaves=entries, data=st.data())
def test_consistency_properties(leaves: list[bytes], data: st.DataObject) -> None:
    new = len(leaves)
    old = data.draw(st.integers(0, new), label="old_size")
    old_root, new_root = root(leaves[:old]), root(leaves)
    proof = consistency_proof(leaves, old)
    assert proof == ref_proof(old, leaves)
    assert verify_consistency(old, new, old_root, new_root, proof)

    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], data.draw(st.integers(0, 7), label="bit"))
        assert not verify_consistency(old, new, old_root, new_root, bad)
    if proof:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
    assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
    if old_root != new_root:
        assert not verify_consistency(old, new, new_root, old_root, proof)
    # Old root from a tree with a different last entry.
    if old > 0:
        forked = root([*leaves[: old - 1], leaves[old - 1] + b"fork"])
        assert not verify_consistency(old, new, forked, new_root, proof)
    # Another tree of the same size that does not extend the old one.
    if old > 0:
        other_new = root([leaves[0] + b"fork", *leaves[1:]])
        assert not verify_consistency(old, new, old_root, other_new, proof)


@settings(max_examples=50, deadline=None)
@given(count=st.integers(0, 150))
def test_frontier_root_equals_root_from_hashes(count: int) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]
    frontier = Frontier()
    for n in range(count + 1):
        assert frontier.size == n
        assert frontier.root() == root_from_hashes(hashes[:n])
        assert len(frontier.hashes) == n.bit_count()
        if n < count:
            frontier.append(hashes[n])
    assert Frontier.from_hashes(hashes) == frontier
    assert Frontier.from_json(count, frontier.to_json()) == frontier
