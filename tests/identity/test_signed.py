"""Signed claims: what one key signs verifies with it, and nothing else does."""

from __future__ import annotations

import pytest

from dataex.identity import signed

KEY = b"k" * 32


def test_claims_round_trip() -> None:
    claims = {"sub": "pty_1", "exp": 1_900_000_000, "nested": {"a": [1, 2]}}
    token = signed.sign(KEY, claims)
    assert "=" not in token and token.count(".") == 1
    assert signed.verify(KEY, token) == claims


@pytest.mark.parametrize(
    "token",
    [None, "", "no-dot", "a.b.c", "!!!.???"],
)
def test_missing_and_malformed_tokens_are_none(token: str | None) -> None:
    assert signed.verify(KEY, token) is None


def test_a_foreign_key_or_a_changed_body_is_refused() -> None:
    token = signed.sign(KEY, {"sub": "pty_1"})
    assert signed.verify(b"x" * 32, token) is None
    body, mac = token.split(".")
    forged = signed.b64(b'{"sub": "pty_2"}')
    assert signed.verify(KEY, f"{forged}.{mac}") is None
    assert signed.verify(KEY, f"{body}.{signed.b64(b'0' * 32)}") is None


def test_claims_must_be_an_object() -> None:
    body = b"[1, 2]"
    token = f"{signed.b64(body)}.{signed.b64(signed.mac(KEY, body))}"
    assert signed.verify(KEY, token) is None
