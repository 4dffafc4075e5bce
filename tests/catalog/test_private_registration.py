"""A dataset registered private is never published: the public log and every public route carry
commitments, not its title, field names or owner; the owner and auditors open and check them."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dataex.api.app import create_app
from dataex.cli.main import app as cli
from dataex.exchange import Exchange
from dataex.ledger.log import canonical_json

runner = CliRunner()
TITLE = "Quillfeather oncology cohort 5521"
COLUMNS = ("quillcode", "featherscore", "ward_zeta")
OWNER = "Marblehaven Hospital"


def _csv(path: Path) -> Path:
    rows = [f"Q{i:04d},{(i * 37) % 101},{'abc'[i % 3]}" for i in range(120)]
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _secrets(text: str) -> list[str]:
    return [s for s in (TITLE, "Quillfeather", OWNER, "Marblehaven", *COLUMNS) if s in text]


def test_a_private_registration_publishes_only_commitments(tmp_path: Path) -> None:
    home = tmp_path / "node"
    ex, _ = Exchange.init(home=home)
    ex.close()
    add = runner.invoke(
        cli,
        ["party", "add", OWNER, "--kind", "hospital", "--role", "provider", "--json", "--home", str(home)],
    )
    owner = json.loads(add.stdout)
    _stranger = json.loads(
        runner.invoke(
            cli,
            [
                "party",
                "add",
                "Rival",
                "--kind",
                "enterprise",
                "--role",
                "provider",
                "--json",
                "--home",
                str(home),
            ],
        ).stdout
    )
    auditor = json.loads(
        runner.invoke(
            cli,
            [
                "party",
                "add",
                "CAC",
                "--kind",
                "government",
                "--role",
                "auditor",
                "--json",
                "--home",
                str(home),
            ],
        ).stdout
    )
    done = runner.invoke(
        cli,
        [
            "register", str(_csv(tmp_path / "cohort.csv")), "--title", TITLE, "--license", "proprietary",
            "--visibility", "private", "--as", owner["token"], "--json", "--home", str(home),
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    registered = json.loads(done.stdout)
    dataset_id, index = registered["id"], registered["log_index"]

    ex = Exchange.open(home=home)
    try:
        with TestClient(create_app(ex)) as client:
            size = int(client.get("/log/checkpoint.txt").text.split("\n")[1])
            published = [client.get(f"/log/proof/{i}").text for i in range(size)]
            stranger = {"Authorization": f"Bearer {_stranger['token']}"}
            public_routes = [
                client.get("/log/checkpoint.txt").text,
                client.get("/catalog/dcat").text,
                client.get("/datasets").text,
                client.get(f"/datasets/{dataset_id}").text,
                client.get(f"/datasets/{dataset_id}/certificate").text,
            ]
            found = client.get("/search", params={"q": "Quillfeather"}, headers=stranger).json()
            assert found["total"] == 0 and found["hits"] == []  # the answer echoes only the query
            as_stranger = [
                client.get("/datasets", headers=stranger).text,
                client.get(f"/datasets/{dataset_id}", headers=stranger).text,
                client.get(f"/log/openings/{index}", headers=stranger).text,
            ]
            for text in published + public_routes + as_stranger:
                assert _secrets(text) == [], text[:300]

            entry = client.get(f"/log/proof/{index}").json()["entry"]
            assert entry["event"] == "dataset.registered" and entry["data"]["dataset_id"] == dataset_id
            sealed = {k for k, v in entry["data"].items() if isinstance(v, dict) and set(v) == {"$commit"}}
            assert {"title", "columns", "owner", "rows"} <= sealed

            # The owner (and an auditor) open the commitments and check them against the public entry.
            for token in (owner["token"], auditor["token"]):
                opened = client.get(f"/log/openings/{index}", headers={"Authorization": f"Bearer {token}"})
                assert opened.status_code == 200
                values = {o["field"]: o for o in opened.json()["openings"]}
                assert values["title"]["value"] == TITLE
                for name, o in values.items():
                    digest = hashlib.sha256(
                        b"dataex-commit-v1\x00" + bytes.fromhex(o["salt"]) + canonical_json(o["value"])
                    ).hexdigest()
                    assert digest == entry["data"][name]["$commit"]

            # The certificate commits to the title the same way.
            cert = registered["certificate"]
            payload = json.loads(base64.urlsafe_b64decode(cert.split(".")[1] + "=="))
            assert payload["title"] == entry["data"]["title"]
        assert ex.audit().ok
    finally:
        ex.close()
