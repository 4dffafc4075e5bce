"""Rendering: one Jinja2 environment (autoescaping on), one ``render`` used by every page."""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from dataex.identity.parties import Party
from dataex.web import i18n, session

TEMPLATES = Path(__file__).parent / "templates"


_MARK = re.compile(r"(</?mark>)")
_TAGS = {"<mark>": Markup("<mark>"), "</mark>": Markup("</mark>")}


def snippet(text: str) -> Markup:
    """A search snippet (escaped HTML with ``<mark>``) re-escaped here, letting only ``<mark>`` through."""
    parts = _MARK.split(text)
    return Markup("").join(_TAGS.get(p) or escape(html.unescape(p)) for p in parts)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["snippet"] = snippet
    return env


def translator(request: Request) -> i18n.Translator:
    locale = i18n.negotiate(request.headers.get("accept-language"), request.cookies.get(i18n.LANG_COOKIE))
    return i18n.Translator(locale)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    party: Party | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Renders ``template`` with the common context; sets the session cookie when it is new."""
    tr = translator(request)
    web_session = session.current(request)
    signer: session.Signer = request.app.state.web_signer
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    common: dict[str, Any] = {
        "request": request,
        "party": party,
        "csrf": signer.csrf(web_session),
        "_": tr.gettext,
        "tr": tr,
        "locales": [(code, i18n.NAMES[code]) for code in i18n.LOCALES],
        "here": quote(here, safe="/?=&"),
    }
    html = environment().get_template(template).render(common | (context or {}))
    response = HTMLResponse(html, status_code=status)
    session.write_cookie(request, response)
    return response
