"""The one error hierarchy of dataex.

Every error a user can cause or meet is a ``DataexError`` with a stable machine ``code`` and an
HTTP ``status``; the CLI, the HTTP API and the SDK turn them into responses in exactly one place each.

    DataexError
    ├── InvalidInput              400  the request itself is malformed
    │   ├── BadFile               400  a data file cannot be imported as a table
    │   │   ├── EmptyFile         400  no bytes, or a header and no rows
    │   │   ├── RaggedRows        400  rows whose field count differs from the header
    │   │   ├── UndecodableFile   400  bytes that are not valid in any supported encoding
    │   │   ├── DuplicateColumns  400  two columns share a name
    │   │   └── UnsupportedFormat 400  a file type dataex cannot read
    │   ├── UnsafePath            400  a path that escapes where it must stay (``../``)
    │   ├── InputFileNotFound     400  a path that does not exist or is not a regular file
    │   ├── FileTooLarge          413  an upload past the node's size limit (``max_upload_bytes``)
    │   ├── ArbitragePrice        400  a per-ε price schedule that allows arbitrage
    │   ├── InvalidHierarchy      400  a generalization hierarchy missing a value or not a tree
    │   ├── AnonymizationInfeasible 422  no transformation meets the privacy models
    │   ├── QueryRefused          400  SQL outside the differentially private grammar
    │   ├── UnknownColumn         400  a column the dataset lacks
    │   ├── InvalidIdentifiers    400  a PSI input column whose values fail validation
    │   ├── InvalidPsiMessage     400  a PSI protocol message that does not parse
    │   ├── TooFewIdentifiers     400  a PSI consumer set below the minimum size
    │   └── RecipeRefused         400  a compute recipe outside the allow-list
    ├── Unauthorized              401  missing or unknown token
    ├── Forbidden                 403  the party may not do this
    │   ├── AccessDenied          403  authorize() said no (carries the deciding rule)
    │   ├── ExtractRefused        403  an extract the contract does not allow
    │   └── SignatureInvalid      403  a pre-signed URL that is tampered with or expired
    ├── NotFound                  404
    │   ├── PartyNotFound, DatasetNotFound, LogEntryNotFound, OfferNotFound,
    │   └── ContractNotFound, ProductNotFound, JobNotFound
    ├── Conflict                  409
    │   ├── NodeExists            409  ``init`` on a home that already holds a node
    │   ├── NodeNeedsUpgrade      409  the node's database predates this dataex's migrations
    │   ├── NotOriginal           409  data too similar to another party's registered dataset
    │   ├── InvalidTransition     409  a contract state change the state machine forbids
    │   ├── BudgetExhausted       409  a charge beyond the contract's remaining budget
    │   ├── InsufficientFunds     409  a charge beyond the wallet's balance
    │   ├── PrivacySettingsMissing 409  a DP query before the owner declared bounds/domains
    │   ├── FingerprintUnavailable 409  no tolerable columns to fingerprint an extract with
    │   └── ContractNotApproved   409  a contract reached a final state instead of approval (SDK)
    ├── NodeNotInitialized        404  no node at the given home
    ├── JobLimitReached           429  the consumer's or the node's cap on unfinished compute jobs
    ├── WitnessRefused            400  a witness refused a checkpoint (c2sp.org/tlog-witness statuses):
    │   ├── CheckpointUnknownLog 404, CheckpointNotSigned 403, CheckpointConflict 409,
    │   └── CheckpointNotConsistent 422
    ├── IntegrityError            500  stored state fails verification
    │
    │   errors only a client of the HTTP API meets (raised by ``dataex.sdk``):
    ├── NodeUnreachable           503  connection refused, DNS failure, timeout (after bounded retries)
    ├── BadResponse               502  a response that is not the API's JSON (e.g. from a proxy)
    ├── IncompatibleNode          426  the node speaks a newer API version than this client
    ├── UnsupportedOperation      501  the transport cannot do this
    └── WaitTimeout               408  a bounded wait (``wait_until_approved``) ran out of time
"""

from __future__ import annotations

from typing import Any, ClassVar


class DataexError(Exception):
    """Base class of every error dataex raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error envelope shared by the CLI and the HTTP API."""
        out: dict[str, Any] = {"ok": False, "error": self.message, "code": self.code, "status": self.status}
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(DataexError):
    """The request itself is malformed."""

    code = "invalid_input"
    status = 400


class BadFile(InvalidInput):
    """A data file cannot be imported as a table."""

    code = "bad_file"


class EmptyFile(BadFile):
    """The file has no bytes, or a header and no rows."""

    code = "empty_file"


class RaggedRows(BadFile):
    """Rows whose number of fields differs from the header's."""

    code = "ragged_rows"

    def __init__(self, message: str, *, lines: list[int]) -> None:
        super().__init__(message, lines=lines)
        self.lines = lines


class UndecodableFile(BadFile):
    """Bytes that are not valid in any supported text encoding."""

    code = "undecodable_file"


class DuplicateColumns(BadFile):
    """Two or more columns share a name."""

    code = "duplicate_columns"

    def __init__(self, message: str, *, columns: list[str]) -> None:
        super().__init__(message, columns=columns)
        self.columns = columns


class UnsupportedFormat(BadFile):
    """A file type dataex cannot read."""

    code = "unsupported_format"


class UnsafePath(InvalidInput):
    """A path that tries to escape (for example with ``../``)."""

    code = "unsafe_path"


class InputFileNotFound(InvalidInput):
    """A path that does not exist, or is not a regular file."""

    code = "file_not_found"


class FileTooLarge(InvalidInput):
    """An upload larger than the node's limit (``Settings.max_upload_bytes``); nothing was stored."""

    code = "file_too_large"
    status = 413

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message, limit=limit)
        self.limit = limit


class Unauthorized(DataexError):
    """Missing or unknown credentials."""

    code = "unauthorized"
    status = 401


class Forbidden(DataexError):
    """The acting party may not do this."""

    code = "forbidden"
    status = 403


class NotFound(DataexError):
    """An object that does not exist."""

    code = "not_found"
    status = 404


class PartyNotFound(NotFound):
    """No party with this id."""

    code = "party_not_found"

    def __init__(self, party_id: str) -> None:
        super().__init__(
            f"no party with id {party_id!r} (list them with `dataex party list`)", party_id=party_id
        )
        self.party_id = party_id


class DatasetNotFound(NotFound):
    """No dataset with this id."""

    code = "dataset_not_found"

    def __init__(self, dataset_id: str) -> None:
        super().__init__(
            f"no dataset with id {dataset_id!r} (list them with `dataex datasets list`)",
            dataset_id=dataset_id,
        )
        self.dataset_id = dataset_id


class LogEntryNotFound(NotFound):
    """No log entry at this index."""

    code = "log_entry_not_found"

    def __init__(self, index: int, size: int) -> None:
        super().__init__(
            f"no log entry at index {index}; the log holds {size} entries (0..{size - 1})",
            index=index,
            size=size,
        )
        self.index = index


class Conflict(DataexError):
    """The request conflicts with the node's current state."""

    code = "conflict"
    status = 409


class NodeExists(Conflict):
    """``init`` on a home that already holds a node."""

    code = "node_exists"


class NodeNeedsUpgrade(Conflict):
    """The node's database is at an older migration than this dataex: ``dataex node upgrade``."""

    code = "node_needs_upgrade"


class NotOriginal(Conflict):
    """The data is too similar to a dataset registered by another party."""

    code = "not_original"

    def __init__(self, message: str, *, dataset_id: str, similarity: float, certificate: str) -> None:
        super().__init__(message, dataset_id=dataset_id, similarity=similarity, certificate=certificate)
        self.dataset_id = dataset_id
        self.similarity = similarity


class NodeNotInitialized(DataexError):
    """There is no node at the given home."""

    code = "node_not_initialized"
    status = 404


class IntegrityError(DataexError):
    """Stored state fails verification."""

    code = "integrity_error"
    status = 500


class AccessDenied(Forbidden):
    """``authorize()`` denied an access; ``rule`` names the rule that decided it."""

    code = "access_denied"

    def __init__(self, message: str, *, rule: str, contract_id: str | None = None) -> None:
        super().__init__(message, rule=rule, contract_id=contract_id)
        self.rule = rule
        self.contract_id = contract_id


class OfferNotFound(NotFound):
    """No offer with this id."""

    code = "offer_not_found"

    def __init__(self, offer_id: str) -> None:
        super().__init__(
            f"no offer with id {offer_id!r} (list them with `dataex offer list`)", offer_id=offer_id
        )
        self.offer_id = offer_id


class ContractNotFound(NotFound):
    """No contract with this id."""

    code = "contract_not_found"

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no contract with id {contract_id!r}", contract_id=contract_id)
        self.contract_id = contract_id


class InvalidTransition(Conflict):
    """A contract state change that its current state does not allow."""

    code = "invalid_transition"

    def __init__(self, message: str, *, contract_id: str, state: str, event: str) -> None:
        super().__init__(message, contract_id=contract_id, state=state, event=event)
        self.contract_id = contract_id
        self.state = state
        self.event = event


class BudgetExhausted(Conflict):
    """A charge that would overspend a contract's remaining budget (nothing was charged)."""

    code = "budget_exhausted"

    def __init__(self, message: str, *, contract_id: str, counter: str) -> None:
        super().__init__(message, contract_id=contract_id, counter=counter)
        self.contract_id = contract_id
        self.counter = counter


class InsufficientFunds(Conflict):
    """A wallet cannot pay a charge (nothing was charged); amounts in fen."""

    code = "insufficient_funds"

    def __init__(self, message: str, *, party_id: str, balance_fen: int, needed_fen: int) -> None:
        super().__init__(message, party_id=party_id, balance_fen=balance_fen, needed_fen=needed_fen)
        self.party_id = party_id
        self.balance_fen = balance_fen
        self.needed_fen = needed_fen


class ArbitragePrice(InvalidInput):
    """A price schedule that allows arbitrage; ``violations`` name the offending points."""

    code = "arbitrage_price"

    def __init__(self, message: str, *, violations: list[dict[str, Any]]) -> None:
        super().__init__(message, violations=violations)
        self.violations = violations


class ProductNotFound(NotFound):
    """No product with this id."""

    code = "product_not_found"

    def __init__(self, product_id: str) -> None:
        super().__init__(
            f"no product with id {product_id!r} (list them with `dataex product show`)", product_id=product_id
        )
        self.product_id = product_id


class InvalidHierarchy(InvalidInput):
    """A generalization hierarchy that does not cover a value or is not a consistent tree."""

    code = "invalid_hierarchy"

    def __init__(self, message: str, *, column: str, value: str | None) -> None:
        super().__init__(message, column=column, value=value)
        self.column = column
        self.value = value


class AnonymizationInfeasible(InvalidInput):
    """No transformation satisfies the privacy models within the suppression limit."""

    code = "anonymization_infeasible"
    status = 422

    def __init__(self, message: str, *, best: dict[str, object]) -> None:
        super().__init__(message, best=best)
        self.best = best


class QueryRefused(InvalidInput):
    """SQL outside the differentially private grammar, refused before anything runs."""

    code = "query_refused"

    def __init__(self, message: str, *, construct: str) -> None:
        super().__init__(message, construct=construct)
        self.construct = construct


class UnknownColumn(InvalidInput):
    """A column the dataset does not have."""

    code = "unknown_column"

    def __init__(self, message: str, *, column: str, available: list[str]) -> None:
        super().__init__(message, column=column, available=available)
        self.column = column
        self.available = available


class PrivacySettingsMissing(Conflict):
    """A DP query needs privacy metadata (unit, bounds, domains) the provider has not declared."""

    code = "privacy_settings_missing"

    def __init__(self, message: str, *, dataset_id: str, missing: list[str]) -> None:
        super().__init__(message, dataset_id=dataset_id, missing=missing)
        self.dataset_id = dataset_id
        self.missing = missing


class InvalidIdentifiers(InvalidInput):
    """A PSI input whose values are not identifiers of the stated type (``invalid_share`` failed)."""

    code = "invalid_identifiers"

    def __init__(self, message: str, *, id_type: str, invalid: int, total: int) -> None:
        invalid_share = round(invalid / total, 4) if total else 0.0
        super().__init__(message, id_type=id_type, invalid=invalid, total=total, invalid_share=invalid_share)
        self.id_type = id_type
        self.invalid = invalid
        self.total = total
        self.invalid_share = invalid_share


class InvalidPsiMessage(InvalidInput):
    """A PSI protocol message that does not parse or holds a value that is not a valid group element."""

    code = "invalid_psi_message"


class TooFewIdentifiers(InvalidInput):
    """A PSI session whose consumer set holds fewer than ``minimum`` identifiers (``items``)."""

    code = "too_few_identifiers"

    def __init__(self, message: str, *, items: int, minimum: int) -> None:
        super().__init__(message, items=items, minimum=minimum)
        self.items = items
        self.minimum = minimum


class RecipeRefused(InvalidInput):
    """A compute recipe the node will not run; ``field`` names the offending recipe entry."""

    code = "recipe_refused"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, field=field)
        self.field = field


class JobNotFound(NotFound):
    """No compute job with this id (or not one the acting party may see)."""

    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no compute job with id {job_id!r}", job_id=job_id)
        self.job_id = job_id


class JobLimitReached(DataexError):
    """Too many unfinished compute jobs: the consumer's or the node's concurrency cap is reached."""

    code = "job_limit_reached"
    status = 429


class ExtractRefused(Forbidden):
    """An extract the contract or its dataset does not allow (e.g. L3 on data that is not de-identified)."""

    code = "extract_refused"

    def __init__(self, message: str, *, contract_id: str) -> None:
        super().__init__(message, contract_id=contract_id)
        self.contract_id = contract_id


class FingerprintUnavailable(Conflict):
    """Rows cannot leave unfingerprinted: the dataset declares no usable tolerable columns."""

    code = "fingerprint_unavailable"

    def __init__(self, message: str, *, dataset_id: str) -> None:
        super().__init__(message, dataset_id=dataset_id)
        self.dataset_id = dataset_id


class SignatureInvalid(Forbidden):
    """A pre-signed URL whose signature does not verify, or that has expired."""

    code = "signature_invalid"


# -- errors only a client of the HTTP API meets (raised by dataex.sdk) ---------------------------------
class NodeUnreachable(DataexError):
    """The node could not be reached (refused, unresolvable, timed out) after bounded retries."""

    code = "node_unreachable"
    status = 503


class BadResponse(DataexError):
    """The node (or a proxy in front of it) answered with something that is not the API's JSON."""

    code = "bad_response"
    status = 502


class IncompatibleNode(DataexError):
    """The node speaks a newer API version than this client; ``upgrade_to`` names the dataex to install."""

    code = "incompatible_node"
    status = 426

    def __init__(self, message: str, *, api: int, upgrade_to: str) -> None:
        super().__init__(message, api=api, upgrade_to=upgrade_to)
        self.api = api
        self.upgrade_to = upgrade_to


class UnsupportedOperation(DataexError):
    """The transport cannot perform this operation."""

    code = "unsupported_operation"
    status = 501


class WaitTimeout(DataexError):
    """A bounded wait ran out of time; ``state`` is the last state seen."""

    code = "wait_timeout"
    status = 408

    def __init__(self, message: str, *, contract_id: str, state: str) -> None:
        super().__init__(message, contract_id=contract_id, state=state)
        self.contract_id = contract_id
        self.state = state


class ContractNotApproved(Conflict):
    """The contract reached a final state (rejected, expired, revoked…) instead of approval."""

    code = "contract_not_approved"

    def __init__(self, message: str, *, contract_id: str, state: str) -> None:
        super().__init__(message, contract_id=contract_id, state=state)
        self.contract_id = contract_id
        self.state = state


# -- witnessing (C2SP tlog-witness ``add-checkpoint``): each answer has the status the spec names ----
class WitnessRefused(DataexError):
    """A witness refused a checkpoint; subclasses carry the c2sp.org/tlog-witness status."""

    code = "witness_refused"
    status = 400


class CheckpointUnknownLog(WitnessRefused):
    """The checkpoint's origin is not a log this node witnesses."""

    code = "witness_unknown_log"
    status = 404


class CheckpointNotSigned(WitnessRefused):
    """No signature on the checkpoint verifies with the log's pinned key."""

    code = "witness_bad_signature"
    status = 403


class CheckpointConflict(WitnessRefused):
    """The old size is not the size the witness last cosigned, or a same-size checkpoint differs."""

    code = "witness_conflict"
    status = 409

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message, size=size)
        self.size = size


class CheckpointNotConsistent(WitnessRefused):
    """The consistency proof does not prove the checkpoint extends the last cosigned one."""

    code = "witness_inconsistent"
    status = 422
