"""The PSI protocol: a thin wrapper around OpenMined's ``openmined-psi`` (ECDH over P-256).

No protocol code of our own: the library hashes items to the curve, blinds them with a secret
scalar, and encodes the server's set in a Golomb-compressed set (GCS). A **server** holds a key
``s`` and publishes ``setup = GCS{H(y)^s}``; a **client** with a fresh key ``c`` sends
``request = [H(x)^c]``; the server answers ``response = [H(x)^cs]`` (shuffled when it does not
reveal members); the client strips ``c`` and looks ``H(x)^s`` up in the setup. The client learns
the intersection (or only its size); the server learns the client's set size and nothing else.

The library's calls release the GIL, so the work is split over ``WORKERS`` threads, each with its
own library object built from the same key (one object is not thread-safe): a request or response
is the concatenation of its chunks (the library's own message), and a count-only response is
shuffled again as a whole with the OS's CSPRNG, so chunking reveals nothing. A server's setup is
a list of setups, one per chunk of its (deduplicated, randomly ordered) items, each encoded at
``FPR / chunks`` so the whole session keeps the stated false-positive rate; it crosses the wire in
a small container (:func:`pack_setups`). A client looks its items up in every part.

Messages cross the wire as the library's protobuf bytes. Anything that does not parse, or holds
a value that is not a point on P-256, is ``InvalidPsiMessage``.

The roles map to dataex's modes (see docs/psi.md):

* ``members`` / ``count`` (L3/L4): the node is the server with a key drawn for the session only
  (its setup is never reused), the consumer the client.
* PSI-then-DP: roles swap. The consumer is the server (fresh key), the node the client, so the
  node learns which of *its own* rows matched and never the consumer's other items.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from dataex.errors import InvalidPsiMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

FPR: Final = 1e-9
"""The probability that a whole session yields one false positive."""
WORKERS: Final = max(1, min(8, os.cpu_count() or 1))
"""Threads the cryptographic work is split over."""
MIN_CHUNK: Final = 4096
"""Sets smaller than this are not split (threads would cost more than they save)."""
SETUP_MAGIC: Final = b"DXPSI-SETUPS1\n"

T = TypeVar("T")
R = TypeVar("R")


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


def chunks(items: Sequence[T], *, workers: int | None = None) -> list[Sequence[T]]:
    """``items`` in at most ``workers`` contiguous, nearly equal parts (one part when small)."""
    n = max(1, min(WORKERS if workers is None else workers, len(items) // MIN_CHUNK))
    bounds = [len(items) * i // n for i in range(n + 1)]
    return [items[bounds[i] : bounds[i + 1]] for i in range(n)]


def _map(fn: Callable[[T], R], parts: Sequence[T]) -> list[R]:
    if len(parts) == 1:
        return [fn(parts[0])]
    with ThreadPoolExecutor(len(parts), thread_name_prefix="psi") as pool:
        return list(pool.map(fn, parts))


def request_size(request: bytes) -> int:
    """How many items a client request carries (its encrypted elements)."""
    return len(_parse("Request", request).encrypted_elements)


def request_elements(request: bytes) -> list[bytes]:
    """The encrypted elements of a request, in order."""
    return [bytes(e) for e in _parse("Request", request).encrypted_elements]


def response_elements(response: bytes) -> list[bytes]:
    """The encrypted elements of a response, in order."""
    return [bytes(e) for e in _parse("Response", response).encrypted_elements]


def make_request(elements: Sequence[bytes], *, reveal: bool) -> bytes:
    """A request message holding ``elements`` in order."""
    message = _psi().Request()
    message.reveal_intersection = reveal
    message.encrypted_elements.extend(elements)
    return bytes(message.SerializeToString())


def make_response(elements: Sequence[bytes]) -> bytes:
    """A response message holding ``elements`` in order."""
    message = _psi().Response()
    message.encrypted_elements.extend(elements)
    return bytes(message.SerializeToString())


def exponentiate(elements: Sequence[bytes], key: bytes) -> list[bytes]:
    """Each group element raised to the scalar ``key``, in order (the library's server step)."""
    psi = _psi()
    message = psi.Request()
    message.reveal_intersection = True
    message.encrypted_elements.extend(elements)
    server = psi.server.CreateFromKey(key, True)
    return [bytes(e) for e in _run("element", server.ProcessRequest, message).encrypted_elements]


def pack_setups(parts: Sequence[bytes]) -> bytes:
    """Several setup messages as one byte string: magic, count, then (length, bytes) each."""
    out = [SETUP_MAGIC, struct.pack(">I", len(parts))]
    for part in parts:
        out += [struct.pack(">Q", len(part)), part]
    return b"".join(out)


def unpack_setups(data: bytes) -> list[Any]:
    """The parsed setup messages of :func:`pack_setups` (a bare library message is one part)."""
    if not data.startswith(SETUP_MAGIC):
        return [_parse("ServerSetup", data)]
    try:
        at = len(SETUP_MAGIC)
        (count,) = struct.unpack_from(">I", data, at)
        at += 4
        parts = []
        for _ in range(count):
            (size,) = struct.unpack_from(">Q", data, at)
            at += 8
            if at + size > len(data):
                raise struct.error("truncated")
            parts.append(data[at : at + size])
            at += size
    except struct.error as e:
        raise InvalidPsiMessage(f"the PSI setup container is malformed: {e}") from e
    if at != len(data) or not parts:
        raise InvalidPsiMessage("the PSI setup container is malformed: trailing bytes or no parts")
    return [_parse("ServerSetup", p) for p in parts]


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
    unique = list(set(items))
    shuffle(unique)  # which part holds an item is random, never a function of its value
    parts = chunks(unique)
    fpr = FPR / len(parts)

    def encode(part: Sequence[str]) -> bytes:
        server = psi.server.CreateFromKey(key, True)
        try:
            msg = server.CreateSetupMessage(fpr, max_client_items, list(part), psi.DataStructure.GCS)
        except ValueError:
            # openmined-psi 2.0.6 cannot size a GCS for a small set against a large client bound;
            # the raw encoding (33 bytes an item, exact) serves small sets just as well.
            msg = server.CreateSetupMessage(fpr, max_client_items, list(part), psi.DataStructure.RAW)
        return bytes(msg.SerializeToString())

    return Setup(key, pack_setups(_map(encode, parts)), len(unique))


def server_answer(request: bytes, *, key: bytes, reveal: bool) -> bytes:
    """The server's response to a client request; shuffled (size only) unless ``reveal``."""
    psi = _psi()
    parsed = _parse("Request", request)
    elements = list(parsed.encrypted_elements)

    def answer(part: Sequence[bytes]) -> list[bytes]:
        sub = psi.Request()
        sub.reveal_intersection = parsed.reveal_intersection
        sub.encrypted_elements.extend(part)
        server = psi.server.CreateFromKey(key, reveal)
        return list(_run("request", server.ProcessRequest, sub).encrypted_elements)

    answered = [e for part in _map(answer, chunks(elements)) for e in part]
    if not reveal:  # one shuffle over the whole response: no trace of the chunks remains
        shuffle(answered)
    response = psi.Response()
    response.encrypted_elements.extend(answered)
    return bytes(response.SerializeToString())


def shuffle(values: list[Any]) -> None:
    """Shuffles ``values`` in place: Fisher–Yates with the OS's CSPRNG."""
    for i in range(len(values) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        values[i], values[j] = values[j], values[i]


P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derive_key(secret: bytes, label: str) -> bytes:
    """A P-256 scalar in [1, order) from HMAC-SHA-512(secret, label): the same for the same label,
    unpredictable without the secret, never stored (512 bits reduced, so the bias is ~2^-256)."""
    wide = int.from_bytes(hmac.new(secret, label.encode(), hashlib.sha512).digest(), "big")
    return (wide % (P256_ORDER - 1) + 1).to_bytes(32, "big")


class Client:
    """The client half, with a fresh key (or one from :func:`derive_key`) held by this object."""

    def __init__(self, *, reveal: bool, key: bytes | None = None) -> None:
        if key is None:
            key = bytes(_psi().client.CreateWithNewKey(reveal).GetPrivateKeyBytes())
        self._key = key
        self.reveal = reveal

    def _client(self) -> Any:
        return _psi().client.CreateFromKey(self._key, self.reveal)

    def request(self, items: Sequence[str]) -> bytes:
        psi = _psi()

        def blind(part: Sequence[str]) -> list[bytes]:
            return list(self._client().CreateRequest(list(part)).encrypted_elements)

        parts = _map(blind, chunks(items))
        merged = psi.Request()
        merged.reveal_intersection = self.reveal
        merged.encrypted_elements.extend(e for part in parts for e in part)
        return bytes(merged.SerializeToString())

    def intersection(self, setup: bytes, response: bytes) -> list[int]:
        """Indexes (into the items of :meth:`request`) of the items in the server's set."""
        setups, elements = unpack_setups(setup), list(_parse("Response", response).encrypted_elements)
        offsets, parts = self._split(elements)

        def look(arg: tuple[int, Any]) -> list[int]:
            offset, sub = arg
            client, found = self._client(), set[int]()
            for s in setups:
                found.update(int(i) for i in _run("response", client.GetIntersection, s, sub))
            return sorted(offset + i for i in found)

        return sorted(i for hits in _map(look, list(zip(offsets, parts, strict=True))) for i in hits)

    def size(self, setup: bytes, response: bytes) -> int:
        """The size of the intersection only."""
        setups, elements = unpack_setups(setup), list(_parse("Response", response).encrypted_elements)
        _, parts = self._split(elements)

        def count(sub: Any) -> int:
            client = self._client()
            return sum(int(_run("response", client.GetIntersectionSize, s, sub)) for s in setups)

        return sum(_map(count, parts))

    def _split(self, elements: list[bytes]) -> tuple[list[int], list[Any]]:
        psi = _psi()
        offsets, parts = [], []
        at = 0
        for part in chunks(elements):
            sub = psi.Response()
            sub.encrypted_elements.extend(part)
            offsets.append(at)
            parts.append(sub)
            at += len(part)
        return offsets, parts
