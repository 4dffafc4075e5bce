"""The OFFICIAL delta-sharing client against a real ``dataex serve`` subprocess on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import delta_sharing
import pandas as pd
import pytest
import requests

from dataex.contracts.lifecycle import revoke_contract
from dataex.delivery.extracts import extract
from dataex.delivery.sharing import issue_profile
from tests.conftest import Node
from tests.delivery import Delivery, delivery


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(sqlite_node: Node, tmp_path: Path) -> Iterator[tuple[Delivery, str]]:
    d = delivery(sqlite_node, tmp_path, rows=3000)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path("src").resolve()), str(Path(".").resolve())]),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dataex.cli",
                "serve",
                "--home",
                str(sqlite_node.home),
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dataex serve did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield d, f"http://127.0.0.1:{port}/delta-sharing"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_profile(path: Path, profile: dict[str, object]) -> str:
    path.write_text(json.dumps(profile))
    return str(path)


def test_official_client_reads_the_contracts_fingerprinted_copy(
    served: tuple[Delivery, str], tmp_path: Path
) -> None:
    d, endpoint = served
    insurer = d.consumers[0]
    c = d.contract(insurer, max_rows=10_000)
    profile = write_profile(
        tmp_path / "insurer.share", issue_profile(d.ex, c.id, actor=insurer.party, endpoint=endpoint)
    )
    client = delta_sharing.SharingClient(profile)
    tables = client.list_all_tables()
    assert [(t.share, t.schema, t.name) for t in tables] == [(c.id, "dataex", d.dataset_id)]
    frame = delta_sharing.load_as_pandas(f"{profile}#{c.id}.dataex.{d.dataset_id}")
    mine = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "mine.parquet")
    expected = pd.read_parquet(mine.path)
    assert frame.shape == expected.shape == (3000, 13)
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected, check_dtype=False)
    original = pd.read_parquet(d.ex.store.url(d.ex.get_dataset(d.dataset_id).file_sha256))
    assert (frame["cost"] != original["cost"]).sum() > 0  # fingerprinted, not the original
    # the same rows were charged once, for both channels
    assert mine.rows_charged == 0


def test_wrong_and_revoked_tokens_and_tampered_urls_are_refused(
    served: tuple[Delivery, str], tmp_path: Path
) -> None:
    d, endpoint = served
    insurer = d.consumers[0]
    c = d.contract(insurer, max_rows=10_000)
    good = issue_profile(d.ex, c.id, actor=insurer.party, endpoint=endpoint)
    bad = write_profile(tmp_path / "bad.share", {**good, "bearerToken": "dxs_wrong"})
    with pytest.raises(requests.HTTPError) as e:
        delta_sharing.SharingClient(bad).list_shares()
    assert e.value.response.status_code == 401

    table = f"{endpoint}/shares/{c.id}/schemas/dataex/tables/{d.dataset_id}"
    auth = {"Authorization": f"Bearer {good['bearerToken']}"}
    r = requests.post(f"{table}/query", json={}, headers=auth, timeout=30)
    assert r.status_code == 200 and r.headers["delta-table-version"]
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [next(iter(x)) for x in lines] == ["protocol", "metaData", "file"]
    url = lines[2]["file"]["url"]
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and int(head.headers["content-length"]) == lines[2]["file"]["size"]
    part = requests.get(url, headers={"Range": "bytes=0-3"}, timeout=30)
    assert part.status_code == 206 and part.content == b"PAR1"
    tampered = url.replace("sig=", "sig=0") if "sig=0" not in url else url.replace("sig=0", "sig=1")
    assert requests.get(tampered, timeout=30).status_code == 403
    other = requests.get(url.replace(f"/{c.id}/", f"/{c.id}x/"), timeout=30)
    assert other.status_code == 403
    later = url.split("exp=")[0] + "exp=9999999999&" + url.split("&", 1)[1]
    assert requests.get(later, timeout=30).status_code == 403  # the expiry is signed
    assert requests.get(f"{endpoint}/shares/ctr_other/schemas", headers=auth, timeout=30).status_code == 404

    revoke_contract(d.ex, c.id, actor=d.hospital.party, reason="leak suspected")
    assert requests.get(url, timeout=30).status_code == 403  # a URL handed out before revocation
    revoked = write_profile(tmp_path / "revoked.share", good)
    with pytest.raises(requests.HTTPError) as e:
        delta_sharing.load_as_pandas(f"{revoked}#{c.id}.dataex.{d.dataset_id}")
    assert e.value.response.status_code == 403
    r = requests.get(f"{endpoint}/shares", headers=auth, timeout=30)
    assert r.status_code == 403 and r.json()["errorCode"] == "PERMISSION_DENIED"
