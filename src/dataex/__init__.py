"""dataex: a data element exchange for AI.

``dataex.Exchange`` opens a node; ``dataex.open(home)`` and ``dataex.connect(url, token)`` are the
SDK's two transports (docs/sdk.md). Every error is a ``dataex.DataexError``; its subclasses are
reachable from here too (``except dataex.BudgetExhausted``), defined in :mod:`dataex.errors`.
"""

from __future__ import annotations

from typing import Any

from dataex.config import Settings
from dataex.errors import DataexError
from dataex.exchange import Exchange
from dataex.version import __version__

__all__ = ["DataexError", "Exchange", "Settings", "__version__", "connect", "open"]


def __getattr__(name: str) -> Any:
    """``dataex.connect`` and ``dataex.open`` (the SDK) load on first use, keeping httpx off import;
    ``dataex.BudgetExhausted`` (any error class of :mod:`dataex.errors`) is the class itself."""
    if name in ("connect", "open"):
        from dataex import sdk

        return getattr(sdk, name)
    from dataex import errors

    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, DataexError):
        return found
    raise AttributeError(f"module 'dataex' has no attribute {name!r}")
