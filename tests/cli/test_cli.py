"""The ``dataex`` command as a user runs it: a real process, real files, JSON on stdout."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

DATAEX = [sys.executable, "-m", "dataex.cli"]


def run(
    *args: str, home: Path, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAEX_")}
    proc = subprocess.run(
        [*DATAEX, *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dataex {' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def jrun(*args: str, home: Path, code: int = 0) -> Any:
    proc = run(*args, "--json", home=home, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "node"
    jrun("init", home=h)
    return h


def test_init_creates_a_private_key_and_refuses_a_second_init(tmp_path: Path) -> None:
    h = tmp_path / "node"
    out = jrun("init", home=h)
    assert out["id"].startswith("node_") and out["operator_token"].startswith("dxt_")
    assert stat.S_IMODE((h / "node.key").stat().st_mode) == 0o600
    before = sorted(p.name for p in h.iterdir())
    err = jrun("init", home=h, code=3)
    assert err == {"ok": False, "error": err["error"], "code": "node_exists", "status": 409}
    assert sorted(p.name for p in h.iterdir()) == before


def test_tour(home: Path, visits_csv: Path, tmp_path: Path) -> None:
    party = jrun("party", "add", "Ruijin Hospital", "--kind", "hospital", "--role", "provider", home=home)
    assert set(party) >= {"id", "name", "token"} and party["name"] == "Ruijin Hospital"
    reg = jrun(
        "register",
        str(visits_csv),
        "--owner",
        party["id"],
        "--title",
        "Outpatient visits 2025",
        "--license",
        "CC-BY-4.0",
        home=home,
    )
    assert set(reg) >= {"id", "digest", "rows", "certificate"} and reg["rows"] == 500
    listed = jrun("datasets", "list", home=home)
    assert [d["id"] for d in listed] == [reg["id"]]
    shown = jrun("datasets", "show", reg["id"], home=home)
    assert shown["digest"] == reg["digest"] and "certificate" not in shown

    cert = tmp_path / "cert.jws"
    cert.write_text(run("cert", "show", reg["id"], home=home).stdout)
    assert cert.read_text().strip() == reg["certificate"]
    assert jrun("cert", "verify", str(cert), home=home)["ok"] is True
    # offline: only the public key, no node
    key = tmp_path / "node-key.json"
    key.write_text(run("node", "key", "--json", home=home).stdout)
    offline = jrun("cert", "verify", str(cert), "--key", str(key), home=tmp_path / "nowhere")
    assert offline["ok"] is True and offline["payload"]["dataset_id"] == reg["id"]
    tampered = tmp_path / "bad.jws"
    head, payload, sig = reg["certificate"].split(".")
    tampered.write_text(f"{head}.{payload}.{sig[:-4]}AAAA")
    bad = jrun("cert", "verify", str(tampered), "--key", str(key), home=tmp_path / "nowhere", code=1)
    assert bad["ok"] is False and bad["problems"]

    audit = jrun("audit", "verify", home=home)
    assert audit["ok"] is True and audit["problems"] == []
    proof = jrun("audit", "proof", str(reg["certificate"] and shown["log_index"]), home=home)
    assert proof["ok"] is True and proof["entry"]["data"]["dataset_id"] == reg["id"]
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(run("audit", "checkpoint", home=home).stdout)
    assert saved.read_text().splitlines()[1] == str(proof["tree_size"])
    assert jrun("audit", "verify", "--checkpoint", str(saved), home=home)["ok"] is True


def test_errors_are_one_json_envelope_with_nonzero_exit(home: Path, tmp_path: Path) -> None:
    err = jrun(
        "register",
        str(tmp_path / "nope.csv"),
        "--owner",
        "pty_x",
        "--title",
        "t",
        "--license",
        "x",
        home=home,
        code=3,
    )
    assert err["ok"] is False and err["code"] in {"file_not_found", "party_not_found"}
    err = jrun("datasets", "show", "ds_missing", home=home, code=3)
    assert err["code"] == "dataset_not_found" and err["status"] == 404
    err = jrun("datasets", "list", home=tmp_path / "no-node", code=3)
    assert err["code"] == "node_not_initialized"
    human = run("datasets", "show", "ds_missing", home=home, check=False)
    assert human.returncode == 3 and human.stdout == "" and "ds_missing" in human.stderr
    assert len(human.stderr.strip().splitlines()) == 1


def test_audit_verify_exits_1_and_names_a_corrupt_file(home: Path, visits_csv: Path) -> None:
    party = jrun("party", "add", "H", "--kind", "hospital", home=home)
    reg = jrun(
        "register", str(visits_csv), "--owner", party["id"], "--title", "t", "--license", "x", home=home
    )
    shown = jrun("datasets", "show", reg["id"], home=home)
    (obj,) = list((home / "store").rglob(f"{shown['file_sha256']}.parquet"))
    obj.write_bytes(obj.read_bytes()[:-10] + b"0123456789")
    out = jrun("audit", "verify", home=home, code=1)
    assert out["ok"] is False and [p["code"] for p in out["problems"]] == ["file_corrupt"]


def test_kill_9_during_a_large_registration_leaves_the_node_consistent(home: Path, tmp_path: Path) -> None:
    from bench.datagen import write_large_csv

    big = tmp_path / "big.csv"
    write_large_csv(big, 1_500_000)
    party = jrun("party", "add", "H", "--kind", "hospital", home=home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAEX_")}
    killed_at = []
    for delay in (0.8, 2.0, 3.5):
        proc = subprocess.Popen(
            [
                *DATAEX,
                "register",
                str(big),
                "--owner",
                party["id"],
                "--title",
                "big",
                "--license",
                "x",
                "--home",
                str(home),
                "--json",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_at.append(delay)
        proc.wait()
        audit = jrun("audit", "verify", home=home)
        assert audit["ok"] is True, audit
        staging = home / "staging"
        assert list(staging.iterdir()) == []
        datasets = jrun("datasets", "list", home=home)
        stored = [p.name for p in (home / "store").rglob("*.parquet")]
        assert len(stored) == len(datasets) <= 1
    assert killed_at, "the registration finished before any kill; make the file bigger"


def test_serve_answers_http_on_loopback(home: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAEX_")}
    proc = subprocess.Popen(
        [*DATAEX, "serve", "--home", str(home), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/.well-known/dataex/node-key", timeout=1
                ) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.1)
        assert body is not None, "dataex serve did not answer within 30 s"
        assert body["kty"] == "OKP"
        assert body["x"] == json.loads(run("node", "key", "--json", home=home).stdout)["x"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as r:
            assert "/datasets" in json.loads(r.read())["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_capability_has_its_command() -> None:
    from typer.main import get_command

    from dataex.cli.main import app

    names = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {
        "init",
        "register",
        "serve",
        "demo",
        "describe",
        "search",
        "classify",
        "quality",
        "anonymize",
        "privacy",
        "query",
        "extract",
        "trace",
        "psi",
        "compute",
        "job",
        "value",
        "party",
        "datasets",
        "cert",
        "audit",
        "node",
        "croissant",
        "demand",
        "offer",
        "contract",
        "fingerprint",
        "consent",
        "notices",
        "wallet",
        "product",
        "ledger",
        "remote",
    } <= names
