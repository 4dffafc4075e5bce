"""Node configuration: one typed object, built at the edge and passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """``$DATAEX_HOME``, else ``./.dataex``."""
    return Path(os.environ.get("DATAEX_HOME") or ".dataex")


class Settings(BaseSettings):
    """Where a node keeps its metadata, data and key.

    ``db_url`` defaults to a SQLite file in the home (WAL mode); give a
    ``postgresql+psycopg://`` URL to keep metadata in PostgreSQL. ``store_url`` defaults to
    ``<home>/store``; any fsspec URL works. The node key always lives in the home.
    ``max_upload_bytes`` bounds one upload through the HTTP API or the web console (default 2 GiB;
    ``DATAEX_MAX_UPLOAD_BYTES`` overrides it); a larger one is refused with ``FileTooLarge``.
    """

    model_config = SettingsConfigDict(env_prefix="DATAEX_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    db_url: str | None = None
    store_url: str | None = None
    node_name: str = "dataex-node"
    max_upload_bytes: int = Field(default=2 << 30, gt=0)

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'dataex.db').resolve()}"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or str((self.home / "store").resolve())

    @property
    def key_path(self) -> Path:
        return self.home / "node.key"

    @property
    def config_path(self) -> Path:
        return self.home / "node.json"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"
