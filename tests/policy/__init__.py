"""Shared set-up for the policy tests."""

from __future__ import annotations

from dataex.catalog.metadata import describe
from tests.contracts import Market


def make_private(m: Market) -> None:
    """The hospital turns its dataset private, through the catalog service as a user would."""
    describe(m.ex, m.dataset_id, actor=m.hospital.party, visibility="private")
