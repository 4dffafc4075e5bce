"""Provider pages: background upload with progress, describe, requests inbox, revenue statement."""

from __future__ import annotations

from pathlib import Path

from dataex.catalog.metadata import get_metadata
from dataex.contracts import lifecycle
from dataex.contracts.offers import create_offer
from dataex.exchange import Exchange
from dataex.market import settlement
from tests.conftest import Node, add
from tests.state import snapshot
from tests.web.conftest import Console, csrf_of, register, upload_file, visits_csv, web_app


def test_upload_runs_in_the_background_and_shows_progress(console: Console, tmp_path: Path) -> None:
    client = console.client(console.hospital)
    token = csrf_of(client.get("/provider").text)
    r = client.post(
        "/provider/datasets",
        data={"csrf": token, "title": "门诊 <b>2025</b>", "license": "CC-BY-4.0"},
        files={"file": ("visits.csv", visits_csv(tmp_path / "v.csv").read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/provider/uploads/tsk_")
    page = client.get(r.headers["location"])
    assert (
        page.status_code == 200 and "<progress" in page.text and "门诊 &lt;b&gt;2025&lt;/b&gt;" in page.text
    )
    task_id = r.headers["location"].rsplit("/", 1)[1]
    task = console.app.state.web_tasks.wait(task_id, timeout=60)
    assert task.state == "done" and task.received == (tmp_path / "v.csv").stat().st_size
    done = client.get(f"/provider/uploads/{task_id}/progress")
    assert f'href="/dataset/{task.dataset_id}"' in done.text and 'value="4"' in done.text
    assert "hx-get" not in done.text and "HX-Redirect" not in done.headers  # no polling once done
    dataset = console.ex.get_dataset(str(task.dataset_id))
    assert dataset.rows == 80 and dataset.owner_id == console.hospital.party.id
    # a task is its starter's only
    other = console.client(console.insurer)
    assert other.get(f"/provider/uploads/{task_id}").status_code == 403
    rival = console.client(add(console.node, "Other Hospital"))
    assert rival.get(f"/provider/uploads/{task_id}").status_code == 404


def test_a_private_upload_is_private_from_its_first_entry(console: Console, tmp_path: Path) -> None:
    """The console's visibility choice: a private upload never publishes its title in the log."""
    client = console.client(console.hospital)
    token = csrf_of(client.get("/provider").text)
    title = "Vellichor ward 8812"
    r = client.post(
        "/provider/datasets",
        data={"csrf": token, "title": title, "license": "CC-BY-4.0", "visibility": "private"},
        files={"file": ("visits.csv", visits_csv(tmp_path / "v.csv").read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    task_id = r.headers["location"].rsplit("/", 1)[1]
    task = console.app.state.web_tasks.wait(task_id, timeout=60)
    assert task.state == "done" and task.dataset_id is not None
    assert get_metadata(console.ex, str(task.dataset_id), viewer=None).visibility == "private"
    with console.ex.session() as s:
        published = b"".join(e.raw for e in console.ex.log.entries(s))
    assert title.encode() not in published and b"Vellichor" not in published
    assert console.ex.audit().ok


def test_an_upload_over_the_configured_limit_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    ex, token = Exchange.init(home=tmp_path / "node", max_upload_bytes=100)
    try:
        node = Node(ex, tmp_path / "node", token)
        insurer = add(node, "Ping An Health", kind="insurer", role="consumer")
        auditor = add(node, "Shanghai CAC", kind="government", role="auditor")
        console = Console(node, web_app(ex), add(node, "Ruijin Hospital"), insurer, auditor)
        client = console.client(console.hospital)
        before = snapshot(ex)
        for lang, heading in (("en", "The file is too large"), ("zh_CN", "文件太大")):
            client.cookies.set("lang", lang)
            r = client.post(
                "/provider/datasets",
                data={"csrf": csrf_of(client.get("/provider").text), "title": "big", "license": "CC-BY-4.0"},
                files={"file": ("visits.csv", visits_csv(tmp_path / "v.csv").read_bytes(), "text/csv")},
                follow_redirects=False,
            )
            assert r.status_code == 413 and "<html" in r.text and heading in r.text  # no task started
            assert "larger than the limit of 100 bytes" in r.text
        assert snapshot(ex) == before  # no dataset, no log entry, nothing stored or staged
        assert list(ex.settings.staging_dir.iterdir()) == []
    finally:
        ex.close()


def test_a_failing_registration_shows_its_error_on_the_progress_page(
    console: Console, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    client = console.client(console.hospital)
    token = csrf_of(client.get("/provider").text)
    r = client.post(
        "/provider/datasets",
        data={"csrf": token, "title": "empty", "license": "CC-BY-4.0"},
        files={"file": ("bad.csv", b"", "text/csv")},
        follow_redirects=False,
    )
    task_id = r.headers["location"].rsplit("/", 1)[1]
    task = console.app.state.web_tasks.wait(task_id, timeout=60)
    assert task.error and task.dataset_id is None
    page = client.get(r.headers["location"]).text
    assert 'role="alert"' in page and task.error in page.replace("&#39;", "'")
    assert console.ex.list_datasets() == []


def test_describe_saves_the_croissant_fields(console: Console, tmp_path: Path) -> None:
    client = console.client(console.hospital)
    dataset_id = upload_file(console, client, visits_csv(tmp_path / "v.csv"), "门诊")
    form = client.get(f"/provider/datasets/{dataset_id}/describe")
    assert form.status_code == 200
    for name in ("description", "keywords", "field.patient_id", "rai.limitations", "visibility"):
        assert f'name="{name}"' in form.text
    r = client.post(
        f"/provider/datasets/{dataset_id}/describe",
        data={
            "csrf": csrf_of(form.text),
            "description": "上海某医院 2025 年门诊 <script>x</script>",
            "keywords": "门诊，outpatient, 医保",
            "temporal_coverage": "2025-01/2025-12",
            "spatial_coverage": "上海",
            "languages": "zh, en",
            "visibility": "public",
            "field.patient_id": "患者编号",
            "field.age": "",
            "type.age": "sc:Integer",
            "rai.limitations": "只含一家医院\n不含住院",
            "rai.data_collection": "HIS 导出",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/dataset/{dataset_id}"
    meta = get_metadata(console.ex, dataset_id)
    assert meta.keywords == ["门诊", "outpatient", "医保"] and meta.languages == ["zh", "en"]
    assert meta.temporal_coverage == "2025-01/2025-12" and meta.spatial_coverage == "上海"
    assert meta.field_description("patient_id") == "患者编号" and meta.semantic_type("age") == "sc:Integer"
    assert (
        meta.rai["limitations"] == ["只含一家医院", "不含住院"] and meta.rai["data_collection"] == "HIS 导出"
    )
    page = client.get(f"/dataset/{dataset_id}").text
    assert "患者编号" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    again = client.get(f"/provider/datasets/{dataset_id}/describe").text
    assert "只含一家医院\n不含住院</textarea>" in again


def test_only_the_owner_describes(console: Console, tmp_path: Path) -> None:
    dataset_id = register(console, visits_csv(tmp_path / "v.csv"), "门诊")
    consumer = console.client(console.insurer)
    token = csrf_of(consumer.get("/consumer").text)
    assert consumer.get(f"/provider/datasets/{dataset_id}/describe").status_code == 403
    r = consumer.post(f"/provider/datasets/{dataset_id}/describe", data={"csrf": token, "description": "x"})
    assert r.status_code == 403
    rival = console.client(add(console.node, "Other Hospital"))
    assert rival.get(f"/provider/datasets/{dataset_id}/describe").status_code == 403
    r = rival.post(
        f"/provider/datasets/{dataset_id}/describe",
        data={"csrf": csrf_of(rival.get("/provider").text), "description": "hijacked"},
    )
    assert r.status_code == 403 and "hijacked" not in r.text
    assert get_metadata(console.ex, dataset_id).description == ""


def test_the_inbox_rejects_with_a_reason(console: Console, tmp_path: Path) -> None:
    dataset_id = register(console, visits_csv(tmp_path / "v.csv"), "门诊")
    offer = create_offer(
        console.ex, dataset_id, actor=console.hospital.party, tier="L1", purposes=["research"], epsilon=3
    )
    contract = lifecycle.request_contract(
        console.ex, offer.id, actor=console.insurer.party, purpose="research"
    )
    client = console.client(console.hospital)
    page = client.get("/provider").text
    assert contract.id in page.split('id="inbox-h"', 1)[1]
    r = client.post(
        f"/provider/contracts/{contract.id}/reject",
        data={"csrf": csrf_of(page), "reason": "用途不符"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    decided = lifecycle.get_contract(console.ex, contract.id, actor=console.hospital.party)
    assert decided.state == "rejected" and decided.reason == "用途不符"
    after = client.get("/provider").text
    assert "没有待处理的申请。" in after and "已拒绝" in after and "用途不符" in after
    mine = console.client(console.insurer).get("/consumer").text
    assert "用途不符" in mine


def test_the_revenue_statement_shows_what_an_order_earned(console: Console, tmp_path: Path) -> None:
    operator = console.ex.authenticate(console.node.operator_token)
    settlement.deposit(console.ex, console.insurer.party.id, 100_000, actor=operator)
    dataset_id = register(console, visits_csv(tmp_path / "v.csv"), "门诊")
    offer = create_offer(
        console.ex,
        dataset_id,
        actor=console.hospital.party,
        tier="L1",
        purposes=["research"],
        epsilon=3,
        price=2000,
        approval="auto",
    )
    contract = lifecycle.request_contract(
        console.ex, offer.id, actor=console.insurer.party, purpose="research"
    )
    revenue = settlement.wallet_view(console.ex, console.hospital.party.id, actor=console.hospital.party)
    earned = revenue["balances"]["revenue"]
    assert 0 < earned <= 2000
    page = console.client(console.hospital).get("/provider").text
    statement = page.split('id="revenue-h"', 1)[1]
    yuan = f"¥{earned / 100:,.2f}"
    assert f'id="balance-revenue">{yuan}<' in statement
    assert contract.id in statement and f'class="amount">{yuan}<' in statement
    wallet = console.client(console.insurer).get("/consumer").text
    assert 'id="wallet-balance">¥980.00<' in wallet and "已支付" in wallet
