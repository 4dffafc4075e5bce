"""Descriptive metadata of a dataset: description, keywords, coverage, fields and Responsible-AI facts.

The model follows Croissant's core vocabulary and its RAI extension, so that nothing is invented
where a standard word exists (see docs/metadata.md for every mapping). ``describe`` is the one way to
change it: only the dataset's owner or the operator may, the change and its ``dataset.described``
log entry commit in one transaction, and the search index is refreshed in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy.orm import Session

from dataex.catalog.datasets import get_dataset_row
from dataex.catalog.search import reindex_dataset
from dataex.db.models import DatasetMetadataRow
from dataex.errors import InvalidInput
from dataex.ledger.log import canonical_json, utc_now
from dataex.policy import ANONYMOUS as ANONYMOUS  # re-exported: the catalog's viewers are the policy's
from dataex.policy import Viewer as Viewer
from dataex.policy import check

if TYPE_CHECKING:
    from dataex.identity.parties import Party
    from dataex.node import Node

"""Who reads: ``None`` is the local operator, ``"anonymous"`` an unauthenticated client, else a party."""
Visibility = Literal["public", "private"]
VISIBILITIES: tuple[str, ...] = get_args(Visibility)

MAX_KEYWORDS = 50
MAX_KEYWORD_CHARS = 100
MAX_DESCRIPTION_BYTES = 100 * 1024
MAX_FIELD_DESCRIPTION_CHARS = 10_000
MAX_COVERAGE_CHARS = 200
MAX_LANGUAGES = 20
MAX_RAI_ITEMS = 50
MAX_RAI_CHARS = 20_000

RAI_NAMESPACE = "http://mlcommons.org/croissant/RAI/"


@dataclass(frozen=True)
class RaiTerm:
    """One Croissant RAI property: its term in the ``rai:`` namespace and whether it holds a list."""

    term: str
    many: bool


RAI_TERMS: dict[str, RaiTerm] = {
    "data_collection": RaiTerm("dataCollection", many=False),
    "data_collection_type": RaiTerm("dataCollectionType", many=True),
    "data_collection_missing_data": RaiTerm("dataCollectionMissingData", many=False),
    "data_collection_raw_data": RaiTerm("dataCollectionRawData", many=False),
    "data_collection_timeframe": RaiTerm("dataCollectionTimeframe", many=True),
    "data_imputation_protocol": RaiTerm("dataImputationProtocol", many=False),
    "data_preprocessing_protocol": RaiTerm("dataPreprocessingProtocol", many=True),
    "data_manipulation_protocol": RaiTerm("dataManipulationProtocol", many=False),
    "annotation_protocol": RaiTerm("dataAnnotationProtocol", many=True),
    "annotation_platform": RaiTerm("dataAnnotationPlatform", many=True),
    "annotation_analysis": RaiTerm("dataAnnotationAnalysis", many=True),
    "annotations_per_item": RaiTerm("annotationsPerItem", many=False),
    "annotator_demographics": RaiTerm("annotatorDemographics", many=True),
    "machine_annotation_tools": RaiTerm("machineAnnotationTools", many=True),
    "biases": RaiTerm("dataBiases", many=True),
    "use_cases": RaiTerm("dataUseCases", many=True),
    "limitations": RaiTerm("dataLimitations", many=True),
    "social_impact": RaiTerm("dataSocialImpact", many=False),
    "personal_sensitive_information": RaiTerm("personalSensitiveInformation", many=True),
    "maintenance": RaiTerm("dataReleaseMaintenancePlan", many=False),
}
"""The Croissant RAI 1.0 properties dataex stores, by their snake_case key.

Terms follow the RAI specification; mlcroissant 1.1 spells two of them differently
(``dataCollectionTimeFrame``, ``dataDataManipulationProtocol``); ``RAI_ALIASES`` accepts those on import.
"""

RAI_ALIASES: dict[str, str] = {
    "dataCollectionTimeFrame": "data_collection_timeframe",
    "dataDataManipulationProtocol": "data_manipulation_protocol",
    "annotationProtocol": "annotation_protocol",
    "annotationPlatform": "annotation_platform",
    "dataReleaseMaintenance": "maintenance",
    "useCases": "use_cases",
    **{t.term: key for key, t in RAI_TERMS.items()},
}
"""RAI term (without prefix) → snake_case key, including spellings found in the wild."""

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_SEMANTIC_TYPE = re.compile(r"(sc|cr|wd|schema|dataex):[A-Za-z][A-Za-z0-9_]*|https?://\S+")
_NOT_LICENSES = frozenset({"proprietary", "other", "unknown", "none"})
_SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")
SPDX_PREFIX = "https://spdx.org/licenses/"

RaiValue = str | list[str]


@dataclass(frozen=True)
class Metadata:
    """What a dataset says about itself beyond its registration record."""

    dataset_id: str
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    temporal_coverage: str | None = None
    spatial_coverage: str | None = None
    languages: list[str] = field(default_factory=list)
    fields: dict[str, dict[str, str | None]] = field(default_factory=dict)
    rai: dict[str, RaiValue] = field(default_factory=dict)
    visibility: str = "public"
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: DatasetMetadataRow) -> Metadata:
        return cls(
            dataset_id=row.dataset_id,
            description=row.description,
            keywords=list(row.keywords),
            temporal_coverage=row.temporal_coverage,
            spatial_coverage=row.spatial_coverage,
            languages=list(row.languages),
            fields={k: dict(v) for k, v in row.fields.items()},
            rai=dict(row.rai),
            visibility=row.visibility,
            updated_at=row.updated_at,
        )

    def content(self) -> dict[str, Any]:
        """Everything but ``updated_at``: what the ``dataset.described`` entry hashes."""
        out = asdict(self)
        out.pop("updated_at")
        return out

    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.content())).hexdigest()

    def field_description(self, column: str) -> str:
        return (self.fields.get(column) or {}).get("description") or ""

    def semantic_type(self, column: str) -> str | None:
        return (self.fields.get(column) or {}).get("semantic_type")


# -- licenses ------------------------------------------------------------------------------------
def license_url(license: str) -> str | None:
    """The URL of a license: kept when already a URL, the SPDX page for an SPDX id, else None."""
    if license.startswith(("http://", "https://")):
        return license
    if license.lower() in _NOT_LICENSES or not _SPDX_ID.fullmatch(license):
        return None
    return f"{SPDX_PREFIX}{license}.html"


def license_id(value: str) -> str:
    """The inverse of ``license_url``: an SPDX license page back to its id."""
    if value.startswith(SPDX_PREFIX):
        return value.removeprefix(SPDX_PREFIX).removesuffix(".html").removesuffix(".json")
    return value


# -- validation ----------------------------------------------------------------------------------
def _text(value: str, *, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def validate_description(text: str) -> str:
    text = _text(text, what="the description", limit=MAX_DESCRIPTION_BYTES)
    size = len(text.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        raise InvalidInput(f"the description is {size} bytes of Markdown; the limit is 100 kB")
    return text


def validate_keywords(keywords: list[str]) -> list[str]:
    out: list[str] = []
    for raw in keywords:
        kw = _text(raw, what=f"keyword {raw!r}", limit=MAX_KEYWORD_CHARS)
        if kw and kw not in out:
            out.append(kw)
    if len(out) > MAX_KEYWORDS:
        raise InvalidInput(f"{len(out)} keywords given; at most {MAX_KEYWORDS} are allowed")
    return out


def validate_languages(languages: list[str]) -> list[str]:
    out: list[str] = []
    for raw in languages:
        tag = _text(raw, what="a language", limit=35)
        if not _LANGUAGE.fullmatch(tag):
            raise InvalidInput(f"{raw!r} is not a BCP 47 language tag such as zh, en or zh-Hans")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_LANGUAGES:
        raise InvalidInput(f"{len(out)} languages given; at most {MAX_LANGUAGES} are allowed")
    return out


def validate_coverage(value: str | None, *, what: str) -> str | None:
    if value is None:
        return None
    return _text(value, what=what, limit=MAX_COVERAGE_CHARS) or None


def validate_visibility(value: str) -> str:
    if value not in VISIBILITIES:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}; got {value!r}")
    return value


def _known_columns(columns: list[str], names: Mapping[str, object], *, what: str) -> None:
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise InvalidInput(
            f"{what} names column {unknown[0]!r}, which the dataset does not have; "
            f"its columns are {', '.join(columns)}",
            column=unknown[0],
        )


def validate_semantic_type(value: str) -> str:
    value = value.strip()
    if not _SEMANTIC_TYPE.fullmatch(value):
        raise InvalidInput(
            f"semantic type {value!r} is not a term such as sc:Text, sc:GeoCoordinates, wd:Q48277 "
            "or a full http(s) IRI"
        )
    return value


def validate_rai(rai: Mapping[str, object]) -> dict[str, RaiValue | None]:
    """Checks RAI keys and values; ``None`` (or an empty value) means "remove this property"."""
    out: dict[str, RaiValue | None] = {}
    for key, value in rai.items():
        term = RAI_TERMS.get(key)
        if term is None:
            raise InvalidInput(
                f"unknown RAI property {key!r}; use one of {', '.join(RAI_TERMS)}", property=key
            )
        out[key] = _rai_value(key, term, value)
    return out


def _rai_value(key: str, term: RaiTerm, value: object) -> RaiValue | None:
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    texts = [_text(v, what=f"RAI property {key}", limit=MAX_RAI_CHARS) for v in items]  # type: ignore[arg-type]
    texts = [t for t in texts if t]
    if not texts:
        return None
    if len(texts) > MAX_RAI_ITEMS:
        raise InvalidInput(f"RAI property {key} holds {len(texts)} items; the limit is {MAX_RAI_ITEMS}")
    if term.many:
        return texts
    return "\n\n".join(texts)


# -- the service ---------------------------------------------------------------------------------
def get_metadata(node: Node, dataset_id: str, *, viewer: Viewer = None) -> Metadata:
    """The dataset's metadata; defaults (empty description, public) when nothing was described.

    ``viewer`` is who asks: ``None`` for the local operator, ``"anonymous"`` for an unauthenticated
    HTTP client, else a party. Private metadata is for its owner and the operator only.
    """
    check(node, viewer, "read_metadata", dataset_id)
    with node.session() as s:
        return read_metadata(s, dataset_id)


def read_metadata(session: Session, dataset_id: str) -> Metadata:
    get_dataset_row(session, dataset_id)
    row = session.get(DatasetMetadataRow, dataset_id)
    return Metadata(dataset_id=dataset_id) if row is None else Metadata.of(row)


def describe(
    node: Node,
    dataset_id: str,
    *,
    actor: Party | None,
    description: str | None = None,
    keywords: list[str] | None = None,
    fields: dict[str, str] | None = None,
    semantic_types: dict[str, str] | None = None,
    rai: Mapping[str, object] | None = None,
    temporal_coverage: str | None = None,
    spatial_coverage: str | None = None,
    languages: list[str] | None = None,
    visibility: str | None = None,
) -> Metadata:
    """Merges the given parts into the stored metadata (``None`` keeps a part as it is).

    In ``fields`` an empty description removes it; in ``rai`` a ``None`` or empty value removes the
    property. Writes the row and a ``dataset.described`` log entry naming what changed, and refreshes
    the search index, all in one transaction.
    """
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = validate_description(description)
    if keywords is not None:
        changes["keywords"] = validate_keywords(keywords)
    if temporal_coverage is not None:
        changes["temporal_coverage"] = validate_coverage(temporal_coverage, what="the temporal coverage")
    if spatial_coverage is not None:
        changes["spatial_coverage"] = validate_coverage(spatial_coverage, what="the spatial coverage")
    if languages is not None:
        changes["languages"] = validate_languages(languages)
    if visibility is not None:
        changes["visibility"] = validate_visibility(visibility)
    rai_changes = validate_rai(rai) if rai is not None else None
    check(node, actor, "describe", dataset_id)
    with node.transaction() as s:
        node.log.lock(s)
        dataset = get_dataset_row(s, dataset_id)
        columns = [str(c["name"]) for c in dataset.columns]
        current = read_metadata(s, dataset_id)
        merged = _merge(current, changes, _field_changes(columns, fields, semantic_types), rai_changes)
        changed = [k for k, v in merged.content().items() if current.content()[k] != v]
        now = utc_now()
        _store(s, merged, now)
        node.log.append(
            s,
            "dataset.described",
            {
                "dataset_id": dataset_id,
                "changed": changed,
                "metadata_sha256": merged.sha256(),
                "visibility": merged.visibility,
            },
            actor=actor.id if actor is not None else "operator",
        )
        _reindex(s, dataset_id)
        node.log.checkpoint(s)
        return Metadata(**{**merged.content(), "updated_at": now})


def _field_changes(
    columns: list[str], fields: dict[str, str] | None, semantic_types: dict[str, str] | None
) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for name, text in (fields or {}).items():
        out.setdefault(name, {})["description"] = _text(
            text, what=f"the description of field {name!r}", limit=MAX_FIELD_DESCRIPTION_CHARS
        )
    for name, kind in (semantic_types or {}).items():
        out.setdefault(name, {})["semantic_type"] = validate_semantic_type(kind) if kind.strip() else None
    _known_columns(columns, out, what="a field description or semantic type")
    return out


def _merge(
    current: Metadata,
    changes: dict[str, Any],
    field_changes: dict[str, dict[str, str | None]],
    rai_changes: dict[str, RaiValue | None] | None,
) -> Metadata:
    fields = {k: dict(v) for k, v in current.fields.items()}
    for name, parts in field_changes.items():
        merged = {**fields.get(name, {}), **parts}
        entry = {k: v for k, v in merged.items() if v}
        if entry:
            fields[name] = {
                "description": entry.get("description", ""),
                "semantic_type": entry.get("semantic_type"),
            }
        else:
            fields.pop(name, None)
    rai = dict(current.rai)
    for key, value in (rai_changes or {}).items():
        if value is None:
            rai.pop(key, None)
        else:
            rai[key] = value
    base = current.content()
    base.update(changes)
    base.update(fields=dict(sorted(fields.items())), rai=dict(sorted(rai.items())))
    return Metadata(**base)


def _store(session: Session, meta: Metadata, now: datetime) -> None:
    row = session.get(DatasetMetadataRow, meta.dataset_id)
    if row is None:
        row = DatasetMetadataRow(dataset_id=meta.dataset_id)
        session.add(row)
    row.description = meta.description
    row.keywords = list(meta.keywords)
    row.temporal_coverage = meta.temporal_coverage
    row.spatial_coverage = meta.spatial_coverage
    row.languages = list(meta.languages)
    row.fields = dict(meta.fields)
    row.rai = dict(meta.rai)
    row.visibility = meta.visibility
    row.updated_at = now
    session.flush()


def _reindex(session: Session, dataset_id: str) -> None:
    reindex_dataset(session, dataset_id)
