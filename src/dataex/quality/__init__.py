"""Quality: one-pass profiling, GB/T 36344-2018 dimension scores, declared rules, label issues, reports.

* :mod:`dataex.quality.profile` — DuckDB profiling (pass 1) and the one-scan aggregate helper (pass 2);
* :mod:`dataex.quality.formats` — value formats as SQL (``valid:`` rules, normativity);
* :mod:`dataex.quality.rules` — the YAML rule language, compiled to SQL;
* :mod:`dataex.quality.dimensions` — the six dimension scores and the grade;
* :mod:`dataex.quality.labels` — label issues (cross-validated model + cleanlab);
* :mod:`dataex.quality.report` — the public view and the self-contained HTML;
* :mod:`dataex.quality.service` — ``evaluate`` (stored and logged) and ``get_report``.
"""

from __future__ import annotations

from dataex.quality.service import QualityReport, evaluate, get_report, get_report_html

__all__ = ["QualityReport", "evaluate", "get_report", "get_report_html"]
