"""The node kernel: settings, database engine, sessions and transactions, the transparency log,
the content store, staging and the node key.

Every service takes ``node: Node`` as its first parameter and needs nothing else from the node.
Nothing here imports a service: what runs after a registration (classification, the quality
report) is installed as :class:`RegistrationHook` by the composition root
(:class:`dataex.exchange.Exchange`), so every way into the catalog (register, upload, Croissant
import, an anonymized release) gets the same analysis without climbing up the layers.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dataex.config import Settings
from dataex.db import engine as db
from dataex.db.models import DatasetRow, LogHeadRow, NodeRow
from dataex.errors import NodeExists, NodeNeedsUpgrade, NodeNotInitialized
from dataex.identity.keys import NodeKey
from dataex.identity.parties import insert_party, new_id
from dataex.ledger import seal
from dataex.ledger.log import TransparencyLog, utc_now
from dataex.storage.staging import Staging
from dataex.storage.store import FsspecStore, Store


@dataclass(frozen=True)
class RegistrationHook:
    """Work that runs after a new dataset's registration has committed.

    ``phase`` names it in an upload's progress (e.g. ``"classifying"``); ``run(node, dataset_id)``
    does it in its own transaction(s), each step logged by the service it calls.
    """

    phase: str
    run: Callable[[Node, str], object]


class Node:
    """One dataex node's kernel. Build it with ``Node.init(...)`` or ``Node.open(...)``."""

    def __init__(self, settings: Settings, *, engine: Engine, key: NodeKey, node: NodeRow) -> None:
        self.settings = settings
        self.engine = engine
        self._sessions: sessionmaker[Session] = db.session_factory(engine)
        self._writers: sessionmaker[Session] = db.session_factory(engine, write=True)
        self.key = key
        self.node_id = node.id
        self.name = node.name
        self.origin = node.origin
        self.store: Store = FsspecStore(settings.resolved_store_url)
        self.staging = Staging(settings.staging_dir)
        self.log = TransparencyLog(key, node.origin, sealer=seal.private_datasets)
        self.registration_hooks: list[RegistrationHook] = []

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def init(cls, settings: Settings | None = None, **options: Any) -> tuple[Self, str]:
        """Creates a node; returns it and the operator's API token (shown once)."""
        settings = _settings(settings, options)
        home = settings.home
        if settings.config_path.exists() or settings.key_path.exists():
            raise NodeExists(f"{home} already holds a dataex node; open it, or pick another --home")
        created_home = not home.exists()
        private_umask()
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
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
            opened = cls(settings, engine=engine, key=key, node=node)
            with opened.transaction() as s:
                s.add(node)
                s.add(LogHeadRow(id=1, size=0, frontier=[]))
                s.flush()
                opened.log.append(
                    s,
                    "node.initialized",
                    {"node_id": node_id, "name": node.name, "origin": node.origin, "public_key": key.jwk()},
                    actor="operator",
                )
                operator, token = insert_party(
                    s, name="operator", kind="other", role="operator", token_ttl_days=settings.token_ttl_days
                )
                opened.log.append(
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
                opened.log.checkpoint(s)
            _write_private(settings.config_path, json.dumps(_persisted(settings), indent=2))
            settings.staging_dir.mkdir(exist_ok=True)
        except BaseException:
            engine.dispose()
            settings.key_path.unlink(missing_ok=True)
            if created_home:
                shutil.rmtree(home, ignore_errors=True)
            raise
        return opened, token

    @classmethod
    def open(cls, settings: Settings | None = None, **options: Any) -> Self:
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
    def _opened(cls, settings: Settings, engine: Engine) -> Self:
        private_umask()  # what an opened node writes (store, staging, extracts' files) stays private
        key = NodeKey.load(settings.key_path)
        with db.session_factory(engine)() as s:
            node = s.scalars(select(NodeRow)).one()
        opened = cls(settings, engine=engine, key=key, node=node)
        opened.recover()
        return opened

    @classmethod
    def upgrade(cls, settings: Settings | None = None, **options: Any) -> tuple[Self, str | None, str]:
        """Brings an existing node's database to the newest migration and logs ``node.upgraded``.

        Returns the opened node and the migrations it went from and to (equal: nothing to do).
        """
        settings, engine = _existing(_settings(settings, options))
        before, head = db.current_revision(engine), db.head_revision()
        if before != head:
            db.upgrade(engine)
        opened = cls._opened(settings, engine)
        if before != head:
            with opened.transaction() as s:
                opened.log.append(s, "node.upgraded", {"from": before, "to": head}, actor="operator")
                opened.log.checkpoint(s)
        return opened, before, head

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
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


PRIVATE_UMASK = 0o077  # the node's files 0600, its folders 0700 (docs/security.md)


def private_umask() -> None:
    """Makes every file and folder this process creates from now on private to its user: the node
    home, its database, store, key, staging and logs (``audit verify`` checks them)."""
    os.umask(PRIVATE_UMASK)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
