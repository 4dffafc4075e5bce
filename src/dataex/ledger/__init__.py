"""Transparency log: Merkle tree hashing, proofs and signed checkpoints."""
