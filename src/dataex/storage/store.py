"""The content-addressed store: canonical Parquet files named by their SHA-256.

Objects live at ``<root>/<sha[:2]>/<sha>.parquet``. ``root`` is a local directory by default or any
fsspec URL. Files arrive through ``staging`` (a local directory), so a crash never leaves a
half-written object under its final name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class Store(Protocol):
    """Where canonical data files live."""

    def put(self, local: Path, sha256: str) -> None: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def list(self) -> Iterator[str]: ...
    def url(self, sha256: str) -> str: ...
    def sha256_of(self, sha256: str) -> str: ...


class FsspecStore:
    """A store on any fsspec file system, with atomic renames on local disks."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.fs: Any
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self.local = self.fs.protocol in ("file", ("file", "local")) or "file" in self.fs.protocol
        self.fs.makedirs(self.root, exist_ok=True)

    def _path(self, sha256: str) -> str:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{self.root}/{sha256[:2]}/{sha256}.parquet"

    def url(self, sha256: str) -> str:
        path = self._path(sha256)
        return path if self.local else self.fs.unstrip_protocol(path)

    def put(self, local: Path, sha256: str) -> None:
        """Move ``local`` into the store under ``sha256`` (a no-op when the object exists)."""
        dest = self._path(sha256)
        if self.exists(sha256):
            local.unlink(missing_ok=True)
            return
        self.fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        if self.local:
            os.replace(local, dest)
            _fsync_dir(Path(dest).parent)
        else:
            tmp = dest + ".upload"
            self.fs.put_file(str(local), tmp)
            self.fs.mv(tmp, dest)
            local.unlink()

    def open(self, sha256: str) -> BinaryIO:
        f: BinaryIO = self.fs.open(self._path(sha256), "rb")
        return f

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._path(sha256)))

    def list(self) -> Iterator[str]:
        """Every object name in the store; also stray files, so audits can name them."""
        for path in sorted(self.fs.find(self.root)):
            name = path.rsplit("/", 1)[-1]
            yield name.removesuffix(".parquet") if name.endswith(".parquet") else name

    def remove(self, sha256: str) -> None:
        self.fs.rm(self._path(sha256))

    def sha256_of(self, sha256: str) -> str:
        h = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
