"""Throw-away virtualenvs for peer tools whose pins clash with the main environment.

pycanon pins numpy/pandas/scipy exactly, pyDVL 0.10 wants numpy < 2, SmartNoise SQL wants
opendp < 0.15: each gets its own venv under ``bench/work/venvs/<name>``, built once and reused by
the benchmarks and by the agreement tests (which fail, never skip, when a venv cannot be built).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent / "work" / "venvs"


class PeerUnavailable(RuntimeError):
    """A peer tool's venv could not be built; the message holds pip's last words."""


def peer_python(name: str, requirements: list[str]) -> Path:
    """The interpreter of the venv ``name`` with ``requirements`` installed (built on first use)."""
    venv = VENVS / name
    exe = venv / "bin" / "python"
    stamp = venv / ".installed"
    if exe.exists() and stamp.exists() and stamp.read_text() == "\n".join(requirements):
        return exe
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(exe), "-m", "pip", "install", "-q", *requirements],
            check=True,
            capture_output=True,
            timeout=1200,
        )
    except (subprocess.SubprocessError, OSError) as e:
        detail = (getattr(e, "stderr", b"") or b"").decode(errors="replace")[-2000:]
        raise PeerUnavailable(f"cannot build the {name} venv at {venv}: {e} {detail}") from e
    stamp.write_text("\n".join(requirements))
    return exe
