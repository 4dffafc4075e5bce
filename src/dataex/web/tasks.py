"""Uploads registered in the background: the work runs in a thread, its progress lives in the database.

``Tasks`` (one per app, on ``app.state.web_tasks``) runs an upload's registration in a thread pool
of the worker process that received the file, and writes the task's state to the table
``web_upload_tasks`` as it goes: receiving → registering → classifying → scoring → done, or failed.
Any worker answers the progress page's polls from that row (``get_task``), so ``dataex serve
--workers N`` needs no sticky sessions. A task is visible to the party that started it only.

While a task runs, its worker touches ``updated_at`` every ``HEARTBEAT`` seconds. A reader that
finds an unfinished task whose worker is gone (a process of this host that no longer exists) or
silent for ``STALE_AFTER`` marks it failed with ``INTERRUPTED`` and shows that: tasks are failed on
read, not at start-up, because a worker starting next to live siblings cannot know which
unfinished tasks are theirs. The worker that ran a task has the last word: if it finishes after
all, its outcome replaces the presumed interruption.

Task rows are not ledger state changes and get no log entry; the registration a task runs commits
with its own log entry, as through the API.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dataex.catalog.upload import PHASES
from dataex.db.models import WebUploadTaskRow
from dataex.errors import DataexError, NotFound
from dataex.exchange import Exchange
from dataex.ledger.log import utc_now

log = logging.getLogger(__name__)

FINAL: Final = ("done", "failed")
HEARTBEAT: Final = 5.0
"""Seconds between two heartbeats of a running task."""
STALE_AFTER: Final = timedelta(minutes=2)
"""A running task silent for this long is reported failed (its worker died or hangs)."""
PROGRESS_EVERY: Final = 0.5
"""Seconds between two writes of the received byte count within one phase."""
INTERRUPTED: Final = "interrupted: the server process registering this upload stopped before it finished"
INTERNAL: Final = "internal error"
Report = Callable[[str, int], None]


@dataclass(frozen=True)
class UploadTask:
    """A snapshot of one upload task."""

    id: str
    party_id: str
    label: str
    state: str
    received: int
    worker: str
    updated: datetime
    dataset_id: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, r: WebUploadTaskRow) -> UploadTask:
        return cls(
            r.id, r.party_id, r.title, r.state, r.received, r.worker, r.updated_at, r.dataset_id, r.error
        )

    @property
    def finished(self) -> bool:
        return self.state in FINAL

    @property
    def interrupted(self) -> bool:
        return self.error == INTERRUPTED

    @property
    def step(self) -> int:
        """How many of the phases are behind (for a ``<progress>`` of ``len(PHASES) - 1``)."""
        return PHASES.index(self.state) if self.state in PHASES else 0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- the table ------------------------------------------------------------------------------------
def create_task(ex: Exchange, *, party_id: str, title: str) -> UploadTask:
    now = utc_now()
    row = WebUploadTaskRow(
        id="tsk_" + secrets.token_hex(8), party_id=party_id, title=title, state=PHASES[0], received=0,
        worker=worker_id(), created_at=now, updated_at=now,
    )  # fmt: skip
    with ex.transaction() as s:
        s.add(row)
    return UploadTask.of(row)


def get_task(ex: Exchange, task_id: str, *, party_id: str, now: datetime | None = None) -> UploadTask:
    """The task, for the party that started it (``NotFound`` for anyone else); an unfinished task
    whose worker is gone is marked failed first."""
    with ex.session() as s:
        row = s.get(WebUploadTaskRow, task_id)
        if row is None or row.party_id != party_id:
            raise NotFound(f"no upload task {task_id!r} of yours")
        task = UploadTask.of(row)
    if task.finished or not _gone(task, now or utc_now()):
        return task
    with ex.transaction() as s:
        row = _locked(s, task_id)
        if row.state not in FINAL and row.updated_at == task.updated:  # no sign of life since we read
            row.state, row.error, row.updated_at = "failed", INTERRUPTED, utc_now()
        return UploadTask.of(row)


def _locked(s: Session, task_id: str) -> WebUploadTaskRow:
    return s.scalars(select(WebUploadTaskRow).where(WebUploadTaskRow.id == task_id).with_for_update()).one()


def _gone(task: UploadTask, now: datetime) -> bool:
    if now - task.updated > STALE_AFTER:
        return True
    host, _, pid = task.worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user: alive
        return False
    return False


def _advance(ex: Exchange, task_id: str, *, state: str, received: int | None = None) -> None:
    """A running task's progress; a finished task is left as it is."""
    values: dict[str, object] = {"state": state, "updated_at": utc_now()}
    if received is not None:
        values["received"] = received
    with ex.transaction() as s:
        s.execute(
            update(WebUploadTaskRow)
            .where(WebUploadTaskRow.id == task_id, WebUploadTaskRow.state.not_in(FINAL))
            .values(**values)
        )


def _beat(ex: Exchange, task_id: str) -> None:
    with ex.transaction() as s:
        s.execute(
            update(WebUploadTaskRow)
            .where(WebUploadTaskRow.id == task_id, WebUploadTaskRow.state.not_in(FINAL))
            .values(updated_at=utc_now())
        )


def _finish(ex: Exchange, task_id: str, *, dataset_id: str | None = None, error: str | None = None) -> None:
    """The worker's outcome: it replaces whatever a reader presumed meanwhile."""
    with ex.transaction() as s:
        row = _locked(s, task_id)
        row.state = "failed" if error is not None else "done"
        row.dataset_id, row.error, row.updated_at = dataset_id, error, utc_now()


# -- the runner -------------------------------------------------------------------------------------
class Tasks:
    """Runs upload tasks in this process's threads; their state is in the node's database."""

    def __init__(self, ex: Exchange, *, threads: int = 2, heartbeat: float = HEARTBEAT) -> None:
        self._ex = ex
        self._heartbeat = heartbeat
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dataex-web-task")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[None]] = {}

    def start(self, party_id: str, label: str, work: Callable[[Report], str]) -> UploadTask:
        """Runs ``work(report)`` in the background; its return value is the dataset id it made."""
        task = create_task(self._ex, party_id=party_id, title=label)
        with self._lock:
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            self._futures[task.id] = self._pool.submit(self._run, task.id, work)
        return task

    def get(self, task_id: str, *, party_id: str) -> UploadTask:
        return get_task(self._ex, task_id, party_id=party_id)

    def wait(self, task_id: str, timeout: float | None = None) -> UploadTask:
        """Blocks until a task this process started ends (tests, and shutdown); returns its row."""
        with self._lock:
            future = self._futures.get(task_id)
        if future is not None:
            future.result(timeout=timeout)
        with self._ex.session() as s:
            row = s.get(WebUploadTaskRow, task_id)
            if row is None:
                raise NotFound(f"no upload task {task_id!r}")
            return UploadTask.of(row)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, task_id: str, work: Callable[[Report], str]) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._beat_until, args=(task_id, stop), name=f"dataex-beat-{task_id}")
        beat.start()
        try:
            dataset_id = work(self._reporter(task_id))
        except DataexError as e:
            _finish(self._ex, task_id, error=e.message)
            return
        except Exception:
            log.exception("upload task %s failed", task_id)
            _finish(self._ex, task_id, error=INTERNAL)
            return
        finally:
            stop.set()
            beat.join()
        _finish(self._ex, task_id, dataset_id=dataset_id)

    def _reporter(self, task_id: str) -> Report:
        """Writes each new phase, and the byte count at most every ``PROGRESS_EVERY`` seconds; "done"
        is left to ``_finish``, which writes it with the dataset id."""
        last_state: str = PHASES[0]
        last_at = 0.0

        def report(phase: str, received: int) -> None:
            nonlocal last_state, last_at
            now = time.monotonic()
            if phase == "done" or (phase == last_state and now - last_at < PROGRESS_EVERY):
                return
            last_state, last_at = phase, now
            _advance(self._ex, task_id, state=phase, received=received)

        return report

    def _beat_until(self, task_id: str, stop: threading.Event) -> None:
        while not stop.wait(self._heartbeat):
            _beat(self._ex, task_id)
