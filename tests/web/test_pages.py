"""The console over TestClient: sign-in, CSRF, escaping, role pages, errors, language."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dataex.catalog.metadata import describe
from dataex.contracts import lifecycle
from dataex.contracts.offers import create_offer, list_offers
from dataex.web import session
from tests.web.conftest import Console, csrf_of, upload_file, visits_csv


def upload(console: Console, client: TestClient, tmp_path: Path, title: str = "门诊就诊记录") -> str:
    return upload_file(console, client, visits_csv(tmp_path / "visits.csv"), title)


def test_pages_need_sign_in(console: Console) -> None:
    client = console.client()
    for path in ("/", "/provider", "/consumer", "/auditor", "/dataset/ds_x"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


def test_sign_in_sets_a_safe_cookie_without_the_token(console: Console) -> None:
    client = TestClient(console.app)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"token": console.hospital.token, "csrf": csrf_of(page.text), "next": "/provider"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/provider"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert console.hospital.token not in cookie
    assert client.get("/provider").status_code == 200


def test_secure_cookie_over_https(console: Console) -> None:
    client = TestClient(console.app, base_url="https://node.example")
    page = client.get("/login")
    assert "Secure" in page.headers["set-cookie"]


def test_a_bad_token_is_refused_and_no_session_is_made(console: Console) -> None:
    client = console.client()
    page = client.get("/login")
    r = client.post("/login", data={"token": "dxt_nope", "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 401 and 'role="alert"' in r.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_open_redirects_are_refused(console: Console) -> None:
    client = console.client()
    page = client.get("/login")
    data = {"token": console.hospital.token, "csrf": csrf_of(page.text), "next": "//evil.example/x"}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_forged_or_tampered_cookies_are_anonymous(console: Console) -> None:
    client = console.client(console.hospital)
    value = client.cookies.get(session.COOKIE)
    assert value is not None
    body, mac = value.split(".")
    client.cookies.clear()
    client.cookies.set(session.COOKIE, f"{body}.{'A' * len(mac)}")
    assert client.get("/provider", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_rejected(console: Console, tmp_path: Path) -> None:
    client = console.client(console.hospital)
    dataset_id = upload(console, client, tmp_path)
    r = client.post(
        "/provider/offers",
        data={"dataset_id": dataset_id, "tier": "L1", "purposes": "research", "epsilon": "3"},
    )
    assert r.status_code == 403 and "并非来自本站" in r.text
    r = client.post(
        "/provider/offers",
        data={"dataset_id": dataset_id, "tier": "L1", "purposes": "research", "csrf": "forged"},
    )
    assert r.status_code == 403
    assert list_offers(console.ex, dataset_id=dataset_id) == []
    # another session's token does not work either
    other = console.client(console.hospital)
    foreign = csrf_of(other.get("/provider").text)
    r = client.post("/logout", data={"csrf": foreign})
    assert r.status_code == 403
    assert client.get("/provider").status_code == 200


def test_sign_out_needs_csrf_and_ends_the_session(console: Console) -> None:
    client = console.client(console.insurer)
    page = client.get("/consumer")
    r = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/consumer", follow_redirects=False).status_code == 303


def test_user_text_is_escaped(console: Console, tmp_path: Path) -> None:
    provider = console.client(console.hospital)
    dataset_id = upload(console, provider, tmp_path, title="<script>alert('t')</script>visits")
    describe(
        console.ex,
        dataset_id,
        actor=console.hospital.party,
        description="<script>alert(1)</script> 门诊 记录",
    )
    page = provider.get(f"/dataset/{dataset_id}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    hits = console.client(console.insurer).get("/", params={"q": "门诊"})
    assert hits.status_code == 200 and dataset_id in hits.text
    assert "<script>alert" not in hits.text and "<mark>" in hits.text


def test_a_consumer_gets_403_on_provider_pages(console: Console, tmp_path: Path) -> None:
    dataset_id = upload(console, console.client(console.hospital), tmp_path)
    consumer = console.client(console.insurer)
    token = csrf_of(consumer.get("/consumer").text)
    assert consumer.get("/provider").status_code == 403
    r = consumer.post(
        "/provider/offers",
        data={"csrf": token, "dataset_id": dataset_id, "tier": "L1", "purposes": "research", "epsilon": "3"},
    )
    assert r.status_code == 403 and "<h1>" in r.text
    assert consumer.get("/auditor").status_code == 403
    assert list_offers(console.ex, dataset_id=dataset_id) == []


def test_a_provider_cannot_decide_another_providers_contract(console: Console, tmp_path: Path) -> None:
    from tests.conftest import add

    dataset_id = upload(console, console.client(console.hospital), tmp_path)
    offer = create_offer(
        console.ex, dataset_id, actor=console.hospital.party, tier="L1", purposes=["research"], epsilon=3
    )
    consumer = console.client(console.insurer)
    page = consumer.get(f"/dataset/{dataset_id}")
    r = consumer.post(f"/offers/{offer.id}/request", data={"csrf": csrf_of(page.text), "purpose": "research"})
    assert r.status_code == 200 and "已申请" in r.text
    contract_id = r.text.split("<code>ctr_", 1)[1].split("<", 1)[0]
    rival = console.client(add(console.node, "Other Hospital"))
    token = csrf_of(rival.get("/provider").text)
    r = rival.post(f"/provider/contracts/ctr_{contract_id}/approve", data={"csrf": token})
    unknown = rival.post(f"/provider/contracts/ctr_{'0' * len(contract_id)}/approve", data={"csrf": token})
    assert r.status_code == unknown.status_code == 404  # not its contract: as for one never issued
    assert lifecycle.get_contract(console.ex, f"ctr_{contract_id}", actor=console.insurer.party).state == (
        "requested"
    )


def test_unknown_routes_get_the_friendly_404_page(console: Console) -> None:
    client = console.client(console.insurer)
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.text and "<html" in r.text
    r = client.get("/dataset/ds_missing")
    assert r.status_code == 404 and "<html" in r.text
    api = TestClient(console.app).get("/no/such/page", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.json() == {"ok": False, "error": "Not Found", "code": "not_found", "status": 404}


def test_api_errors_stay_json(console: Console) -> None:
    r = TestClient(console.app).get(
        "/datasets/ds_missing", headers={"Authorization": f"Bearer {console.insurer.token}"}
    )
    assert r.status_code == 404 and r.json()["code"] == "dataset_not_found"


def test_language_from_accept_language_and_the_switch(console: Console) -> None:
    client = TestClient(console.app)
    assert "登录" in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in english.text and "Sign in" in english.text and "登录" not in english.text
    r = client.get("/lang/en", params={"next": "/login"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "lang=en" in r.headers["set-cookie"]
    client.cookies.set("lang", "en")
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "zh-CN"}).text
    assert client.get("/lang/fr").status_code == 404


def test_prices_are_shown_in_yuan_per_locale(console: Console, tmp_path: Path) -> None:
    dataset_id = upload(console, console.client(console.hospital), tmp_path)
    create_offer(
        console.ex,
        dataset_id,
        actor=console.hospital.party,
        tier="L1",
        purposes=["r"],
        epsilon=3,
        price=123456,
    )
    assert "¥1,234.56" in console.client(console.insurer).get(f"/dataset/{dataset_id}").text
    english = console.client(console.insurer, lang="en").get(f"/dataset/{dataset_id}").text
    assert "CN¥1,234.56" in english


def test_a_bad_upload_gets_an_error_page_and_stores_nothing(console: Console) -> None:
    client = console.client(console.hospital)
    token = csrf_of(client.get("/provider").text)
    r = client.post(
        "/provider/datasets",
        data={"csrf": token, "title": "x", "license": "CC-BY-4.0"},
        files={"file": ("evil.exe", b"MZ\x90\x00", "application/octet-stream")},
    )
    assert r.status_code == 400 and "<html" in r.text and "unsupported file type" in r.text
    r = client.post("/provider/datasets", data={"csrf": token, "license": "CC-BY-4.0"})
    assert r.status_code == 400 and "表单缺少字段" in r.text
    assert console.ex.list_datasets() == []


def test_a_private_dataset_is_missing_to_others_like_the_api(console: Console, tmp_path: Path) -> None:
    dataset_id = upload(console, console.client(console.hospital), tmp_path, title="病房 SECRET-TITLE")
    describe(console.ex, dataset_id, actor=console.hospital.party, visibility="private")
    assert console.client(console.hospital).get(f"/dataset/{dataset_id}").status_code == 200
    unknown = "ds_" + "0" * (len(dataset_id) - 3)
    for actor in (console.insurer, console.auditor):
        client = console.client(actor)
        web = client.get(f"/dataset/{dataset_id}")
        api = TestClient(console.app).get(
            f"/datasets/{dataset_id}", headers={"Authorization": f"Bearer {actor.token}"}
        )
        assert web.status_code == api.status_code == 404 and "<html" in web.text
        missing = client.get(f"/dataset/{unknown}").text.replace(unknown, dataset_id)
        assert web.text == missing  # no oracle of its existence
        assert "SECRET-TITLE" not in web.text and "SECRET-TITLE" not in client.get("/").text
        verify = client.post(f"/dataset/{dataset_id}/verify", data={"csrf": csrf_of(client.get("/").text)})
        assert verify.status_code == 404 and "SECRET-TITLE" not in verify.text
