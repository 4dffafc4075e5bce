"""``dataex describe`` and ``dataex croissant export|import``: parse, call one service, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dataex.catalog import croissant
from dataex.catalog.metadata import describe as describe_dataset
from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, to_jsonable
from dataex.errors import InputFileNotFound, InvalidInput

croissant_app = typer.Typer(help="MLCommons Croissant 1.1 metadata: export and import.", no_args_is_help=True)

Pairs = Annotated[list[str] | None, typer.Option(metavar="NAME=TEXT")]


def register_commands(app: typer.Typer) -> None:
    """Adds ``describe`` and the ``croissant`` group to the ``dataex`` application."""
    app.command("describe")(describe)
    app.add_typer(croissant_app, name="croissant")


def _pairs(values: list[str] | None, *, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{option} takes NAME=TEXT; got {value!r}")
        out[name.strip()] = text
    return out


def _rai(values: list[str] | None, named: dict[str, str | None]) -> dict[str, object] | None:
    rai: dict[str, list[str]] = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep:
            raise InvalidInput(f"--rai takes KEY=TEXT (e.g. biases=…); got {value!r}")
        rai.setdefault(key.strip(), []).append(text)
    for key, named_text in named.items():
        if named_text is not None:
            rai.setdefault(key, []).append(named_text)
    return dict(rai) if rai else None


def _description(text: str | None, file: Path | None) -> str | None:
    if text is not None and file is not None:
        raise InvalidInput("give --description or --description-file, not both")
    if file is None:
        return text
    if not file.is_file():
        raise InputFileNotFound(f"{file} does not exist or is not a file")
    return file.read_text(encoding="utf-8")


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [k.strip() for k in text.replace("，", ",").split(",") if k.strip()]


def describe(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET")],
    description: Annotated[str | None, typer.Option(help="Markdown description")] = None,
    description_file: Annotated[
        Path | None, typer.Option(help="Read the Markdown description from a file")
    ] = None,
    keywords: Annotated[
        str | None, typer.Option(help="Comma-separated keywords, e.g. 医疗,outpatient")
    ] = None,
    field: Pairs = None,
    semantic_type: Annotated[
        list[str] | None, typer.Option(metavar="NAME=TYPE", help="e.g. sex=wd:Q48277")
    ] = None,
    annotation: Annotated[
        str | None, typer.Option(help="Annotation protocol (rai:dataAnnotationProtocol)")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Collection process (rai:dataCollection)")] = None,
    limitations: Annotated[str | None, typer.Option(help="Known limitations (rai:dataLimitations)")] = None,
    biases: Annotated[str | None, typer.Option(help="Known biases (rai:dataBiases)")] = None,
    temporal: Annotated[
        str | None, typer.Option(help="Temporal coverage, e.g. 2025-01-01/2025-12-31")
    ] = None,
    spatial: Annotated[str | None, typer.Option(help="Spatial coverage, e.g. Shanghai")] = None,
    language: Annotated[list[str] | None, typer.Option(help="Language of the content (repeat)")] = None,
    visibility: Annotated[str | None, typer.Option(help="public or private")] = None,
    rai: Annotated[
        list[str] | None, typer.Option(metavar="KEY=TEXT", help="Any RAI property (repeat)")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Describe a dataset (owner or operator): Markdown, keywords, fields, coverage, RAI facts."""
    with handled(as_json), open_node(home) as ex:
        named = {
            "annotation_protocol": annotation,
            "data_collection": collection,
            "limitations": limitations,
            "biases": biases,
        }
        meta = describe_dataset(
            ex,
            dataset_id,
            actor=acting(ex, token),
            description=_description(description, description_file),
            keywords=_split(keywords),
            fields=_pairs(field, option="--field") or None,
            semantic_types=_pairs(semantic_type, option="--semantic-type") or None,
            rai=_rai(rai, named),
            temporal_coverage=temporal,
            spatial_coverage=spatial,
            languages=language or None,
            visibility=visibility,
        )
    out: dict[str, Any] = {"id": dataset_id, **to_jsonable(meta)}
    if as_json:
        emit_json(out)
    else:
        kv(f"{dataset_id} described", out)


@croissant_app.command("export")
def export(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET")],
    node_url: Annotated[
        bool, typer.Option("--node-url", help="Point contentUrl at the node's data route, not the local file")
    ] = False,
    base_url: Annotated[
        str, typer.Option(help="The node's public URL (with --node-url)")
    ] = "http://127.0.0.1:8000",
    token: As = None,
    home: Home = None,
) -> None:
    """Print the dataset's Croissant 1.1 JSON-LD on stdout (valid under `mlcroissant validate`)."""
    with handled(True), open_node(home) as ex:
        doc = croissant.export_croissant(
            ex,
            dataset_id,
            local=not node_url,
            base_url=base_url if node_url else None,
            viewer=acting(ex, token),
        )
    emit_json(doc)


@croissant_app.command("import")
def import_(
    file: Path,
    owner: Annotated[str | None, typer.Option(help="Owner party id (operator only; default: --as)")] = None,
    allow_root: Annotated[
        list[Path] | None, typer.Option(help="A directory data files may live in [default: the file's own]")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Register the local files a Croissant document points to, with its metadata (never the network)."""
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token)
        if owner is None and actor is not None:
            owner = actor.id  # the policy lets only the operator name another owner
        if owner is None:
            raise InvalidInput("say who owns the data: --owner PARTY_ID (or act as the owner with --as)")
        regs = croissant.import_croissant(ex, file, owner_id=owner, actor=actor, allowed_roots=allow_root)
    out = [
        {"id": r.dataset.id, "title": r.dataset.title, "rows": r.dataset.rows, "created": r.created}
        for r in regs
    ]
    if as_json:
        emit_json(out)
    else:
        for item in out:
            kv("dataset imported" if item["created"] else "already registered", item)
