"""Small parsers shared by the console's forms: text to the values the services take."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.responses import RedirectResponse, Response

from dataex.errors import InvalidInput


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def yuan(text: str) -> str:
    """A price typed in yuan (``20``, ``0.02/row``) as the offers service reads yuan: with a point."""
    number, slash, unit = text.strip().partition("/")
    number = number.strip()
    if number and "." not in number:
        number += ".0"
    return f"{number}{slash}{unit.strip()}"


def words(text: str) -> list[str]:
    """Comma separated (ASCII or full-width commas) values, stripped, empty ones dropped."""
    return [w.strip() for w in text.replace("，", ",").split(",") if w.strip()]


def lines(text: str) -> list[str]:
    """One value per line, stripped, empty lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def choice(value: str | None, allowed: Iterable[str], what: str) -> str | None:
    """An optional filter value: ``None`` when empty, else one of ``allowed`` (``InvalidInput`` if not)."""
    if value is None or not value.strip():
        return None
    options = list(allowed)
    if value.strip() not in options:
        raise InvalidInput(f"unknown {what} {value!r}; use one of {', '.join(options)}")
    return value.strip()
