"""The catalog page (browse, search, filters, demand board) and the dataset page (charts, lineage,
offers with prices), over TestClient with real services."""

from __future__ import annotations

import re
from pathlib import Path

from dataex.catalog import demand as demands
from dataex.catalog.metadata import describe
from dataex.contracts.offers import create_offer
from dataex.privacy.classify import find_classification
from dataex.quality.service import get_report
from tests.web.conftest import Console, plant_csv, register, visits_csv

TITLES = re.compile(r'<h3><a href="/dataset/(ds_[0-9a-f]+)">')


def shown(html: str) -> list[str]:
    return TITLES.findall(html)


def two_datasets(console: Console, tmp_path: Path) -> tuple[str, str]:
    visits = register(console, visits_csv(tmp_path / "visits.csv"), "门诊就诊记录")
    plant = register(console, plant_csv(tmp_path / "plant.csv"), "传感器读数 sensor readings", license="MIT")
    return visits, plant


def test_the_catalog_lists_filters_and_searches(console: Console, tmp_path: Path) -> None:
    visits, plant = two_datasets(console, tmp_path)
    create_offer(console.ex, plant, actor=console.hospital.party, tier="L1", purposes=["research"], epsilon=1)
    client = console.client(console.insurer)
    page = client.get("/")
    assert page.status_code == 200 and "共 2 个数据集" in page.text
    assert shown(page.text) == [plant, visits]  # newest first
    assert set(re.findall(r'<option value="([^"]+)"', page.text)) >= {
        "cc-by-4.0",
        "mit",
        "L1",
        "A",
        "general-4",
    }

    assert shown(client.get("/", params={"license": "MIT"}).text) == [plant]
    assert shown(client.get("/", params={"tier": "L1"}).text) == [plant]
    assert shown(client.get("/", params={"tier": "L4"}).text) == []
    grade = get_report(console.ex, visits)["grade"]
    graded = shown(client.get("/", params={"grade": grade}).text)
    assert visits in graded and all(get_report(console.ex, d)["grade"] == grade for d in graded)
    classification = find_classification(console.ex, visits)
    assert classification is not None
    assert shown(client.get("/", params={"sensitivity": classification.grade}).text) == [visits]
    # search and filters together
    assert shown(client.get("/", params={"q": "sensor"}).text) == [plant]
    assert shown(client.get("/", params={"q": "sensor", "license": "cc-by-4.0"}).text) == []
    assert shown(client.get("/", params={"q": "门诊"}).text) == [visits]
    card = client.get("/", params={"q": "门诊"}).text
    assert "Ruijin Hospital" in card and ">80<" in card and f">{grade}<" in card


def test_a_bad_filter_is_a_friendly_400_page(console: Console) -> None:
    r = console.client(console.insurer).get("/", params={"tier": "L9"})
    assert r.status_code == 400 and "<html" in r.text and "unknown tier" in r.text


def test_private_datasets_are_not_listed_to_others(console: Console, tmp_path: Path) -> None:
    visits, plant = two_datasets(console, tmp_path)
    describe(console.ex, visits, actor=console.hospital.party, visibility="private")
    assert shown(console.client(console.insurer).get("/").text) == [plant]
    assert shown(console.client(console.hospital).get("/").text) == [plant, visits]


def test_the_demand_board_shows_open_demands_with_budgets_in_yuan(console: Console) -> None:
    demands.post_demand(
        console.ex,
        actor=console.insurer.party,
        title="糖尿病随访数据",
        fields=["age", "hba1c"],
        purpose="ai-training",
        budget=5_000_000,
        description="<b>需要</b> 两年数据",
    )
    page = console.client(console.hospital).get("/catalog").text
    assert "糖尿病随访数据" in page and "¥50,000.00" in page and "age, hba1c" in page
    assert "&lt;b&gt;需要&lt;/b&gt;" in page
    english = console.client(console.hospital, lang="en").get("/").text
    assert "CN¥50,000.00" in english and "Demand board" in english


def test_the_dataset_page_draws_the_quality_charts(console: Console, tmp_path: Path) -> None:
    visits = register(console, visits_csv(tmp_path / "visits.csv"), "门诊就诊记录")
    report = get_report(console.ex, visits)
    page = console.client(console.insurer).get(f"/dataset/{visits}").text
    radar = page.split('id="quality-radar"', 1)[1].split("</figure>", 1)[0]
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in radar and 'role="img"' in radar
    assert "<title>质量维度（GB/T 36344）</title>" in radar
    for name, label in (("completeness", "完整性"), ("accessibility", "可访问性")):
        assert f"{label} {report['dimensions'][name]:.0f}" in radar
    bars = page.split('id="quality-bars"', 1)[1].split("</figure>", 1)[0]
    assert bars.count("<rect") == 12  # a frame and a bar per dimension
    fields = page.split('id="field-bars"', 1)[1].split("</figure>", 1)[0]
    assert ">patient_id</text>" in fields and ">100</text>" in fields  # every value filled


def test_the_dataset_page_draws_the_lineage(console: Console, tmp_path: Path) -> None:
    source = register(console, visits_csv(tmp_path / "visits.csv"), "<i>源</i> visits")
    derived = register(
        console, visits_csv(tmp_path / "fewer.csv", rows=40), "派生 visits", derived_from=source
    )
    client = console.client(console.insurer)
    child = client.get(f"/dataset/{derived}").text
    graph = child.split('id="lineage-graph"', 1)[1].split("</figure>", 1)[0]
    assert f'<a href="/dataset/{source}">' in graph and "&lt;i&gt;源&lt;/i&gt; visits" in graph
    assert "<i>源</i>" not in child
    assert graph.index(source) < graph.index(derived)  # source on the left
    parent = client.get(f"/dataset/{source}").text
    assert f'<a href="/dataset/{derived}">' in parent.split('id="lineage-graph"', 1)[1]
    assert (
        "派生出" in parent
        and 'id="lineage-graph"'
        not in client.get(f"/dataset/{register(console, plant_csv(tmp_path / 'p.csv'), 'alone')}").text
    )


def test_the_lineage_hides_another_partys_private_datasets(console: Console, tmp_path: Path) -> None:
    source = register(console, visits_csv(tmp_path / "visits.csv"), "SECRET-SOURCE visits")
    middle = register(
        console, visits_csv(tmp_path / "mid.csv", rows=60), "public middle", derived_from=source
    )
    hidden = register(
        console, visits_csv(tmp_path / "fewer.csv", rows=40), "SECRET-CHILD visits", derived_from=middle
    )
    for dataset_id in (source, hidden):
        describe(console.ex, dataset_id, actor=console.hospital.party, visibility="private")
    page = console.client(console.insurer).get(f"/dataset/{middle}").text
    assert "SECRET" not in page and hidden not in page
    graph = page.split('id="lineage-graph"', 1)[1].split("</figure>", 1)[0]
    assert source in graph  # its id is the dataset's derived_from anyway
    owner = console.client(console.hospital).get(f"/dataset/{middle}").text
    assert "SECRET-SOURCE" in owner and "SECRET-CHILD" in owner


def test_offers_show_prices_units_and_limits(console: Console, tmp_path: Path) -> None:
    visits = register(console, visits_csv(tmp_path / "visits.csv"), "门诊就诊记录")
    hospital = console.hospital.party
    create_offer(console.ex, visits, actor=hospital, tier="L1", purposes=["research"], epsilon=2, price=0)
    create_offer(
        console.ex,
        visits,
        actor=hospital,
        tier="L3",
        purposes=["ai-training"],
        price="0.02/row",
        max_rows=500,
    )
    page = console.client(console.insurer).get(f"/dataset/{visits}").text
    assert "免费" in page and "¥0.02 每行" in page and "最多行数" in page and ">500<" in page
    english = console.client(console.insurer, lang="en").get(f"/dataset/{visits}").text
    assert "CN¥0.02 per row" in english and "free" in english
