"""Parties, the node's Ed25519 key and API tokens."""
