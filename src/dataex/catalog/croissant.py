"""MLCommons Croissant 1.1 JSON-LD: written and parsed here, and nowhere else.

Export describes one dataset: its metadata (core + RAI), one ``cr:FileObject`` (the canonical Parquet
file, with its SHA-256) and one ``cr:RecordSet`` with a ``cr:Field`` per column, plus a ``dataex:``
block (digest, certificate log index, node origin). Import validates a document with mlcroissant,
refuses anything that is not a local file under an allowed root (the node never fetches the network
on import), checks every checksum, and only then registers the files and applies the metadata.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from dataex.catalog import metadata as md
from dataex.catalog import registration
from dataex.catalog.datasets import Dataset, get_dataset_row
from dataex.catalog.metadata import RAI_ALIASES, RAI_NAMESPACE, RAI_TERMS, Metadata, Viewer
from dataex.catalog.registration import Registration
from dataex.db.models import DatasetRow, NodeRow, PartyRow
from dataex.errors import BadFile, InputFileNotFound, InvalidInput, UnsafePath
from dataex.identity.parties import Party
from dataex.ledger.log import iso
from dataex.policy import check
from dataex.storage.store import CHUNK

if TYPE_CHECKING:
    from dataex.node import Node

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"
DATAEX_NAMESPACE = "https://dataex.dev/ns#"
PARQUET = "application/x-parquet"
FILE_ID = "canonical.parquet"
RECORD_SET_ID = "records"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": RAI_NAMESPACE,
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "prov": "http://www.w3.org/ns/prov#",
    "wd": "https://www.wikidata.org/wiki/",
    "dataex": DATAEX_NAMESPACE,
}
"""The standard Croissant 1.1 context (as mlcroissant writes it) plus ``rai``, ``prov``, ``wd``, ``dataex``.
"""

_INTEGER = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"})
_INTEGER_U = frozenset({"UINTEGER", "UBIGINT", "UHUGEINT"})
_FLOAT = frozenset({"FLOAT", "REAL", "DOUBLE"})
_BASE_TYPES = frozenset({"sc:Text", "sc:Integer", "sc:Float", "sc:Boolean", "sc:Date", "sc:DateTime"})
_EXPANSIONS = {
    "https://schema.org/": "sc:",
    "http://schema.org/": "sc:",
    "http://mlcommons.org/croissant/": "cr:",
}


def croissant_type(duckdb_type: str) -> str:
    """The Croissant ``dataType`` of a DuckDB column type (text when nothing closer exists)."""
    t = duckdb_type.upper()
    if t in _INTEGER or t in _INTEGER_U:
        return "sc:Integer"
    if t in _FLOAT or t.startswith("DECIMAL"):
        return "sc:Float"
    if t == "BOOLEAN":
        return "sc:Boolean"
    if t == "DATE":
        return "sc:Date"
    if t.startswith("TIMESTAMP"):
        return "sc:DateTime"
    return "sc:Text"


# -- export --------------------------------------------------------------------------------------
def export_croissant(
    node: Node, dataset_id: str, *, local: bool, base_url: str | None = None, viewer: Viewer = None
) -> dict[str, Any]:
    """The dataset's Croissant document.

    ``local=True`` points ``contentUrl`` at the canonical Parquet file in the node's store (so
    mlcroissant can load the records on this machine); ``local=False`` at the node's data route
    ``{base_url}/datasets/{id}/files/canonical.parquet``.
    """
    with node.session() as s:
        dataset = Dataset.of(get_dataset_row(s, dataset_id))
    if local:
        content_url = node.store.url(dataset.file_sha256)
    else:
        content_url = f"{(base_url or '').rstrip('/')}/datasets/{dataset_id}/files/{FILE_ID}"
    return to_croissant(node, dataset_id, content_url=content_url, base_url=base_url, viewer=viewer)


def to_croissant(
    node: Node, dataset_id: str, *, content_url: str, base_url: str | None = None, viewer: Viewer = None
) -> dict[str, Any]:
    """Writes the Croissant 1.1 JSON-LD document of a dataset whose file lives at ``content_url``."""
    check(node, viewer, "read_metadata", dataset_id)
    with node.session() as s:
        row = get_dataset_row(s, dataset_id)
        meta = md.read_metadata(s, dataset_id)
        owner = s.get(PartyRow, row.owner_id)
        node_row = s.get(NodeRow, node.node_id)
        assert owner is not None and node_row is not None  # foreign keys
        doc = _dataset_node(row, meta, owner, node_row, base_url)
        doc["distribution"] = [_file_object(row, content_url)]
        doc["recordSet"] = [_record_set(row, meta)]
        return doc


def dataset_iri(node_row: NodeRow, dataset_id: str, base_url: str | None) -> str:
    """The IRI naming a dataset: its node URL when known, else a URN under the node's id."""
    if base_url:
        return f"{base_url.rstrip('/')}/datasets/{dataset_id}"
    return f"urn:dataex:{node_row.id}:{dataset_id}"


def _dataset_node(
    row: DatasetRow, meta: Metadata, owner: PartyRow, node_row: NodeRow, base_url: str | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_1_1, RAI_1_0] if meta.rai else CROISSANT_1_1,
        "name": row.title,
        "license": md.license_url(row.license) or row.license,
        "creator": {"@type": "sc:Organization", "name": owner.name, "identifier": owner.id},
        "publisher": {"@type": "sc:Organization", "name": node_row.name, "identifier": node_row.origin},
        "datePublished": iso(row.registered_at),
        "version": "1.0.0",
        "citeAs": _bibtex(row, owner, base_url),
    }
    if base_url:
        doc["url"] = dataset_iri(node_row, row.id, base_url)
    optional = {
        "description": meta.description,
        "keywords": meta.keywords,
        "dateModified": iso(meta.updated_at) if meta.updated_at else None,
        "temporalCoverage": meta.temporal_coverage,
        "spatialCoverage": meta.spatial_coverage,
        "inLanguage": meta.languages,
    }
    doc.update({k: v for k, v in optional.items() if v})
    doc.update({f"rai:{RAI_TERMS[k].term}": v for k, v in meta.rai.items()})
    if row.derived_from:
        doc["prov:wasDerivedFrom"] = {"@id": dataset_iri(node_row, row.derived_from, base_url)}
    doc.update(
        {
            "dataex:datasetId": row.id,
            "dataex:digest": row.digest,
            "dataex:certificateLogIndex": row.log_index,
            "dataex:origin": node_row.origin,
        }
    )
    return doc


def _bibtex(row: DatasetRow, owner: PartyRow, base_url: str | None) -> str:
    def clean(text: str) -> str:
        return text.replace("{", "(").replace("}", ")")

    parts = [
        f"title={{{clean(row.title)}}}",
        f"author={{{clean(owner.name)}}}",
        f"year={{{row.registered_at.year}}}",
    ]
    if base_url:
        parts.append(f"url={{{base_url.rstrip('/')}/datasets/{row.id}}}")
    return "@misc{" + row.id + ", " + ", ".join(parts) + "}"


def _file_object(row: DatasetRow, content_url: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": FILE_ID,
        "name": FILE_ID,
        "description": "The dataset's canonical Parquet file (content-addressed by its SHA-256).",
        "contentUrl": content_url,
        "encodingFormat": PARQUET,
        "contentSize": f"{row.size_bytes} B",
        "sha256": row.file_sha256,
    }


def _record_set(row: DatasetRow, meta: Metadata) -> dict[str, Any]:
    return {
        "@type": "cr:RecordSet",
        "@id": RECORD_SET_ID,
        "name": RECORD_SET_ID,
        "description": f"The {row.rows} rows of {row.title}.",
        "field": [_field(str(c["name"]), str(c["type"]), meta) for c in row.columns],
    }


def field_id(column: str) -> str:
    """The ``@id`` of a column's ``cr:Field`` (also the key mlcroissant gives its values in records)."""
    return f"{RECORD_SET_ID}/{quote(column, safe='')}"


def _field(column: str, duckdb_type: str, meta: Metadata) -> dict[str, Any]:
    base = croissant_type(duckdb_type)
    semantic = meta.semantic_type(column)
    out: dict[str, Any] = {
        "@type": "cr:Field",
        "@id": field_id(column),
        "name": column,
        "dataType": [base, semantic] if semantic and semantic != base else base,
        "source": {"fileObject": {"@id": FILE_ID}, "extract": {"column": column}},
    }
    if description := meta.field_description(column):
        out["description"] = description
    return out


# -- parse ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CroissantFile:
    """A local file a Croissant document's record sets read from, with what it says about its columns."""

    id: str
    path: Path
    sha256: str | None = None
    md5: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    semantic_types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedCroissant:
    """What dataex takes from a Croissant document: the metadata and the local files to register."""

    name: str
    license: str | None
    description: str
    keywords: list[str]
    temporal_coverage: str | None
    spatial_coverage: str | None
    languages: list[str]
    rai: dict[str, md.RaiValue | None]
    files: list[CroissantFile]


def from_croissant(doc: dict[str, Any], *, base_dir: Path, allowed_roots: list[Path]) -> ParsedCroissant:
    """Reads a (validated) Croissant document; refuses URLs and paths outside ``allowed_roots``."""
    if not isinstance(doc, dict):
        raise InvalidInput("a Croissant document is a JSON object")
    name = _text(doc.get("name"))
    if not name:
        raise InvalidInput("the Croissant document has no name; dataex uses it as the dataset title")
    return ParsedCroissant(
        name=name,
        license=_license(doc.get("license")),
        description=md.validate_description(_text(doc.get("description"))),
        keywords=md.validate_keywords(_texts(doc.get("keywords"))),
        temporal_coverage=md.validate_coverage(
            _text(doc.get("temporalCoverage")) or None, what="temporalCoverage"
        ),
        spatial_coverage=md.validate_coverage(
            _text(doc.get("spatialCoverage")) or None, what="spatialCoverage"
        ),
        languages=md.validate_languages(_texts(doc.get("inLanguage"))),
        rai=md.validate_rai(_rai(doc)),
        files=_files(doc, base_dir, allowed_roots),
    )


def _text(value: object) -> str:
    """A plain or language-tagged text (``{"en": …, "zh": …}``: English first), or a node's name."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        return _text(value[0])
    if isinstance(value, dict):
        if "@value" in value:
            return _text(value["@value"])
        if "name" in value:
            return _text(value["name"])
        texts = [v for k, v in value.items() if not k.startswith("@") and isinstance(v, str)]
        return str(value.get("en", texts[0] if texts else ""))
    return ""


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(v) for v in items) if t]


def _license(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id") or value.get("name")
    text = _text(value)
    return md.license_id(text) if text else None


def _rai(doc: dict[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in doc.items():
        term = key.removeprefix("rai:").removeprefix(RAI_NAMESPACE)
        if term != key and term in RAI_ALIASES:
            out[RAI_ALIASES[term]] = _texts(value)
    return out


def _id(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("@id", ""))
    return str(value or "")


def _is_type(node: dict[str, Any], name: str) -> bool:
    types = node.get("@type")
    names = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and t.rsplit(":", 1)[-1].rsplit("/", 1)[-1] == name for t in names)


def _files(doc: dict[str, Any], base_dir: Path, allowed_roots: list[Path]) -> list[CroissantFile]:
    distribution = [d for d in _as_list(doc.get("distribution")) if isinstance(d, dict)]
    objects = {
        _id(d.get("@id")) or _text(d.get("name")): d for d in distribution if _is_type(d, "FileObject")
    }
    used = _columns_by_file(doc)
    if not used:
        raise InvalidInput("the Croissant document has no record set reading columns from a FileObject")
    files: list[CroissantFile] = []
    for file_id, columns in used.items():
        node = objects.get(file_id)
        if node is None:
            raise InvalidInput(
                f"a record set reads from {file_id!r}, which is not a FileObject in the distribution; "
                "dataex imports FileObjects only (no FileSets or archives)"
            )
        path = local_path(_text(node.get("contentUrl")), base_dir=base_dir, allowed_roots=allowed_roots)
        fields = {c: d for c, (d, _t) in columns.items() if d}
        semantic = {c: t for c, (_d, t) in columns.items() if t}
        sha, md5 = _text(node.get("sha256")) or None, _text(node.get("md5")) or None
        files.append(CroissantFile(file_id, path, sha, md5, fields, semantic))
    return files


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _columns_by_file(doc: dict[str, Any]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """file @id → column → (field description, semantic type) for every field read from a file."""
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for record_set in _as_list(doc.get("recordSet")):
        for fld in _as_list(record_set.get("field") if isinstance(record_set, dict) else None):
            if not isinstance(fld, dict) or not isinstance(fld.get("source"), dict):
                continue
            source = fld["source"]
            file_id = _id(source.get("fileObject"))
            column = (source.get("extract") or {}).get("column")
            if file_id and isinstance(column, str) and column.strip():
                described = (_text(fld.get("description")), _semantic_type(fld.get("dataType")))
                out.setdefault(file_id, {})[column.strip()] = described
    return out


def _semantic_type(value: object) -> str | None:
    for raw in _texts(value):
        term = raw
        for iri, prefix in _EXPANSIONS.items():
            if raw.startswith(iri):
                term = prefix + raw.removeprefix(iri)
        if term not in _BASE_TYPES and not term.startswith("cr:"):
            return md.validate_semantic_type(term)
    return None


def local_path(url: str, *, base_dir: Path, allowed_roots: list[Path]) -> Path:
    """The local file a ``contentUrl`` names; refuses URLs and anything outside ``allowed_roots``."""
    if not url:
        raise InvalidInput("a FileObject has no contentUrl")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UnsafePath(f"refused contentUrl {url!r}: file URLs on another host are not local files")
        raw = Path(unquote(parts.path))
    elif parts.scheme:
        raise UnsafePath(
            f"refused contentUrl {url!r}: the node never fetches the network on import; "
            "download the file and point contentUrl at the local copy"
        )
    else:
        raw = Path(url)
    resolved = (raw if raw.is_absolute() else base_dir / raw).resolve()
    roots = [r.resolve() for r in allowed_roots]
    if not any(resolved.is_relative_to(r) for r in roots):
        raise UnsafePath(
            f"refused contentUrl {url!r}: it resolves to {resolved}, outside the allowed roots "
            f"({', '.join(str(r) for r in roots)}); allow its directory with --allow-root",
            path=str(resolved),
        )
    return resolved


# -- import --------------------------------------------------------------------------------------
def validate_croissant(doc: dict[str, Any]) -> None:
    """Validates a document with mlcroissant; InvalidInput lists mlcroissant's messages."""
    import mlcroissant as mlc

    try:
        with warnings.catch_warnings():
            # rdflib, inside mlcroissant, deprecates its own ConjunctiveGraph; nothing a caller can fix
            warnings.filterwarnings(
                "ignore", message="ConjunctiveGraph is deprecated", category=DeprecationWarning
            )
            mlc.Dataset(jsonld=doc)
    except Exception as e:  # mlcroissant raises ValidationError, ValueError, KeyError, … on bad input
        raise InvalidInput(f"the Croissant document does not validate under mlcroissant:\n{e}") from e


def read_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileNotFound(f"{path} does not exist or is not a file")
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"{path.name} is larger than 10 MB; a Croissant document should be small")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{path.name} is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path.name} holds JSON but not an object; a Croissant document is an object")
    return doc


def check_checksums(file: CroissantFile) -> None:
    """Raises BadFile when a declared sha256 (hex or base64, as mlcroissant accepts) or md5 differs."""
    if not file.path.is_file():
        raise InputFileNotFound(f"FileObject {file.id!r}: {file.path} does not exist or is not a file")
    for algorithm, expected in (("sha256", file.sha256), ("md5", file.md5)):
        if expected is None:
            continue
        h = hashlib.new(algorithm)
        with file.path.open("rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        if expected not in (h.hexdigest(), base64.b64encode(h.digest()).decode()):
            raise BadFile(
                f"FileObject {file.id!r}: {file.path.name} has {algorithm} {h.hexdigest()}, "
                f"but the Croissant document declares {expected}; "
                "the file changed, or is not the one the document describes"
            )


def import_croissant(
    node: Node,
    path: Path,
    *,
    owner_id: str,
    actor: Party | None,
    allowed_roots: list[Path] | None = None,
) -> list[Registration]:
    """Registers the local files a Croissant document's record sets read from, with its metadata.

    Everything is checked before anything is stored: mlcroissant validation, URLs and allowed roots,
    file existence and checksums, the metadata values, the owner and the actor. Registration is one
    transaction per file, so with several files a failure while importing file N (unreadable table,
    another party's data) leaves files 1..N-1 registered.
    """
    doc = read_document(path)
    validate_croissant(doc)
    roots = allowed_roots if allowed_roots else [path.parent]
    parsed = from_croissant(doc, base_dir=path.parent, allowed_roots=roots)
    if parsed.license is None:
        raise InvalidInput("the Croissant document has no license; add one (an SPDX id or URL)")
    check(node, actor, "register_for", owner_id)
    for file in parsed.files:
        check_checksums(file)
    registrations: list[Registration] = []
    for file in parsed.files:
        reg = registration.register(
            node,
            file.path,
            owner_id=owner_id,
            title=parsed.name if len(parsed.files) == 1 else f"{parsed.name}: {file.id}",
            license=parsed.license,
            actor=actor.id if actor is not None else "operator",
        )
        _describe(node, reg, parsed, file, actor)
        registrations.append(reg)
    return registrations


def _describe(
    node: Node, reg: Registration, parsed: ParsedCroissant, file: CroissantFile, actor: Party | None
) -> Metadata:
    return md.describe(
        node,
        reg.dataset.id,
        actor=actor,
        description=parsed.description,
        keywords=parsed.keywords,
        fields=file.fields,
        semantic_types=file.semantic_types,
        rai=parsed.rai,
        temporal_coverage=parsed.temporal_coverage or "",
        spatial_coverage=parsed.spatial_coverage or "",
        languages=parsed.languages,
    )
