"""Wire models of ``POST /datasets/{id}/anonymize``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class AnonymizeRequest(BaseModel):
    """The spec; ``hierarchies`` maps a column to ARX CSV text (never a server path)."""

    qi: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    k: int | None = None
    l: int | None = None  # noqa: E741
    l_variant: Literal["distinct", "entropy", "recursive"] = "distinct"
    c: float = 3.0
    t: float | None = None
    max_suppression: float = 0.0
    hierarchies: dict[str, str] = Field(default_factory=dict)
    algorithm: Literal["optimal", "mondrian"] = "optimal"
    metric: Literal["entropy", "loss", "discernibility"] = "entropy"
    drop: list[str] = Field(default_factory=list)
    target: str | None = None
    check: bool = False


class AnonymizeOut(BaseModel):
    """The derived dataset (or, with ``check``, only measurements)."""

    id: str
    derived_from: str | None = None
    k: int | None = None
    l: int | None = None  # noqa: E741
    t: float | None = None
    qi: list[str]
    sensitive: list[str]
    suppressed: int | None = None
    rows: int | None = None
    levels: dict[str, int] | None = None
    loss: float | None = None
    achieved: dict[str, Any]
    satisfied: dict[str, bool] | None = None
    risk: dict[str, Any]
    utility: dict[str, Any] | None = None
    hierarchies: dict[str, dict[str, str]] | None = None
    log_index: int | None = None
