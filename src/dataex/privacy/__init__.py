"""Privacy: find personal information, grade it, and de-identify it.

* :mod:`dataex.privacy.detect` — validating recognizers (check digits, real dates, gazetteers) that
  work on whole cells (``validate``) and inside free text (``find``), also when an identifier is
  written right next to Chinese characters;
* :mod:`dataex.privacy.grading` — categories (non-personal / personal / sensitive personal, PIPL
  art. 28, GB/T 45574-2025) and grades (GB/T 43697-2024 general-1..4 < important < core);
* :mod:`dataex.privacy.classify` — column-level detection over a DuckDB sample and the
  ``classify`` service (stored, logged, overridable with a reason);
* :mod:`dataex.privacy.deid` — masking, keyed pseudonymization, generalization and suppression, in
  Python and as DuckDB SQL expressions.
"""
