"""dataex: a data element exchange for AI."""

from __future__ import annotations

from typing import Any

from dataex.config import Settings
from dataex.errors import DataexError
from dataex.exchange import Exchange

__all__ = ["DataexError", "Exchange", "Settings", "__version__", "connect", "open"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``dataex.connect`` and ``dataex.open`` (the SDK) load on first use, keeping httpx off import."""
    if name in ("connect", "open"):
        from dataex import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'dataex' has no attribute {name!r}")
