"""The HTTP client's policy, on an httpx MockTransport: retries, typed errors, the version check."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dataex.errors import (
    BudgetExhausted,
    DataexError,
    DatasetNotFound,
    ExtractRefused,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from dataex.sdk import BadResponse, IncompatibleNode, NodeUnreachable, RetryPolicy, connect
from dataex.sdk.client import Client, error_classes
from dataex.sdk.remote import RemoteTransport
from tests.sdk.conftest import LiveNode

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
    assert Recorder(VERSION).transport().check_version()["api"] == 1


@pytest.mark.parametrize(
    "answer",
    [envelope(404, "not_found"), httpx.Response(404, text="<html>nginx</html>")],
    ids=["dataex-404", "proxy-404"],
)
def test_a_url_that_is_not_the_api_root_is_named(answer: httpx.Response) -> None:
    rec = Recorder(answer)
    with pytest.raises(BadResponse, match=r"http://node\.test is not the root of a dataex node's API"):
        rec.transport().check_version()
    assert len(rec.requests) == 1 and rec.sleeps == []  # a 404 is never retried


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


# -- downloads (extracts) -------------------------------------------------------------------------------
def test_a_download_is_checked_against_the_logged_sha256(tmp_path: Path) -> None:
    body = b"PAR1 fingerprinted rows"
    good = hashlib.sha256(body).hexdigest()
    rec = Recorder(httpx.Response(200, content=body, headers={"X-Dataex-Sha256": good}))
    headers = rec.transport().download("POST", "/contracts/ctr_1/extract", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == body and headers["X-Dataex-Sha256"] == good
    cut = httpx.Response(200, content=body[:4], headers={"X-Dataex-Sha256": good})
    with pytest.raises(BadResponse, match="changed or cut on the way"):
        Recorder(cut).transport().download("POST", "/contracts/ctr_1/extract", tmp_path / "b")


def test_a_refused_download_raises_the_envelopes_error_once(tmp_path: Path) -> None:
    rec = Recorder(envelope(403, "extract_refused", contract_id="ctr_1"), httpx.Response(200))
    with pytest.raises(ExtractRefused) as e:
        rec.transport().download("POST", "/contracts/ctr_1/extract", tmp_path / "x")
    assert e.value.contract_id == "ctr_1" and len(rec.requests) == 1


# -- against a real node: tokens it does not honour, URLs that are not a node ---------------------------
class Counting(httpx.HTTPTransport):
    """The real HTTP transport, recording what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


def test_an_expired_or_unknown_token_is_refused_once_and_typed(live_node: LiveNode) -> None:
    """Party tokens do not expire on their own; one the node no longer knows (rotated, from another
    node, mistyped) gets 401 ``unauthorized``, raised as ``Unauthorized`` after exactly one request."""
    wire, sleeps = Counting(), []
    stale = RemoteTransport(live_node.url, "dxt_" + "A" * 43, transport=wire, sleep=sleeps.append)
    with Client(stale) as client:
        stale.check_version()  # public: the handshake works without a valid token
        started = time.monotonic()
        with pytest.raises(Unauthorized, match="unknown token") as e:
            client.whoami()
        assert e.value.status == 401 and e.value.code == "unauthorized"
        with pytest.raises(Unauthorized):
            client.request("off_x", purpose="research")  # a POST: refused, not retried either
        assert wire.sent == ["GET /version", "GET /parties/me", "POST /offers/off_x/contracts"]
        assert sleeps == [] and time.monotonic() - started < 5


def test_connect_with_a_stale_token_fails_on_first_use(live_node: LiveNode) -> None:
    with (
        connect(live_node.url, "dxt_no_longer_valid", retry=RetryPolicy(retries=3)) as client,
        pytest.raises(Unauthorized),
    ):
        client.search("门诊")
    with connect(live_node.url, live_node.insurer) as client:
        assert client.whoami()["role"] == "consumer"  # the same node honours a live token


def test_a_wrong_path_on_a_real_node_is_named(live_node: LiveNode) -> None:
    started = time.monotonic()
    with pytest.raises(BadResponse, match=r"/api is not the root of a dataex node's API"):
        connect(f"{live_node.url}/api", live_node.insurer)
    assert time.monotonic() - started < 5


@pytest.fixture
def not_a_node() -> Iterator[str]:
    """A web server on loopback that is not dataex (a router's login page answers everything)."""

    class LoginPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>router login</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_url_of_something_else_is_a_bad_response_not_a_hang(not_a_node: str) -> None:
    started = time.monotonic()
    with pytest.raises(BadResponse, match=r"not JSON.*proxy"):
        connect(not_a_node, "dxt_x", timeout=2)
    assert time.monotonic() - started < 5
