"""Training inside the worker process: encode, split, fit, evaluate, export ONNX, write the card.

Runs only in the worker (:mod:`dataex.compute.runner`), under its resource limits, on the spec the
node wrote (``spec.json``): the recipe, the provider's declarations (bounds, domains, privacy unit)
and the node's floors. Categorical features (text, booleans) are one-hot encoded over the
provider's declared domain; on non-personal data a feature without one is encoded over the values
present. Classes are the target's declared domain (``False``/``True`` for a boolean), else on
non-personal data the values present. The model's input is the float vector named by
``input_features``, and the ONNX graph includes the scaling step.

A DP model keeps at most ``max_contributions`` rows per privacy unit (chosen at random with the
recipe's seed) and trains each of its one-vs-rest models at ``ε / (max_contributions · models)``,
so the whole model is ε-DP for a unit (group privacy). Tree models take the node's leaf-size floor
(``min_samples_leaf``) and depth cap.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from dataex.compute.modelcard import card, membership_inference, round_count, round_metric
from dataex.compute.recipes import Recipe
from dataex.errors import RecipeRefused

MAX_CATEGORIES = 200


MIA_ROWS: Final = 20_000
"""Rows of each side (training members, held-out non-members) the membership attack compares."""


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Trains the recipe in ``spec`` and writes ``model.onnx``, ``metrics.json``, ``model_card.json``."""
    recipe = Recipe.from_dict(spec["recipe"])
    if spec.get("personal", True) and not recipe.dp:  # the node checked at submit; data can change since
        raise RecipeRefused("the dataset holds personal information: only a DP model trains", field="model")
    out = Path(spec["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    x, y, names, classes = _matrix(spec, recipe)
    from sklearn.model_selection import train_test_split

    stratify = y if recipe.task == "classification" and _min_class(y) >= 2 else None
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=recipe.test_size, random_state=recipe.seed, stratify=stratify
    )
    if recipe.task == "classification" and not recipe.dp and len(np.unique(y_tr)) < 2:
        raise RecipeRefused("the training split has a single class", field="target")
    model, privacy = _fit(recipe, spec, x_tr, y_tr, names, classes)
    out_te = _outputs(recipe, model, x_te)  # one pass over the held-out rows serves metrics and MIA
    metrics = _metrics(recipe, model, out_te, y_te)
    n = min(len(y_tr), len(y_te), MIA_ROWS)  # the attack compares equal-size samples: the first n of each
    member_losses = _losses(recipe, model, _outputs(recipe, model, x_tr[:n]), y_tr[:n])
    mia = membership_inference(member_losses, _losses(recipe, model, out_te, y_te))
    raw_advantage = mia.pop("raw_advantage", None)  # the node's release decision; the card is rounded
    onnx_bytes, agreement = _onnx(recipe, model, x_te)
    released = {k: round_metric(v) for k, v in metrics.items()}
    (out / "model.onnx").write_bytes(onnx_bytes)
    (out / "metrics.json").write_text(json.dumps(released, indent=2, sort_keys=True))
    model_card = card(
        job_id=spec["job_id"],
        recipe=recipe.to_dict(),
        dataset=spec["dataset"] | {"rows": round_count(int(spec["dataset"].get("rows") or 0))},
        rows={"used": round_count(len(y)), "train": round_count(len(y_tr)), "test": round_count(len(y_te))},
        input_features=names,
        metrics=released,
        privacy=privacy,
        mia=mia,
        onnx={
            "opset": "skl2onnx default",
            "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "checked_rows": round_count(agreement["checked_rows"]),
            "prediction_agreement": round_metric(agreement["prediction_agreement"]),
        },
    )
    (out / "model_card.json").write_text(json.dumps(model_card, indent=2, ensure_ascii=False))
    return {
        "metrics": released,
        "membership_inference": mia,
        "mia_advantage": raw_advantage,
        "rows": model_card["data"]["rows"],
    }


def _matrix(
    spec: dict[str, Any], recipe: Recipe
) -> tuple[npt.NDArray[np.float32], Any, list[str], list[str] | None]:
    """The encoded features, the target, the input feature names and the declared classes (if any)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    unit = str(spec.get("unit") or "row")
    bound_units = recipe.dp and unit != "row"
    wanted = [*recipe.features, recipe.target] + (
        [unit] if bound_units and unit not in recipe.features else []
    )
    wanted = list(dict.fromkeys(wanted))
    table = pq.read_table(spec["data_path"], columns=wanted)
    table = table.filter(pc.is_valid(table.column(recipe.target)))
    domains: dict[str, list[str]] = {k: [str(v) for v in vs] for k, vs in spec.get("domains", {}).items()}
    bounds: dict[str, list[float]] = spec.get("bounds", {})
    personal = bool(spec.get("personal", True))
    classes = _declared_classes(recipe, table, domains)
    if classes is not None:  # rows whose class is outside the declared domain do not train
        table = table.filter(pc.is_in(_text(table.column(recipe.target)), value_set=_pa_strings(classes)))
    if bound_units:
        table = _bound_contributions(table, unit, int(spec.get("max_contributions") or 1))
    columns: list[npt.NDArray[np.float32]] = []
    names: list[str] = []
    for f in recipe.features:
        col = table.column(f)
        if _is_numeric(col.type):
            values = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.float64)
            if recipe.dp:
                if f not in bounds:
                    raise RecipeRefused(
                        f"a DP model needs declared bounds for numeric feature {f!r} "
                        "(the provider sets them with `dataex privacy set --bounds`)",
                        field="features",
                    )
                lo, hi = bounds[f]
                values = np.clip(values, lo, hi)
            columns.append(values.astype(np.float32))
            names.append(f)
        else:
            text = _text(col)
            cats = domains.get(f) or (["False", "True"] if _is_bool(col.type) else None)
            if cats is None and personal:
                raise RecipeRefused(
                    f"categorical feature {f!r} has no declared public domain", field="features"
                )
            if cats is None:  # non-personal data: the values present are not about anyone
                cats = sorted(str(v) for v in pc.unique(text).drop_null().to_pylist())
            if len(cats) > MAX_CATEGORIES:
                raise RecipeRefused(f"feature {f!r} has over {MAX_CATEGORIES} categories", field="features")
            for c in cats:
                hit = pc.fill_null(pc.equal(text, c), False)
                columns.append(hit.to_numpy(zero_copy_only=False).astype(np.float32))
                names.append(f"{f}={c}")
    x = (
        np.column_stack(columns).astype(np.float32)
        if len(table)
        else np.zeros((0, len(names)), dtype=np.float32)
    )
    target = table.column(recipe.target)
    if recipe.task == "classification":
        y: Any = _text(target).fill_null("None").to_numpy(zero_copy_only=False).astype(str)
    else:
        y = np.asarray(target.to_numpy(zero_copy_only=False), dtype=np.float64)
    return x, y, names, classes


def _declared_classes(recipe: Recipe, table: Any, domains: dict[str, list[str]]) -> list[str] | None:
    if recipe.task != "classification":
        return None
    if recipe.target in domains:
        return list(dict.fromkeys(domains[recipe.target]))
    if _is_bool(table.column(recipe.target).type):
        return ["False", "True"]
    return None


def _bound_contributions(table: Any, unit: str, limit: int) -> Any:
    """At most ``limit`` rows per value of the privacy-unit column: each unit's first rows in file
    order (which rows a unit keeps depends on its own rows only; a missing unit is one unit)."""
    keys = _text(table.column(unit)).fill_null("").to_numpy(zero_copy_only=False).astype(str)
    _, group = np.unique(keys, return_inverse=True)
    order = np.argsort(group, kind="stable")  # grouped, file order inside each group
    sorted_groups = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1] if len(keys) else np.zeros(0, int)
    rank = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    keep = np.sort(order[rank < limit])
    return table.take(keep)


def _pa_strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def _is_bool(t: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_boolean(t))


def _text(col: Any) -> Any:
    """The column as Arrow strings, each value spelled as Python's ``str()`` spells it."""
    import pyarrow as pa
    import pyarrow.types as pat

    if pat.is_string(col.type) or pat.is_large_string(col.type):
        return col.cast(pa.string())
    return pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())])


def _is_numeric(t: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(t) or pat.is_floating(t) or pat.is_decimal(t))


def _min_class(y: Any) -> int:
    _, counts = np.unique(y, return_counts=True)
    return int(counts.min())


def _fit(
    recipe: Recipe, spec: dict[str, Any], x: Any, y: Any, names: list[str], classes: list[str] | None = None
) -> tuple[Any, dict[str, Any]]:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    p = dict(recipe.params)
    seed = recipe.seed
    floors = dict(spec.get("floors") or {})
    leaf = int(floors.get("min_samples_leaf", 1))
    depth = int(p.pop("max_depth", floors.get("max_depth", 0)) or 0) or None
    none: dict[str, Any] = {"mechanism": "none", "epsilon": None, "note": "no differential privacy"}
    if recipe.model == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(**p))])
    elif recipe.model == "linear_regression":
        from sklearn.linear_model import LinearRegression

        model = Pipeline([("scale", StandardScaler()), ("model", LinearRegression())])
    elif recipe.model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if recipe.task == "classification" else RandomForestRegressor
        model = cls(random_state=seed, n_jobs=1, min_samples_leaf=leaf, max_depth=depth, **p)
        none |= {"min_samples_leaf": leaf, "max_depth": depth}
    elif recipe.model == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        hcls = (
            HistGradientBoostingClassifier
            if recipe.task == "classification"
            else HistGradientBoostingRegressor
        )
        leaf = max(leaf, 20)  # scikit-learn's default, never lowered
        model = hcls(random_state=seed, early_stopping=False, min_samples_leaf=leaf, max_depth=depth, **p)
        none |= {"min_samples_leaf": leaf, "max_depth": depth}
    else:
        return _fit_dp(recipe, spec, x, y, names, classes)
    model.fit(x, y)
    return model, none


def _fit_dp(
    recipe: Recipe, spec: dict[str, Any], x: Any, y: Any, names: list[str], classes: list[str] | None
) -> tuple[Any, dict[str, Any]]:
    """diffprivlib's ε-DP logistic regression (objective perturbation) on features scaled to [0, 1].

    One-vs-rest over the declared classes (one model for two classes), each at its share of ε
    divided by the rows a privacy unit may contribute; the classes are the declared ones whether or
    not each occurs in the data (diffprivlib's ``fit`` would take them from the data).
    """
    _diffprivlib_compat()
    from diffprivlib.models.logistic_regression import _logistic_regression_path
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if classes is None:  # the node checks this at submit; the worker refuses too
        raise RecipeRefused("a DP model needs the target's declared domain", field="target")
    bounds = spec.get("bounds", {})
    lo = np.asarray([bounds[n][0] if n in bounds else 0.0 for n in names], dtype=np.float64)
    hi = np.asarray([bounds[n][1] if n in bounds else 1.0 for n in names], dtype=np.float64)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.clip((x - lo) / span, 0.0, 1.0) if len(x) else np.zeros((0, len(names)))
    data_norm = float(np.sqrt(max(x.shape[1], 1)))
    unit = str(spec.get("unit") or "row")
    per_unit = int(spec.get("max_contributions") or 1) if unit != "row" else 1
    index = {c: i for i, c in enumerate(classes)}
    labels = np.asarray([index[v] for v in y], dtype=np.int64)
    positives = [1] if len(classes) == 2 else list(range(len(classes)))
    epsilon = float(recipe.epsilon or 1.0)
    each = epsilon / per_unit / len(positives)
    coefs = []
    for positive in positives:
        path, _, _ = _logistic_regression_path(
            scaled, labels, epsilon=each, data_norm=data_norm, pos_class=positive,
            Cs=[float(recipe.params.get("C", 1.0))], fit_intercept=True,
            max_iter=int(recipe.params.get("max_iter", 100)), random_state=None,
            check_input=False,
        )  # fmt: skip
        coefs.append(path[0])
    coef = np.asarray(coefs)
    plain = LogisticRegression()
    plain.classes_ = np.asarray(classes)
    plain.coef_, plain.intercept_ = coef[:, :-1], coef[:, -1]
    plain.n_features_in_ = x.shape[1]
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.var_ = lo, span, span**2
    scaler.n_features_in_, scaler.n_samples_seen_ = x.shape[1], len(y)
    privacy = {
        "mechanism": "diffprivlib LogisticRegression (objective perturbation, Chaudhuri et al. 2011)",
        "epsilon": recipe.epsilon,
        "unit": unit,
        "max_contributions": per_unit,
        "models": len(positives),
        "epsilon_per_model_per_row": each,
        "data_norm": data_norm,
        "classes": "declared domain",
        "note": "features clipped to the provider's declared bounds and scaled to [0, 1]; at most "
        "max_contributions rows per unit; categories and classes from declared domains only",
    }
    return Pipeline([("scale", scaler), ("model", plain)]), privacy


def _diffprivlib_compat() -> None:
    """diffprivlib 0.6.6's package import pulls in its DP forest, which imports ``DOUBLE`` and
    ``DTYPE`` from ``sklearn.tree._tree``; recent scikit-learn dropped those aliases of float64 /
    float32. We use only the DP logistic regression, so restore the aliases (same values)."""
    import sklearn.tree._tree as tree

    for name, dtype in (("DOUBLE", np.float64), ("DTYPE", np.float32)):
        if not hasattr(tree, name):
            setattr(tree, name, dtype)


def _outputs(recipe: Recipe, model: Any, x: Any) -> tuple[Any, Any]:
    """(predictions, class probabilities or None), one pass of the model over ``x``.

    A classifier's prediction is its most probable class (``classes_[argmax(proba)]``), which is
    what scikit-learn's ``predict`` returns for every model on the allow-list.
    """
    if recipe.task == "classification":
        proba = model.predict_proba(x)
        return np.asarray(model.classes_)[np.argmax(proba, axis=1)], proba
    return model.predict(x), None


def _metrics(recipe: Recipe, model: Any, outputs: tuple[Any, Any], y: Any) -> dict[str, float]:
    from sklearn import metrics as m

    out: dict[str, float] = {}
    pred, proba = outputs
    if recipe.task == "classification":
        classes = list(model.classes_)
        for name in recipe.metrics:
            if name == "accuracy":
                out[name] = float(m.accuracy_score(y, pred))
            elif name == "f1_macro":
                out[name] = float(m.f1_score(y, pred, average="macro"))
            elif name == "log_loss":
                out[name] = float(m.log_loss(y, proba, labels=classes))
            elif name == "roc_auc" and len(set(y)) == len(classes) >= 2:
                scores = proba[:, 1] if len(classes) == 2 else proba
                out[name] = float(m.roc_auc_score(y, scores, multi_class="ovr", labels=classes))
    else:
        for name in recipe.metrics:
            if name == "r2":
                out[name] = float(m.r2_score(y, pred))
            elif name == "mae":
                out[name] = float(m.mean_absolute_error(y, pred))
            elif name == "rmse":
                out[name] = float(np.sqrt(m.mean_squared_error(y, pred)))
    return {k: round(v, 6) for k, v in out.items()}


def _losses(recipe: Recipe, model: Any, outputs: tuple[Any, Any], y: Any) -> npt.NDArray[np.float64]:
    pred, proba = outputs
    if recipe.task == "classification":
        classes = np.asarray(model.classes_)
        order = np.argsort(classes)
        index = order[np.searchsorted(classes, np.asarray(y), sorter=order)]
        p = proba[np.arange(len(y)), index]
        return np.asarray(-np.log(np.clip(p, 1e-12, 1.0)), dtype=np.float64)
    return np.asarray((np.asarray(y) - pred) ** 2, dtype=np.float64)


def _onnx(recipe: Recipe, model: Any, x_test: Any) -> tuple[bytes, dict[str, Any]]:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    options = {"zipmap": False} if recipe.task == "classification" else None
    sample = x_test[:1].astype(np.float32)
    onx = to_onnx(model, sample, options={id(_final(model)): options} if options else None)
    data = onx.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rows = x_test[:1000].astype(np.float32)
    got = session.run(None, {session.get_inputs()[0].name: rows})[0]
    want = model.predict(rows)
    if recipe.task == "classification":
        agree = float(np.mean(np.asarray(got).astype(str) == np.asarray(want).astype(str)))
    else:
        agree = float(np.mean(np.isclose(np.ravel(got), want, rtol=1e-3, atol=1e-3)))
    return data, {"checked_rows": len(rows), "prediction_agreement": agree}


def _final(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model
