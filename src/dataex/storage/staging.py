"""Staging: where files are built before they enter the store, and crash recovery.

Each piece of work gets a directory ``<staging>/<token>/`` guarded by an exclusive ``flock`` on
``<staging>/<token>.lock`` for as long as the work runs. The lock dies with its process, so after a
crash (even ``kill -9``) the next ``recover()`` finds the abandoned directory unlocked. A staged file
that reached the *ready* state is named ``<sha256>.ready``: if the database references that digest
the file is moved into the store (the crash fell between the commit and the move), otherwise it
is deleted (the crash fell before the commit). Everything else left behind is deleted.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dataex.storage.store import Store


@dataclass
class StagedWork:
    """One piece of staged work: a private directory and its ready files."""

    dir: Path
    ready: dict[str, Path] = field(default_factory=dict)

    def mark_ready(self, path: Path, sha256: str) -> Path:
        """Rename a finished file to ``<sha256>.ready``: recoverable once the database commits."""
        dest = self.dir / f"{sha256}.ready"
        with path.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(path, dest)
        self.ready[sha256] = dest
        return dest


class Staging:
    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def work(self) -> Iterator[StagedWork]:
        """A locked private directory, removed when the block ends, whatever happens in it."""
        self.root.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        # lock first, under a temporary name, then rename: recover() never sees an unlocked new lock
        tmp_lock = self.root / f".{token}.locktmp"
        fd = os.open(tmp_lock, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        lock = self.root / f"{token}.lock"
        os.replace(tmp_lock, lock)
        work_dir = self.root / token
        work_dir.mkdir()
        try:
            yield StagedWork(work_dir)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
            lock.unlink(missing_ok=True)
            os.close(fd)

    def recover(self, store: Store, is_referenced: Callable[[str], bool]) -> list[str]:
        """Finish or discard work abandoned by crashed processes; returns what was done."""
        done: list[str] = []
        if not self.root.exists():
            return done
        for lock in sorted(self.root.glob("*.lock")):
            fd = os.open(lock, os.O_RDWR)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # still running
                work_dir = self.root / lock.stem
                for ready in sorted(work_dir.glob("*.ready")) if work_dir.exists() else []:
                    sha = ready.stem
                    if is_referenced(sha):
                        store.put(ready, sha)
                        done.append(f"moved {sha} into the store")
                    else:
                        done.append(f"discarded uncommitted {sha}")
                shutil.rmtree(work_dir, ignore_errors=True)
                lock.unlink(missing_ok=True)
            finally:
                os.close(fd)
        for stray in self.root.glob(".*.locktmp"):
            fd = os.open(stray, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            else:
                stray.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return done
