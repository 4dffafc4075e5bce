"""The Exchange facade and composition root: a :class:`~dataex.node.Node` with the services wired.

The SDK, the CLI, the HTTP API and the web console open an ``Exchange``; services take the
``Node`` kernel underneath it and never import this module. Opening an ``Exchange`` installs what
runs after every registration (classification, then the quality report, which needs it) as
registration hooks; the methods below are one-line doors into the services, each taking the
same viewer rules as the API (one door per room).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from dataex.audit import Report, verify_node
from dataex.catalog import certificates, datasets, registration
from dataex.catalog.datasets import CatalogViewer, Dataset
from dataex.catalog.registration import Registration
from dataex.config import Settings
from dataex.db.models import NodeRow
from dataex.identity import parties
from dataex.identity.keys import NodeKey
from dataex.identity.parties import Party, insert_party
from dataex.ledger import seal
from dataex.node import Node, RegistrationHook
from dataex.privacy.classify import classify_dataset
from dataex.quality.service import evaluate
from dataex.storage.importer import ImportOptions

ANALYSIS: tuple[RegistrationHook, ...] = (
    RegistrationHook("classifying", classify_dataset),
    RegistrationHook("scoring", evaluate),
)
"""What runs after every new registration, in order: the quality report reads the classification."""


class Exchange(Node):
    """One dataex node with its services. Build it with ``Exchange.init(...)`` or ``Exchange.open(...)``."""

    def __init__(self, settings: Settings, *, engine: Engine, key: NodeKey, node: NodeRow) -> None:
        super().__init__(settings, engine=engine, key=key, node=node)
        self.registration_hooks.extend(ANALYSIS)

    # -- parties -------------------------------------------------------------------------------
    def create_party(self, name: str, *, kind: str, role: str, actor: str = "operator") -> tuple[Party, str]:
        """Adds a party; returns it and its API token (the node keeps only the token's hash)."""
        with self.transaction() as s:
            row, token = insert_party(
                s, name=name, kind=kind, role=role, token_ttl_days=self.settings.token_ttl_days
            )
            seal.append(  # the public log names no party: name, kind and role are sealed
                self.log,
                s,
                "party.added",
                {"party_id": row.id},
                sealed={"name": row.name, "kind": row.kind, "role": row.role},
                actor=actor,
                audience=[row.id],
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
        acting: Party | None = None,
        import_options: ImportOptions | None = None,
        visibility: str = "public",
    ) -> Registration:
        """Registers a file (``registration.register``); ``analyze`` runs the registration hooks;
        ``acting`` is the registering party (``None``: the local operator), checked by the policy;
        ``import_options`` are the user's import choices (encoding, skipped rows, comment, strict)."""
        return registration.register(
            self,
            path,
            owner_id=owner,
            title=title,
            license=license,
            rights=rights,
            derived_from=derived_from,
            actor=actor,
            source_name=source_name,
            analyze=analyze,
            acting=acting,
            import_options=import_options,
            visibility=visibility,
        )

    def list_datasets(self, *, owner: str | None = None, viewer: CatalogViewer = None) -> list[Dataset]:
        """The catalog's listing for ``viewer`` (``None``: the local operator, who sees every one)."""
        return datasets.list_datasets(self, owner=owner, viewer=viewer)

    def get_dataset(self, dataset_id: str, *, viewer: CatalogViewer = None) -> Dataset:
        """One dataset for ``viewer``; a private one of another party answers as an unknown id."""
        return datasets.get_dataset(self, dataset_id, viewer=viewer)

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

    def audit(self, *, checkpoints: list[str] | None = None, witnesses: list[str] | None = None) -> Report:
        return verify_node(self, external_checkpoints=checkpoints or [], witnesses=witnesses or [])
