"""Fixtures for the web console: a node with the console mounted, its parties, a signed-in client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dataex.exchange import Exchange
from dataex.server import create_app
from tests.conftest import Actor, Node, add

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def visits_csv(path: Path, rows: int = 80) -> Path:
    lines = ["patient_id,age,diagnosis,cost"]
    lines += [f"P{i:04d},{30 + i % 50},{'ABC'[i % 3]},{(i * 37) % 300}.5" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def upload_file(console: Console, client: TestClient, path: Path, title: str) -> str:
    """Uploads ``path`` from the provider page, waits for the background registration, returns its id."""
    page = client.get("/provider")
    r = client.post(
        "/provider/datasets",
        data={"csrf": csrf_of(page.text), "title": title, "license": "CC-BY-4.0"},
        files={"file": (path.name, path.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    task_id = r.headers["location"].rsplit("/", 1)[1]
    task = console.app.state.web_tasks.wait(task_id, timeout=60)
    assert task.error is None and task.dataset_id is not None, task
    done = client.get(f"/provider/uploads/{task_id}/progress", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == f"/dataset/{task.dataset_id}"
    return str(task.dataset_id)


def web_app(ex: Exchange) -> FastAPI:
    """The API app with the console mounted, as ``dataex serve`` builds it (``dataex.server``)."""
    return create_app(ex)


@dataclass
class Console:
    node: Node
    app: FastAPI
    hospital: Actor
    insurer: Actor
    auditor: Actor

    @property
    def ex(self) -> Exchange:
        return self.node.ex

    def client(self, actor: Actor | None = None, *, lang: str | None = None) -> TestClient:
        """A fresh browser-like client, signed in as ``actor`` when given."""
        client = TestClient(self.app, headers={"Accept": "text/html"})
        if lang is not None:
            client.cookies.set("lang", lang)
        if actor is not None:
            page = client.get("/login")
            r = client.post(
                "/login", data={"token": actor.token, "csrf": csrf_of(page.text)}, follow_redirects=False
            )
            assert r.status_code == 303, r.text
        return client


@pytest.fixture
def console(sqlite_node: Node) -> Console:
    return Console(
        node=sqlite_node,
        app=web_app(sqlite_node.ex),
        hospital=add(sqlite_node, "Ruijin Hospital"),
        insurer=add(sqlite_node, "Ping An Health", kind="insurer", role="consumer"),
        auditor=add(sqlite_node, "Shanghai CAC", kind="government", role="auditor"),
    )


def plant_csv(path: Path, rows: int = 120) -> Path:
    """Non-personal sensor data (classified non_personal, general-1): offerable at L4."""
    lines = ["x1,x2,grp,label"]
    lines += [
        f"{(i * 7) % 13}.5,{(i * 37) % 101 / 10},{'abc'[i % 3]},{'yes' if (i * 7) % 13 > 5 else 'no'}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def register(console: Console, path: Path, title: str, *, license: str = "CC-BY-4.0", **options: Any) -> str:
    """Registers ``path`` for the hospital directly through the service (classified and scored)."""
    reg = console.ex.register(path, owner=console.hospital.party.id, title=title, license=license, **options)
    return reg.dataset.id
