"""Parties: ids, validation, one-time tokens stored hashed, and authentication by token."""

from __future__ import annotations

import pytest

from dataex.db.models import PartyRow
from dataex.errors import InvalidInput, PartyNotFound, Unauthorized
from dataex.identity.parties import (
    TOKEN_PREFIX,
    authenticate,
    get_party,
    hash_token,
    insert_party,
    list_parties,
    new_id,
    validate_party,
)
from tests.conftest import Node


def test_ids_carry_their_prefix_and_do_not_repeat() -> None:
    ids = {new_id("ds") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("ds_") and len(i) == len("ds_") + 16 for i in ids)


def test_validation_trims_the_name_and_refuses_unknown_kinds_and_roles() -> None:
    assert validate_party("  Ruijin Hospital ", "hospital", "provider") == "Ruijin Hospital"
    with pytest.raises(InvalidInput, match="name"):
        validate_party("   ", "hospital", "provider")
    with pytest.raises(InvalidInput, match="kind"):
        validate_party("A", "castle", "provider")
    with pytest.raises(InvalidInput, match="role"):
        validate_party("A", "hospital", "king")


def test_the_token_is_shown_once_and_stored_hashed(sqlite_node: Node) -> None:
    with sqlite_node.ex.transaction() as s:
        row, token = insert_party(s, name="Lab", kind="enterprise", role="consumer")
        party_id = row.id
    assert token.startswith(TOKEN_PREFIX)
    with sqlite_node.ex.session() as s:
        stored = s.get(PartyRow, party_id)
        assert stored is not None
        assert stored.token_hash == hash_token(token) != token
        assert authenticate(s, token).id == party_id
        assert get_party(s, party_id).name == "Lab"
        assert party_id in [p.id for p in list_parties(s)]


def test_missing_unknown_tokens_and_parties_are_refused(sqlite_node: Node) -> None:
    with sqlite_node.ex.session() as s:
        with pytest.raises(Unauthorized, match="missing token"):
            authenticate(s, None)
        with pytest.raises(Unauthorized, match="unknown token"):
            authenticate(s, TOKEN_PREFIX + "nope")
        with pytest.raises(PartyNotFound):
            get_party(s, "pty_0000000000000000")
