"""Long work started from a page runs in a background thread; the page polls its progress.

``Tasks`` is a small in-process registry (one per app, on ``app.state.web_tasks``): ``start`` runs
a function in a thread pool and hands it a ``report(phase, bytes)`` callback; the progress page
polls ``get`` with htmx (or reloads without JavaScript). A task is visible to the party that
started it only. Finished tasks are kept for ``KEEP_SECONDS`` and at most ``KEEP`` of them.

Known limit: the registry lives in the worker process that started the task, so with several
workers behind a load balancer the poll must reach the same worker (sticky sessions), or a task
table in the database should replace this registry.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Final

from dataex.catalog.upload import PHASES
from dataex.errors import DataexError, NotFound

KEEP: Final = 200
KEEP_SECONDS: Final = 3600.0
Report = Callable[[str, int], None]


@dataclass(frozen=True)
class Task:
    """A snapshot of one background task."""

    id: str
    party_id: str
    label: str
    phase: str
    received: int
    started: float
    dataset_id: str | None = None
    error: str | None = None
    status: int = 200

    @property
    def finished(self) -> bool:
        return self.phase == "done" or self.error is not None

    @property
    def step(self) -> int:
        """How many of the phases are behind (for a ``<progress>`` of ``len(PHASES) - 1``)."""
        return PHASES.index(self.phase) if self.phase in PHASES else 0


class Tasks:
    def __init__(self, *, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataex-web-task")
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._futures: dict[str, Future[None]] = {}

    def start(self, party_id: str, label: str, work: Callable[[Report], str]) -> Task:
        """Runs ``work(report)`` in the background; its return value is the dataset id it made."""
        task = Task(
            id="tsk_" + secrets.token_hex(8),
            party_id=party_id,
            label=label,
            phase=PHASES[0],
            received=0,
            started=time.time(),
        )
        with self._lock:
            self._prune()
            self._tasks[task.id] = task
            self._futures[task.id] = self._pool.submit(self._run, task.id, work)
        return task

    def get(self, task_id: str, *, party_id: str) -> Task:
        """The task, for the party that started it; ``NotFound`` for anyone else."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.party_id != party_id:
            raise NotFound(f"no task {task_id!r} of yours on this server")
        return task

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        """Blocks until the task ends (tests, and shutdown)."""
        with self._lock:
            future = self._futures[task_id]
        future.result(timeout=timeout)
        with self._lock:
            return self._tasks[task_id]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _update(self, task_id: str, **changes: object) -> None:
        with self._lock:
            self._tasks[task_id] = replace(self._tasks[task_id], **changes)  # type: ignore[arg-type]

    def _run(self, task_id: str, work: Callable[[Report], str]) -> None:
        def report(phase: str, received: int) -> None:
            self._update(task_id, phase=phase, received=received)

        try:
            dataset_id = work(report)
        except DataexError as e:
            self._update(task_id, error=e.message, status=e.status)
            return
        except BaseException:
            self._update(task_id, error="internal error", status=500)
            raise
        self._update(task_id, phase="done", dataset_id=dataset_id)

    def _prune(self) -> None:
        now = time.time()
        old = [t.id for t in self._tasks.values() if t.finished and now - t.started > KEEP_SECONDS]
        done = sorted((t for t in self._tasks.values() if t.finished), key=lambda t: t.started)
        old += [t.id for t in done[: max(0, len(done) - KEEP)]]
        for task_id in old:
            self._tasks.pop(task_id, None)
            self._futures.pop(task_id, None)
