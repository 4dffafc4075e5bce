"""The HTTP client's policy, on an httpx MockTransport: retries, typed errors, the version check."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest

from dataex.errors import (
    BudgetExhausted,
    DataexError,
    DatasetNotFound,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from dataex.sdk import BadResponse, IncompatibleNode, NodeUnreachable, RetryPolicy, connect
from dataex.sdk.client import Client, error_classes
from dataex.sdk.remote import RemoteTransport

Handler = Callable[[httpx.Request], httpx.Response]
VERSION = httpx.Response(200, json={"api": 1, "dataex": "0.1.0"})


def envelope(status: int, code: str, **details: object) -> httpx.Response:
    body: dict[str, object] = {"ok": False, "error": f"{code}!", "code": code, "status": status}
    if details:
        body["details"] = details
    return httpx.Response(status, json=body)


class Recorder:
    """Answers each request with the next response; records what was asked and the sleeps."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        nxt = self.responses.pop(0)
        if isinstance(nxt, Exception):
            raise nxt
        return nxt

    def transport(self) -> RemoteTransport:
        return RemoteTransport(
            "http://node.test", "dxt_x", transport=httpx.MockTransport(self), sleep=self.sleeps.append
        )


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_is_retried_on_429_and_5xx_with_backoff(status: int) -> None:
    rec = Recorder(
        envelope(status, "error"), envelope(status, "error"), httpx.Response(200, json={"id": "x"})
    )
    assert rec.transport().json("GET", "/datasets/x") == {"id": "x"}
    assert len(rec.requests) == 3 and rec.sleeps == [0.2, 0.4]


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_input", InvalidInput),
        (401, "unauthorized", Unauthorized),
        (404, "dataset_not_found", DatasetNotFound),
        (409, "budget_exhausted", BudgetExhausted),
    ],
)
def test_other_4xx_are_never_retried(status: int, code: str, error: type[DataexError]) -> None:
    rec = Recorder(envelope(status, code, contract_id="ctr_1"), httpx.Response(200, json={}))
    with pytest.raises(error):
        rec.transport().json("GET", "/x")
    assert len(rec.requests) == 1 and rec.sleeps == []


def test_retries_are_bounded_and_end_in_the_servers_error() -> None:
    rec = Recorder(*[envelope(500, "integrity_error")] * 4)
    with pytest.raises(DataexError) as e:
        rec.transport().json("GET", "/x")
    assert e.value.code == "integrity_error" and len(rec.requests) == 4
    assert rec.sleeps == [0.2, 0.4, 0.8]


def test_a_post_that_failed_half_way_is_not_repeated() -> None:
    """A 500 after a DP query's ε was charged must not charge it again; 503 and 429 are safe."""
    rec = Recorder(envelope(500, "error"), httpx.Response(200, json={}))
    with pytest.raises(DataexError):
        rec.transport().json("POST", "/contracts/ctr_1/query", json={})
    assert len(rec.requests) == 1
    rec = Recorder(envelope(503, "error"), httpx.Response(429), httpx.Response(200, json={"ok": 1}))
    assert rec.transport().json("POST", "/contracts/ctr_1/query", json={}) == {"ok": 1}
    assert len(rec.requests) == 3


def test_retry_after_is_honoured_but_capped() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "1.5"}),
        httpx.Response(429, headers={"Retry-After": "999"}),
        httpx.Response(200, json={}),
    )
    rec.transport().json("GET", "/x")
    assert rec.sleeps == [1.5, RetryPolicy().max_backoff]


def test_connection_errors_are_retried_then_named() -> None:
    refused = httpx.ConnectError("connection refused")
    rec = Recorder(refused, refused, httpx.Response(200, json={"id": 1}))
    assert rec.transport().json("POST", "/offers", json={}) == {"id": 1}  # never reached: safe
    rec = Recorder(*[refused] * 4)
    with pytest.raises(NodeUnreachable, match=r"http://node\.test.*dataex serve"):
        rec.transport().json("GET", "/x")
    read = httpx.ReadTimeout("slow")
    rec = Recorder(read, httpx.Response(200, json={}))
    with pytest.raises(NodeUnreachable):  # a POST may have run: not retried
        rec.transport().json("POST", "/offers", json={})
    assert len(rec.requests) == 1


def test_envelope_details_become_attributes_and_unknown_codes_the_base_class() -> None:
    rec = Recorder(envelope(404, "dataset_not_found", dataset_id="ds_9"))
    with pytest.raises(DatasetNotFound) as e:
        rec.transport().json("GET", "/datasets/ds_9")
    assert (
        isinstance(e.value, NotFound)
        and e.value.dataset_id == "ds_9"
        and e.value.message == "dataset_not_found!"
    )
    rec = Recorder(envelope(418, "teapot_from_the_future"))
    with pytest.raises(DataexError) as unknown:
        rec.transport().json("GET", "/x")
    assert type(unknown.value) is DataexError


def test_every_error_code_maps_to_its_class() -> None:
    classes = error_classes()
    assert classes["budget_exhausted"] is BudgetExhausted and classes["error"] is DataexError
    todo = [DataexError]
    while todo:
        for sub in todo.pop().__subclasses__():
            assert issubclass(classes[sub.code], DataexError)
            todo.append(sub)


def test_bad_responses_from_a_proxy_are_typed() -> None:
    html = httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})
    with pytest.raises(BadResponse, match="not JSON"):
        Recorder(html).transport().json("GET", "/x")
    gateway = httpx.Response(404, text="<html>nginx</html>")
    with pytest.raises(BadResponse, match="no dataex error envelope"):
        Recorder(gateway).transport().json("GET", "/x")
    validation = httpx.Response(422, json={"detail": [{"loc": ["body", "epsilon"], "msg": "required"}]})
    with pytest.raises(InvalidInput, match=r"body\.epsilon: required"):
        Recorder(validation).transport().json("POST", "/x", json={})


def test_a_newer_node_names_the_version_to_upgrade_to() -> None:
    rec = Recorder(httpx.Response(200, json={"api": 2, "dataex": "0.9.0"}))
    with pytest.raises(IncompatibleNode, match=r"API version 2.*upgrade the client to dataex 0\.9\.0") as e:
        rec.transport().check_version()
    assert e.value.upgrade_to == "0.9.0"
    assert Recorder(envelope(404, "not_found")).transport().check_version()["api"] == 1  # before /version
    assert Recorder(VERSION).transport().check_version()["api"] == 1


def test_the_token_is_sent_as_a_bearer() -> None:
    rec = Recorder(httpx.Response(200, json={"id": "pty_1"}))
    Client(rec.transport()).whoami()
    assert rec.requests[0].headers["Authorization"] == "Bearer dxt_x"


def test_a_node_that_is_down_fails_fast_and_clearly() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NodeUnreachable, match=f"127.0.0.1:{port}"):
        connect(f"http://127.0.0.1:{port}", "dxt_x", timeout=2, retry=RetryPolicy(retries=2, backoff=0.05))
    assert time.monotonic() - started < 5
