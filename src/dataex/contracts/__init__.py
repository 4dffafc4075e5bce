"""Tiered authorization: offers, contracts as ODRL agreements, and the one ``authorize()``.

* :mod:`dataex.contracts.odrl` writes and strictly parses W3C ODRL 2.2 policies (JSON-LD);
* :mod:`dataex.contracts.offers` lets a dataset's owner offer it at an access tier (L0–L4);
* :mod:`dataex.contracts.lifecycle` is the contract state machine (one ``transition`` function);
* :mod:`dataex.contracts.authorize` is the single choke point in front of every access;
* :mod:`dataex.contracts.budget` charges ε, δ, queries and rows atomically before any release.

See docs/contracts.md.
"""

from __future__ import annotations
