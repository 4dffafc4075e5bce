"""Issue 18: hostile input and abusive load, each attack through HTTP or the CLI."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
