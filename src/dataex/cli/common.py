"""What every command shares: the ``--home``, ``--json`` and ``--as`` options, opening the node, and
the one way a command learns which party it acts as (:func:`acting`).

The CLI's one style: a command is a top-level function. A module's command groups are module-level
``typer.Typer`` objects whose commands are registered with their decorators; its top-level commands
(and its groups) are added to the ``dataex`` application by the module's ``register_commands(app)``.
A command that acts as a party takes ``token: As = None`` and turns it into a party with
:func:`acting`, nowhere else; the services it calls decide what that party may do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final, Literal, overload

import typer

from dataex.config import Settings, default_home
from dataex.errors import DataexError
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
"""The one ``--as`` option: every command that acts as a party declares ``token: As = None``."""

OPERATOR: Final = "operator"
"""``acting(..., otherwise=OPERATOR)``: without ``--as``, the node operator's party record acts."""


def settings(home: Path | None, **extra: Any) -> Settings:
    return Settings(home=home or default_home(), **{k: v for k, v in extra.items() if v is not None})


def open_node(home: Path | None) -> Exchange:
    return Exchange.open(settings(home))


def required(token: str | None, otherwise: DataexError) -> str:
    """The ``--as`` token, or raise ``otherwise`` when there is none (before anything is opened)."""
    if not token:
        raise otherwise
    return token


@overload
def acting(ex: Exchange, token: str | None, *, otherwise: None = None) -> Party | None: ...


@overload
def acting(ex: Exchange, token: str | None, *, otherwise: DataexError | Literal["operator"]) -> Party: ...


def acting(
    ex: Exchange, token: str | None, *, otherwise: DataexError | Literal["operator"] | None = None
) -> Party | None:
    """The party a ``--as`` token names (an unknown token is refused by ``ex.authenticate``).

    Without a token: ``None`` (the local operator, who holds the node's home, acts), the operator's
    party record (``otherwise=OPERATOR``), or ``otherwise`` raised (a command only a party may run).
    """
    if token:
        return ex.authenticate(token)
    if otherwise is None:
        return None
    if isinstance(otherwise, DataexError):
        raise otherwise
    return next(p for p in ex.list_parties() if p.is_operator)
