"""Declarative compute recipes: the only thing a consumer can ask the node to run.

A recipe is YAML (or the same structure as JSON)::

    task: classification            # or regression
    features: [age, sex, department]
    target: diagnosis
    model: hist_gradient_boosting   # or {name: …, params: {…}}; names in MODELS
    split: {test_size: 0.2, seed: 7}
    metrics: [accuracy, f1_macro]   # default: every metric of the task
    epsilon: 1.0                    # dp_logistic_regression only: charged to the contract
    limits: {cpu_seconds: 600, memory_mb: 4096, wall_seconds: 900}   # may lower the node's limits

No code, no expressions: names from fixed allow-lists and bounded numbers. :func:`check` refuses,
with ``RecipeRefused`` naming the entry, a model not on the list, a parameter out of range, a
feature or target the dataset lacks, an identifier column used as a feature, a classification
target with one class, and a non-DP model on sensitive personal data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from dataex.errors import RecipeRefused

MODELS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "logistic_regression": {"tasks": ("classification",), "params": ("C", "max_iter")},
    "linear_regression": {"tasks": ("regression",), "params": ()},
    "random_forest": {"tasks": ("classification", "regression"), "params": ("n_estimators", "max_depth")},
    "hist_gradient_boosting": {
        "tasks": ("classification", "regression"),
        "params": ("max_iter", "max_depth", "learning_rate", "max_leaf_nodes"),
    },
    "dp_logistic_regression": {"tasks": ("classification",), "params": ("C", "max_iter")},
}
DP_MODELS: Final = frozenset({"dp_logistic_regression"})
PARAM_RANGES: Final[dict[str, tuple[float, float]]] = {
    "C": (1e-4, 1e4),
    "max_iter": (1, 2000),
    "n_estimators": (1, 500),
    "max_depth": (1, 64),
    "learning_rate": (1e-4, 1.0),
    "max_leaf_nodes": (2, 4096),
}
INT_PARAMS: Final = frozenset({"max_iter", "n_estimators", "max_depth", "max_leaf_nodes"})
METRICS: Final[dict[str, tuple[str, ...]]] = {
    "classification": ("accuracy", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("r2", "mae", "rmse"),
}
LIMITS: Final[dict[str, int]] = {"cpu_seconds": 1800, "memory_mb": 8192, "wall_seconds": 3600}
"""The node's ceilings; a recipe may only lower them."""
IDENTIFIER_TYPES: Final = frozenset(
    {"cn_resident_id", "cn_mobile", "cn_landline", "email", "phone_e164", "passport", "bank_card",
     "credit_card", "iban", "person_name", "address", "license_plate", "ip_address"}
)  # fmt: skip
KEYS: Final = frozenset({"task", "features", "target", "model", "split", "metrics", "epsilon", "limits"})


@dataclass(frozen=True)
class Recipe:
    """A parsed, well-formed recipe (not yet checked against a dataset)."""

    task: str
    features: list[str]
    target: str
    model: str
    params: dict[str, float | int] = field(default_factory=dict)
    test_size: float = 0.2
    seed: int = 0
    metrics: list[str] = field(default_factory=list)
    epsilon: float | None = None
    limits: dict[str, int] = field(default_factory=lambda: dict(LIMITS))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls(**data)

    @property
    def dp(self) -> bool:
        return self.model in DP_MODELS


def parse(source: str | dict[str, Any]) -> Recipe:
    """A :class:`Recipe` from YAML/JSON text or a mapping; ``RecipeRefused`` on anything malformed."""
    data = _load(source) if isinstance(source, str) else source
    if not isinstance(data, dict):
        raise RecipeRefused("a recipe is a mapping of task, features, target, model, …", field="recipe")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise RecipeRefused(f"unknown recipe entries {unknown}; allowed: {sorted(KEYS)}", field=unknown[0])
    task = data.get("task")
    if task not in METRICS:
        raise RecipeRefused(f"task must be classification or regression; got {task!r}", field="task")
    features = data.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise RecipeRefused("features must be a non-empty list of column names", field="features")
    if len(set(features)) != len(features):
        raise RecipeRefused("features name a column twice", field="features")
    target = data.get("target")
    if not isinstance(target, str) or target in features:
        raise RecipeRefused("target must be one column name that is not a feature", field="target")
    model, params = _model(data.get("model"), task)
    split = data.get("split") or {}
    if not isinstance(split, dict) or set(split) - {"test_size", "seed"}:
        raise RecipeRefused("split takes test_size (0.05–0.5) and seed", field="split")
    test_size = _number(split.get("test_size", 0.2), "split.test_size", 0.05, 0.5)
    seed = int(_number(split.get("seed", 0), "split.seed", 0, 2**31 - 1))
    metrics = data.get("metrics") or list(METRICS[task])
    bad = [m for m in metrics if m not in METRICS[task]] if isinstance(metrics, list) else [metrics]
    if bad:
        raise RecipeRefused(f"unknown metrics {bad} for {task}; use {list(METRICS[task])}", field="metrics")
    epsilon = data.get("epsilon")
    if model in DP_MODELS:
        epsilon = _number(epsilon if epsilon is not None else 1.0, "epsilon", 0.01, 10.0)
    elif epsilon is not None:
        raise RecipeRefused(f"epsilon applies to DP models only ({sorted(DP_MODELS)})", field="epsilon")
    return Recipe(
        task, list(features), target, model, params, test_size, seed, list(metrics), epsilon, _limits(data)
    )


def _load(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RecipeRefused(f"the recipe is not valid YAML: {e}", field="recipe") from e


def _model(spec: Any, task: str) -> tuple[str, dict[str, float | int]]:
    raw: dict[str, Any] = {}
    name = spec if isinstance(spec, str) else None
    if isinstance(spec, dict):
        name, raw = spec.get("name"), spec.get("params") or {}
        if set(spec) - {"name", "params"} or not isinstance(raw, dict):
            raise RecipeRefused("model is a name or {name, params}", field="model")
    if name not in MODELS:
        raise RecipeRefused(
            f"model {name!r} is not on the allow-list; use one of {', '.join(MODELS)}", field="model"
        )
    if task not in MODELS[name]["tasks"]:
        raise RecipeRefused(f"model {name} does not do {task}", field="model")
    params: dict[str, float | int] = {}
    for key, value in raw.items():
        if key not in MODELS[name]["params"]:
            raise RecipeRefused(
                f"parameter {key!r} is not allowed for {name}; allowed: {list(MODELS[name]['params'])}",
                field=f"model.params.{key}",
            )
        lo, hi = PARAM_RANGES[key]
        number = _number(value, f"model.params.{key}", lo, hi)
        params[key] = int(number) if key in INT_PARAMS else number
    return name, params


def _limits(data: dict[str, Any]) -> dict[str, int]:
    asked = data.get("limits") or {}
    if not isinstance(asked, dict) or set(asked) - set(LIMITS):
        raise RecipeRefused(f"limits take {sorted(LIMITS)}", field="limits")
    return {k: int(_number(asked.get(k, cap), f"limits.{k}", 1, cap)) for k, cap in LIMITS.items()}


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise RecipeRefused(f"{name} must be a number in [{lo:g}, {hi:g}]; got {value!r}", field=name)
    return float(value)


@dataclass(frozen=True)
class DatasetFacts:
    """What :func:`check` needs to know about the dataset: column types and classification."""

    dataset_id: str
    types: dict[str, str]
    field_types: dict[str, str]
    categories: dict[str, str]


def check(recipe: Recipe, facts: DatasetFacts, *, target_classes: int | None) -> None:
    """Refuses a recipe the dataset cannot serve; see the module docstring."""
    available = sorted(facts.types)
    for name in [*recipe.features, recipe.target]:
        if name not in facts.types:
            where = "target" if name == recipe.target else "features"
            raise RecipeRefused(
                f"dataset {facts.dataset_id} has no column {name!r}; it has: {', '.join(available)}",
                field=where,
            )
    for name in recipe.features:
        if facts.field_types.get(name) in IDENTIFIER_TYPES:
            raise RecipeRefused(
                f"feature {name!r} is a direct identifier ({facts.field_types[name]}): a model must not "
                "learn identities",
                field="features",
            )
    sensitive = sorted(n for n, c in facts.categories.items() if c == "sensitive_personal")
    if sensitive and not recipe.dp:
        raise RecipeRefused(
            f"dataset {facts.dataset_id} holds sensitive personal data ({', '.join(sensitive)}): only a "
            f"differentially private model may train on it ({', '.join(sorted(DP_MODELS))})",
            field="model",
        )
    if recipe.task == "classification" and target_classes is not None and target_classes < 2:
        raise RecipeRefused(
            f"target {recipe.target!r} has {target_classes} class(es): classification needs at least two",
            field="target",
        )
    if recipe.task == "regression" and not numeric(facts.types[recipe.target]):
        raise RecipeRefused(f"regression needs a numeric target; {recipe.target!r} is not", field="target")


def numeric(sql_type: str) -> bool:
    t = sql_type.upper()
    return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


def canonical_json(recipe: Recipe) -> str:
    return json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":"))
