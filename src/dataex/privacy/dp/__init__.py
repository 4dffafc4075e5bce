"""Differentially private SQL under a contract's ε budget (issue 7); see docs/dp.md.

``settings`` (privacy metadata per dataset; ``settings_service`` sets and reads it), ``parse`` (the
whitelist grammar), ``rewrite`` (bounding, clipping, exact SQL per engine), ``mechanisms`` (OpenDP
noise and intervals), ``service`` (``query``).
"""

from __future__ import annotations

from dataex.privacy.dp.service import Answer, describe, query
from dataex.privacy.dp.settings import PrivacySettings
from dataex.privacy.dp.settings_service import find_privacy, set_privacy

__all__ = ["Answer", "PrivacySettings", "describe", "find_privacy", "query", "set_privacy"]
