"""Registration: import a file, digest it, check originality, certify it and log it, atomically.

Order of work, chosen so that a crash at any point leaves the node consistent:
1. import into a locked staging directory (nothing visible yet);
2. digest and MinHash in one streaming pass;
3. one database transaction: lock the log, check idempotency and originality, insert the dataset,
   append ``dataset.registered``, sign the certificate, sign a checkpoint;
4. move the staged file into the store. A crash between 3 and 4 is finished by staging recovery.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.catalog.certificates import CERT_VERSION, sign_certificate
from dataex.catalog.datasets import RIGHTS, Dataset, get_dataset_row
from dataex.catalog.digest import digest_parquet, schema_hash
from dataex.catalog.minhash import similar
from dataex.catalog.search import reindex_dataset
from dataex.db.models import DatasetRow, PartyRow
from dataex.errors import InvalidInput, NotOriginal, PartyNotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import iso, utc_now
from dataex.policy import check, decide
from dataex.storage.importer import import_table
from dataex.storage.store import sha256_file

if TYPE_CHECKING:
    from dataex.node import Node

SIMILARITY_THRESHOLD = 0.8


@dataclass(frozen=True)
class Registration:
    dataset: Dataset
    created: bool


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
) -> Registration:
    """Registers the table in ``path`` for ``owner_id``; see the module docstring for the steps.

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
) -> Registration:
    rights = list(rights) if rights is not None else list(RIGHTS)
    title, license = _validate(title, license, rights)
    with node.session() as s:
        _check_parties(s, owner_id, derived_from)
    with node.staging.work() as work:
        canonical = work.dir / "canonical.parquet"
        scratch = work.dir / "scratch"
        scratch.mkdir()
        imported = import_table(path, canonical, work_dir=scratch)
        names = [c.name for c in imported.columns]
        fp = digest_parquet(canonical, names)
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
            _check_originality(s, owner_id, fp.minhash)
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
                registered_at=now,
                log_index=-1,
                certificate="",
            )
            s.add(row)
            s.flush()
            entry = node.log.append(s, "dataset.registered", registration_record(row), actor=actor)
            row.log_index = entry.index
            row.certificate = sign_certificate(node.key, certificate_payload(node, row, owner))
            reindex_dataset(s, row.id)
            if on_registered is not None:
                on_registered(s, row)
            node.log.checkpoint(s)
            dataset = Dataset.of(row)
        node.store.put(ready, sha)
    return Registration(dataset, created=True)


def _check_originality(session: Session, owner_id: str, signature: bytes) -> None:
    others = session.execute(select(DatasetRow.id, DatasetRow.minhash).where(DatasetRow.owner_id != owner_id))
    hits = similar(signature, ((i, bytes(m)) for i, m in others), SIMILARITY_THRESHOLD)
    if hits:
        first, score = hits[0]
        earlier = get_dataset_row(session, first)
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
        "registered_at": iso(row.registered_at),
        "log_index": row.log_index,
    }
