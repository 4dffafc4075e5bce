"""Datasets: registration, digests, originality, certificates."""
