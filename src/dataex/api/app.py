"""The FastAPI application and its one error handler."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dataex import __version__
from dataex.api.routes import (
    anonymize,
    catalog,
    compute,
    consent,
    contracts,
    datasets,
    dp,
    market,
    node,
    parties,
    privacy,
    quality,
    search,
    sharing,
)
from dataex.errors import DataexError
from dataex.exchange import Exchange
from dataex.web import mount_web


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
    ):
        app.include_router(module.router)
    mount_web(app, ex)
    return app
