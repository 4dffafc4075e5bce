"""A snapshot of everything a node holds, to assert that a refused request changed nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from dataex.db.models import CheckpointRow, DatasetRow, LogEntryRow, PartyRow
from dataex.exchange import Exchange


@dataclass(frozen=True)
class State:
    parties: int
    datasets: int
    log_entries: int
    checkpoints: int
    store_files: tuple[str, ...]
    staging: tuple[str, ...]


def snapshot(ex: Exchange) -> State:
    with ex.session() as s:
        counts = [
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (PartyRow, DatasetRow, LogEntryRow, CheckpointRow)
        ]
    staging = ex.settings.staging_dir
    return State(
        *counts,
        store_files=tuple(ex.store.list()),
        staging=tuple(sorted(p.name for p in staging.iterdir())) if staging.exists() else (),
    )
