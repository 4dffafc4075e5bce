"""The node's compute settings: release floors, the membership-inference threshold, concurrency caps.

Read from the environment (``DATAEX_COMPUTE_<NAME>``, e.g. ``DATAEX_COMPUTE_MAX_JOBS_PER_PARTY=1``)
each time a job is submitted or released, so an operator changes them without a migration. The
recipe cannot change any of them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ComputeSettings(BaseSettings):
    """What the node enforces on every compute job (see docs/compute.md)."""

    model_config = SettingsConfigDict(env_prefix="DATAEX_COMPUTE_", extra="ignore")

    min_samples_leaf: int = Field(default=10, ge=1, le=100_000)
    """The node's k: every leaf of a tree model (random forest, gradient boosting) holds at least
    this many training rows, so no leaf value is one person's value."""
    max_depth: int = Field(default=12, ge=1, le=64)
    """The deepest tree a recipe may ask for (and the depth used when it asks for none)."""
    max_mia_advantage: float = Field(default=0.2, ge=0.0, le=1.0)
    """A non-DP model whose measured membership-inference advantage exceeds this is not released."""
    max_classes: int = Field(default=50, ge=2, le=10_000)
    """The most classes a classification target may have (declared domain or values present)."""
    max_jobs_per_party: int = Field(default=2, ge=1, le=1_000)
    """Unfinished (queued or running) jobs one consumer may have at once."""
    max_jobs_per_node: int = Field(default=4, ge=1, le=10_000)
    """Unfinished jobs the node runs at once, all consumers together."""


def compute_settings() -> ComputeSettings:
    """The settings as the environment gives them now."""
    return ComputeSettings()
