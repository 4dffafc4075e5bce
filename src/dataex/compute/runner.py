"""The worker process and its supervisor: compute jobs run apart from the node, under limits.

:func:`supervise` starts ``python -m dataex.compute.runner JOB_DIR`` and watches it. The worker
(:func:`main`) first sets its own limits with ``resource.setrlimit`` — ``RLIMIT_CPU`` (CPU seconds;
the kernel sends SIGXCPU, then SIGKILL) and ``RLIMIT_AS`` (address space) — then trains
(:mod:`dataex.compute.train`) and writes ``result.json``. The supervisor kills the worker's whole
process group when the wall-clock limit passes, and calls ``heartbeat`` about once a second.
A worker whose supervisor dies exits too (it watches its parent), so no orphan keeps running.

Exit codes of the worker: 0 done; 2 the recipe cannot run on this data (``result.json`` says why);
3 out of memory (the address-space limit); anything else, or a signal, is a failure or a kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

EXIT_REFUSED: Final = 2
EXIT_MEMORY: Final = 3
THREAD_ENV: Final = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Outcome:
    """How a worker ended: ``succeeded``, ``failed`` or ``killed``, why, and its result."""

    state: str
    reason: str | None
    result: dict[str, Any]
    wall_seconds: float
    cpu_seconds: float


def supervise(
    job_dir: Path,
    *,
    limits: dict[str, int],
    heartbeat: Callable[[int], None] | None = None,
    poll: float = 0.5,
) -> Outcome:
    """Runs the worker on ``job_dir/spec.json`` under ``limits`` and reports how it ended."""
    env = os.environ | THREAD_ENV | {"DATAEX_JOB_LIMITS": json.dumps(limits)}
    started = time.monotonic()
    before = os.times()
    with (job_dir / "worker.log").open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own module, no shell, no user input in argv
            [sys.executable, "-m", "dataex.compute.runner", str(job_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        if heartbeat is not None:
            heartbeat(proc.pid)
        wall = limits["wall_seconds"]
        killed_for: str | None = None
        while True:
            try:
                proc.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - started > wall:
                    killed_for = f"wall-clock limit of {wall} s exceeded"
                    _kill_group(proc)
                    proc.wait()
                    break
                if heartbeat is not None:
                    heartbeat(proc.pid)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    elapsed = time.monotonic() - started
    result = _read_result(job_dir)
    code = proc.returncode
    if killed_for is not None:
        return Outcome("killed", killed_for, result, elapsed, cpu)
    if code == 0:
        return Outcome("succeeded", None, result, elapsed, cpu)
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return Outcome(
            "killed", f"CPU-time limit of {limits['cpu_seconds']} s exceeded", result, elapsed, cpu
        )
    if code == EXIT_MEMORY:
        return Outcome("killed", f"memory limit of {limits['memory_mb']} MB exceeded", result, elapsed, cpu)
    reason = str(result.get("error") or f"the worker exited with code {code}")
    return Outcome("failed", reason, result, elapsed, cpu)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_result(job_dir: Path) -> dict[str, Any]:
    path = job_dir / "result.json"
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except ValueError:
        return {}
    return data


# -- the worker -----------------------------------------------------------------------------------
def set_limits(limits: dict[str, int]) -> None:
    """CPU seconds and address space for this process (and what it starts)."""
    import resource

    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    memory = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _watch_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="dataex-parent-watch").start()


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point: ``python -m dataex.compute.runner JOB_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    job_dir = Path(args[0])
    set_limits(json.loads(os.environ["DATAEX_JOB_LIMITS"]))
    _watch_parent()
    spec = json.loads((job_dir / "spec.json").read_text())
    from dataex.errors import DataexError

    try:
        from dataex.compute.train import run

        result = run(spec)
    except MemoryError:
        _write(job_dir, {"error": "out of memory"})
        return EXIT_MEMORY
    except DataexError as e:
        _write(job_dir, {"error": e.message, "code": e.code, "details": e.details})
        return EXIT_REFUSED
    _write(job_dir, result)
    return 0


def _write(job_dir: Path, data: dict[str, Any]) -> None:
    tmp = job_dir / "result.json.tmp"
    tmp.write_text(json.dumps(data, default=str))
    tmp.replace(job_dir / "result.json")


if __name__ == "__main__":
    raise SystemExit(main())
