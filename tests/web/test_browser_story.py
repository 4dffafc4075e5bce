"""The whole story in a real Chromium (Debian's, driven by Playwright) against a real uvicorn server.

Provider uploads a CSV (registered in the background while the page shows progress), sees its
quality grade and charts, describes it, sets the privacy unit and creates an L1 offer; consumer
filters the catalog, finds it with a Chinese query and requests; provider approves; consumer looks
at the query plan (nothing charged), runs a DP query and sees values with intervals and the ε meter
drop; auditor verifies the certificate, a log entry and the consistency of two checkpoints, and
reads the denial statistics.
Screenshots land in ``test-artifacts/`` (git-ignored). Missing Chromium or Playwright fails the
test with the install hint: it must not skip in CI.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.web.conftest import Console, visits_csv

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(console: Console) -> Iterator[str]:
    """The console's app under uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        console.app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (the browser story must run in CI)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install -e '.[dev]' (the Python package only)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


CSP_VIOLATIONS: list[str] = []  # console messages of blocked scripts, styles or frames


def sign_in(browser: Browser, base: str, token: str, *, locale: str = "zh-CN") -> Page:
    page = browser.new_context(base_url=base, locale=locale).new_page()
    page.set_default_timeout(10_000)
    page.on(
        "console",
        lambda msg: CSP_VIOLATIONS.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    response = page.goto("/login")
    assert response is not None
    headers = response.headers  # issue 18: the security headers, as the browser received them
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    page.get_by_label("参与方令牌" if locale.startswith("zh") else "Party token").fill(token)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")


def shot(page: Page, name: str) -> None:
    """Saves the page's screenshot and checks every visible text's contrast (WCAG AA: 4.5:1,
    3:1 for large text) against the background it is drawn on, in the real browser."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate(CONTRAST_JS) == [], f"{name}: text below WCAG AA contrast"


def test_the_whole_story(console: Console, server: str, browser: Browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    csv = visits_csv(tmp_path / "visits.csv")
    # provider: upload, quality grade, privacy unit, L1 offer
    provider = sign_in(browser, server, console.hospital.token)
    provider.goto("/provider")
    provider.get_by_label("数据文件（CSV、TSV、JSON Lines、Parquet、Excel）").set_input_files(str(csv))
    provider.get_by_label("标题").fill("门诊就诊记录 2025")
    provider.get_by_role("button", name="登记").click()
    expect(provider.locator("#quality-grade")).to_have_text(re.compile(r"^[A-D]$"))
    expect(provider.locator("#quality-radar svg")).to_be_visible()
    dataset_url = provider.url
    shot(provider, "1-dataset-provider-zh")
    provider.get_by_role("link", name="描述此数据集").click()
    provider.get_by_label("说明（Markdown）").fill("上海瑞金医院 2025 年门诊就诊记录")
    provider.get_by_role("button", name="保存描述").click()
    expect(provider.locator("p.lead")).to_have_text("上海瑞金医院 2025 年门诊就诊记录")
    provider.goto("/provider")
    provider.get_by_label("标识个人的字段").fill("patient_id")
    provider.get_by_role("button", name="保存隐私单元").click()
    provider.get_by_label("价格（元，例如 20 或 0.02/row）").fill("20")
    provider.get_by_role("button", name="创建报价").click()
    expect(provider.get_by_text("¥20.00")).to_be_visible()
    shot(provider, "2-provider-zh")

    # consumer: Chinese query, request
    consumer = sign_in(browser, server, console.insurer.token)
    consumer.get_by_label("报价层级").select_option("L1")
    consumer.get_by_role("button", name="应用筛选").click()
    expect(consumer.get_by_role("heading", name="共 1 个数据集")).to_be_visible()
    shot(consumer, "3-catalog-consumer-zh")
    consumer.get_by_label("搜索数据集（中文或英文）").fill("门诊")
    consumer.keyboard.press("Enter")
    consumer.get_by_role("link", name="门诊就诊记录 2025").click()
    shot(consumer, "4-dataset-consumer-zh")
    consumer.get_by_role("button", name="申请合约").click()
    expect(consumer.get_by_text("已申请")).to_be_visible()

    # provider approves
    provider.goto("/provider")
    provider.get_by_role("button", name="批准").click()
    expect(provider.get_by_text("没有待处理的申请。")).to_be_visible()

    # consumer: DP query with intervals; the ε meter drops
    consumer.goto("/consumer")
    expect(consumer.locator(".eps-left")).to_have_text("3 / 3")
    slider = consumer.locator("#query-epsilon")  # its value shown by /static/console.js (no inline JS)
    start = slider.input_value()
    slider.focus()
    consumer.keyboard.press("ArrowRight")
    assert slider.input_value() != start
    expect(consumer.locator("#query-epsilon-value")).to_have_text(slider.input_value())
    consumer.keyboard.press("ArrowLeft")
    expect(consumer.locator("#query-epsilon-value")).to_have_text(start)
    consumer.get_by_label("SQL").fill("SELECT COUNT(*) AS n FROM visits")
    consumer.get_by_role("button", name="解释查询（不消耗预算）").click()
    expect(consumer.get_by_role("heading", name="查询计划")).to_be_visible()
    expect(consumer.locator(".eps-left")).to_have_text("3 / 3")
    consumer.get_by_role("button", name="运行查询").click()
    expect(consumer.locator("table.answer .interval")).to_have_count(1)
    expect(consumer.locator(".eps-left")).to_have_text("2.5 / 3")
    shot(consumer, "5-consumer-zh")

    # auditor: certificate and a log entry, in English
    auditor = sign_in(browser, server, console.auditor.token, locale="en-US")
    auditor.goto(dataset_url)
    auditor.get_by_role("button", name="Verify").click()
    expect(auditor.locator("#inclusion-ok")).to_have_text("included")
    shot(auditor, "6-dataset-auditor-en")
    auditor.goto("/auditor")
    auditor.get_by_role("button", name="Verify entry 0").click()
    expect(auditor.locator("#proof-0")).to_contain_text("is included in the checkpoint")
    auditor.get_by_role("button", name="Prove consistency").click()
    expect(auditor.locator("#consistency-ok")).to_contain_text("is consistent with the log at size")
    expect(auditor.locator("#denial-total")).to_contain_text("denied and")
    shot(auditor, "7-auditor-en")
    assert CSP_VIOLATIONS == [], CSP_VIOLATIONS
    auditor.get_by_role("link", name="中文").click()
    expect(auditor.get_by_role("heading", name="审计", exact=True)).to_be_visible()
    shot(auditor, "8-auditor-zh")

    # the contrast check itself can fail: light grey text on white is reported
    # (styled through the CSSOM: the CSP refuses inline style attributes, issue 18)
    auditor.evaluate("""() => { const p = document.createElement("p"); p.id = "faint";
        p.textContent = "faint text"; p.style.color = "#bbbbbb";
        document.querySelector("main").append(p); }""")
    assert [v for v in auditor.evaluate(CONTRAST_JS) if "faint text" in v] != []
