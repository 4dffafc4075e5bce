"""dataex: a data element exchange for AI."""

from __future__ import annotations

from dataex.config import Settings
from dataex.errors import DataexError
from dataex.exchange import Exchange

__all__ = ["DataexError", "Exchange", "Settings", "__version__"]

__version__ = "0.1.0"
