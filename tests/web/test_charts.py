"""Server-made SVG charts: numbers as text, every label escaped, one mark per value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dataex.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_radar_has_an_axis_label_with_the_score_for_each_dimension() -> None:
    svg = parse(charts.radar([("规范性", 40), ("完整性", 100), ("<b>", 72.4)], title="质量 & 维度"))
    assert svg.get("role") == "img" and svg.findtext(f"{SVG}title") == "质量 & 维度"
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert labels == ["规范性 40", "完整性 100", "<b> 72"]  # parsed back: it was escaped text
    polygons = list(svg.iter(f"{SVG}polygon"))
    assert len(polygons) == 5  # four rings and the scores


def test_bars_are_as_long_as_their_share() -> None:
    svg = parse(charts.bars([("a", 50), ("b", 100), ("c", 150)], title="t"))
    widths = [float(r.get("width", 0)) for r in svg.iter(f"{SVG}rect")][1::2]
    assert widths == [150.0, 300.0, 300.0]  # clamped at the maximum


def test_lineage_links_every_dataset_and_points_from_source_to_derived() -> None:
    svg = parse(
        charts.lineage([("ds_a", "源 <x>")], ("ds_b", "b"), [("ds_c", "c"), ("ds_d", "d")], title="血缘")
    )
    links = [a.get("href") for a in svg.iter(f"{SVG}a")]
    assert links == ["/dataset/ds_a", "/dataset/ds_b", "/dataset/ds_c", "/dataset/ds_d"]
    assert len(list(svg.iter(f"{SVG}line"))) == 3
    assert "源 <x>" in [t.text for t in svg.iter(f"{SVG}text")]
