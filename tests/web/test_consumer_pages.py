"""Consumer pages: meters, DP console and its explain view, extracts and Delta Sharing profiles,
compute jobs with their status, the wallet; and a consumer kept off the provider's pages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import func, select

from dataex.contracts import lifecycle
from dataex.contracts.lifecycle import Contract
from dataex.contracts.offers import create_offer, list_offers
from dataex.db.models import ExtractRow, ShareRow
from dataex.delivery.tolerances import set_tolerances
from dataex.privacy.dp import set_privacy
from tests.web.conftest import Console, csrf_of, plant_csv, register, visits_csv

RECIPE = """
task: classification
features: [x1, x2, grp]
target: label
model: {name: logistic_regression}
split: {test_size: 0.25, seed: 3}
"""


def contract(console: Console, dataset_id: str, tier: str, **options: object) -> Contract:
    defaults: dict[str, object] = {"purposes": ["research"], "price": 0}
    offer = create_offer(
        console.ex, dataset_id, actor=console.hospital.party, tier=tier, **(defaults | options)
    )
    c = lifecycle.request_contract(console.ex, offer.id, actor=console.insurer.party, purpose="research")
    return lifecycle.approve_contract(console.ex, c.id, actor=console.hospital.party)


def dp_contract(console: Console, tmp_path: Path) -> Contract:
    dataset_id = register(console, visits_csv(tmp_path / "visits.csv"), "门诊")
    set_privacy(console.ex, dataset_id, actor=console.hospital.party, unit="patient_id", max_contributions=1)
    return contract(console, dataset_id, "L1", epsilon=3, max_queries=10)


def test_meters_show_what_is_left(console: Console, tmp_path: Path) -> None:
    c = dp_contract(console, tmp_path)
    page = console.client(console.insurer).get("/consumer").text
    card = page.split(f'id="contract-{c.id}"', 1)[1].split("</article>", 1)[0]
    assert f'<meter id="eps-{c.id}" min="0" max="3.0"' in card and 'class="eps-left">3 / 3<' in card
    assert f'<meter id="queries-{c.id}" min="0" max="10"' in card and 'class="queries-left">10 / 10<' in card
    assert f'<label for="queries-{c.id}">' in card


def test_explain_shows_the_plan_and_charges_nothing(console: Console, tmp_path: Path) -> None:
    c = dp_contract(console, tmp_path)
    client = console.client(console.insurer)
    token = csrf_of(client.get("/consumer").text)
    sql = "SELECT COUNT(*) AS n FROM visits"
    r = client.post(
        "/consumer/query",
        data={"csrf": token, "contract_id": c.id, "sql": sql, "epsilon": "0.4", "explain": "1"},
    )
    assert r.status_code == 200, r.text.split("<main", 1)[1]
    assert "查询计划" in r.text and 'id="explain-charged"' in r.text
    assert "patient_id" in r.text and "OpenDP" in r.text and 'class="answer"' not in r.text
    after = lifecycle.get_contract(console.ex, c.id, actor=console.insurer.party)
    assert after.remaining["epsilon"] == 3 and after.remaining["queries"] == 10
    # the ε slider keeps the chosen value; running the query charges it and moves the meters
    assert 'type="range"' in r.text and 'value="0.4"' in r.text
    r = client.post(
        "/consumer/query", data={"csrf": token, "contract_id": c.id, "sql": sql, "epsilon": "0.4"}
    )
    assert r.status_code == 200 and r.text.count('class="interval"') >= 1
    assert 'class="eps-left">2.6 / 3<' in r.text and 'class="queries-left">9 / 10<' in r.text
    assert "区间是噪声的 95% 区间" in r.text and "intervals are 95%" not in r.text  # the note, translated


def extract_contract(console: Console, tmp_path: Path) -> Contract:
    dataset_id = register(console, visits_csv(tmp_path / "visits.csv"), "门诊")
    set_tolerances(console.ex, dataset_id, {"cost": 1}, actor=console.hospital.party)
    return contract(console, dataset_id, "L4", legal_basis="consent", max_rows=1000)


def test_extracts_download_fingerprinted_rows(console: Console, tmp_path: Path) -> None:
    c = extract_contract(console, tmp_path)
    client = console.client(console.insurer)
    page = client.get("/consumer").text
    assert f'action="/consumer/contracts/{c.id}/extract"' in page and "还没有数据提取。" in page
    r = client.post(f"/consumer/contracts/{c.id}/extract", data={"csrf": csrf_of(page), "format": "parquet"})
    assert r.status_code == 200 and f'filename="{c.id}.parquet"' in r.headers["content-disposition"]
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 80 and "patient_id" in table.column_names
    with console.ex.session() as s:
        assert s.scalar(select(func.count()).select_from(ExtractRow)) == 1
    after = client.get("/consumer").text
    deliveries = after.split('id="deliveries-h"', 1)[1]
    assert c.id in deliveries and "parquet" in deliveries
    assert 'class="rows-left">920 / 1,000<' in after
    assert list(console.ex.settings.staging_dir.iterdir()) == []  # the served copy is gone


def test_the_delta_sharing_profile_downloads_with_a_fresh_token(console: Console, tmp_path: Path) -> None:
    c = extract_contract(console, tmp_path)
    client = console.client(console.insurer)
    token = csrf_of(client.get("/consumer").text)
    r = client.post(f"/consumer/contracts/{c.id}/profile", data={"csrf": token})
    assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="{c.id}.share"'
    profile = json.loads(r.text)
    assert profile["endpoint"] == "http://testserver/delta-sharing"
    assert profile["shareCredentialsVersion"] == 1 and profile["bearerToken"].startswith("dxs_")
    shares = client.get(
        "/delta-sharing/shares", headers={"Authorization": f"Bearer {profile['bearerToken']}"}
    )
    assert shares.status_code == 200 and shares.json()["items"]
    with console.ex.session() as s:
        assert s.get(ShareRow, c.id) is not None
    # the provider may not take the consumer's profile
    provider = console.client(console.hospital)
    r = provider.post(
        f"/consumer/contracts/{c.id}/profile", data={"csrf": csrf_of(provider.get("/provider").text)}
    )
    assert r.status_code == 403


def test_a_compute_job_runs_and_its_status_is_shown(console: Console, tmp_path: Path) -> None:
    dataset_id = register(console, plant_csv(tmp_path / "plant.csv", rows=200), "传感器")
    c = contract(console, dataset_id, "L2", max_queries=5)
    client = console.client(console.insurer)
    page = client.get("/consumer").text
    assert 'id="compute-form"' in page
    r = client.post(
        f"/consumer/contracts/{c.id}/compute",
        data={"csrf": csrf_of(page), "recipe": RECIPE},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/consumer/jobs/job_")
    job = client.get(r.headers["location"])  # the job ran after the response (as the API runs it)
    assert 'id="job-state">成功<' in job.text and "accuracy" in job.text and "model.onnx" in job.text
    fragment = client.get(r.headers["location"], headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and "hx-get" not in fragment  # finished: no more polling
    listed = client.get("/consumer").text.split('id="jobs-h"', 1)[1]
    assert r.headers["location"].rsplit("/", 1)[1] in listed and "logistic_regression" in listed
    # another consumer cannot read the job
    from tests.conftest import add

    other = console.client(add(console.node, "Other Insurer", kind="insurer", role="consumer"))
    assert other.get(r.headers["location"]).status_code in (403, 404)


def test_a_consumer_reaches_none_of_the_providers_pages_or_actions(console: Console, tmp_path: Path) -> None:
    dataset_id = register(console, visits_csv(tmp_path / "visits.csv"), "门诊")
    offer = create_offer(
        console.ex, dataset_id, actor=console.hospital.party, tier="L1", purposes=["research"], epsilon=3
    )
    requested = lifecycle.request_contract(
        console.ex, offer.id, actor=console.insurer.party, purpose="research"
    )
    consumer = console.client(console.insurer)
    token = csrf_of(consumer.get("/consumer").text)
    for path in ("/provider", f"/provider/datasets/{dataset_id}/describe", "/provider/uploads/tsk_x"):
        r = consumer.get(path)
        assert r.status_code == 403 and "无权访问" in r.text, path
        assert "Ruijin" not in r.text.split("<main", 1)[1]  # nothing of the provider's shown
    posts = {
        "/provider/offers": {"dataset_id": dataset_id, "tier": "L4", "purposes": "x", "epsilon": "3"},
        "/provider/privacy": {"dataset_id": dataset_id, "unit": "patient_id"},
        f"/provider/contracts/{requested.id}/approve": {},
        f"/provider/datasets/{dataset_id}/describe": {"description": "mine now"},
    }
    for path, data in posts.items():
        assert consumer.post(path, data={"csrf": token, **data}).status_code == 403, path
    r = consumer.post(
        "/provider/datasets",
        data={"csrf": token, "title": "x", "license": "MIT"},
        files={"file": ("v.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert r.status_code == 403
    assert len(list_offers(console.ex, dataset_id=dataset_id)) == 1
    state = lifecycle.get_contract(console.ex, requested.id, actor=console.insurer.party).state
    assert state == "requested" and len(console.ex.list_datasets()) == 1
    # and the auditor reaches no consumer page either
    assert console.client(console.auditor).get("/consumer").status_code == 403
