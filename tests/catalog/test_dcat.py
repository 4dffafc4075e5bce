"""DCAT 3: the catalog parses as JSON-LD with rdflib and holds the expected triples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from dataex.catalog.dcat import dcat_catalog
from dataex.catalog.metadata import describe
from tests.conftest import Actor, Node

pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated, use Dataset instead.")
BASE = "https://node.example.org"


def graph(doc: dict[str, object]) -> Graph:
    return Graph().parse(data=json.dumps(doc), format="json-ld")


def test_catalog_lists_public_datasets(
    fresh_node: Node, hospital: Actor, visits_csv: Path, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    public = ex.register(
        visits_csv, owner=hospital.party.id, title="Visits 门诊", license="CC-BY-4.0"
    ).dataset
    other_csv = tmp_path / "other.csv"
    other_csv.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    hidden = ex.register(other_csv, owner=hospital.party.id, title="Hidden", license="proprietary").dataset
    describe(ex, hidden.id, actor=None, visibility="private")
    describe(
        ex,
        public.id,
        actor=hospital.party,
        description="Outpatient visits",
        keywords=["医疗", "outpatient"],
        temporal_coverage="2025-01-01/2025-12-31",
        spatial_coverage="Shanghai",
    )
    g = graph(dcat_catalog(ex, base_url=BASE + "/"))
    datasets = list(g.subjects(RDF.type, DCAT.Dataset))
    assert datasets == [URIRef(f"{BASE}/datasets/{public.id}")]
    rows = g.query(
        """SELECT ?title ?id ?license ?digest WHERE {
             ?cat a dcat:Catalog ; dcat:dataset ?d .
             ?d dct:title ?title ; dct:identifier ?id ; dct:license ?license ;
                adms:identifier/skos:notation ?digest .
           }""",
        initNs={
            "dcat": DCAT,
            "dct": DCTERMS,
            "adms": URIRef("http://www.w3.org/ns/adms#"),
            "skos": URIRef("http://www.w3.org/2004/02/skos/core#"),
        },
    )
    assert [tuple(str(v) for v in r) for r in rows] == [
        ("Visits 门诊", public.id, "https://spdx.org/licenses/CC-BY-4.0.html", public.digest)
    ]
    d = datasets[0]
    assert set(g.objects(d, DCAT.keyword)) == {Literal("医疗"), Literal("outpatient")}
    temporal = g.value(d, DCTERMS.temporal)
    assert str(g.value(temporal, DCAT.startDate)) == "2025-01-01"
    media = {str(g.value(dist, DCAT.mediaType)) for dist in g.objects(d, DCAT.distribution)}
    assert media == {
        "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
        "https://www.iana.org/assignments/media-types/application/ld+json",
    }
    access = {str(g.value(dist, DCAT.accessURL)) for dist in g.objects(d, DCAT.distribution)}
    assert f"{BASE}/datasets/{public.id}/croissant" in access
    publisher = g.value(d, DCTERMS.publisher)
    assert str(g.value(publisher, URIRef("http://xmlns.com/foaf/0.1/name"))) == "Ruijin Hospital"


def test_lineage_and_empty_catalog(
    fresh_node: Node, hospital: Actor, visits_csv: Path, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    assert list(graph(dcat_catalog(ex, base_url=BASE)).subjects(RDF.type, DCAT.Dataset)) == []
    src = ex.register(visits_csv, owner=hospital.party.id, title="Visits", license="CC-BY-4.0").dataset
    derived_csv = tmp_path / "d.csv"
    derived_csv.write_text("k,v\n1,2\n", encoding="utf-8")
    der = ex.register(
        derived_csv, owner=hospital.party.id, title="Derived", license="CC-BY-4.0", derived_from=src.id
    ).dataset
    g = graph(dcat_catalog(ex, base_url=BASE))
    prov = URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")
    assert g.value(URIRef(f"{BASE}/datasets/{der.id}"), prov) == URIRef(f"{BASE}/datasets/{src.id}")
    assert len(list(g.subjects(RDF.type, DCAT.Dataset))) == 2
