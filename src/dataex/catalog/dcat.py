"""The node's public listing as a W3C DCAT 3 catalog (JSON-LD), for data-space catalog crawlers.

Every dataset whose visibility is public becomes a ``dcat:Dataset`` with two distributions: the
canonical Parquet file (served under a contract) and the dataset's Croissant document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.catalog.croissant import CROISSANT_1_1, FILE_ID
from dataex.catalog.metadata import Metadata, license_url
from dataex.db.models import DatasetMetadataRow, DatasetRow, NodeRow, PartyRow
from dataex.ledger.log import iso
from dataex.policy import ANONYMOUS, visible_datasets

if TYPE_CHECKING:
    from dataex.node import Node

IANA = "https://www.iana.org/assignments/media-types/"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prov": "http://www.w3.org/ns/prov#",
    "adms": "http://www.w3.org/ns/adms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def dcat_catalog(node: Node, *, base_url: str) -> dict[str, Any]:
    """A ``dcat:Catalog`` of every public dataset; IRIs are node URLs under ``base_url``."""
    base = base_url.rstrip("/")
    with node.session() as s:
        node_row = s.get(NodeRow, node.node_id)
        assert node_row is not None
        datasets = [_dataset(base, row, meta, owner) for row, meta, owner in _public(s)]
    return {
        "@context": CONTEXT,
        "@id": f"{base}/catalog/dcat",
        "@type": "dcat:Catalog",
        "dct:title": node_row.name,
        "dct:description": f"Public datasets of the dataex node {node_row.origin}",
        "dct:publisher": {"@id": f"{base}/", "@type": "foaf:Agent", "foaf:name": node_row.name},
        "dcat:dataset": datasets,
    }


def _public(session: Session) -> list[tuple[DatasetRow, Metadata | None, PartyRow]]:
    """The datasets an anonymous client may see (rule 2 of :mod:`dataex.policy`)."""
    q = (
        select(DatasetRow, DatasetMetadataRow, PartyRow)
        .join(PartyRow, PartyRow.id == DatasetRow.owner_id)
        .outerjoin(DatasetMetadataRow, DatasetMetadataRow.dataset_id == DatasetRow.id)
        .order_by(DatasetRow.registered_at, DatasetRow.id)
    )
    visible = visible_datasets(ANONYMOUS)
    if visible is not None:
        q = q.where(visible)
    return [
        (dataset, Metadata.of(meta) if meta is not None else None, owner)
        for dataset, meta, owner in session.execute(q).all()
    ]


def _typed(value: datetime) -> dict[str, str]:
    return {"@value": iso(value), "@type": "xsd:dateTime"}


def _dataset(base: str, row: DatasetRow, meta: Metadata | None, owner: PartyRow) -> dict[str, Any]:
    iri = f"{base}/datasets/{row.id}"
    out: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": row.id,
        "dct:title": row.title,
        "dct:license": _license(row.license),
        "dct:publisher": {
            "@id": f"{base}/parties/{owner.id}",
            "@type": "foaf:Agent",
            "foaf:name": owner.name,
        },
        "dct:issued": _typed(row.registered_at),
        "dct:modified": _typed(meta.updated_at if meta and meta.updated_at else row.registered_at),
        "adms:identifier": {"@type": "adms:Identifier", "skos:notation": row.digest},
        "dcat:distribution": _distributions(base, row),
    }
    if row.derived_from:
        out["prov:wasDerivedFrom"] = {"@id": f"{base}/datasets/{row.derived_from}"}
    if meta is not None:
        out.update(_described(meta))
    return out


def _described(meta: Metadata) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if meta.description:
        out["dct:description"] = meta.description
    if meta.keywords:
        out["dcat:keyword"] = list(meta.keywords)
    if meta.temporal_coverage:
        out["dct:temporal"] = _period(meta.temporal_coverage)
    if meta.spatial_coverage:
        out["dct:spatial"] = {"@type": "dct:Location", "skos:prefLabel": meta.spatial_coverage}
    return out


def _license(license: str) -> dict[str, Any]:
    url = license_url(license)
    if url is not None:
        return {"@id": url, "@type": "dct:LicenseDocument"}
    return {"@type": "dct:LicenseDocument", "rdfs:label": license}


def _period(text: str) -> dict[str, Any]:
    """``2025-01-01/2025-12-31`` becomes start and end dates; anything else a labelled period."""
    start, _, end = text.partition("/")
    if _DATE.fullmatch(start) and _DATE.fullmatch(end):
        return {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": start, "@type": "xsd:date"},
            "dcat:endDate": {"@value": end, "@type": "xsd:date"},
        }
    return {"@type": "dct:PeriodOfTime", "rdfs:label": text}


def _distributions(base: str, row: DatasetRow) -> list[dict[str, Any]]:
    iri = f"{base}/datasets/{row.id}"
    return [
        {
            "@id": f"{iri}#parquet",
            "@type": "dcat:Distribution",
            "dct:title": "Canonical Parquet file (under a contract)",
            "dcat:mediaType": {"@id": IANA + PARQUET_MEDIA_TYPE},
            "dcat:accessURL": {"@id": f"{iri}/files/{FILE_ID}"},
            "dcat:byteSize": {"@value": str(row.size_bytes), "@type": "xsd:nonNegativeInteger"},
        },
        {
            "@id": f"{iri}#croissant",
            "@type": "dcat:Distribution",
            "dct:title": "Croissant 1.1 metadata",
            "dcat:mediaType": {"@id": IANA + "application/ld+json"},
            "dct:conformsTo": {"@id": CROISSANT_1_1},
            "dcat:accessURL": {"@id": f"{iri}/croissant"},
            "dcat:downloadURL": {"@id": f"{iri}/croissant"},
        },
    ]
