"""The ``anonymize`` service: a dataset in, a registered derived dataset out, every step logged.

``anonymize`` reads the dataset's consented rows (its canonical Parquet file without the rows of
subjects who withdrew consent, :func:`dataex.contracts.consent.consented_rows`), fills in defaults from its
classification (quasi-identifiers: dates of birth, addresses, resident IDs and columns named like
age/sex/postcode; sensitive: sensitive-personal fields; other direct identifiers dropped), runs
:func:`~dataex.privacy.anonymize.engine.anonymize_table`, registers the release as the source
owner's dataset with ``derived_from`` (its own digest, certificate and ``dataset.registered``
entry; classification runs on it) and, in the same transaction, appends ``dataset.anonymized``
(full spec, hierarchy SHA-256 digests, levels, achieved models, risk and utility) and stores the
release's hidden subject lineage (:func:`dataex.contracts.consent.release_lineage`), so later
withdrawals on the source reach the release; then records
the models in the derived dataset's Croissant RAI metadata (``dataset.described``). A release
identical to one registered before is not registered twice: its ``dataset.anonymized`` entry is
then appended on its own. ``check`` only measures.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataex import policy
from dataex.catalog import registration
from dataex.catalog.datasets import Dataset, get_dataset_row
from dataex.catalog.metadata import describe
from dataex.contracts import consent
from dataex.errors import InvalidInput
from dataex.privacy.anonymize import hierarchies as hier
from dataex.privacy.anonymize import risk
from dataex.privacy.anonymize.engine import Outcome, Spec, anonymize_table, encode_sensitive, validate
from dataex.privacy.anonymize.models import Models, check_classes
from dataex.privacy.classify import find_classification

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.identity.parties import Party
    from dataex.node import Node

QI_TYPES = frozenset({"date_of_birth", "address", "cn_resident_id"})
QI_NAMES = re.compile(
    r"(?i)^(age|sex|gender|zip|zipcode|postcode|postal_code|birth.*|dob|年龄|性别|邮编|出生.*)$"
)
DIRECT_IDENTIFIERS = frozenset(
    {
        "person_name",
        "cn_mobile",
        "cn_landline",
        "phone_e164",
        "email",
        "passport",
        "bank_card",
        "credit_card",
        "iban",
        "ip_address",
        "license_plate",
        "free_text_with_pii",
    }
)


@dataclass(frozen=True)
class AnonymizationResult:
    """What ``anonymize`` returns; ``to_dict`` is the CLI/API JSON."""

    source_id: str
    dataset: Dataset
    outcome: Outcome
    log_index: int
    out: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.dataset.id,
            "derived_from": self.source_id,
            **summary(self.outcome),
            "log_index": self.log_index,
        }


def summary(o: Outcome) -> dict[str, Any]:
    s = o.spec
    return {
        "k": o.achieved.get("k"),
        "l": s.l,
        "l_variant": s.l_variant if s.l else None,
        "t": s.t,
        "qi": s.qi,
        "sensitive": s.sensitive,
        "suppressed": o.suppressed,
        "rows": o.table.num_rows,
        "levels": o.levels,
        "loss": o.utility["loss"],
        "metric": s.metric,
        "metric_value": o.search.get("metric_value", o.utility.get(s.metric)),
        "achieved": o.achieved,
        "risk": o.risk,
        "utility": o.utility,
        "hierarchies": o.hierarchies,
        "search": o.search,
    }


def _owner(node: Node, dataset_id: str, actor: Party | None) -> str:
    """The dataset's owner (who owns a release), once the policy lets ``actor`` anonymize it."""
    policy.check(node, actor, "anonymize", dataset_id)
    with node.session() as s:
        return get_dataset_row(s, dataset_id).owner_id


def with_defaults(node: Node, dataset_id: str, spec: Spec, columns: list[str]) -> Spec:
    """Fills quasi-identifiers, sensitive attributes and drops from the classification."""
    found = find_classification(node, dataset_id)
    fields = {f["name"]: f for f in found.fields} if found else {}
    qi = spec.qi or [c for c in columns if fields.get(c, {}).get("type") in QI_TYPES or QI_NAMES.match(c)]
    sensitive = spec.sensitive or [
        c for c in columns if fields.get(c, {}).get("category") == "sensitive_personal" and c not in qi
    ]
    drop = spec.drop or [
        c
        for c in columns
        if fields.get(c, {}).get("type") in DIRECT_IDENTIFIERS and c not in qi and c not in sensitive
    ]
    return replace(spec, qi=qi, sensitive=sensitive, drop=drop)


SUBJECT_KEY_TYPES = (DIRECT_IDENTIFIERS - {"free_text_with_pii"}) | {"cn_resident_id"}


def _subject_keys(node: Node, dataset_id: str) -> list[str]:
    """Columns classified as keys of a person (names, phones, e-mails, IDs…): besides the subject
    columns the consent service knows, the release's hidden lineage keeps one for each."""
    found = find_classification(node, dataset_id)
    return [f["name"] for f in (found.fields if found else []) if f.get("type") in SUBJECT_KEY_TYPES]


def _load(node: Node, dataset_id: str) -> tuple[pa.Table, npt.NDArray[np.int64], Any]:
    """The consented rows of the dataset, their row numbers in its stored file, its title and licence."""
    with node.session() as s:
        row = get_dataset_row(s, dataset_id)
        title, license = row.title, row.license
    path, rows = consent.consented_rows(node, dataset_id)
    table = pq.read_table(path)
    if consent.ROW_NUMBER in table.column_names:  # it would hide the row position lineage is kept by
        raise InvalidInput(
            f"dataset {dataset_id} has a column named {consent.ROW_NUMBER!r}, the name of the row "
            "position consent withdrawals use: register it with that column renamed to anonymize it"
        )
    if rows is None:
        return table, np.arange(table.num_rows, dtype=np.int64), (title, license)
    return table.take(pa.array(rows)), rows, (title, license)


def anonymize(
    node: Node,
    dataset_id: str,
    spec: Spec,
    *,
    actor: Party | None,
    out: Path | None = None,
    inline_hierarchies: dict[str, str] | None = None,
) -> AnonymizationResult:
    """Anonymizes ``dataset_id`` and registers the release (see the module docstring).

    ``inline_hierarchies`` maps a column to ARX CSV text (the HTTP API sends hierarchies this way,
    never server paths).
    """
    if inline_hierarchies:
        with tempfile.TemporaryDirectory(dir=node.settings.staging_dir) as tmp:
            paths = {}
            for i, (col, text) in enumerate(sorted(inline_hierarchies.items())):
                paths[col] = Path(tmp) / f"hierarchy-{i}.csv"
                paths[col].write_text(text, encoding="utf-8")
            merged = replace(spec, hierarchies={**spec.hierarchies, **{c: str(p) for c, p in paths.items()}})
            return anonymize(node, dataset_id, merged, actor=actor, out=out)
    owner = _owner(node, dataset_id, actor)
    table, source_rows, (title, license) = _load(node, dataset_id)
    spec = with_defaults(node, dataset_id, spec, table.column_names)
    outcome = anonymize_table(table, spec)
    lineage = consent.release_lineage(
        node, dataset_id, source_rows[outcome.rows], also=_subject_keys(node, dataset_id)
    )
    if out is not None:
        write_output(outcome.table, out)
    actor_id = actor.id if actor is not None else "operator"
    entries: list[int] = []

    def record(s: Session, release_id: str) -> None:
        body = {"dataset_id": release_id, "source_id": dataset_id, "spec": spec.to_dict(), **summary(outcome)}
        body["spec"]["hierarchies"] = {c: Path(p).name for c, p in spec.hierarchies.items()}
        body["subject_lineage"] = {
            "columns": sorted({c for c, _ in lineage}),
            "sha256": consent.lineage_digest(lineage),
        }
        entries.append(node.log.append(s, "dataset.anonymized", _jsonable(body), actor=actor_id).index)
        consent.store_lineage(s, release_id, lineage)

    with tempfile.TemporaryDirectory(dir=node.settings.staging_dir) as tmp:
        path = Path(tmp) / "anonymized.parquet"
        pq.write_table(outcome.table, path)
        models = ", ".join(f"{k}={v}" for k, v in spec.models.describe().items())
        reg = registration.register(
            node,
            path,
            owner_id=owner,
            title=f"{title} (anonymized: {models})"[:500],
            license=license,
            derived_from=dataset_id,
            actor=actor_id,
            source_name=f"anonymized-{dataset_id}.parquet",
            on_registered=lambda s, row: record(s, row.id),
        )
    if not entries:  # the same release was registered before: log this run on its own
        with node.transaction() as s:
            record(s, reg.dataset.id)
            node.log.checkpoint(s)
    describe(node, reg.dataset.id, actor=actor, rai=_rai(outcome, dataset_id))
    return AnonymizationResult(dataset_id, reg.dataset, outcome, entries[0], out)


def _rai(o: Outcome, source: str) -> dict[str, object]:
    models = ", ".join(f"{k}={v}" for k, v in o.spec.models.describe().items())
    how = "full-domain generalization (optimal lattice search)" if o.levels else "Mondrian partitioning"
    return {
        "data_manipulation_protocol": (
            f"Anonymized by dataex from {source}: {how} of quasi-identifiers {', '.join(o.spec.qi)}"
            f"{' (levels ' + str(o.levels) + ')' if o.levels else ''}; satisfies {models}"
            f"{'; sensitive: ' + ', '.join(o.spec.sensitive) if o.spec.sensitive else ''}; "
            f"{o.suppressed} records suppressed; dropped: {', '.join(o.spec.drop) or 'none'}."
        ),
        "personal_sensitive_information": [
            f"quasi-identifiers generalized ({models}); highest prosecutor risk "
            f"{o.risk['after']['prosecutor']['highest']:.4f}"
        ],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_output(table: pa.Table, out: Path) -> None:
    """The owner's copy: CSV (or Parquet by suffix), suppressed rows left out."""
    if out.suffix.lower() == ".parquet":
        pq.write_table(table, out)
    else:
        pacsv.write_csv(table, out)


def check(node: Node, dataset_id: str, spec: Spec, *, actor: Party | None) -> dict[str, Any]:
    """Measures the data as it is: achieved k, l, t and re-identification risk. Nothing changes."""
    _owner(node, dataset_id, actor)
    table, _, _ = _load(node, dataset_id)
    spec = with_defaults(node, dataset_id, spec, table.column_names)
    validate(replace(spec, k=spec.k or 2, l=None, t=None), table)
    qis = [
        hier.encode(table[c], hier.flat(hier.distinct_strings(table[c]), column=c), name=c) for c in spec.qi
    ]
    import pandas as pd

    classes = np.asarray(pd.factorize(pd.MultiIndex.from_arrays([q.codes for q in qis]))[0], dtype=np.int64)
    sizes = np.bincount(classes)
    sensitive = [encode_sensitive(table, s, None) for s in spec.sensitive]
    ones = np.ones(len(classes), dtype=np.int64)
    chk = check_classes(
        classes, len(sizes), ones, Models(l=1, t=1.0) if sensitive else Models(k=1), sensitive
    )
    achieved: dict[str, Any] = {"k": int(sizes.min())}
    if sensitive:
        achieved.update(
            l_distinct=int(chk.l_distinct.min()), l_entropy=float(chk.l_entropy.min()), t=float(chk.t.max())
        )
    satisfied = {
        "k": spec.k is None or achieved["k"] >= spec.k,
        "l": spec.l is None or achieved.get("l_distinct", 0) >= spec.l,
        "t": spec.t is None or achieved.get("t", 1.0) <= spec.t,
    }
    return {
        "id": dataset_id,
        "qi": spec.qi,
        "sensitive": spec.sensitive,
        "achieved": achieved,
        "satisfied": satisfied,
        "risk": risk.measure(sizes),
    }


def spec_from_options(**options: Any) -> Spec:
    """A ``Spec`` from CLI/API options (lists may come comma-separated)."""

    def split(v: Any) -> list[str]:
        items = v if isinstance(v, list) else [v] if v else []
        return [p.strip() for item in items for p in str(item).split(",") if p.strip()]

    hierarchies = options.get("hierarchies") or {}
    if isinstance(hierarchies, list):
        pairs = {}
        for h in hierarchies:
            col, eq, path = str(h).partition("=")
            if not eq or not col or not path:
                raise InvalidInput(f"--hierarchy takes COLUMN=PATH; got {h!r}")
            pairs[col.strip()] = path.strip()
        hierarchies = pairs
    return Spec(
        qi=split(options.get("qi")),
        sensitive=split(options.get("sensitive")),
        k=options.get("k"),
        l=options.get("l"),
        l_variant=options.get("l_variant") or "distinct",
        c=options.get("c") or 3.0,
        t=options.get("t"),
        max_suppression=options.get("max_suppression") or 0.0,
        hierarchies=hierarchies,
        algorithm=options.get("algorithm") or "optimal",
        metric=options.get("metric") or "entropy",
        drop=split(options.get("drop")),
        target=options.get("target"),
    )
