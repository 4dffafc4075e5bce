"""A snapshot of everything a node holds, to assert that a refused request changed nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace

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


def assert_only_denials(ex: Exchange, before: State, denials: int = 1) -> None:
    """Nothing changed since ``before`` but ``denials`` ``access.denied`` entries of the policy
    (each committed with its own checkpoint): a refused party is logged, nothing else."""
    after = snapshot(ex)
    expected = replace(
        before, log_entries=before.log_entries + denials, checkpoints=before.checkpoints + denials
    )
    assert after == expected
    with ex.session() as s:
        q = select(LogEntryRow.event).order_by(LogEntryRow.idx.desc()).limit(denials) if denials else None
        events = list(s.scalars(q)) if q is not None else []
    assert events == ["access.denied"] * denials
