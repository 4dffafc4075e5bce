"""The Exchange facade: opens a node from its settings and wires the services together."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from dataex.audit import Report, verify_node
from dataex.catalog import certificates, registration
from dataex.catalog.datasets import Dataset, get_dataset_row, list_dataset_rows
from dataex.catalog.registration import Registration
from dataex.config import Settings
from dataex.db import engine as db
from dataex.db.models import DatasetRow, LogHeadRow, NodeRow
from dataex.errors import NodeExists, NodeNeedsUpgrade, NodeNotInitialized
from dataex.identity import parties
from dataex.identity.keys import NodeKey
from dataex.identity.parties import Party, insert_party, new_id
from dataex.ledger.log import TransparencyLog, utc_now
from dataex.privacy.classify import classify_dataset
from dataex.storage.staging import Staging
from dataex.storage.store import FsspecStore


class Exchange:
    """One dataex node. Build it with ``Exchange.init(...)`` or ``Exchange.open(...)``."""

    def __init__(self, settings: Settings, *, engine: Engine, key: NodeKey, node: NodeRow) -> None:
        self.settings = settings
        self.engine = engine
        self._sessions: sessionmaker[Session] = db.session_factory(engine)
        self._writers: sessionmaker[Session] = db.session_factory(engine, write=True)
        self.key = key
        self.node_id = node.id
        self.name = node.name
        self.origin = node.origin
        self.store = FsspecStore(settings.resolved_store_url)
        self.staging = Staging(settings.staging_dir)
        self.log = TransparencyLog(key, node.origin)

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def init(cls, settings: Settings | None = None, **options: Any) -> tuple[Exchange, str]:
        """Creates a node; returns it and the operator's API token (shown once)."""
        settings = _settings(settings, options)
        home = settings.home
        if settings.config_path.exists() or settings.key_path.exists():
            raise NodeExists(f"{home} already holds a dataex node; open it, or pick another --home")
        created_home = not home.exists()
        home.mkdir(parents=True, exist_ok=True)
        engine = db.make_engine(settings.resolved_db_url)
        try:
            if not db.is_empty(engine):
                raise NodeExists(
                    f"the database {_redact(settings.resolved_db_url)} already holds a dataex node"
                )
            key = NodeKey.generate(settings.key_path)
            db.upgrade(engine)
            node_id = new_id("node")
            node = NodeRow(
                id=node_id,
                name=settings.node_name,
                origin=f"dataex.local/{node_id}",
                public_key=key.public_raw,
                created_at=utc_now(),
            )
            ex = cls(settings, engine=engine, key=key, node=node)
            with ex.transaction() as s:
                s.add(node)
                s.add(LogHeadRow(id=1, size=0, frontier=[]))
                s.flush()
                ex.log.append(
                    s,
                    "node.initialized",
                    {"node_id": node_id, "name": node.name, "origin": node.origin, "public_key": key.jwk()},
                    actor="operator",
                )
                operator, token = insert_party(s, name="operator", kind="other", role="operator")
                ex.log.append(
                    s,
                    "party.added",
                    {
                        "party_id": operator.id,
                        "name": operator.name,
                        "kind": operator.kind,
                        "role": operator.role,
                    },
                    actor="operator",
                )
                ex.log.checkpoint(s)
            _write_private(settings.config_path, json.dumps(_persisted(settings), indent=2))
            ex.store.fs.makedirs(ex.store.root, exist_ok=True)
            settings.staging_dir.mkdir(exist_ok=True)
        except BaseException:
            engine.dispose()
            settings.key_path.unlink(missing_ok=True)
            if created_home:
                shutil.rmtree(home, ignore_errors=True)
            raise
        return ex, token

    @classmethod
    def open(cls, settings: Settings | None = None, **options: Any) -> Exchange:
        """Opens an existing node and finishes any work a crashed process left in staging."""
        settings, engine = _existing(_settings(settings, options))
        current, head = db.current_revision(engine), db.head_revision()
        if current != head:
            engine.dispose()
            raise NodeNeedsUpgrade(
                f"the node at {settings.home} is at database migration {current}; this dataex needs "
                f"{head}: back up the node, then run `dataex node upgrade --home {settings.home}`",
                current=current,
                needed=head,
            )
        return cls._opened(settings, engine)

    @classmethod
    def _opened(cls, settings: Settings, engine: Engine) -> Exchange:
        key = NodeKey.load(settings.key_path)
        with db.session_factory(engine)() as s:
            node = s.scalars(select(NodeRow)).one()
        ex = cls(settings, engine=engine, key=key, node=node)
        ex.recover()
        return ex

    @classmethod
    def upgrade(cls, settings: Settings | None = None, **options: Any) -> tuple[Exchange, str | None, str]:
        """Brings an existing node's database to the newest migration and logs ``node.upgraded``.

        Returns the opened node and the migrations it went from and to (equal: nothing to do).
        """
        settings, engine = _existing(_settings(settings, options))
        before, head = db.current_revision(engine), db.head_revision()
        if before != head:
            db.upgrade(engine)
        ex = cls._opened(settings, engine)
        if before != head:
            with ex.transaction() as s:
                ex.log.append(s, "node.upgraded", {"from": before, "to": head}, actor="operator")
                ex.log.checkpoint(s)
        return ex, before, head

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> list[str]:
        """Moves committed staged files into the store and drops uncommitted ones."""

        def referenced(sha: str) -> bool:
            with self.session() as s:
                return (
                    s.scalars(select(DatasetRow.id).where(DatasetRow.file_sha256 == sha)).first() is not None
                )

        return self.staging.recover(self.store, referenced)

    # -- parties -------------------------------------------------------------------------------
    def create_party(self, name: str, *, kind: str, role: str, actor: str = "operator") -> tuple[Party, str]:
        """Adds a party; returns it and its API token (the node keeps only the token's hash)."""
        with self.transaction() as s:
            row, token = insert_party(s, name=name, kind=kind, role=role)
            self.log.append(
                s,
                "party.added",
                {"party_id": row.id, "name": row.name, "kind": row.kind, "role": row.role},
                actor=actor,
            )
            self.log.checkpoint(s)
            return Party.of(row), token

    def list_parties(self) -> list[Party]:
        with self.session() as s:
            return parties.list_parties(s)

    def get_party(self, party_id: str) -> Party:
        with self.session() as s:
            return parties.get_party(s, party_id)

    def authenticate(self, token: str | None) -> Party:
        with self.session() as s:
            return parties.authenticate(s, token)

    # -- datasets ------------------------------------------------------------------------------
    def register(
        self,
        path: Path,
        *,
        owner: str,
        title: str,
        license: str,
        rights: list[str] | None = None,
        derived_from: str | None = None,
        actor: str = "operator",
        source_name: str | None = None,
        analyze: bool = True,
        on_registered: Callable[[Session, DatasetRow], None] | None = None,
    ) -> Registration:
        """Registers a file; then (``analyze``) classifies the new dataset, each step logged.

        ``on_registered`` runs in the registration's transaction (see ``registration.register``).
        """
        reg = registration.register(
            self,
            path,
            owner_id=owner,
            title=title,
            license=license,
            rights=rights,
            derived_from=derived_from,
            actor=actor,
            source_name=source_name,
            on_registered=on_registered,
        )
        if reg.created and analyze:
            analyze_dataset(self, reg.dataset.id)
        return reg

    def list_datasets(self, *, owner: str | None = None) -> list[Dataset]:
        with self.session() as s:
            return [Dataset.of(r) for r in list_dataset_rows(s, owner_id=owner)]

    def get_dataset(self, dataset_id: str) -> Dataset:
        with self.session() as s:
            return Dataset.of(get_dataset_row(s, dataset_id))

    def verify_certificate(self, token: str, *, public_key: bytes | None = None) -> dict[str, Any]:
        """Checks a certificate's signature and, with the node's own key, its dataset and log entry."""
        return certificates.check(self, token, public_key=public_key)

    # -- log -----------------------------------------------------------------------------------
    def latest_checkpoint(self) -> str:
        with self.session() as s:
            cp = self.log.latest_checkpoint(s)
            assert cp is not None  # init signs the first one
            return cp.note

    def prove_inclusion(self, index: int) -> dict[str, Any]:
        with self.session() as s:
            return self.log.prove_inclusion(s, index)

    def prove_consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        with self.session() as s:
            return self.log.prove_consistency(s, old_size, new_size)

    def audit(self, *, checkpoints: list[str] | None = None) -> Report:
        return verify_node(self, external_checkpoints=checkpoints or [])

    # -- sessions ------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session."""
        with self._sessions() as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with self._writers() as s, s.begin():
            yield s


def analyze_dataset(ex: Exchange, dataset_id: str) -> None:
    """What runs after every registration: classification first (the quality report needs it)."""
    from dataex.quality.service import evaluate

    classify_dataset(ex, dataset_id)
    evaluate(ex, dataset_id)


def _existing(settings: Settings) -> tuple[Settings, Engine]:
    """The settings saved with an existing node (unless overridden) and an engine on its database."""
    if not settings.config_path.exists():
        raise NodeNotInitialized(
            f"no dataex node at {settings.home}; create one with `dataex init --home {settings.home}`"
        )
    saved = json.loads(settings.config_path.read_text())
    settings = settings.model_copy(update={k: v for k, v in saved.items() if getattr(settings, k) is None})
    return settings, db.make_engine(settings.resolved_db_url)


def _settings(settings: Settings | None, options: dict[str, Any]) -> Settings:
    if settings is None:
        return Settings(**options)
    return settings.model_copy(update=options) if options else settings


def _persisted(settings: Settings) -> dict[str, Any]:
    return {"db_url": settings.db_url, "store_url": settings.store_url, "node_name": settings.node_name}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
