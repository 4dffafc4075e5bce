"""Issue 18, sessions and tokens: a replayed cookie after sign-out, a rotated or suspended token,
an expired token, and the security headers on every answer."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from dataex.cli.main import app as cli
from dataex.db.models import PartyRow
from dataex.server import create_app
from dataex.web import session
from tests.conftest import Node, add
from tests.web.conftest import csrf_of

runner = CliRunner()


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_a_cookie_replayed_after_logout_is_signed_out(fresh_node: Node) -> None:
    provider = add(fresh_node, "Ruijin Hospital")
    app = create_app(fresh_node.ex)
    browser = TestClient(app, headers={"Accept": "text/html"})
    sign_in(browser, provider.token)
    stolen = browser.cookies.get(session.COOKIE)
    assert stolen and browser.get("/provider", follow_redirects=False).status_code == 200
    page = browser.get("/provider")
    r = browser.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    attacker = TestClient(app, headers={"Accept": "text/html"})
    attacker.cookies.set(session.COOKIE, stolen)
    r = attacker.get("/provider", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.status_code


def test_rotating_a_token_ends_the_old_token_and_its_sessions(fresh_node: Node) -> None:
    provider = add(fresh_node, "Ruijin Hospital")
    app = create_app(fresh_node.ex)
    browser = TestClient(app, headers={"Accept": "text/html"})
    sign_in(browser, provider.token)
    api = TestClient(app)
    old = {"Authorization": f"Bearer {provider.token}"}
    assert api.get("/datasets", headers=old).status_code == 200
    r = runner.invoke(
        cli, ["party", "token", "rotate", provider.party.id, "--home", str(fresh_node.home), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (
        out["id"] == provider.party.id and out["token"].startswith("dxt_") and out["token"] != provider.token
    )
    assert api.get("/datasets", headers=old).status_code == 401
    assert api.get("/datasets", headers={"Authorization": f"Bearer {out['token']}"}).status_code == 200
    assert browser.get("/provider", follow_redirects=False).status_code == 303  # signed out at once
    with fresh_node.ex.session() as s:
        entries = fresh_node.ex.log.entries(s)
    assert entries[-1].event == "party.token_rotated"
    assert entries[-1].body["data"]["party_id"] == provider.party.id
    assert out["token"] not in b"".join(e.raw for e in entries).decode("utf-8")


def test_a_suspended_party_is_refused_at_once_and_reinstated(fresh_node: Node) -> None:
    provider = add(fresh_node, "Ruijin Hospital")
    app = create_app(fresh_node.ex)
    browser = TestClient(app, headers={"Accept": "text/html"})
    sign_in(browser, provider.token)
    api = TestClient(app)
    me = {"Authorization": f"Bearer {provider.token}"}
    home = ["--home", str(fresh_node.home)]
    r = runner.invoke(cli, ["party", "suspend", provider.party.id, *home])
    assert r.exit_code == 0, r.output
    assert api.get("/datasets", headers=me).status_code == 401
    assert browser.get("/provider", follow_redirects=False).status_code == 303
    r = runner.invoke(cli, ["party", "reinstate", provider.party.id, *home])
    assert r.exit_code == 0, r.output
    assert api.get("/datasets", headers=me).status_code == 200
    assert browser.get("/provider", follow_redirects=False).status_code == 303  # sessions stay ended
    r = runner.invoke(cli, ["party", "suspend", "pty_nobody", *home])
    assert r.exit_code != 0


def test_an_expired_token_is_unknown(fresh_node: Node) -> None:
    provider = add(fresh_node, "Ruijin Hospital")
    api = TestClient(create_app(fresh_node.ex))
    me = {"Authorization": f"Bearer {provider.token}"}
    with fresh_node.ex.session() as s:
        expires = s.get(PartyRow, provider.party.id).token_expires_at  # type: ignore[union-attr]
    assert expires is not None and expires > datetime.now(UTC) + timedelta(days=360)
    assert api.get("/datasets", headers=me).status_code == 200
    with fresh_node.ex.transaction() as s:
        s.execute(
            update(PartyRow)
            .where(PartyRow.id == provider.party.id)
            .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    r = api.get("/datasets", headers=me)
    assert r.status_code == 401 and r.json()["error"] == "unknown token"


def test_a_session_older_than_its_lifetime_is_anonymous(sqlite_node: Node) -> None:
    provider = add(sqlite_node, "Ruijin Hospital")
    app = create_app(sqlite_node.ex)
    app.state.web_signer.ttl = 1  # the configured lifetime (Settings.session_ttl_seconds)
    browser = TestClient(app, headers={"Accept": "text/html"})
    sign_in(browser, provider.token)
    time.sleep(2.1)
    assert browser.get("/provider", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "path",
    ["/", "/login", "/catalog", "/static/style.css", "/datasets", "/nowhere", "/.well-known/dataex/node-key"],
)
def test_every_answer_carries_the_security_headers(sqlite_node: Node, path: str) -> None:
    r = TestClient(create_app(sqlite_node.ex)).get(path, follow_redirects=False)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_the_console_has_no_inline_script() -> None:
    templates = Path(__file__).parents[2] / "src" / "dataex" / "web" / "templates"
    for page in templates.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "<script" in line:
                assert 'src="/static/' in line, f"{page.name}: inline script {line.strip()}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{page.name}: an inline event handler"
        assert "javascript:" not in text and "style=" not in text
