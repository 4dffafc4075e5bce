"""``dataex serve --workers 2`` as a user runs it: an upload's progress is answered by either worker.

Each poll opens a new connection, so the kernel hands it to whichever worker accepts first; the test
reads ``/proc`` to learn which worker process holds the server side of each connection, and goes on
until both have answered (Linux only, as the node's staging locks are).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dataex.exchange import Exchange
from tests.web.conftest import csrf_of, visits_csv

DATAEX = [sys.executable, "-m", "dataex.cli"]
STARTUP_SECONDS = 30.0
POLL_SECONDS = 20.0


@dataclass
class Served:
    url: str
    port: int
    home: Path
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str]

    def workers(self) -> set[int]:
        """The worker processes uvicorn spawned (children of the ``dataex serve`` process)."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.proc.pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.add(int(stat.parent.name))  # not multiprocessing's resource tracker
        return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "node"
    ex, _operator = Exchange.init(home=home)
    with ex:
        tokens = {
            name: ex.create_party(name, kind=kind, role=role)[1]
            for name, kind, role in (
                ("hospital", "hospital", "provider"),
                ("rival", "hospital", "provider"),
                ("insurer", "insurer", "consumer"),
            )
        }
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAEX_")}
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [*DATAEX, "serve", "--home", str(home), "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "dataex serve did not answer within 30 s"
            try:
                if httpx.get(url + "/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # polling a starting server process
        yield Served(url, port, home, proc, tokens)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def signed_in(served: Served, party: str) -> httpx.Cookies:
    with httpx.Client(base_url=served.url, headers={"Accept": "text/html"}) as c:
        r = c.post("/login", data={"token": served.tokens[party], "csrf": csrf_of(c.get("/login").text)})
        assert r.status_code == 303, r.text
        return c.cookies


def answering_worker(response: httpx.Response, served: Served, workers: set[int]) -> int | None:
    """The worker holding the server side of ``response``'s (still open) connection."""
    _host, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, inode = (line.split()[i] for i in (1, 2, 9))
        if int(local.split(":")[1], 16) == served.port and int(remote.split(":")[1], 16) == client_port:
            inodes.add(f"socket:[{inode}]")
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:  # closed while we looked
                continue
    return None


def test_upload_progress_is_answered_by_every_worker(served: Served, tmp_path: Path) -> None:
    cookies = signed_in(served, "hospital")
    with httpx.Client(base_url=served.url, cookies=cookies, headers={"Accept": "text/html"}) as c:
        form = {"csrf": csrf_of(c.get("/provider").text), "title": "门诊 two workers", "license": "CC-BY-4.0"}
        r = c.post(
            "/provider/datasets",
            data=form,
            files={"file": ("visits.csv", visits_csv(tmp_path / "v.csv").read_bytes(), "text/csv")},
        )
    assert r.status_code == 303, r.text
    task_url = r.headers["location"]
    assert task_url.startswith("/provider/uploads/tsk_")
    workers = served.workers()
    assert len(workers) == 2, workers
    answered: dict[int, int] = {}
    dataset_id = None
    deadline = time.monotonic() + POLL_SECONDS
    while (dataset_id is None or len(answered) < 2) and time.monotonic() < deadline:
        # a new connection per poll, as separate browser tabs would open
        with (
            httpx.Client(base_url=served.url, cookies=cookies, headers={"HX-Request": "true"}) as c,
            c.stream("GET", f"{task_url}/progress") as poll,
        ):
            worker = answering_worker(poll, served, workers)
            poll.read()
        assert poll.status_code == 200, poll.text  # never "no such task" from the other worker
        assert 'role="alert"' not in poll.text, poll.text
        if worker is not None:
            answered[worker] = answered.get(worker, 0) + 1
        if "HX-Redirect" in poll.headers:
            dataset_id = poll.headers["HX-Redirect"].removeprefix("/dataset/")
    assert dataset_id is not None, "the upload did not finish"
    assert set(answered) == workers, f"polls reached only {answered} of {workers}"

    with httpx.Client(base_url=served.url, cookies=cookies, headers={"Accept": "text/html"}) as c:
        assert "门诊 two workers" in c.get(f"/dataset/{dataset_id}").text
        provider_page = c.get("/provider").text
        assert f"/dataset/{dataset_id}" in provider_page
        done = c.get(task_url).text
        assert re.search(rf'href="/dataset/{dataset_id}" id="upload-done"', done), done
    with Exchange.open(home=served.home) as ex:
        assert [d.id for d in ex.list_datasets()] == [dataset_id]  # registered once
        assert ex.audit().ok

    for party, status in (("rival", 404), ("insurer", 403)):
        with httpx.Client(base_url=served.url, cookies=signed_in(served, party)) as c:
            assert c.get(task_url).status_code == status
            assert c.get(f"{task_url}/progress").status_code == status
