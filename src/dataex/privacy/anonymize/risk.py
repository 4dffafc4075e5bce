"""Re-identification risk (El Emam's three attacker models), from class sizes alone.

For a released record in equivalence class ``j`` of ``f_j`` released records, whose
generalized QI values match ``F_j`` records of the population the attacker links against:

* prosecutor (the attacker knows the target is in the release): ``1 / f_j``;
* journalist (the target is somewhere in the population): ``1 / F_j``; dataex takes the source
  dataset (all its rows, suppressed ones included, generalized the same way) as the population, so
  before anonymization journalist risk equals prosecutor risk;
* marketer (re-identify as many as possible): ``(1/n) Σ_j f_j / F_j`` (``#classes / n`` when the
  release is the population).

For each: the highest and the average risk per record, and the share of records whose risk
exceeds ``threshold``. ``sample_uniqueness`` is the share of records alone in their class.
``population`` labels what ``F_j`` counted: ``"source"`` (the source dataset's rows) or ``"sample"``
(no population was given, so the data is its own population and journalist risk **is** prosecutor
risk by construction, not a measurement of a wider population).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
DEFAULT_THRESHOLD = 0.2


def _summary(per_record: npt.NDArray[np.float64], weight: IntArray, threshold: float) -> dict[str, float]:
    n = float(weight.sum())
    if n == 0:
        return {"highest": 0.0, "average": 0.0, "records_at_risk": 0.0}
    return {
        "highest": float(per_record.max()),
        "average": float((per_record * weight).sum() / n),
        "records_at_risk": float(weight[per_record > threshold + 1e-12].sum() / n),
    }


def measure(
    released: IntArray, population: IntArray | None = None, *, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Risk of a release given per class ``released`` sizes (``f_j``) and ``population`` (``F_j``).

    Classes with ``f_j = 0`` (fully suppressed) are ignored; ``population`` defaults to ``released``.
    """
    f = np.asarray(released, dtype=np.int64)
    big_f = f if population is None else np.asarray(population, dtype=np.int64)
    keep = f > 0
    f, big_f = f[keep], np.maximum(big_f[keep], f[keep])
    n = int(f.sum())
    prosecutor = 1.0 / np.maximum(f, 1)
    journalist = 1.0 / np.maximum(big_f, 1)
    return {
        "threshold": threshold,
        "population": "sample" if population is None else "source",
        "records": n,
        "classes": len(f),
        "prosecutor": _summary(prosecutor, f, threshold),
        "journalist": _summary(journalist, f, threshold),
        "marketer": float((f / big_f).sum() / n) if n else 0.0,
        "sample_uniqueness": float(f[f == 1].sum() / n) if n else 0.0,
    }
