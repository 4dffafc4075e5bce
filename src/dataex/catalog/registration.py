"""Registration: import a file, digest it, check originality, certify it and log it, atomically.

Order of work, chosen so that a crash at any point leaves the node consistent:
1. import into a locked staging directory (nothing visible yet);
2. digest and MinHash in one streaming pass, then the originality sketch (``catalog.sketch``);
3. one database transaction: lock the log, check idempotency and originality, insert the dataset,
   append ``dataset.registered``, sign the certificate, sign a checkpoint;
4. move the staged file into the store. A crash between 3 and 4 is finished by staging recovery.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.catalog.certificates import CERT_VERSION, sign_certificate
from dataex.catalog.datasets import RIGHTS, Dataset, get_dataset_row
from dataex.catalog.digest import connect, digest_parquet, schema_hash
from dataex.catalog.metadata import validate_visibility
from dataex.catalog.minhash import similar
from dataex.catalog.search import reindex_dataset
from dataex.catalog.sketch import MIN_DENSITY, Sketch, density, overlap, sketch_parquet
from dataex.db.models import DatasetMetadataRow, DatasetRow, PartyRow
from dataex.errors import InvalidInput, NotOriginal, PartyNotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger import seal
from dataex.ledger.log import iso, utc_now
from dataex.policy import check, decide
from dataex.storage.importer import ImportOptions, import_table
from dataex.storage.store import sha256_file

if TYPE_CHECKING:
    from dataex.node import Node

SIMILARITY_THRESHOLD = 0.8
"""Exact rows: a MinHash Jaccard estimate at or above this is refused (another owner)."""
OVERLAP_THRESHOLD = 0.5
"""Normalized cell pairs (``catalog.sketch``): a containment at or above this is refused (another
owner) or linked (same owner). Measured in docs/digest.md: copies and edited copies score 0.6-1.0,
independent tables of the same kind 0.07-0.09."""


@dataclass(frozen=True)
class Registration:
    dataset: Dataset
    created: bool
    report: dict[str, Any] = field(default_factory=dict, compare=False)
    """The import report (``dataex register --json`` → ``import``); empty when already registered."""


def _validate(title: str, license: str, rights: list[str]) -> tuple[str, str]:
    title, license = title.strip(), license.strip()
    if not title or len(title) > 500:
        raise InvalidInput("a dataset needs a title of 1 to 500 characters (--title)")
    if not license or len(license) > 100:
        raise InvalidInput("a dataset needs a license, e.g. CC-BY-4.0 or 'proprietary' (--license)")
    unknown = [r for r in rights if r not in RIGHTS]
    if unknown or not rights:
        raise InvalidInput(
            f"rights must be one or more of {', '.join(RIGHTS)}; got {', '.join(rights) or 'none'}"
        )
    return title, license


def _check_parties(session: Session, owner_id: str, derived_from: str | None) -> PartyRow:
    """The owner, once the policy lets it own the data (and derive from ``derived_from``)."""
    owner = session.get(PartyRow, owner_id)
    if owner is None:
        raise PartyNotFound(owner_id)
    decide(session, Party.of(owner), "register_for", owner_id).raise_if_denied()
    if derived_from is not None:
        decide(session, Party.of(owner), "derive", derived_from).raise_if_denied()
    return owner


def register(
    node: Node,
    path: Path,
    *,
    owner_id: str,
    title: str,
    license: str,
    rights: list[str] | None = None,
    derived_from: str | None = None,
    actor: str = "operator",
    source_name: str | None = None,
    on_registered: Callable[[Session, DatasetRow], None] | None = None,
    analyze: bool = True,
    progress: Callable[[str], None] | None = None,
    acting: Party | None = None,
    import_options: ImportOptions | None = None,
    visibility: str = "public",
) -> Registration:
    """Registers the table in ``path`` for ``owner_id``; see the module docstring for the steps.

    ``visibility="private"`` registers the dataset private from its first moment: its metadata row
    says so in the same transaction, and the public ``dataset.registered`` entry carries salted
    commitments (:mod:`dataex.ledger.seal`) instead of its title, owner, schema, size, source and
    import report; the certificate commits to the title the same way (docs/log.md).

    ``on_registered(session, row)`` runs inside the registration's transaction, after its log
    entry, for a caller whose own state change and log entry belong to the same unit (e.g. the
    ``dataset.anonymized`` record of a release); it does not run when the data was registered before.
    After the commit of a new dataset, ``analyze`` runs the node's registration hooks in order
    (classification, then quality, as installed by the composition root), each announced to
    ``progress`` by its phase name first. ``acting`` is the party registering (``None``: the local
    operator): a party registers for itself, only the operator names another owner.
    """
    check(node, acting, "register_for", owner_id)
    reg = _register(
        node,
        path,
        owner_id=owner_id,
        title=title,
        license=license,
        rights=rights,
        derived_from=derived_from,
        actor=actor,
        source_name=source_name,
        on_registered=on_registered,
        import_options=import_options,
        visibility=validate_visibility(visibility),
    )
    if reg.created and analyze:
        for hook in node.registration_hooks:
            if progress is not None:
                progress(hook.phase)
            hook.run(node, reg.dataset.id)
    return reg


def _register(
    node: Node,
    path: Path,
    *,
    owner_id: str,
    title: str,
    license: str,
    rights: list[str] | None,
    derived_from: str | None,
    actor: str,
    source_name: str | None,
    on_registered: Callable[[Session, DatasetRow], None] | None,
    import_options: ImportOptions | None = None,
    visibility: str = "public",
) -> Registration:
    rights = list(rights) if rights is not None else list(RIGHTS)
    title, license = _validate(title, license, rights)
    with node.session() as s:
        _check_parties(s, owner_id, derived_from)
    with node.staging.work() as work:
        canonical = work.dir / "canonical.parquet"
        scratch = work.dir / "scratch"
        scratch.mkdir()
        imported = import_table(path, canonical, work_dir=scratch, options=import_options)
        names = [c.name for c in imported.columns]
        con = connect()
        try:
            fp = digest_parquet(canonical, names, con=con)
            sketch = sketch_parquet(canonical, [(c.name, c.type) for c in imported.columns], con=con)
        finally:
            con.close()
        sha = sha256_file(canonical)
        size = os.path.getsize(canonical)
        with node.transaction() as s:
            node.log.lock(s)
            owner = _check_parties(s, owner_id, derived_from)
            same = s.scalars(
                select(DatasetRow).where(DatasetRow.digest == fp.digest, DatasetRow.owner_id == owner_id)
            ).first()
            if same is not None:
                return Registration(Dataset.of(same), created=False)
            _check_originality(s, owner, fp.minhash)
            linked = _check_overlap(node, s, owner, sketch, fp.rows)
            ready = work.mark_ready(canonical, sha)
            now = utc_now()
            columns = [{"name": c.name, "type": c.type} for c in imported.columns]
            row = DatasetRow(
                id=new_id("ds"),
                owner_id=owner_id,
                title=title,
                license=license,
                digest=fp.digest,
                schema_hash=schema_hash([(c.name, c.type) for c in imported.columns]),
                rows=fp.rows,
                columns=columns,
                file_sha256=sha,
                size_bytes=size,
                source_name=source_name or path.name,
                source_format=imported.format,
                source_encoding=imported.encoding,
                rights=rights,
                derived_from=derived_from,
                minhash=fp.minhash,
                sketch=sketch.to_bytes(),
                import_report=public_report(imported.report, names),
                registered_at=now,
                log_index=-1,
                certificate="",
            )
            s.add(row)
            s.flush()
            record = registration_record(row)
            if linked:
                record["similar_to"] = linked
            payload_title: object = row.title
            if visibility == "private":
                s.add(
                    DatasetMetadataRow(
                        dataset_id=row.id, visibility="private", **EMPTY_METADATA, updated_at=now
                    )
                )
                public = {k: v for k, v in record.items() if k in PUBLIC_WHEN_PRIVATE} | {
                    "visibility": "private"
                }
                sealed = {k: v for k, v in record.items() if k not in PUBLIC_WHEN_PRIVATE}
                entry = seal.append(
                    node.log, s, "dataset.registered", public, sealed=sealed, actor=actor, audience=[row.id]
                )
                payload_title = entry.body["data"]["title"]  # the same commitment: one opening checks both
            else:
                entry = node.log.append(s, "dataset.registered", record, actor=actor)
            row.log_index = entry.index
            payload = certificate_payload(node, row, owner)
            payload["title"] = payload_title
            row.certificate = sign_certificate(node.key, payload)
            reindex_dataset(s, row.id)
            if on_registered is not None:
                on_registered(s, row)
            node.log.checkpoint(s)
            dataset = Dataset.of(row)
        node.store.put(ready, sha)
    return Registration(dataset, created=True, report={**imported.report, "similar_to": linked})


def public_report(report: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """The import report as stored and logged: the encoding and every decision, with no cell value
    and no column name (a column is named by its 0-based position, ``column_index``), so a private
    dataset's log entry names none of its fields."""
    out = {k: v for k, v in report.items() if k not in ("decisions", "similar_to")}
    decisions = []
    for d in report.get("decisions", []):
        kept = {k: v for k, v in d.items() if k not in ("samples", "column")}
        if d.get("column") in columns:
            kept["column_index"] = columns.index(d["column"])
        decisions.append(kept)
    out["decisions"] = decisions
    return out


def _stored_sketch(node: Node, row: DatasetRow, current: int) -> Sketch | None:
    """The dataset's sketch, recomputed from its canonical file when missing or made by another
    DuckDB hash (see ``catalog.sketch``); None when the file is gone."""
    if row.sketch is not None:
        stored = Sketch.of(bytes(row.sketch))
        if stored.canary == current:
            return stored
    if not node.store.exists(row.file_sha256):
        return None
    columns = [(str(c["name"]), str(c["type"])) for c in row.columns]
    fresh = sketch_parquet(Path(node.store.url(row.file_sha256)), columns)
    row.sketch = fresh.to_bytes()
    return fresh


def _check_overlap(
    node: Node, session: Session, owner: PartyRow, sketch: Sketch, rows: int
) -> list[dict[str, Any]]:
    """Refuses data that is substantially another owner's dataset (after edits: row subsets,
    shuffles, dropped/renamed/reordered columns, small perturbations, format changes); returns the
    owner's own datasets it overlaps (linked in the log entry). The refusal names the earlier dataset
    only when the registering party may see it (policy rule 2); otherwise it names nothing."""
    current = sketch.canary
    linked: list[dict[str, Any]] = []
    if density(sketch, rows) < MIN_DENSITY:
        return linked  # categorical data whose combinations recur in any sample: not evidence
    candidates = session.scalars(select(DatasetRow).order_by(DatasetRow.registered_at, DatasetRow.id))
    best: tuple[float, DatasetRow] | None = None
    for row in candidates:
        earlier = _stored_sketch(node, row, current)
        if earlier is None or density(earlier, row.rows) < MIN_DENSITY:
            continue
        score = overlap(sketch, earlier)
        if score is None or score < OVERLAP_THRESHOLD:
            continue
        if row.owner_id == owner.id:
            linked.append({"dataset_id": row.id, "overlap": round(score, 4)})
        elif best is None or score > best[0]:
            best = (score, row)
    if best is None:
        return linked
    score, row = best
    if decide(session, Party.of(owner), "read_metadata", row.id).allow:
        raise NotOriginal(
            f"refused: {score:.0%} of the data's normalized cell pairs match dataset {row.id} "
            f"({row.title!r}) registered by another party, certificate at log index {row.log_index}; "
            "register only data you hold rights to",
            dataset_id=row.id,
            similarity=round(score, 4),
            certificate=row.certificate,
        )
    raise NotOriginal(
        f"refused: {score:.0%} of the data's normalized cell pairs match a dataset registered by "
        "another party; register only data you hold rights to",
        dataset_id="",
        similarity=round(score, 4),
        certificate="",
    )


def _check_originality(session: Session, owner: PartyRow, signature: bytes) -> None:
    others = session.execute(select(DatasetRow.id, DatasetRow.minhash).where(DatasetRow.owner_id != owner.id))
    hits = similar(signature, ((i, bytes(m)) for i, m in others), SIMILARITY_THRESHOLD)
    if hits:
        first, score = hits[0]
        earlier = get_dataset_row(session, first)
        if not decide(session, Party.of(owner), "read_metadata", first).allow:
            raise NotOriginal(
                f"refused: the data is {score:.0%} similar to a dataset registered by another party; "
                "register only data you hold rights to",
                dataset_id="",
                similarity=round(score, 4),
                certificate="",
            )
        raise NotOriginal(
            f"refused: the data is {score:.0%} similar to dataset {first} ({earlier.title!r}) registered by "
            f"another party, certificate at log index {earlier.log_index}; "
            "register only data you hold rights to",
            dataset_id=first,
            similarity=round(score, 4),
            certificate=earlier.certificate,
        )


def registration_record(row: DatasetRow) -> dict[str, object]:
    """What the ``dataset.registered`` log entry says about the dataset."""
    return {
        "dataset_id": row.id,
        "owner": row.owner_id,
        "title": row.title,
        "license": row.license,
        "digest": row.digest,
        "schema_hash": row.schema_hash,
        "rows": row.rows,
        "columns": row.columns,
        "file_sha256": row.file_sha256,
        "size_bytes": row.size_bytes,
        "rights": row.rights,
        "derived_from": row.derived_from,
        "source": {"name": row.source_name, "format": row.source_format, "encoding": row.source_encoding},
        "import": row.import_report,
    }


PUBLIC_WHEN_PRIVATE = frozenset({"dataset_id", "digest", "file_sha256"})
"""What a private dataset's registration entry shows in the clear: its id and content digests, which
say nothing to anyone who does not already hold the data. Everything else is sealed."""
EMPTY_METADATA: dict[str, Any] = {
    "description": "",
    "keywords": [],
    "temporal_coverage": None,
    "spatial_coverage": None,
    "languages": [],
    "fields": {},
    "rai": {},
}


def certificate_payload(node: Node, row: DatasetRow, owner: PartyRow) -> dict[str, object]:
    return {
        "v": CERT_VERSION,
        "iss": node.origin,
        "dataset_id": row.id,
        "title": row.title,
        "digest": row.digest,
        "schema_hash": row.schema_hash,
        "rows": row.rows,
        "file_sha256": row.file_sha256,
        "owner": {"id": owner.id, "name": owner.name},
        "rights": row.rights,
        "license": row.license,
        "derived_from": row.derived_from,
        "source": _certified_source(row),
        "registered_at": iso(row.registered_at),
        "log_index": row.log_index,
    }


def _certified_source(row: DatasetRow) -> dict[str, Any]:
    """The certificate's record of how the file was read: format, encoding and the evidence."""
    encoding = (row.import_report or {}).get("encoding") or {}
    out: dict[str, Any] = {"format": row.source_format, "encoding": row.source_encoding}
    if encoding.get("by"):
        out["encoding_by"] = encoding["by"]
    evidence = encoding.get("evidence") or {}
    scores = {k: v.get("score") for k, v in evidence.items() if isinstance(v, dict) and "score" in v}
    if scores:
        out["encoding_scores"] = scores
    return out
