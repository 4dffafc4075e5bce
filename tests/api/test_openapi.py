"""The OpenAPI document: checked in as docs/openapi.json, complete, and honest about errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dataex.api.app import create_app
from dataex.api.document import SHARING_PREFIX, document_errors, error_statuses
from dataex.api.openapi import generate, render
from dataex.server import create_app as create_server_app
from tests.conftest import Node

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REFRESH = "refresh it with: .venv/bin/python -m dataex.api.openapi > docs/openapi.json"
ENVELOPES = {"#/components/schemas/ErrorOut", "#/components/schemas/SharingErrorOut"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as a live node (``dataex serve``: the API and the web console) serves it."""
    from dataex.exchange import Exchange

    ex, _ = Exchange.init(home=tmp_path_factory.mktemp("openapi") / "node")
    try:
        with TestClient(create_server_app(ex)) as client:
            doc: dict[str, Any] = client.get("/openapi.json").json()
            return doc
    finally:
        ex.close()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in sorted(doc["paths"].items())
        for method, op in sorted(ops.items())
        if method in METHODS
    ]


def test_the_checked_in_document_is_current(served: dict[str, Any]) -> None:
    assert DOC.exists(), f"docs/openapi.json is missing; {REFRESH}"
    assert DOC.read_text(encoding="utf-8") == render(served), f"docs/openapi.json is stale; {REFRESH}"


def test_the_refresh_command_writes_the_served_document(served: dict[str, Any]) -> None:
    """``python -m dataex.api.openapi`` documents the API alone; the console adds no operation."""
    assert generate() == render(served)


def test_the_rendering_is_deterministic(served: dict[str, Any]) -> None:
    text = render(served)
    assert render(json.loads(text)) == text
    assert text.endswith("}\n") and list(json.loads(text)) == sorted(json.loads(text))


def test_every_operation_documents_a_success_body(served: dict[str, Any]) -> None:
    """A response model (or a declared file/HTML body) for each route; Delta Sharing is exempt."""
    missing = []
    for method, path, op in operations(served):
        ok = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert ok, f"{method.upper()} {path} documents no 2xx response"
        if path.startswith(SHARING_PREFIX):
            continue  # the protocol dictates its bodies (JSON objects, NDJSON, files)
        schemas = [m.get("schema") for r in ok.values() for m in r.get("content", {}).values()]
        if not schemas or any(not s for s in schemas):
            missing.append(f"{method.upper()} {path}")
    assert missing == [], "routes without a response model: " + ", ".join(missing)


def test_every_error_response_is_the_envelope(served: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(served):
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        for status in error_statuses(method, op):
            if str(status) not in errors:
                problems.append(f"{method.upper()} {path}: {status} not documented")
        for status, response in errors.items():
            ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            if ref not in ENVELOPES:
                problems.append(f"{method.upper()} {path}: {status} is {ref}, not the envelope")
    assert problems == []
    assert "HTTPValidationError" not in served["components"]["schemas"]  # we answer 400 + the envelope


def test_errors_are_documented_by_what_a_route_declares(served: dict[str, Any]) -> None:
    paths = served["paths"]
    assert sorted(paths["/version"]["get"]["responses"]) == ["200"]  # public, no input: cannot fail
    assert sorted(paths["/contracts/{contract_id}/query"]["post"]["responses"]) == [
        "200", "400", "401", "403", "404", "409",
    ]  # fmt: skip
    assert sorted(paths["/search"]["get"]["responses"]) == ["200", "400", "401", "403"]
    assert "422" in paths["/datasets/{dataset_id}/anonymize"]["post"]["responses"]  # declared by the route
    shares = paths[f"{SHARING_PREFIX}/shares"]["get"]["responses"]["401"]
    assert shares["content"]["application/json"]["schema"]["$ref"].endswith("/SharingErrorOut")


def test_a_validation_error_answers_what_the_document_says(served: dict[str, Any], sqlite_node: Node) -> None:
    """The document promises 400 + the envelope for a malformed request: the node does that."""
    assert "400" in served["paths"]["/log/proof/{index}"]["get"]["responses"]
    response = TestClient(create_app(sqlite_node.ex)).get("/log/proof/not-a-number")
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"


def test_document_errors_leaves_a_routes_own_error_docs() -> None:
    doc: dict[str, Any] = {
        "paths": {
            "/x/{id}": {
                "post": {
                    "parameters": [{"in": "path", "name": "id"}],
                    "responses": {"200": {}, "409": {"description": "mine"}},
                }
            }
        }
    }
    out = document_errors(doc)["paths"]["/x/{id}"]["post"]["responses"]
    assert sorted(out) == ["200", "400", "404", "409"] and out["409"]["description"] == "mine"
    assert out["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
