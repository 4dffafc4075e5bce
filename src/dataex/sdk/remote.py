"""The HTTP transport: the node's API through httpx, with bounded timeouts and careful retries.

Retry policy (``RetryPolicy``): a request is retried, with exponential backoff (honouring a short
``Retry-After``), only when another attempt cannot do harm:

* connection errors where the request never reached the node (refused, DNS, connect timeout): always;
* HTTP 429 and 503 (the node refused before doing anything): always;
* other 5xx and read timeouts: only for idempotent methods (GET, HEAD, PUT, DELETE), because a POST
  that failed half-way (a DP query after its ε was charged, say) must not run twice;
* any other 4xx: never.

Error responses carry the API's envelope ``{"ok": false, "error", "code", "status"}``; the client
raises the ``DataexError`` subclass named by ``code`` (see :func:`dataex.sdk.client.error_from_envelope`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from dataex.errors import BadResponse, DataexError, IncompatibleNode, NodeUnreachable
from dataex.sdk.client import API_VERSION, error_from_envelope, validation_error

if TYPE_CHECKING:
    import pyarrow as pa

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
ALWAYS_RETRY_STATUS = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``retries`` more attempts, sleeping ``backoff * 2**n`` (capped at ``max_backoff``) s."""

    retries: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        wait = float(min(self.backoff * 2**attempt, self.max_backoff))
        header = response.headers.get("Retry-After") if response is not None else None
        if header is not None and header.strip().replace(".", "", 1).isdigit():
            wait = min(float(header), self.max_backoff)  # an HTTP-date Retry-After keeps our backoff
        return wait

    @staticmethod
    def retry_status(method: str, status: int) -> bool:
        if status in ALWAYS_RETRY_STATUS:
            return True
        return status >= 500 and method in IDEMPOTENT

    @staticmethod
    def retry_error(method: str, error: httpx.TransportError) -> bool:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True  # the request never reached the node
        return method in IDEMPOTENT


class RemoteTransport:
    """Speaks a node's HTTP API as the party holding ``token``."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.where = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": f"dataex-sdk/{_client_version()}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.where,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # -- the one request path -----------------------------------------------------------------------
    def request(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """Sends with retries; returns a 2xx response or raises the matching ``DataexError``.

        With ``stream`` the 2xx response's body is not read yet: the caller iterates and closes it.
        """
        attempt = 0
        while True:
            try:
                response = self._http.send(self._http.build_request(method, path, **kwargs), stream=stream)
                if stream and not response.is_success:
                    response.read()  # an error body is small: read it for the envelope
                    response.close()
            except httpx.TransportError as e:
                if attempt < self.retry.retries and self.retry.retry_error(method, e):
                    self._sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise NodeUnreachable(
                    f"cannot reach the dataex node at {self.where} ({type(e).__name__}: {e}); "
                    f"is `dataex serve` running there? ({attempt + 1} attempt(s))",
                    url=self.where,
                ) from e
            if response.is_success:
                return response
            if attempt < self.retry.retries and self.retry.retry_status(method, response.status_code):
                self._sleep(self.retry.delay(attempt, response))
                attempt += 1
                continue
            raise self._error(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadResponse(
                f"{method} {path} on {self.where} answered HTTP {response.status_code} with a body that "
                f"is not JSON ({response.headers.get('content-type', 'no content type')}): "
                "is a proxy in the way?",
                status_code=response.status_code,
            ) from e

    def _error(self, response: httpx.Response) -> DataexError:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return error_from_envelope(body)
        if isinstance(body, dict) and "detail" in body and response.status_code in (400, 422):
            return validation_error(body)
        return BadResponse(
            f"{response.request.method} {response.request.url.path} on {self.where} failed with HTTP "
            f"{response.status_code} and no dataex error envelope: {response.text[:200]!r}",
            status_code=response.status_code,
        )

    # -- the version handshake ------------------------------------------------------------------------
    def check_version(self) -> dict[str, Any]:
        """``GET /version`` once (every node serving API 1 has it): a 404 means a wrong URL."""
        try:
            body = self.json("GET", "/version")
        except DataexError as e:
            if e.status == 404 or (isinstance(e, BadResponse) and e.details.get("status_code") == 404):
                raise BadResponse(
                    f"{self.where} is not the root of a dataex node's API (GET /version answered 404): "
                    "pass the URL `dataex serve` listens on, e.g. http://127.0.0.1:8000",
                    url=self.where,
                ) from e
            raise
        if not isinstance(body, dict) or not isinstance(body.get("api"), int):
            raise BadResponse(f"GET /version on {self.where} did not answer {{'api': int, 'dataex': str}}")
        if body["api"] > API_VERSION:
            upgrade = str(body.get("dataex") or "the node's version")
            raise IncompatibleNode(
                f"the node at {self.where} speaks dataex API version {body['api']}, this client speaks "
                f"{API_VERSION}: upgrade the client to dataex {upgrade} (pip install 'dataex>={upgrade}')",
                api=body["api"],
                upgrade_to=upgrade,
            )
        out: dict[str, Any] = body
        return out

    # -- the operations ---------------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/parties/me")
        return out

    def search(self, q: str, *, limit: int) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/search", params={"q": q, "limit": limit})
        return out

    def list_datasets(self, *, owner: str | None) -> list[dict[str, Any]]:
        params = {"owner": owner} if owner else {}
        out: list[dict[str, Any]] = self.json("GET", "/datasets", params=params)
        return out

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/datasets/{_seg(dataset_id)}")
        return out

    def register(
        self, path: Path, *, title: str, license: str, rights: list[str] | None, owner: str | None
    ) -> dict[str, Any]:
        data: dict[str, str] = {"title": title, "license": license}
        if rights is not None:
            data["rights"] = ",".join(rights)
        if owner:
            data["owner"] = owner
        with path.open("rb") as f:
            out: dict[str, Any] = self.json("POST", "/datasets", data=data, files={"file": (path.name, f)})
        return out

    def quality(self, dataset_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/datasets/{_seg(dataset_id)}/quality")
        return out

    def set_privacy(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.json("PUT", f"/datasets/{_seg(dataset_id)}/privacy", json=body)
        return out

    def list_offers(self, *, dataset_id: str | None) -> list[dict[str, Any]]:
        params = {"dataset": dataset_id} if dataset_id else {}
        out: list[dict[str, Any]] = self.json("GET", "/offers", params=params)
        return out

    def create_offer(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/offers", json=body)
        return out

    def request_contract(self, offer_id: str, *, purpose: str, note: str) -> dict[str, Any]:
        body = {"purpose": purpose, "note": note}
        out: dict[str, Any] = self.json("POST", f"/offers/{_seg(offer_id)}/contracts", json=body)
        return out

    def get_contract(self, contract_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/contracts/{_seg(contract_id)}")
        return out

    def list_contracts(self, *, dataset_id: str | None) -> list[dict[str, Any]]:
        params = {"dataset": dataset_id} if dataset_id else {}
        out: list[dict[str, Any]] = self.json("GET", "/contracts", params=params)
        return out

    def decide(self, contract_id: str, event: str, *, reason: str | None) -> dict[str, Any]:
        out: dict[str, Any] = self.json(
            "POST", f"/contracts/{_seg(contract_id)}/{event}", json={"reason": reason}
        )
        return out

    def query(self, contract_id: str, *, sql: str, epsilon: float) -> dict[str, Any]:
        body = {"sql": sql, "epsilon": epsilon}
        out: dict[str, Any] = self.json("POST", f"/contracts/{_seg(contract_id)}/query", json=body)
        return out

    def extract(self, contract_id: str) -> pa.Table:
        """``POST /contracts/{id}/extract?format=parquet``, streamed to a temporary file and read."""
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(prefix="dataex-extract-") as tmp:
            out = Path(tmp) / "extract.parquet"
            path = f"/contracts/{_seg(contract_id)}/extract"
            self.download("POST", path, out, params={"format": "parquet"})
            return pq.read_table(out)

    def download(self, method: str, path: str, out: Path, **kwargs: Any) -> httpx.Headers:
        """Streams a file response to ``out``; checks it against ``X-Dataex-Sha256`` when present."""
        response = self.request(method, path, stream=True, **kwargs)
        digest = hashlib.sha256()
        try:
            with out.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
                    digest.update(chunk)
        except httpx.TransportError as e:
            raise NodeUnreachable(
                f"the download of {path} from {self.where} broke off ({type(e).__name__}: {e})",
                url=self.where,
            ) from e
        finally:
            response.close()
        expected = response.headers.get("X-Dataex-Sha256")
        if expected is not None and expected != digest.hexdigest():
            raise BadResponse(
                f"{method} {path} on {self.where}: the file received has SHA-256 {digest.hexdigest()}, "
                f"the node sent {expected}: it was changed or cut on the way"
            )
        return response.headers


def _seg(value: str) -> str:
    """One URL path segment (ids never hold ``/``; quoting keeps a bad id from changing the route)."""
    from urllib.parse import quote

    return quote(value, safe="")


def _client_version() -> str:
    from dataex.version import __version__

    return __version__
