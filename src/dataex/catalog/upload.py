"""Registering an uploaded file: the one path the HTTP API and the web console share.

An upload arrives as a byte stream with the client's file name. ``check_upload_name`` refuses a
name whose suffix no importer reads (before any byte is stored); ``copy_limited`` copies the
stream in chunks and refuses one past ``max_bytes`` (``FileTooLarge``, HTTP 413; the node's limit
is ``Settings.max_upload_bytes``); ``register_upload`` does both inside a
staging work directory, registers the copy, then (``analyze``) classifies it and scores its
quality. Each phase is reported to ``progress`` so that a caller running it in the background can
show how far it got. Nothing is stored when a check fails: the staging directory is removed
whatever happens, and registration commits with its log entry or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal

from dataex.catalog import registration
from dataex.catalog.datasets import RIGHTS, Dataset
from dataex.errors import FileTooLarge, InvalidInput
from dataex.policy import check
from dataex.storage.importer import SUFFIXES

if TYPE_CHECKING:
    from dataex.identity.parties import Party
    from dataex.node import Node

CHUNK: Final = 1 << 20
Phase = Literal["receiving", "registering", "classifying", "scoring", "done"]
PHASES: Final[tuple[Phase, ...]] = ("receiving", "registering", "classifying", "scoring", "done")
Progress = Callable[[str, int], None]
"""Called with a phase of ``PHASES`` and the number of bytes received so far."""


@dataclass(frozen=True)
class Uploaded:
    """A registered upload: the dataset, and whether it is new (``False``: the same data was there)."""

    dataset: Dataset
    created: bool


def check_upload_name(filename: str | None) -> tuple[str, str]:
    """The safe base name of an upload and its suffix; ``InvalidInput`` for an unreadable type."""
    name = Path(filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"unsupported file type {suffix or '(none)'}; upload one of {', '.join(sorted(SUFFIXES))}"
        )
    return name, suffix


def copy_limited(
    source: IO[bytes], target: IO[bytes], *, max_bytes: int, progress: Progress | None = None
) -> int:
    """Copies ``source`` to ``target`` in chunks; ``FileTooLarge`` once more than ``max_bytes`` came."""
    copied = 0
    while chunk := source.read(CHUNK):
        copied += len(chunk)
        if copied > max_bytes:
            raise FileTooLarge(
                f"the upload is larger than the limit of {max_bytes} bytes"
                " (the node's max_upload_bytes, DATAEX_MAX_UPLOAD_BYTES)",
                limit=max_bytes,
            )
        target.write(chunk)
        if progress is not None:
            progress("receiving", copied)
    return copied


def parse_rights(text: str) -> list[str]:
    """``"holding, processing_use"`` as a list; ``InvalidInput`` names an unknown right."""
    rights = [r.strip() for r in text.split(",") if r.strip()]
    unknown = [r for r in rights if r not in RIGHTS]
    if unknown:
        raise InvalidInput(f"unknown rights {unknown}; use some of {', '.join(RIGHTS)}")
    return rights


def register_upload(
    node: Node,
    source: IO[bytes],
    *,
    filename: str | None,
    actor: Party,
    title: str,
    license: str,
    rights: list[str] | None = None,
    derived_from: str | None = None,
    owner: str | None = None,
    analyze: bool = True,
    max_bytes: int | None = None,
    progress: Progress | None = None,
    visibility: str = "public",
) -> Uploaded:
    """Registers the bytes of ``source`` as a dataset of ``owner`` (default: ``actor``).

    A party registers for itself; only the operator names another owner. ``max_bytes`` defaults
    to the node's ``max_upload_bytes``.
    """
    check(node, actor, "register_for", owner or actor.id)
    name, suffix = check_upload_name(filename)
    if not title.strip() or not license.strip():
        raise InvalidInput("an upload needs a title and a license")
    report = progress or (lambda _phase, _bytes: None)
    with node.staging.work() as work:
        local = work.dir / f"upload{suffix}"
        with local.open("wb") as out:
            limit = node.settings.max_upload_bytes if max_bytes is None else max_bytes
            size = copy_limited(source, out, max_bytes=limit, progress=report)
        report("registering", size)
        reg = registration.register(
            node,
            local,
            owner_id=owner or actor.id,
            acting=actor,
            title=title.strip(),
            license=license.strip(),
            rights=rights,
            derived_from=derived_from or None,
            actor=actor.id,
            source_name=name,
            analyze=analyze,
            progress=lambda phase: report(phase, size),
            visibility=visibility,
        )
    report("done", size)
    return Uploaded(dataset=reg.dataset, created=reg.created)

