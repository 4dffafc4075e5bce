"""Sign-in, sign-out and the language switch; the role pages live in catalog, provider, consumer, auditor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from dataex.errors import NotFound, Unauthorized
from dataex.web import i18n, session
from dataex.web.deps import CSRF, ExchangeDep
from dataex.web.render import render

router = APIRouter(tags=["web"], include_in_schema=False)


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": local_path(next), "failed": False})


@router.post("/login", dependencies=CSRF)
def login(
    request: Request, ex: ExchangeDep, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    try:
        party = ex.authenticate(token.strip())
    except Unauthorized:
        return render(request, "login.html", {"next": local_path(next), "failed": True}, status=401)
    session.replace(request, session.fresh(party.id))
    response = RedirectResponse(local_path(next), status_code=303)
    session.write_cookie(request, response)
    return response


@router.post("/logout", dependencies=CSRF)
def logout(request: Request) -> Response:
    session.replace(request, session.fresh())
    response = RedirectResponse("/login", status_code=303)
    session.write_cookie(request, response)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str = "/") -> Response:
    if locale not in i18n.LOCALES:
        raise NotFound(f"unknown language {locale!r}; use one of {', '.join(i18n.LOCALES)}")
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="strict", httponly=True)
    return response
