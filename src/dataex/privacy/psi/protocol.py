"""The PSI protocol: a thin wrapper around OpenMined's ``openmined-psi`` (ECDH over P-256).

No protocol code of our own: the library hashes items to the curve, blinds them with a secret
scalar, and encodes the server's set in a Golomb-compressed set (GCS). A **server** holds a key
``s`` and publishes ``setup = GCS{H(y)^s}``; a **client** with a fresh key ``c`` sends
``request = [H(x)^c]``; the server answers ``response = [H(x)^cs]`` (shuffled when it does not
reveal members); the client strips ``c`` and looks ``H(x)^s`` up in the setup. The client learns
the intersection (or only its size); the server learns the client's set size and nothing else.

Messages cross the wire as the library's protobuf bytes. Anything that does not parse, or holds
a value that is not a point on P-256, is ``InvalidPsiMessage``.

The roles map to dataex's modes (see docs/psi.md):

* ``members`` / ``count``: the node is the server (a preprocessed setup and a persistent key per
  dataset column), the consumer the client.
* PSI-then-DP: roles swap. The consumer is the server (fresh key), the node the client, so the
  node learns which of *its own* rows matched and never the consumer's other items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from dataex.errors import InvalidPsiMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

FPR: Final = 1e-9
"""The probability that a whole session yields one false positive."""


def _psi() -> Any:
    try:
        import private_set_intersection.python as psi
    except ImportError as e:  # pragma: no cover - an install problem
        raise ImportError("PSI needs openmined-psi: pip install 'dataex[psi]'") from e
    return psi


def _parse(kind: str, data: bytes) -> Any:
    from google.protobuf.message import DecodeError

    psi = _psi()
    message = getattr(psi, kind)()
    try:
        message.ParseFromString(data)
    except DecodeError as e:
        raise InvalidPsiMessage(f"the PSI {kind.lower()} message does not parse: {e}") from e
    return message


def _run(what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RuntimeError as e:
        raise InvalidPsiMessage(f"invalid PSI {what}: {e}") from e


def request_size(request: bytes) -> int:
    """How many items a client request carries (its encrypted elements)."""
    return len(_parse("Request", request).encrypted_elements)


@dataclass(frozen=True)
class Setup:
    """A server's encoded set and the key behind it (the key never leaves its owner)."""

    key: bytes
    setup: bytes
    items: int


def new_key() -> bytes:
    """A fresh secret scalar from the library's CSPRNG."""
    return bytes(_psi().server.CreateWithNewKey(True).GetPrivateKeyBytes())


def server_setup(items: Sequence[str], *, key: bytes, max_client_items: int) -> Setup:
    """Encodes ``items`` under ``key`` for clients sending up to ``max_client_items`` items."""
    psi = _psi()
    server = psi.server.CreateFromKey(key, True)
    try:
        msg = server.CreateSetupMessage(FPR, max_client_items, list(items), psi.DataStructure.GCS)
    except ValueError:
        # openmined-psi 2.0.6 cannot size a GCS for a small set against a large client bound; the
        # raw encoding (33 bytes an item, exact) serves small sets just as well.
        msg = server.CreateSetupMessage(FPR, max_client_items, list(items), psi.DataStructure.RAW)
    return Setup(key, msg.SerializeToString(), len(items))


def server_answer(request: bytes, *, key: bytes, reveal: bool) -> bytes:
    """The server's response to a client request; shuffled (size only) unless ``reveal``."""
    server = _psi().server.CreateFromKey(key, reveal)
    parsed = _parse("Request", request)
    return bytes(_run("request", server.ProcessRequest, parsed).SerializeToString())


class Client:
    """The client half, with a fresh key that lives only as long as this object."""

    def __init__(self, *, reveal: bool) -> None:
        self._client = _psi().client.CreateWithNewKey(reveal)
        self.reveal = reveal

    def request(self, items: Sequence[str]) -> bytes:
        return bytes(self._client.CreateRequest(list(items)).SerializeToString())

    def intersection(self, setup: bytes, response: bytes) -> list[int]:
        """Indexes (into the items of :meth:`request`) of the items in the server's set."""
        s, r = _parse("ServerSetup", setup), _parse("Response", response)
        return sorted(int(i) for i in _run("response", self._client.GetIntersection, s, r))

    def size(self, setup: bytes, response: bytes) -> int:
        """The size of the intersection only."""
        s, r = _parse("ServerSetup", setup), _parse("Response", response)
        return int(_run("response", self._client.GetIntersectionSize, s, r))
