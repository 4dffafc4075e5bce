"""The node's HTTP server: the API's app with the web console mounted on it.

The two shells know nothing of each other: ``dataex.api`` builds the HTTP API (its routes, its JSON
error envelope, its OpenAPI document) and ``dataex.web`` adds the console's pages to any FastAPI app.
This module composes them, in that order (the console keeps the API's error handlers for the API's
routes), for ``dataex serve`` and the tests.
"""

from __future__ import annotations

from fastapi import FastAPI

from dataex.api.app import create_app as create_api
from dataex.config import Settings
from dataex.exchange import Exchange
from dataex.web import mount_web


def create_app(ex: Exchange) -> FastAPI:
    """The app ``dataex serve`` runs for ``ex``: the HTTP API and the web console."""
    app = create_api(ex)
    mount_web(app, ex)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's app factory for ``dataex serve --workers N``: each worker process opens the node
    named by ``$DATAEX_HOME`` (and the other ``DATAEX_*`` settings) and builds ``create_app``;
    it starts its compute worker pool at once, as ``dataex serve`` does."""
    from dataex.compute.runner import warm

    warm()
    return create_app(Exchange.open(Settings()))
