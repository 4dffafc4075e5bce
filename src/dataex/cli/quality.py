"""``dataex quality``: evaluate a dataset's quality and print (and optionally save) its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, out_console, table
from dataex.quality import evaluate, get_report, get_report_html


def register_commands(app: typer.Typer) -> None:
    """Adds ``quality`` to ``app``."""
    app.command("quality")(quality)


def quality(
    dataset: str,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="YAML rules file (see docs/quality.md)")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Label column to search for label issues")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Score the six GB/T 36344 dimensions, run rules, find label issues; store and log the report."""
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token)
        evaluate(ex, dataset, rules_path=rules, target=target, actor=actor)
        view = get_report(ex, dataset, viewer=actor)
        if html is not None:
            html.write_text(get_report_html(ex, dataset, viewer=actor), encoding="utf-8")
    if as_json:
        emit_json({"id": dataset, **view})
        return
    kv(f"quality of {dataset}", {"grade": view["grade"], "score": view["score"], **view["dimensions"]})
    if view["rules"]:
        table(
            "rules",
            ["rule", "kind", "violations"],
            [[r["name"], r["rule"], r["violations"]] for r in view["rules"]],
        )
    out_console.print(f"label issues: {view['label_issues']['count']}")
