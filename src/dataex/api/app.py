"""The HTTP API's FastAPI application and its error handlers (every error: the JSON envelope).

``create_app`` builds the API alone; ``dataex.server`` composes it with the web console.
"""

from __future__ import annotations

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
from dataex.errors import DataexError, InvalidInput
from dataex.exchange import Exchange

HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


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
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

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
    return app
