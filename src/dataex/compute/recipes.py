"""Declarative compute recipes: the only thing a consumer can ask the node to run.

A recipe is YAML (or the same structure as JSON), at most ``MAX_RECIPE_BYTES``::

    task: classification            # or regression
    features: [age, sex, department]
    target: diagnosis
    model: hist_gradient_boosting   # or {name: …, params: {…}}; names in MODELS
    split: {test_size: 0.2, seed: 7}
    metrics: [accuracy, f1_macro]   # default: every metric of the task
    epsilon: 1.0                    # dp_logistic_regression only: charged to the contract
    limits: {cpu_seconds: 600, memory_mb: 4096, wall_seconds: 900}   # may lower the node's limits

No code, no expressions: names from fixed allow-lists and bounded numbers. The text is bounded
before it is parsed and YAML aliases are refused (no expansion), and a refusal quotes at most a
short excerpt of what it refuses. :func:`check` refuses, with ``RecipeRefused`` naming the entry,
a model not on the list, a parameter out of range, a feature or target the dataset lacks, an
identifier column as a feature or target, a classification target with one class or more than the
node's ``max_classes``, a tree deeper than the node's ``max_depth``, and, on a dataset with
**personal information** (or not classified), a non-DP model, a categorical feature or target
without a declared public domain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from dataex.compute.settings import ComputeSettings
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


MAX_RECIPE_BYTES: Final = 16_384
"""A recipe's size bound (YAML text, or the JSON of a mapping), checked before it is parsed."""
MAX_FEATURES: Final = 200
MAX_NAME_CHARS: Final = 200


def excerpt(value: Any, limit: int = 60) -> str:
    """A short ``repr`` of ``value`` for an error message (never the whole of a hostile input)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, a cycle
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "…"


def parse(source: str | dict[str, Any]) -> Recipe:
    """A :class:`Recipe` from YAML/JSON text or a mapping; ``RecipeRefused`` on anything malformed."""
    data = _load(source) if isinstance(source, str) else _bounded_mapping(source)
    if not isinstance(data, dict):
        raise RecipeRefused("a recipe is a mapping of task, features, target, model, …", field="recipe")
    unknown = sorted(excerpt(k, 40).strip("'") for k in set(data) - KEYS)
    if unknown:
        raise RecipeRefused(
            f"unknown recipe entries {', '.join(unknown[:5])}; allowed: {sorted(KEYS)}", field=unknown[0]
        )
    task = data.get("task")
    if not isinstance(task, str) or task not in METRICS:
        raise RecipeRefused(f"task must be classification or regression; got {excerpt(task)}", field="task")
    features = data.get("features")
    if (
        not isinstance(features, list)
        or not 0 < len(features) <= MAX_FEATURES
        or not all(isinstance(f, str) and 0 < len(f) <= MAX_NAME_CHARS for f in features)
    ):
        raise RecipeRefused(
            f"features must be a list of 1–{MAX_FEATURES} column names (each at most {MAX_NAME_CHARS} "
            "characters)",
            field="features",
        )
    if len(set(features)) != len(features):
        raise RecipeRefused("features name a column twice", field="features")
    target = data.get("target")
    if not isinstance(target, str) or not 0 < len(target) <= MAX_NAME_CHARS or target in features:
        raise RecipeRefused("target must be one column name that is not a feature", field="target")
    model, params = _model(data.get("model"), task)
    split = data.get("split") or {}
    if not isinstance(split, dict) or set(split) - {"test_size", "seed"}:
        raise RecipeRefused("split takes test_size (0.05–0.5) and seed", field="split")
    test_size = _number(split.get("test_size", 0.2), "split.test_size", 0.05, 0.5)
    seed = int(_number(split.get("seed", 0), "split.seed", 0, 2**31 - 1))
    metrics = data.get("metrics") or list(METRICS[task])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise RecipeRefused(f"metrics is a list of names; use {list(METRICS[task])}", field="metrics")
    bad = [m for m in metrics if m not in METRICS[task]]
    if bad:
        raise RecipeRefused(
            f"unknown metrics {excerpt(bad)} for {task}; use {list(METRICS[task])}", field="metrics"
        )
    epsilon = data.get("epsilon")
    if model in DP_MODELS:
        epsilon = _number(epsilon if epsilon is not None else 1.0, "epsilon", 0.01, 10.0)
    elif epsilon is not None:
        raise RecipeRefused(f"epsilon applies to DP models only ({sorted(DP_MODELS)})", field="epsilon")
    return Recipe(
        task, list(features), target, model, params, test_size, seed, list(dict.fromkeys(metrics)),
        epsilon, _limits(data),
    )  # fmt: skip


def _too_large(size: int) -> RecipeRefused:
    return RecipeRefused(
        f"the recipe is {size:,} bytes; a recipe is at most {MAX_RECIPE_BYTES:,} bytes", field="recipe"
    )


def _bounded_mapping(data: Any) -> Any:
    """A mapping given as such (the HTTP API's JSON object), refused when its JSON is over the bound."""
    try:
        size = len(json.dumps(data, default=repr).encode())
    except (ValueError, TypeError, RecursionError):  # an int past the digit limit, a cycle
        raise RecipeRefused("the recipe holds a value that cannot be read", field="recipe") from None
    if size > MAX_RECIPE_BYTES:
        raise _too_large(size)
    return data


def _load(text: str) -> Any:
    """YAML with its size bounded first and aliases refused (an alias bomb expands nothing)."""
    import yaml

    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_RECIPE_BYTES:
        raise _too_large(size)

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise RecipeRefused("YAML aliases (*name) are not allowed in a recipe", field="recipe")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise RecipeRefused(f"the recipe is not valid YAML: {excerpt(str(e), 200)}", field="recipe") from e
    except RecursionError:
        raise RecipeRefused("the recipe is nested too deeply", field="recipe") from None
    except (ValueError, OverflowError):  # e.g. an integer past Python's digit limit
        raise RecipeRefused("the recipe holds a value that cannot be read", field="recipe") from None


def _model(spec: Any, task: str) -> tuple[str, dict[str, float | int]]:
    raw: Any = {}
    name = spec if isinstance(spec, str) else None
    if isinstance(spec, dict):
        name, raw = spec.get("name"), spec.get("params") or {}
        if set(spec) - {"name", "params"} or not isinstance(raw, dict):
            raise RecipeRefused("model is a name or {name, params}", field="model")
    if not isinstance(name, str) or name not in MODELS:
        raise RecipeRefused(
            f"model {excerpt(name)} is not on the allow-list; use one of {', '.join(MODELS)}", field="model"
        )
    if task not in MODELS[name]["tasks"]:
        raise RecipeRefused(f"model {name} does not do {task}", field="model")
    params: dict[str, float | int] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or key not in MODELS[name]["params"]:
            shown = excerpt(key, 40)
            raise RecipeRefused(
                f"parameter {shown} is not allowed for {name}; allowed: {list(MODELS[name]['params'])}",
                field=f"model.params.{shown.strip(chr(39))}",
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
        raise RecipeRefused(f"{name} must be a number in [{lo:g}, {hi:g}]; got {excerpt(value)}", field=name)
    return float(value)


@dataclass(frozen=True)
class DatasetFacts:
    """What :func:`check` needs to know about the dataset: column types, classification, declarations.

    ``categories`` is ``None`` when the dataset has not been classified (read as personal).
    ``domains`` are the provider's declared public domains (``dataex privacy set --domain``).
    """

    dataset_id: str
    types: dict[str, str]
    field_types: dict[str, str]
    categories: dict[str, str] | None
    domains: dict[str, list[str]] = field(default_factory=dict)

    @property
    def personal(self) -> bool:
        """Whether any column holds personal information (or nothing is known about it)."""
        if self.categories is None:
            return True
        return any(c in ("personal", "sensitive_personal") for c in self.categories.values())


def check(
    recipe: Recipe, facts: DatasetFacts, *, target_classes: int | None, settings: ComputeSettings
) -> None:
    """Refuses a recipe the dataset cannot serve; see the module docstring."""
    available = sorted(facts.types)
    for name in [*recipe.features, recipe.target]:
        if name not in facts.types:
            where = "target" if name == recipe.target else "features"
            raise RecipeRefused(
                f"dataset {facts.dataset_id} has no column {excerpt(name)}; it has: {', '.join(available)}",
                field=where,
            )
    for name in [*recipe.features, recipe.target]:
        kind = facts.field_types.get(name)
        if kind in IDENTIFIER_TYPES:
            where = "target" if name == recipe.target else "features"
            raise RecipeRefused(
                f"{'target' if where == 'target' else 'feature'} {name!r} is a direct identifier ({kind}): "
                "a model must not learn or output identities",
                field=where,
            )
    if facts.personal and not recipe.dp:
        what = "not classified" if facts.categories is None else "holds personal information"
        raise RecipeRefused(
            f"dataset {facts.dataset_id} {what}: only a differentially private model may train on it "
            f"({', '.join(sorted(DP_MODELS))})",
            field="model",
        )
    depth = recipe.params.get("max_depth")
    if depth is not None and depth > settings.max_depth:
        raise RecipeRefused(
            f"model.params.max_depth must be at most the node's {settings.max_depth}; got {depth:g}",
            field="model.params.max_depth",
        )
    if facts.personal:
        for name in recipe.features:
            if (
                not numeric(facts.types[name])
                and not boolean(facts.types[name])
                and name not in facts.domains
            ):
                raise RecipeRefused(
                    f"categorical feature {name!r} has no declared public domain: on personal data the "
                    "categories come only from the provider's declaration (`dataex privacy set --domain`)",
                    field="features",
                )
    if recipe.task == "classification":
        _check_classes(recipe, facts, target_classes, settings)
    if recipe.task == "regression" and not numeric(facts.types[recipe.target]):
        raise RecipeRefused(f"regression needs a numeric target; {recipe.target!r} is not", field="target")


def _check_classes(
    recipe: Recipe, facts: DatasetFacts, present: int | None, settings: ComputeSettings
) -> None:
    declared = target_domain(facts, recipe.target)
    if facts.personal and declared is None:
        raise RecipeRefused(
            f"target {recipe.target!r} has no declared public domain: on personal data the classes come "
            "only from the provider's declaration (`dataex privacy set --domain`)",
            field="target",
        )
    count = len(declared) if declared is not None else present
    if count is not None and count > settings.max_classes:
        had = f"{count} declared" if declared is not None else f"more than {settings.max_classes}"
        raise RecipeRefused(
            f"target {recipe.target!r} has {had} classes; the node allows at most {settings.max_classes}",
            field="target",
        )
    if count is not None and count < 2:
        raise RecipeRefused(
            f"target {recipe.target!r} has {count} class(es): classification needs at least two",
            field="target",
        )


def target_domain(facts: DatasetFacts, column: str) -> list[str] | None:
    """The declared classes of a target: its declared domain, ``False``/``True`` for a boolean."""
    if column in facts.domains:
        return [str(v) for v in facts.domains[column]]
    if boolean(facts.types.get(column, "")):
        return ["False", "True"]
    return None


def boolean(sql_type: str) -> bool:
    return sql_type.upper() in ("BOOLEAN", "BOOL")


def numeric(sql_type: str) -> bool:
    t = sql_type.upper()
    return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


def canonical_json(recipe: Recipe) -> str:
    return json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":"))
