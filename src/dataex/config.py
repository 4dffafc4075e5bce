"""Node configuration: one typed object, built at the edge and passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """``$DATAEX_HOME``, else ``./.dataex``."""
    return Path(os.environ.get("DATAEX_HOME") or ".dataex")


MULTIPART_OVERHEAD = 1 << 20  # form fields and part headers around an upload's file

# -- input ranges, checked at the edge (docs/security.md has the table) -------------------------
MAX_FEN = 10**15  # a price or an amount in fen (10 trillion yuan)
MAX_COUNT = 10**12  # a row or query limit
MAX_EPSILON = 1000.0  # an offer's or a query's ε (beyond it, DP protects nothing)
MAX_CONTRIBUTIONS = 1_000_000  # rows one privacy unit may contribute
MAX_EXPIRY_YEAR = 2199  # the latest year an expiry may name
MAX_ID_CHARS = 100  # an object id (ds_…, off_…, ctr_…)
MAX_NAME_CHARS = 200  # a name, a purpose, a legal basis, one list item
MAX_NOTE_CHARS = 2000  # a note or a reason
MAX_SQL_CHARS = 100_000  # a DP SQL query
MAX_LIST_ITEMS = 100  # purposes, prohibitions, duties, columns named in one request


class Settings(BaseSettings):
    """Where a node keeps its metadata, data and key.

    ``db_url`` defaults to a SQLite file in the home (WAL mode); give a
    ``postgresql+psycopg://`` URL to keep metadata in PostgreSQL. ``store_url`` defaults to
    ``<home>/store``; any fsspec URL works. The node key always lives in the home.
    ``max_upload_bytes`` bounds one upload through the HTTP API or the web console (default 2 GiB;
    ``DATAEX_MAX_UPLOAD_BYTES`` overrides it); a larger one is refused with ``FileTooLarge``.

    The HTTP edge's limits (docs/security.md has the table): ``max_body_bytes`` bounds any request
    body that is not a multipart upload (default 1 MiB); a multipart body may be
    ``max_upload_bytes`` plus ``MULTIPART_OVERHEAD``; a PSI message (``POST /contracts/{id}/psi``,
    ``/psi/sessions/{id}/finish``) ``max_psi_body_bytes`` (160 MiB); a body larger than
    ``anonymous_body_bytes`` (default 64 KiB, or one of unknown length) is read only after its
    credentials were checked.
    ``session_ttl_seconds`` is a console session's lifetime (default 8 h); ``token_ttl_days`` a
    party token's (default 365; 0: tokens do not expire).
    """

    model_config = SettingsConfigDict(env_prefix="DATAEX_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    db_url: str | None = None
    store_url: str | None = None
    node_name: str = "dataex-node"
    max_upload_bytes: int = Field(default=2 << 30, gt=0)
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    max_psi_body_bytes: int = Field(default=160 << 20, gt=0)  # PSI messages: up to 2 × 64 MiB
    anonymous_body_bytes: int = Field(default=64 << 10, gt=0)
    session_ttl_seconds: int = Field(default=8 * 3600, gt=0, le=30 * 24 * 3600)
    token_ttl_days: int = Field(default=365, ge=0, le=3650)

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
