"""Offers, contracts as ODRL agreements, and their budgets.

* :mod:`dataex.contracts.odrl` writes and strictly parses W3C ODRL 2.2 policies (JSON-LD);
* :mod:`dataex.contracts.offers` lets a dataset's owner offer it at an access tier (L0–L4);
* :mod:`dataex.contracts.lifecycle` requests, approves, rejects, revokes and expires contracts (the
  state machine is :mod:`dataex.policy.states`; who may is decided by :func:`dataex.policy.authorize`);
* :mod:`dataex.contracts.budget` charges ε, δ, queries and rows atomically before any release.

See docs/contracts.md.
"""

from __future__ import annotations
