"""A live node for the SDK tests: a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from dataex.api.app import create_app
from dataex.exchange import Exchange
from tests.privacy.dp import small_visits

STARTUP_SECONDS = 20.0


@dataclass
class LiveNode:
    """A served node: its home (for ``open()``), its URL (for ``connect()``) and party tokens."""

    home: Path
    url: str
    operator: str
    hospital: str
    insurer: str
    auditor: str
    csv: Path


def serve_in_thread(ex: Exchange) -> Iterator[str]:
    """Serves ``create_app(ex)`` on 127.0.0.1:<free port>; yields the URL."""
    app = create_app(ex)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:  # a readiness flag, not a guessed delay
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    """A node with a hospital (provider), an insurer (consumer) and an auditor, served on loopback."""
    tmp = tmp_path_factory.mktemp("sdk")
    home = tmp / "node"
    ex, operator = Exchange.init(home=home)
    tokens = {}
    for name, kind, role in (
        ("hospital", "hospital", "provider"),
        ("insurer", "insurer", "consumer"),
        ("auditor", "government", "auditor"),
    ):
        _party, tokens[name] = ex.create_party(name, kind=kind, role=role)
    csv = small_visits(tmp / "visits.csv")
    try:
        for url in serve_in_thread(ex):
            yield LiveNode(home=home, url=url, operator=operator, csv=csv, **tokens)
    finally:
        ex.close()
