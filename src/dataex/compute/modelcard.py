"""The model card of a compute job, and its membership-inference risk.

The risk is measured with the loss-threshold attack of Yeom et al. (2018): an attacker who sees a
record and the model's loss on it guesses "member of the training set" when the loss is below a
threshold. On equal-size samples of training rows (members) and held-out rows (non-members) we
report the attack's ROC AUC (0.5 = no better than a coin) and its best advantage
``max over thresholds of TPR − FPR`` (0 = no leakage; a DP model bounds it by ``e^ε − 1``).

What a card releases about the data is coarsened: counts are rounded to the nearest
``COUNT_STEP`` (100) and metrics, the attack's AUC and advantage to ``METRIC_DIGITS`` (2) decimals.
Rounding is not differential privacy: it hides exact counts (who was added or removed between two
jobs) and the last digits of a metric, nothing more (see docs/compute.md).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

RISK_LEVELS: Final = ((0.1, "low"), (0.3, "moderate"))
COUNT_STEP: Final = 100
METRIC_DIGITS: Final = 2


def round_count(n: int) -> int:
    """A count as a card releases it: to the nearest ``COUNT_STEP`` (half up)."""
    return int((int(n) + COUNT_STEP // 2) // COUNT_STEP * COUNT_STEP)


def round_metric(value: float) -> float:
    """A metric as a card releases it: ``METRIC_DIGITS`` decimals."""
    return round(float(value), METRIC_DIGITS)


def membership_inference(
    member_losses: npt.NDArray[np.float64], nonmember_losses: npt.NDArray[np.float64]
) -> dict[str, Any]:
    """Loss-threshold attack on equal-size member / non-member samples (deterministic: first n)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    n = int(min(len(member_losses), len(nonmember_losses)))
    if n == 0:
        return {
            "attack": "loss-threshold (Yeom et al. 2018)",
            "auc": None,
            "advantage": None,
            "risk": "unknown",
        }
    members, others = member_losses[:n], nonmember_losses[:n]
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    scores = -np.concatenate([members, others])  # a low loss means "member"
    auc = float(roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    advantage = float(tpr[best] - fpr[best])
    return {
        "attack": "loss-threshold (Yeom et al. 2018)",
        "members": round_count(n),
        "non_members": round_count(n),
        "auc": round_metric(auc),
        "advantage": round_metric(advantage),
        "risk": next((name for limit, name in RISK_LEVELS if advantage < limit), "high"),
        "raw_advantage": advantage,  # for the node's release decision only: the worker removes it
    }


def card(
    *,
    job_id: str,
    recipe: dict[str, Any],
    dataset: dict[str, Any],
    rows: dict[str, int],
    input_features: list[str],
    metrics: dict[str, float],
    privacy: dict[str, Any],
    mia: dict[str, Any],
    onnx: dict[str, Any],
) -> dict[str, Any]:
    """The model card (JSON): data used, model, metrics, privacy mechanism, membership-inference risk."""
    return {
        "schema": "https://dataex.dev/ns/model-card/1",
        "job_id": job_id,
        "model": {"name": recipe["model"], "params": recipe["params"], "task": recipe["task"]},
        "data": {
            "datasets": [dataset],
            "features": recipe["features"],
            "input_features": input_features,
            "target": recipe["target"],
            "rows": rows,
            "split": {"test_size": recipe["test_size"], "seed": recipe["seed"]},
        },
        "metrics": metrics,
        "privacy": privacy,
        "membership_inference": mia,
        "onnx": onnx,
        "limitations": [
            "metrics are measured once on the held-out split; they carry sampling error",
            f"counts are rounded to the nearest {COUNT_STEP}, metrics to {METRIC_DIGITS} decimals",
            "categorical features are one-hot encoded; the ONNX input is the float vector in "
            "input_features order",
        ],
    }
