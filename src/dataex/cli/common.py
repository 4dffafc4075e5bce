"""What every command shares: the ``--home``, ``--json`` and ``--as`` options and opening the node."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dataex.config import Settings, default_home
from dataex.exchange import Exchange
from dataex.identity.parties import Party

Home = Annotated[
    Path | None, typer.Option("--home", help="Node directory [default: $DATAEX_HOME or ./.dataex]")
]
Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
As = Annotated[
    str | None,
    typer.Option(
        "--as", envvar="DATAEX_TOKEN", show_envvar=True, help="Act as the party holding this API token."
    ),
]


def settings(home: Path | None, **extra: Any) -> Settings:
    return Settings(home=home or default_home(), **{k: v for k, v in extra.items() if v is not None})


def open_node(home: Path | None) -> Exchange:
    return Exchange.open(settings(home))


def acting(ex: Exchange, token: str | None) -> Party | None:
    """The party a ``--as`` token names, or ``None`` for the local operator."""
    return ex.authenticate(token) if token else None
