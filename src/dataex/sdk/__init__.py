"""The dataex Python SDK: one client surface, two transports (see docs/sdk.md).

import dataex.sdk as dx
ex = dx.connect("http://127.0.0.1:8000", token="dxt_…")   # the HTTP API
ex = dx.open("./node", token="dxt_…")                       # the same services, in-process
"""

from __future__ import annotations

from pathlib import Path

from dataex.sdk.client import (
    API_VERSION,
    BadResponse,
    Client,
    ContractNotApproved,
    IncompatibleNode,
    NodeUnreachable,
    UnsupportedOperation,
    WaitTimeout,
)
from dataex.sdk.objects import Contract, Dataset, Offer, QualityReport
from dataex.sdk.remote import RetryPolicy

__all__ = [
    "API_VERSION",
    "BadResponse",
    "Client",
    "Contract",
    "ContractNotApproved",
    "Dataset",
    "IncompatibleNode",
    "NodeUnreachable",
    "Offer",
    "QualityReport",
    "RetryPolicy",
    "UnsupportedOperation",
    "WaitTimeout",
    "connect",
    "open",
]


def connect(
    url: str, token: str | None = None, *, timeout: float = 30, retry: RetryPolicy | None = None
) -> Client:
    """A client of the node serving the HTTP API at ``url``, acting as the party holding ``token``.

    Checks the node's API version once (``IncompatibleNode`` names the dataex to upgrade to); a node
    that is down raises ``NodeUnreachable`` within bounded time.
    """
    from dataex.sdk.remote import RemoteTransport

    transport = RemoteTransport(url, token, timeout=timeout, retry=retry)
    try:
        transport.check_version()
    except BaseException:
        transport.close()
        raise
    return Client(transport)


def open(home: str | Path, token: str | None = None) -> Client:
    """A client of the node at ``home``, in this process; without ``token`` the local operator acts."""
    from dataex.exchange import Exchange
    from dataex.sdk.local import LocalTransport

    ex = Exchange.open(home=Path(home))
    try:
        return Client(LocalTransport(ex, token, owns=True))
    except BaseException:
        ex.close()
        raise
