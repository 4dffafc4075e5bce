"""The node's OpenAPI document: FastAPI's, with every error response documented as the envelope.

Every error the API sends is the one JSON envelope ``{"ok": false, "error", "code", "status",
"details"}`` (``ErrorOut``); request validation answers 400 ``invalid_input``, never FastAPI's own 422
body. So the document drops FastAPI's generated 422/``HTTPValidationError`` and, for each operation,
documents the envelope under each status the operation can answer, read from what it declares:

* 400 ``invalid_input`` (and subclasses): it takes parameters or a body;
* 401 ``unauthorized``: it accepts a bearer token (a missing or unknown one is refused);
* 403 ``forbidden`` / ``access_denied``: it requires a token (the party may not do this);
* 404 ``*_not_found``: it has path parameters naming an object;
* 409 ``conflict`` (``budget_exhausted``, ``invalid_transition``…): it changes state (POST, PUT, DELETE).

A route's own ``responses={...}`` entries are kept. The Delta Sharing routes (``/delta-sharing``)
document the protocol's error object, which carries the envelope's fields too (``SharingErrorOut``).

``install`` makes an app serve this document; ``dataex.api.openapi`` renders it for
``docs/openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import Field

from dataex.api.models import ErrorOut

SHARING_PREFIX = "/delta-sharing"
REF = "#/components/schemas/{model}"
ERRORS: dict[int, str] = {
    400: "Invalid input (`invalid_input` or a subclass: `query_refused`, `unknown_column`, `bad_file`…)",
    401: "Missing or unknown token (`unauthorized`)",
    403: "The party may not do this (`forbidden`, `access_denied` with the deciding rule, …)",
    404: "No such object (`not_found`, `dataset_not_found`, `contract_not_found`, …)",
    409: "Conflicts with the node's state (`budget_exhausted`, `invalid_transition`, …)",
}
MUTATING = frozenset({"post", "put", "patch", "delete"})


class SharingErrorOut(ErrorOut):
    """The Delta Sharing protocol's error object, with the envelope's fields."""

    errorCode: str = Field(description="The protocol's error code, e.g. RESOURCE_DOES_NOT_EXIST")
    message: str


def error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The statuses ``operation`` can answer with an error, from what it declares (module docstring)."""
    params = operation.get("parameters", [])
    secured = bool(operation.get("security"))
    out = []
    if params or "requestBody" in operation:
        out.append(400)
    if secured:
        out += [401, 403]
    if any(p.get("in") == "path" for p in params):
        out.append(404)
    if method in MUTATING:
        out.append(409)
    return out


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with FastAPI's 422 bodies replaced by the envelope under each possible error status."""
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, SharingErrorOut):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for path, operations in doc.get("paths", {}).items():
        model = SharingErrorOut if path.startswith(SHARING_PREFIX) else ErrorOut
        ref = {"$ref": REF.format(model=model.__name__)}
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            generated = responses.get("422", {}).get("content", {}).get("application/json", {})
            if generated.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            for status in error_statuses(method, operation):
                responses.setdefault(
                    str(status), {"description": ERRORS[status], "content": {"application/json": {}}}
                )
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response.setdefault("content", {}).setdefault("application/json", {})["schema"] = ref
    if "/HTTPValidationError" not in json.dumps(doc["paths"]):
        schemas.pop("HTTPValidationError", None)  # and the item model only it refers to
        schemas.pop("ValidationError", None)
    return doc


def install(app: FastAPI) -> None:
    """Makes ``app.openapi()`` (and ``GET /openapi.json``) return the documented document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_errors(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
