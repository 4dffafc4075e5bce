"""The package version, in a module of its own: any module reads it without importing the facade
(:mod:`dataex` itself, which imports the :class:`~dataex.exchange.Exchange`)."""

from __future__ import annotations

__version__ = "0.1.0"
