"""Staging recovery: work abandoned by a dead process is finished or discarded, live work is left alone."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from dataex.storage.staging import Staging
from dataex.storage.store import FsspecStore, sha256_file


def abandoned(root: Path, token: str, files: dict[str, bytes]) -> None:
    """What a process killed with -9 leaves: an unlocked lock file and its work directory."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{token}.lock").touch()
    work = root / token
    work.mkdir()
    for name, data in files.items():
        (work / name).write_bytes(data)


def test_recover_moves_committed_and_drops_uncommitted(tmp_path: Path) -> None:
    store = FsspecStore(str(tmp_path / "store"))
    staging = Staging(tmp_path / "staging")
    committed, uncommitted = b"committed parquet bytes", b"never committed"
    sha_c = hashlib.sha256(committed).hexdigest()
    sha_u = hashlib.sha256(uncommitted).hexdigest()
    abandoned(staging.root, "aaaa", {f"{sha_c}.ready": committed, "canonical.parquet": b"partial"})
    abandoned(staging.root, "bbbb", {f"{sha_u}.ready": uncommitted})
    done = staging.recover(store, lambda sha: sha == sha_c)
    assert sorted(done) == sorted([f"moved {sha_c} into the store", f"discarded uncommitted {sha_u}"])
    assert list(store.list()) == [sha_c]
    assert sha256_file(Path(store.url(sha_c))) == sha_c
    assert list(staging.root.iterdir()) == []


def test_recover_leaves_work_of_a_live_process_alone(tmp_path: Path) -> None:
    store = FsspecStore(str(tmp_path / "store"))
    staging = Staging(tmp_path / "staging")
    with staging.work() as work:
        (work.dir / "canonical.parquet").write_bytes(b"in progress")
        assert staging.recover(store, lambda _sha: False) == []
        assert (work.dir / "canonical.parquet").exists()
    assert list(staging.root.iterdir()) == []


def test_a_lock_held_by_another_process_blocks_recovery(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staging")
    abandoned(staging.root, "cccc", {"x.ready": b"x"})
    fd = os.open(staging.root / "cccc.lock", os.O_RDWR)
    pid = os.fork()
    if pid == 0:  # child: hold the lock until killed
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(w_fd := os.open(staging.root / "locked", os.O_CREAT | os.O_WRONLY), b"1")
        os.close(w_fd)
        os.pause()
    try:
        while not (staging.root / "locked").exists():
            os.sched_yield()
        store = FsspecStore(str(tmp_path / "store"))
        assert staging.recover(store, lambda _sha: True) == []
        assert (staging.root / "cccc" / "x.ready").exists()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    (staging.root / "locked").unlink()
    assert staging.recover(FsspecStore(str(tmp_path / "store")), lambda _sha: False) == [
        "discarded uncommitted x"
    ]
