"""``dataex classify``: show, compute or override a dataset's personal-information classification."""

from __future__ import annotations

from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, out_console, table
from dataex.errors import InvalidInput
from dataex.privacy import classify as service


def classify(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    set_: Annotated[
        str | None, typer.Option("--set", metavar="FIELD=TYPE", help="Override one field's type")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why the override is right (required with --set)")] = "",
    refresh: Annotated[bool, typer.Option("--refresh", help="Recompute even if already classified")] = False,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Per field: detected type, confidence, category and grade; the dataset's grade. Never values."""
    with handled(as_json), open_node(home) as ex:
        party = acting(ex, token)
        actor = party.id if party is not None else service.OPERATOR
        if set_ is not None:
            field, eq, kind = set_.partition("=")
            if not eq or not field.strip() or not kind.strip():
                raise InvalidInput(f"--set takes FIELD=TYPE, e.g. id_no=cn_resident_id; got {set_!r}")
            result = service.override(ex, dataset_id, field.strip(), kind.strip(), reason=reason, actor=actor)
        elif refresh or (found := service.find_classification(ex, dataset_id, viewer=party)) is None:
            result = service.classify_dataset(ex, dataset_id, actor=actor)
        else:
            result = found
    out = {"id": dataset_id, **result.to_dict(), "minors": result.minors, "overrides": result.overrides}
    if as_json:
        emit_json(out)
        return
    kv(f"classification of {dataset_id}", {"grade": result.grade, "minors under 14": result.minors})
    table(
        "fields",
        ["name", "type", "confidence", "category", "grade", "note"],
        [[f["name"], f["type"], f["confidence"], f["category"], f["grade"], _note(f)] for f in result.fields],
    )
    if set_ is not None:
        out_console.print("override stored and logged")


def _note(field: dict[str, object]) -> str:
    spans = field.get("spans")
    if isinstance(spans, dict):
        return ", ".join(f"{k}: {v}" for k, v in spans.items())
    return str(field.get("note") or "")


def register_commands(app: typer.Typer) -> None:
    """Adds ``classify`` to the ``dataex`` application."""
    app.command("classify")(classify)
