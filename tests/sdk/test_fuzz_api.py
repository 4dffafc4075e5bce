"""Schemathesis against a live ``dataex serve`` on loopback: no 5xx, and every 4xx is the envelope.

Bounded: ``MAX_EXAMPLES`` generated examples per operation, per generation mode (positive and
negative) and per role (the operator, who reaches the deepest code, and a consumer), on every
operation of the OpenAPI document (about 25 s on a 2-core machine). Findings are collected for the
whole run, then each property is checked on them, naming the method, path, input and response.

Schemathesis's own pytest plugin (``from_fixture``) fails to collect with this pytest
(``'Function' object has no attribute '_nodeid'``), so the run drives each operation's Hypothesis
strategy itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.sdk.conftest import LiveNode

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    kind: str  # "5xx", "not_json", "fastapi_validation", "not_envelope"
    operation: str
    text: str


def classify(case: Any, response: Any) -> str | None:
    status = response.status_code
    if status >= 500:
        return "5xx"
    if status < 400 or case.method.upper() == "HEAD":  # a HEAD response has no body
        return None
    try:
        body = response.json()
    except ValueError:
        return "not_json"
    if isinstance(body, dict) and set(body) == {"detail"}:
        return "fastapi_validation"  # FastAPI's own RequestValidationError / body-parse error body
    ok = (
        isinstance(body, dict)
        and body.get("ok") is False
        and isinstance(body.get("code"), str)
        and isinstance(body.get("error"), str)
        and body.get("status") == status
    )
    return None if ok else "not_envelope"


def fuzz(op: Any, base_url: str, token: str, mode: GenerationMode) -> list[Finding]:
    found: list[Finding] = []
    name = f"{op.method.upper()} {op.path}"

    @given(op.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        kind = classify(case, response)
        if kind:
            text = (
                f"({mode.value}) {case.method} {case.formatted_path} query={case.query} "
                f"body={case.body!r:.160} -> {response.status_code} {response.text[:200]}"
            )
            found.append(Finding(kind, name, text))

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # (negative: an operation without parameters has no invalid input)
    return found


@pytest.fixture(scope="module")
def findings(live_node: LiveNode) -> list[Finding]:
    schema = schemathesis.openapi.from_url(f"{live_node.url}/openapi.json")
    out: list[Finding] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for token in (live_node.operator, live_node.insurer):
            for mode in GenerationMode:
                out.extend(fuzz(op, live_node.url, token, mode))
    return out


def report(found: list[Finding]) -> str:
    by_op: dict[str, list[str]] = {}
    for f in found:
        by_op.setdefault(f.operation, []).append(f"{f.kind}: {f.text}")
    return "\n".join(f"{op}\n  " + "\n  ".join(lines[:2]) for op, lines in sorted(by_op.items()))


@pytest.mark.slow
def test_no_5xx_and_no_error_outside_an_envelope(findings: list[Finding]) -> None:
    bad = [f for f in findings if f.kind != "fastapi_validation"]
    assert bad == [], report(bad)


@pytest.mark.slow
def test_request_validation_errors_use_the_envelope(findings: list[Finding]) -> None:
    bad = [f for f in findings if f.kind == "fastapi_validation"]
    assert bad == [], report(bad)
