"""A throw-away virtualenv holding pycanon (it pins numpy/pandas/scipy, so never the main venv).

Built once under ``bench/work/venvs/pycanon`` and reused; if it cannot be built the caller fails
with the reason (the agreement tests must not skip silently, in CI either).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.peers import PeerUnavailable, peer_python

ROOT = Path(__file__).resolve().parents[3]
PYCANON = "pycanon==1.3.6"
SCRIPT = """
import json, sys
import pandas as pd
from pycanon import anonymity
path, qi, sa, l = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
df = pd.read_csv(path, dtype=str, keep_default_na=False)
out = {"k": int(anonymity.k_anonymity(df, qi))}
if sa:
    out["l"] = int(anonymity.l_diversity(df, qi, sa))
    out["l_entropy"] = int(anonymity.entropy_l_diversity(df, qi, sa))
    out["t"] = float(anonymity.t_closeness(df, qi, sa))
    out["recursive_c"] = float(anonymity.recursive_c_l_diversity(df, qi, sa, l)[0])
print(json.dumps(out))
"""


def python() -> Path:
    try:
        return peer_python("pycanon", [PYCANON])
    except PeerUnavailable as e:
        pytest.fail(str(e))


def measure(csv: Path, qi: list[str], sensitive: list[str], l: int = 2) -> dict[str, Any]:  # noqa: E741
    """pycanon's k, l (distinct and entropy), t and recursive c of the CSV."""
    done = subprocess.run(
        [str(python()), "-c", SCRIPT, str(csv), json.dumps(qi), json.dumps(sensitive), str(l)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
