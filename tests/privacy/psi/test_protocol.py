"""The protocol wrapper split over threads: same answers as one thread, a container that rejects junk."""

from __future__ import annotations

import pytest

from dataex.errors import InvalidPsiMessage
from dataex.privacy.psi import protocol


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "MIN_CHUNK", 16)
    monkeypatch.setattr(protocol, "WORKERS", 3)


def _sets() -> tuple[list[str], list[str]]:
    server = [f"id:{i:06d}" for i in range(0, 600, 2)]  # 300 even numbers
    client = [f"id:{i:06d}" for i in range(300, 450)]  # 150 items, 75 of them even
    return server, client


@pytest.mark.usefixtures("split")
def test_chunked_members_and_count_equal_the_plain_intersection() -> None:
    server, client = _sets()
    key = protocol.new_key()
    setup = protocol.server_setup(server + server[:10], key=key, max_client_items=1000)
    assert setup.items == 300  # duplicates are encoded once
    assert len(protocol.unpack_setups(setup.setup)) == 3
    members = protocol.Client(reveal=True)
    request = members.request(client)
    assert protocol.request_size(request) == 150
    hits = members.intersection(setup.setup, protocol.server_answer(request, key=key, reveal=True))
    assert [client[i] for i in hits] == sorted(set(client) & set(server))
    counter = protocol.Client(reveal=False)
    response = protocol.server_answer(counter.request(client), key=key, reveal=False)
    assert counter.size(setup.setup, response) == 75


def test_chunking_is_balanced_and_skips_small_sets() -> None:
    assert [len(c) for c in protocol.chunks(list(range(10)), workers=4)] == [10]
    items = list(range(3 * protocol.MIN_CHUNK + 1))
    parts = protocol.chunks(items, workers=2)
    assert [len(c) for c in parts] == [6144, 6145]
    assert [x for part in parts for x in part] == items


@pytest.mark.parametrize(
    "junk",
    [
        protocol.SETUP_MAGIC + b"\x00\x00\x00\x02" + b"\x00" * 7,  # truncated length
        protocol.SETUP_MAGIC + b"\x00\x00\x00\x01" + (100).to_bytes(8, "big") + b"short",
        protocol.SETUP_MAGIC + b"\x00\x00\x00\x00",  # no parts
        b"\xff\xfe not a protobuf",
    ],
)
def test_a_malformed_setup_is_refused(junk: bytes) -> None:
    with pytest.raises(InvalidPsiMessage):
        protocol.unpack_setups(junk)
