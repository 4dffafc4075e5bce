"""``mount_web``: adds the console's pages, static files and HTML error pages to an app.

The console needs nothing from the app it is mounted on but FastAPI: ``dataex.server`` builds the
HTTP API's app and mounts the console on it. Errors become pages in one place (here): a DataexError
raised under a web route renders ``error.html`` with its status; under any other route the app's
own handler (the API's JSON envelope) still answers. Unknown paths get the friendly 404 page when
the client asks for HTML, and the app's own answer otherwise.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import cookie_parser

from dataex.errors import DataexError
from dataex.exchange import Exchange
from dataex.web import auditor, catalog, consumer, pages, provider, session
from dataex.web.render import render
from dataex.web.tasks import Tasks

STATIC = Path(__file__).parent / "static"
WEB_TAG = "web"


def mount_web(app: FastAPI, ex: Exchange) -> None:
    """Adds the web console for ``ex`` to ``app``, after the app's own error handlers: those keep
    answering under the app's routes; the console's pages get HTML error pages."""
    app.state.web_exchange = ex
    app.state.web_signer = session.Signer.for_node(ex)
    app.state.web_tasks = Tasks(ex)
    for module in (pages, catalog, provider, consumer, auditor):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    signer: session.Signer = app.state.web_signer

    def signed_in_session(ex: Exchange, scope: Any) -> bool:
        """The edge's credential check for the console: a large body needs an open signed-in session."""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookie = cookie_parser(value.decode("latin-1")).get(session.COOKIE)
                return session.signed_in_cookie(ex, signer, cookie)
        return False

    checks = getattr(app.state, "edge_checks", None)
    if isinstance(checks, list):
        checks.append(signed_in_session)
    api_handler = app.exception_handlers.get(DataexError)
    api_http = app.exception_handlers.get(StarletteHTTPException)
    api_invalid = app.exception_handlers.get(RequestValidationError)

    async def dataex_error(request: Request, exc: Exception) -> Response:
        if not is_web(request) and api_handler is not None:
            result = api_handler(request, exc)
            return await result if inspect.isawaitable(result) else result
        assert isinstance(exc, DataexError)
        return error_page(request, exc.status, exc.message)

    async def login_required(request: Request, _exc: Exception) -> Response:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    async def csrf_failed(request: Request, _exc: Exception) -> Response:
        return error_page(request, 403, "csrf")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_web(request) or (exc.status_code == 404 and wants_html(request)):
            return error_page(request, exc.status_code, "not_found" if exc.status_code == 404 else "")
        return await _delegate(api_http, http_exception_handler, request, exc)

    async def invalid_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if is_web(request):
            return error_page(request, 400, "invalid_form")
        return await _delegate(api_invalid, request_validation_exception_handler, request, exc)

    app.add_exception_handler(DataexError, dataex_error)
    app.add_exception_handler(session.LoginRequired, login_required)
    app.add_exception_handler(session.CsrfFailed, csrf_failed)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_form)


async def _delegate(handler: Any, default: Any, request: Request, exc: Exception) -> Response:
    """The app's own handler for ``exc`` (the API's JSON envelope), else FastAPI's default."""
    result = (handler or default)(request, exc)
    response: Response = await result if inspect.isawaitable(result) else result
    return response


def is_web(request: Request) -> bool:
    route: Any = request.scope.get("route")
    return isinstance(route, APIRoute) and WEB_TAG in route.tags


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str) -> Response:
    """The friendly error page; ``message`` is a DataexError's text or a known key."""
    return render(request, "error.html", {"status": status, "message": message}, status=status)
