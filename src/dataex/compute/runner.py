"""The worker processes and their supervisor: compute jobs run apart from the node, under limits.

Workers come from a **warm pool**: one long-lived process (``python -m dataex.compute.runner
--pool``, started on the first job or by :func:`warm`) that has already imported scikit-learn,
skl2onnx, onnxruntime and pyarrow, with OpenMP/BLAS set to one thread. For each job it forks a
fresh child, so a job pays neither interpreter start nor imports (about 3 s), and still runs in a
process of its own: the child starts its own session (process group), sends its output to
``worker.log``, sets its limits with ``resource.setrlimit`` — ``RLIMIT_CPU`` (CPU seconds; the
kernel sends SIGXCPU, then SIGKILL) and ``RLIMIT_AS`` (address space) — then trains
(:mod:`dataex.compute.train`) and writes ``result.json``. The pool reaps each child and reports
its exit status and CPU time (``wait4``). :func:`supervise` kills the child's whole process group
when the wall-clock limit passes, and calls ``heartbeat`` about once a second. The pool exits when
the node closes its pipe, and a child whose parent (the pool) is gone exits too, so no orphan keeps
running. The pool is single-threaded (no thread can hold a lock across a fork).

Exit codes of the worker: 0 done; 2 the recipe cannot run on this data (``result.json`` says why);
3 out of memory (the address-space limit); anything else, or a signal, is a failure or a kill.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import queue
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dataex.errors import DataexError

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
    """Runs a worker on ``job_dir/spec.json`` under ``limits`` and reports how it ended."""
    started = time.monotonic()
    pid = _pool.start(job_dir, limits)
    if heartbeat is not None:
        heartbeat(pid)
    wall = limits["wall_seconds"]
    killed_for: str | None = None
    while True:
        ended = _pool.wait(pid, poll)
        if ended is not None:
            break
        if time.monotonic() - started > wall:
            killed_for = f"wall-clock limit of {wall} s exceeded"
            for kill in (os.killpg, os.kill):  # the group, and the child itself should it not lead one yet
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
            ended = _pool.wait(pid, 30.0) or (-signal.SIGKILL, 0.0)
            break
        if heartbeat is not None:
            heartbeat(pid)
    code, cpu = ended
    elapsed = time.monotonic() - started
    result = _read_result(job_dir)
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


def warm() -> None:
    """Starts the worker pool now (``dataex serve`` does), so the first job does not wait for it."""
    _pool.ensure()


class _Pool:
    """The node's side of the warm pool: one pool process, requests and exits over its pipes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[int | None] = queue.Queue()
        self._exits: dict[int, tuple[int, float]] = {}
        self._ended = threading.Condition()
        self._alive = False

    def ensure(self) -> None:
        with self._lock:
            self._ensure()

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._alive:
            return
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dataex.compute.runner", "--pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ | THREAD_ENV,
            start_new_session=True,
        )
        self._alive = True
        self._replies = queue.Queue()
        threading.Thread(target=self._read, args=(self._proc,), daemon=True, name="dataex-pool").start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:  # not ours (a library printing at import): ignore it
                continue
            if "pid" in msg:
                self._replies.put(int(msg["pid"]))
            elif "exit" in msg:
                with self._ended:
                    self._exits[int(msg["exit"])] = (int(msg["code"]), float(msg["cpu"]))
                    self._ended.notify_all()
        with self._ended:  # the pool is gone: its children exit on their own (they watch it)
            self._alive = False
            self._replies.put(None)
            self._ended.notify_all()

    def start(self, job_dir: Path, limits: dict[str, int]) -> int:
        with self._lock:
            self._ensure()
            proc = self._proc
            assert proc is not None and proc.stdin is not None
            proc.stdin.write(json.dumps({"job_dir": str(job_dir), "limits": limits}).encode() + b"\n")
            proc.stdin.flush()
            pid = self._replies.get(timeout=120)
        if pid is None:
            raise RuntimeError("the compute worker pool stopped before starting the job")
        return pid

    def close(self) -> None:
        """Closes the pool's pipe (it kills its running children and exits) and reaps it."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def wait(self, pid: int, timeout: float) -> tuple[int, float] | None:
        """(exit code or -signal, CPU seconds) once ``pid`` has ended; None while it runs."""
        with self._ended:
            if pid not in self._exits and self._alive:
                self._ended.wait(timeout)
            if pid in self._exits:
                return self._exits.pop(pid)
            if not self._alive:
                return (-signal.SIGKILL, 0.0)
            return None


_pool = _Pool()
atexit.register(_pool.close)


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


PRELOAD: Final = (
    "numpy",
    "pyarrow.compute",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "skl2onnx",
    "onnxruntime",
    "dataex.compute.train",
)
"""What the pool imports once, so that its forked workers start warm."""


def work(job_dir: Path, limits: dict[str, int]) -> int:
    """One job in this (fresh) process: limits, then training; the exit code for the supervisor."""
    set_limits(limits)
    _watch_parent()
    spec = json.loads((job_dir / "spec.json").read_text())
    try:
        # lazy: the training stack (scikit-learn, ONNX) loads in the pool that forks workers (PRELOAD)
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


def pool() -> int:
    """The pool process: preloads, then forks one child per request line until stdin closes."""
    for name in PRELOAD:
        importlib.import_module(name)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    buffer, open_ = b"", True
    children: set[int] = set()
    while open_ or children:
        if open_ and sel.select(timeout=0.02):
            data = os.read(0, 65536)
            buffer += data
            if not data:  # the node is gone (or closed the pool): its jobs go with it
                open_ = False
                for pid in children:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                pid = _fork(Path(request["job_dir"]), request["limits"])
                children.add(pid)
                _say({"pid": pid})
        elif not open_:
            time.sleep(0.02)
        for pid in list(children):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                _say({"exit": pid, "code": code, "cpu": usage.ru_utime + usage.ru_stime})
    return 0


def _fork(job_dir: Path, limits: dict[str, int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: a session of its own, its output in worker.log, then the job
        os.setsid()
        log = os.open(job_dir / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.close(0)
        code = work(job_dir, limits)
    except BaseException:  # noqa: BLE001 - a child must never return into the pool's loop
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _say(message: dict[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m dataex.compute.runner --pool`` (the pool), or ``… JOB_DIR`` (one job, cold)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--pool"]:
        return pool()
    return work(Path(args[0]), json.loads(os.environ["DATAEX_JOB_LIMITS"]))


def _write(job_dir: Path, data: dict[str, Any]) -> None:
    tmp = job_dir / "result.json.tmp"
    tmp.write_text(json.dumps(data, default=str))
    tmp.replace(job_dir / "result.json")


if __name__ == "__main__":
    raise SystemExit(main())
