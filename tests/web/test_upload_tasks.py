"""Upload tasks in the database: any worker reads them, an interrupted one is reported failed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from dataex.db.models import LogEntryRow, WebUploadTaskRow
from dataex.exchange import Exchange
from dataex.ledger.log import utc_now
from dataex.web import tasks
from dataex.web.tasks import Report, Tasks, UploadTask, create_task, get_task, worker_id
from tests.web.conftest import Console, register, visits_csv


def log_size(ex: Exchange) -> int:
    with ex.session() as s:
        return s.scalar(select(func.count()).select_from(LogEntryRow)) or 0


def running_task(console: Console, *, worker: str, silent_for: timedelta = timedelta(0)) -> UploadTask:
    """A task in the scoring phase as another process left it: run by ``worker``, last heard of then."""
    task = create_task(console.ex, party_id=console.hospital.party.id, title="门诊")
    with console.ex.transaction() as s:
        row = s.get(WebUploadTaskRow, task.id)
        assert row is not None
        row.state, row.received, row.worker = "scoring", 1234, worker
        row.updated_at = utc_now() - silent_for
    return task


def ended_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_task_of_a_dead_worker_is_reported_failed_on_the_next_read(console: Console) -> None:
    host = worker_id().rpartition(":")[0]
    task = running_task(console, worker=f"{host}:{ended_pid()}")
    before = log_size(console.ex)
    client = console.client(console.hospital, lang="en")
    page = client.get(f"/provider/uploads/{task.id}")
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert "stopped before it finished" in page.text and "hx-get" not in page.text  # polling ends
    row = get_task(console.ex, task.id, party_id=console.hospital.party.id)
    assert row.state == "failed" and row.error == tasks.INTERRUPTED and row.interrupted
    client.cookies.set("lang", "zh_CN")
    assert "登记此上传的服务器进程在完成前已停止" in client.get(f"/provider/uploads/{task.id}/progress").text
    assert log_size(console.ex) == before  # a task row is not ledger state: no log entry


def test_a_silent_task_is_failed_only_after_the_timeout(console: Console) -> None:
    elsewhere = "another-host:4242"  # a process this host cannot check: only the heartbeat tells
    recent = running_task(console, worker=elsewhere, silent_for=tasks.STALE_AFTER / 2)
    silent = running_task(console, worker=elsewhere, silent_for=tasks.STALE_AFTER + timedelta(seconds=1))
    client = console.client(console.hospital)
    page = client.get(f"/provider/uploads/{recent.id}/progress").text
    assert 'value="3"' in page and "hx-get" in page and 'role="alert"' not in page  # still polled
    page = client.get(f"/provider/uploads/{silent.id}/progress").text
    assert 'role="alert"' in page and "hx-get" not in page
    states = {
        t.id: get_task(console.ex, t.id, party_id=console.hospital.party.id).state for t in (recent, silent)
    }
    assert states == {recent.id: "scoring", silent.id: "failed"}


def test_a_running_task_beats_and_its_worker_has_the_last_word(console: Console, tmp_path: Path) -> None:
    """A reader presuming the task dead is overruled when its worker finishes after all."""
    dataset_id = register(console, visits_csv(tmp_path / "v.csv"), "门诊")
    runner = Tasks(console.ex, heartbeat=0.02)
    release, beaten = threading.Event(), threading.Event()
    party_id = console.hospital.party.id
    started: list[UploadTask] = []

    def work(report: Report) -> str:
        report("classifying", 99)
        first = get_task(console.ex, started[0].id, party_id=party_id).updated
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not beaten.is_set():
            if get_task(console.ex, started[0].id, party_id=party_id).updated > first:
                beaten.set()
            release.wait(0.01)
        release.wait(10)
        return dataset_id

    try:
        started.append(runner.start(party_id, "门诊", work))
        assert beaten.wait(10), "the heartbeat never touched the running task"
        later = utc_now() + timedelta(hours=1)  # as a reader would see it after a long silence
        for _ in range(200):  # a beat landing between the read and the write defers the verdict
            presumed = get_task(console.ex, started[0].id, party_id=party_id, now=later)
            if presumed.state == "failed":
                break
        assert presumed.state == "failed" and presumed.interrupted
        release.set()
        done = runner.wait(started[0].id, timeout=30)
    finally:
        release.set()
        runner.close()
    assert done.state == "done" and done.dataset_id == dataset_id and done.error is None
