"""A private dataset through ``dataex.connect`` and ``dataex.open``: its owner and the operator see it,
any other party (the auditor too) meets ``DatasetNotFound`` as for an unknown id, and lists omit it."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

import dataex
from dataex.errors import DatasetNotFound
from dataex.sdk import Client
from tests.sdk.conftest import LiveNode

TITLE = "ward notes PRIVATE-TITLE-4471"


@dataclass(frozen=True)
class Pair:
    public_id: str
    private_id: str


@pytest.fixture(scope="module")
def pair(live_node: LiveNode, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """The hospital registers a public dataset in-process and one over HTTP it then makes private."""
    notes = tmp_path_factory.mktemp("private") / "notes.csv"
    notes.write_text("bed,note\n" + "".join(f"{i},n{i * 7}\n" for i in range(30)), encoding="utf-8")
    with dataex.open(live_node.home, live_node.hospital) as hospital:
        public = hospital.register(live_node.csv, "门诊 public", "proprietary")
    with dataex.connect(live_node.url, live_node.hospital) as hospital:
        private = hospital.register(notes, TITLE, "proprietary")
    update = httpx.put(
        f"{live_node.url}/datasets/{private.id}/metadata",
        json={"visibility": "private"},
        headers={"Authorization": f"Bearer {live_node.hospital}"},
        timeout=30,
    )
    assert update.status_code == 200, update.text
    return Pair(public.id, private.id)


def client(node: LiveNode, transport: str, token: str) -> Client:
    return dataex.connect(node.url, token) if transport == "remote" else dataex.open(node.home, token)


@pytest.mark.parametrize("transport", ["remote", "local"])
def test_owner_and_operator_see_it(live_node: LiveNode, pair: Pair, transport: str) -> None:
    for token in (live_node.hospital, live_node.operator):
        with client(live_node, transport, token) as c:
            assert pair.private_id in [d.id for d in c.datasets()]
            assert c.dataset(pair.private_id).title == TITLE


@pytest.mark.parametrize("transport", ["remote", "local"])
def test_other_parties_meet_dataset_not_found_as_for_an_unknown_id(
    live_node: LiveNode, pair: Pair, transport: str
) -> None:
    unknown = "ds_" + "0" * (len(pair.private_id) - 3)
    for token in (live_node.insurer, live_node.auditor):
        with client(live_node, transport, token) as c:
            listed = [d.id for d in c.datasets()]
            assert pair.public_id in listed and pair.private_id not in listed
            with pytest.raises(DatasetNotFound) as hidden:
                c.dataset(pair.private_id)
            with pytest.raises(DatasetNotFound) as missing:
                c.dataset(unknown)
            assert str(hidden.value).replace(pair.private_id, "ID") == str(missing.value).replace(
                unknown, "ID"
            )
            assert hidden.value.details == {"dataset_id": pair.private_id}
