"""The HTTP API's FastAPI application and its error handlers (every error: the JSON envelope).

``create_app`` builds the API alone; ``dataex.server`` composes it with the web console. Its edge
middleware (``Edge``) guards every route of the app, the console's included: it bounds request
bodies before anything reads them and adds the security headers to every response (docs/security.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dataex import __version__
from dataex.api.document import install as install_openapi
from dataex.api.routes import (
    anonymize,
    catalog,
    compute,
    consent,
    contracts,
    datasets,
    dp,
    extracts,
    market,
    meta,
    node,
    parties,
    privacy,
    quality,
    search,
    sharing,
)
from dataex.config import MULTIPART_OVERHEAD
from dataex.errors import DataexError, FileTooLarge, InvalidInput, Unauthorized
from dataex.exchange import Exchange
from dataex.ledger.log import truncate

HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
CredentialCheck = Callable[[Exchange, Scope], bool]

SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PSI_PATHS: Final = re.compile(r"^/(contracts/[^/]+/psi|psi/sessions/[^/]+/finish)$")


def bearer_ok(ex: Exchange, scope: Scope) -> bool:
    """Whether the request's ``Authorization: Bearer`` token names a live party."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return False
            try:
                ex.authenticate(token.strip())
            except DataexError:
                return False
            return True
    return False


class Edge:
    """Pure ASGI middleware: security headers on every response; request bodies bounded before any
    route, form parser or authentication reads them.

    A body is refused with 413 when its ``Content-Length`` exceeds its limit (a multipart upload:
    ``max_upload_bytes`` + ``MULTIPART_OVERHEAD``; a PSI message: ``max_psi_body_bytes``; any other
    body: ``max_body_bytes``), and again while it streams (a missing or lying length). A body larger
    than ``anonymous_body_bytes``, or of unknown length, is read only when the request's credentials
    pass one of ``app.state.edge_checks`` (the API's bearer token; the console adds its signed-in
    session), else 401 before one byte of it is read. Errors are the API's JSON envelope. The node
    and the checks are read from the app's state (``exchange``, ``edge_checks``) per request, so a
    shell mounted later can add a check."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send_with_headers)
            return
        state = scope["app"].state
        ex: Exchange = state.exchange
        checks: list[CredentialCheck] = state.edge_checks
        settings = ex.settings
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        if upload:
            limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
        elif _PSI_PATHS.match(scope.get("path", "")):
            limit = settings.max_psi_body_bytes  # a PSI request of up to 2**20 blinded items
        else:
            limit = settings.max_body_bytes
        raw_length = headers.get(b"content-length")
        length: int | None = None
        if raw_length is not None:
            if not raw_length.isdigit() or len(raw_length) > 19:
                await _answer(send_with_headers, InvalidInput("invalid Content-Length header"))
                return
            length = int(raw_length)
        if length is not None and length > limit:
            await _answer(send_with_headers, _too_large(limit, upload))
            return
        if (length is None or length > settings.anonymous_body_bytes) and not any(
            check(ex, scope) for check in checks
        ):
            await _answer(
                send_with_headers,
                Unauthorized("a request body this large needs a valid token or a signed-in session"),
            )
            return
        seen = 0
        overflow = False

        async def bounded_receive() -> Message:
            nonlocal seen, overflow
            if overflow:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # the app sees a client that went away; its answer becomes a 413
                    overflow = True
                    return {"type": "http.disconnect"}
            return message

        replaced = False

        async def send_or_413(message: Message) -> None:
            nonlocal replaced
            if overflow and not started:
                if not replaced:
                    replaced = True
                    await _answer(send_with_headers, _too_large(limit, upload))
                return
            if not replaced:
                await send_with_headers(message)

        await self.app(scope, bounded_receive, send_or_413)


def _too_large(limit: int, upload: bool) -> FileTooLarge:
    what = "an upload" if upload else "a request body"
    return FileTooLarge(
        f"{what} may be at most {limit} bytes on this route (the node's limits: docs/security.md)",
        limit=limit,
    )


async def _answer(send: Send, error: DataexError) -> None:
    body = json.dumps(envelope(error)).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


MAX_ECHO_CHARS: Final = 1024


def envelope(error: DataexError) -> dict[str, Any]:
    """``error.to_dict()`` with its message and string details cut to ``MAX_ECHO_CHARS``: an error
    never echoes a huge input back (the caller's own, but a response is bounded too)."""
    body = error.to_dict()
    body["error"] = truncate(str(body["error"]), MAX_ECHO_CHARS)
    if "details" in body:
        body["details"] = {
            k: truncate(v, MAX_ECHO_CHARS) if isinstance(v, str) else v for k, v in body["details"].items()
        }
    return body


def create_app(ex: Exchange) -> FastAPI:
    app = FastAPI(
        title="dataex",
        version=__version__,
        description="A data element exchange for AI: one node's HTTP API.",
    )
    app.state.exchange = ex

    @app.exception_handler(DataexError)
    async def _dataex_error(_request: Request, exc: DataexError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(envelope(exc), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        body = {"ok": False, "error": str(exc.detail), "code": code, "status": exc.status_code}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        where = ".".join(problems[0]["loc"]) if problems else "request"
        what = problems[0]["msg"] if problems else "malformed request"
        error = InvalidInput(f"invalid request at {where}: {what}", problems=problems)
        return JSONResponse(error.to_dict(), status_code=error.status)

    for module in (
        node,
        parties,
        datasets,
        catalog,
        search,
        privacy,
        quality,
        anonymize,
        contracts,
        consent,
        sharing,
        compute,
        market,
        dp,
        extracts,
        meta,
    ):
        app.include_router(module.router)
    install_openapi(app)
    app.state.edge_checks = [bearer_ok]
    app.add_middleware(Edge)
    return app
