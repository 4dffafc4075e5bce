"""``dataex search`` and ``dataex demand …``: thin commands over dataex.catalog.search and .demand."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from dataex.catalog import demand as demands
from dataex.catalog import search as catalog_search
from dataex.cli import remote
from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, out_console, table, to_jsonable, unmark
from dataex.errors import InvalidInput

demand_app = typer.Typer(help="The demand board: wanted data, and the datasets that could serve it.")


def register_commands(app: typer.Typer) -> None:
    """Adds ``search``, ``reindex`` and the ``demand`` group to the ``dataex`` app."""
    app.command("search")(search_command)
    app.command("reindex")(reindex_command)
    app.add_typer(demand_app, name="demand")


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words in Chinese and/or English, e.g. '门诊 诊断'")],
    license: Annotated[str | None, typer.Option(help="Only datasets under this license")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's datasets")] = None,
    quality_grade: Annotated[str | None, typer.Option(help="Only datasets with this quality grade")] = None,
    sensitivity: Annotated[str | None, typer.Option(help="Only datasets with this sensitivity grade")] = None,
    tier: Annotated[str | None, typer.Option(help="Only datasets offered at this tier (L0-L4)")] = None,
    limit: Annotated[int, typer.Option(help="Hits per page (1-100)")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many hits")] = 0,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Search the catalog (titles, descriptions, keywords, fields) in Chinese and English."""
    if (node := remote.remote_of(ctx)) is not None:
        remote.search(node, query, limit=limit, as_json=as_json)
        return
    with handled(as_json), open_node(home) as ex:
        result = catalog_search.search(
            ex,
            query,
            limit=limit,
            offset=offset,
            license=license,
            owner=owner,
            quality_grade=quality_grade,
            sensitivity=sensitivity,
            tier=tier,
            actor=acting(ex, token),
        )
    if as_json:
        emit_json(_jsonable(result))
        return
    table(
        f"{result.total} dataset(s) for {result.query!r}",
        ["id", "title", "score", "snippet"],
        [[h.dataset_id, h.title, f"{h.score:.3f}", unmark(h.snippet)] for h in result.hits],
    )


def reindex_command(home: Home = None, as_json: Json = False) -> None:
    """Rebuild the search index of the whole catalog (the local operator; after an upgrade)."""
    with handled(as_json), open_node(home) as ex:
        count = catalog_search.rebuild_index(ex)
    if as_json:
        emit_json({"ok": True, "datasets": count})
    else:
        out_console.print(f"reindexed {count} dataset(s)")


def _deadline(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput(f"--deadline must be a date like 2026-12-31; got {value!r}") from e


@demand_app.command("post")
def demand_post(
    title: Annotated[str, typer.Option(help="What data is wanted")] = "",
    fields: Annotated[str, typer.Option(help="Wanted fields, comma-separated: image,report,age,sex")] = "",
    purpose: Annotated[str, typer.Option(help="What the data will be used for")] = "",
    budget: Annotated[int | None, typer.Option(help="Budget in fen (1 yuan = 100 fen)")] = None,
    deadline: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    description: Annotated[str, typer.Option(help="More detail")] = "",
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Post a demand (consumers only; act with --as)."""
    with handled(as_json), open_node(home) as ex:
        posted = demands.post_demand(
            ex,
            actor=acting(
                ex, token, otherwise=InvalidInput("say which consumer posts the demand: --as TOKEN")
            ),
            title=title,
            fields=fields.split(","),
            purpose=purpose,
            budget=budget,
            deadline=_deadline(deadline),
            description=description,
        )
    _show_demand(posted, as_json=as_json, title="demand posted")


@demand_app.command("list")
def demand_list(
    status: Annotated[str, typer.Option(help="open, closed or all")] = "open",
    home: Home = None,
    as_json: Json = False,
) -> None:
    """List demands on the board, newest first."""
    with handled(as_json), open_node(home) as ex:
        items = demands.list_demands(ex, status=status)
    if as_json:
        emit_json(_jsonable(items))
        return
    table(
        "demands",
        ["id", "title", "fields", "budget (fen)", "deadline", "status"],
        [[d.id, d.title, ",".join(d.fields), d.budget, d.deadline, d.status] for d in items],
    )


@demand_app.command("matches")
def demand_matches(
    demand_id: str,
    limit: Annotated[int, typer.Option(help="At most this many datasets (1-100)")] = 10,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Datasets that could serve a demand, ranked, with the fields that matched (logged)."""
    with handled(as_json), open_node(home) as ex:
        found = demands.match_demand(ex, demand_id, limit=limit, actor=acting(ex, token))
    if as_json:
        emit_json(_jsonable(found))
        return
    table(
        f"datasets for {demand_id}",
        ["dataset", "title", "score", "matched fields", "missing"],
        [
            [m.dataset_id, m.title, f"{m.score:.3f}", _why(m.matched_fields), ",".join(m.missing_fields)]
            for m in found
        ],
    )


@demand_app.command("for-dataset")
def demand_for_dataset(dataset_id: str, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Open demands one of your datasets could serve (its owner or the operator; logged)."""
    with handled(as_json), open_node(home) as ex:
        found = demands.demands_for_dataset(ex, dataset_id, actor=acting(ex, token))
    if as_json:
        emit_json(_jsonable(found))
        return
    table(
        f"demands for {dataset_id}",
        ["demand", "title", "score", "matched fields", "missing"],
        [
            [
                m.demand.id,
                m.demand.title,
                f"{m.score:.3f}",
                _why(m.matched_fields),
                ",".join(m.missing_fields),
            ]
            for m in found
        ],
    )


@demand_app.command("close")
def demand_close(demand_id: str, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Close a demand (the consumer who posted it, or the operator)."""
    with handled(as_json), open_node(home) as ex:
        closed = demands.close_demand(ex, demand_id, actor=acting(ex, token))
    _show_demand(closed, as_json=as_json, title="demand closed")


def _jsonable(value: Any) -> Any:
    """``to_jsonable`` plus dates (a demand's deadline), which it leaves as they are."""

    def dates(v: Any) -> Any:
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: dates(x) for k, x in v.items()}
        if isinstance(v, list):
            return [dates(x) for x in v]
        return v

    return dates(to_jsonable(value))


def _why(matches: list[Any]) -> str:
    return "; ".join(f"{m.field}←{m.column} ({m.reason})" for m in matches)


def _show_demand(d: demands.Demand, *, as_json: bool, title: str) -> None:
    if as_json:
        emit_json(_jsonable(d))
    else:
        kv(title, _jsonable(d))
