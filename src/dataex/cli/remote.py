"""The CLI against a remote ``dataex serve``, through the SDK's HTTP transport (not a second client).

Two ways in, the same functions underneath:

* ``dataex remote --url URL --as TOKEN search 门诊`` (and ``datasets list``, ``datasets show ID``),
  added by :func:`register_commands`;
* ``dataex --url URL --as TOKEN search 门诊``: the top-level commands call :func:`search`,
  :func:`datasets_list` or :func:`datasets_show` when ``--url`` is given.

Output matches the local commands: ``--json`` prints the same documents (the API's bodies), errors the
same envelope with the same exit codes (``dataex.cli.output.handled``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from dataex.cli.common import As, Json
from dataex.cli.output import emit_json, handled, kv, table, unmark
from dataex.sdk.client import Client

Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="DATAEX_URL", show_envvar=True, help="The node's HTTP API, e.g. http://host:8000"
    ),
]
Timeout = Annotated[float, typer.Option(help="Seconds before a request gives up")]

remote_app = typer.Typer(
    help="Talk to a remote `dataex serve` over its HTTP API (--url, --as).", no_args_is_help=True
)
remote_datasets = typer.Typer(help="Datasets of the remote node.", no_args_is_help=True)
remote_app.add_typer(remote_datasets, name="datasets")


@dataclass(frozen=True)
class Remote:
    url: str
    token: str | None
    timeout: float = 30.0

    def client(self) -> Client:
        from dataex.sdk import connect

        return connect(self.url, self.token, timeout=self.timeout)


REMOTE_COMMANDS: frozenset[str] = frozenset({"search", "datasets"})
"""Top-level commands that honour ``dataex --url``; any other refuses it instead of acting locally."""


def use_remote(ctx: typer.Context, url: str | None, token: str | None, timeout: float = 30.0) -> None:
    """For the root callback of ``dataex``: with ``--url``, remember the node for the sub-command.

    Refuses ``--url`` before a command that would otherwise silently act on the local home.
    """
    if url is None:
        return
    if ctx.invoked_subcommand not in REMOTE_COMMANDS:
        raise typer.BadParameter(
            f"`dataex {ctx.invoked_subcommand}` has no remote mode yet; with --url use one of: "
            + ", ".join(sorted(REMOTE_COMMANDS)),
            param_hint="--url",
        )
    ctx.obj = Remote(url, token, timeout)


def remote_of(ctx: typer.Context) -> Remote | None:
    """The node ``--url`` named for this invocation, or ``None`` (act on the local home)."""
    obj: Any = ctx.find_object(Remote)
    return obj if isinstance(obj, Remote) else None


def register_commands(app: typer.Typer) -> None:
    """Adds the ``remote`` group (``search``, ``datasets list``, ``datasets show``) to ``dataex``."""
    app.add_typer(remote_app, name="remote")


@remote_app.callback()
def _remote(ctx: typer.Context, url: Url, token: As = None, timeout: Timeout = 30.0) -> None:
    ctx.obj = Remote(url, token, timeout)


# -- the functions the top-level commands call with --url ---------------------------------------------
def search(remote: Remote, query: str, *, limit: int = 20, as_json: bool = False) -> None:
    """``dataex search`` against the remote node."""
    with handled(as_json), remote.client() as client:
        result = client.transport.search(query, limit=limit)
    if as_json:
        emit_json(result)
        return
    table(
        f"{result['total']} dataset(s) for {result['query']!r}",
        ["id", "title", "score", "snippet"],
        [[h["dataset_id"], h["title"], f"{h['score']:.3f}", unmark(h["snippet"])] for h in result["hits"]],
    )


def datasets_list(remote: Remote, *, owner: str | None = None, as_json: bool = False) -> None:
    """``dataex datasets list`` against the remote node."""
    with handled(as_json), remote.client() as client:
        items = client.transport.list_datasets(owner=owner)
    if as_json:
        emit_json(items)
    else:
        table(
            "datasets",
            ["id", "title", "owner", "rows", "digest"],
            [[d["id"], d["title"], d["owner_id"], d["rows"], d["digest"][:23] + "…"] for d in items],
        )


def datasets_show(remote: Remote, dataset_id: str, *, as_json: bool = False) -> None:
    """``dataex datasets show`` against the remote node."""
    with handled(as_json), remote.client() as client:
        d = client.transport.get_dataset(dataset_id)
    if as_json:
        emit_json(d)
    else:
        kv(str(d["title"]), d)


# -- the ``remote`` group ------------------------------------------------------------------------------
@remote_app.command("search")
def _search_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words in Chinese and/or English, e.g. '门诊 诊断'")],
    limit: Annotated[int, typer.Option(help="Hits per page (1-100)")] = 20,
    as_json: Json = False,
) -> None:
    """Search the remote catalog."""
    search(_obj(ctx), query, limit=limit, as_json=as_json)


@remote_datasets.command("list")
def _list_cmd(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Only this owner's datasets")] = None,
    as_json: Json = False,
) -> None:
    """List the remote node's datasets."""
    datasets_list(_obj(ctx), owner=owner, as_json=as_json)


@remote_datasets.command("show")
def _show_cmd(ctx: typer.Context, dataset_id: str, as_json: Json = False) -> None:
    """Show one dataset of the remote node."""
    datasets_show(_obj(ctx), dataset_id, as_json=as_json)


def _obj(ctx: typer.Context) -> Remote:
    remote = remote_of(ctx)
    if remote is None:  # pragma: no cover - the group callback always sets it
        raise typer.BadParameter("--url is required")
    return remote
