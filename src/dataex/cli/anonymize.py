"""``dataex anonymize``: a k-anonymous (l-diverse, t-close) derived dataset, or ``--check`` only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv
from dataex.privacy.anonymize import service


def anonymize(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    qi: Annotated[
        list[str] | None, typer.Option("--qi", help="Quasi-identifiers (comma-separated or repeated)")
    ] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive attributes")] = None,
    k: Annotated[int | None, typer.Option("--k", help="k-anonymity")] = None,
    l: Annotated[int | None, typer.Option("--l", help="l-diversity")] = None,  # noqa: E741
    l_variant: Annotated[
        str, typer.Option("--l-variant", help="distinct | entropy | recursive")
    ] = "distinct",
    c: Annotated[float, typer.Option("--c", help="c of recursive (c,l)-diversity")] = 3.0,
    t: Annotated[float | None, typer.Option("--t", help="t-closeness (0, 1]")] = None,
    max_suppression: Annotated[
        float, typer.Option("--max-suppression", help="Share of records that may be suppressed")
    ] = 0.0,
    hierarchy: Annotated[
        list[str] | None, typer.Option("--hierarchy", metavar="COL=PATH", help="ARX hierarchy CSV")
    ] = None,
    algorithm: Annotated[str, typer.Option("--algorithm", help="optimal | mondrian")] = "optimal",
    metric: Annotated[str, typer.Option("--metric", help="entropy | loss | discernibility")] = "entropy",
    drop: Annotated[list[str] | None, typer.Option("--drop", help="Columns to leave out")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Label column for ML utility")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the owner's copy (CSV or .parquet)")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only measure k, l, t and risk of the data as it is")
    ] = False,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Generalize quasi-identifiers until the privacy models hold; register the result as derived data."""
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token)
        spec = service.spec_from_options(
            qi=qi,
            sensitive=sensitive,
            k=k,
            l=l,
            l_variant=l_variant,
            c=c,
            t=t,
            max_suppression=max_suppression,
            hierarchies=hierarchy,
            algorithm=algorithm,
            metric=metric,
            drop=drop,
            target=target,
        )
        result: dict[str, Any] = (
            service.check(ex, dataset_id, spec, actor=actor)
            if check
            else service.anonymize(ex, dataset_id, spec, actor=actor, out=out).to_dict()
        )
    if as_json:
        emit_json(result)
        return
    shown = (
        "id",
        "derived_from",
        "k",
        "l",
        "t",
        "suppressed",
        "rows",
        "levels",
        "loss",
        "achieved",
        "satisfied",
    )
    kv(f"anonymize {dataset_id}", {key: result[key] for key in shown if key in result})
    r = result["risk"]
    kv("prosecutor risk", r.get("after", r).get("prosecutor", {}) if "after" in r else r["prosecutor"])


def register_commands(app: typer.Typer) -> None:
    """Adds ``anonymize`` to the ``dataex`` application."""
    app.command("anonymize")(anonymize)
