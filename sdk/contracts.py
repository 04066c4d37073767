"""Typed results of the sandbox contract methods of :class:`sdk.Client`.

Values decoded from a contract keep the API's JSON form: integers as decimal strings (a ``uint256`` does not fit
a JavaScript number, and the same JSON serves every client), addresses checksummed, ``bytes`` as ``0x``-hex,
structs as dicts by field name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ._convert import Json, optional_datetime

__all__ = [
    "CompilerMessage",
    "ContractCall",
    "ContractDetails",
    "ContractEvent",
    "ContractOrigin",
    "ContractTransaction",
    "DeployedContract",
    "SandboxContract",
]

ContractOrigin = Literal["deployed", "segell"]


@dataclass(frozen=True)
class CompilerMessage:
    """A compiler error or warning, located in the sources."""

    severity: str
    message: str
    file: str | None
    line: int | None
    column: int | None
    type: str | None

    @classmethod
    def _from_json(cls, data: Json) -> CompilerMessage:
        return cls(
            severity=str(data["severity"]),
            message=str(data["message"]),
            file=data.get("file"),
            line=data.get("line"),
            column=data.get("column"),
            type=data.get("type"),
        )

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: " if self.file else ""
        return f"{where}{self.severity}: {self.message}"


@dataclass(frozen=True)
class ContractEvent:
    """A log, decoded by the ABI of the contract that emitted it (``event`` is None when none decodes it)."""

    event: str | None
    signature: str | None
    address: str
    block_number: int
    transaction_hash: str
    log_index: int
    args: dict[str, Any]
    topics: tuple[str, ...]
    data: str

    @classmethod
    def _from_json(cls, data: Json) -> ContractEvent:
        return cls(
            event=data.get("event"),
            signature=data.get("signature"),
            address=str(data["address"]),
            block_number=int(data["block_number"]),
            transaction_hash=str(data["transaction_hash"]),
            log_index=int(data["log_index"]),
            args=dict(data["args"]),
            topics=tuple(data["topics"]),
            data=str(data["data"]),
        )


@dataclass(frozen=True)
class ContractTransaction:
    """A mined transaction: a function sent (``function`` is its signature) or a deployment (``function`` None)."""

    function: str | None
    transaction_hash: str
    block_number: int
    status: Literal["success", "reverted"]
    gas_used: int
    events: tuple[ContractEvent, ...]

    @classmethod
    def _from_json(cls, data: Json) -> ContractTransaction:
        status = data["status"]
        if status not in ("success", "reverted"):
            raise ValueError(f"unknown transaction status {status!r}")
        return cls(
            function=data.get("function"),
            transaction_hash=str(data["transaction_hash"]),
            block_number=int(data["block_number"]),
            status=status,
            gas_used=int(data["gas_used"]),
            events=tuple(ContractEvent._from_json(event) for event in data["events"]),
        )


@dataclass(frozen=True)
class ContractCall:
    """What a function answered to an ``eth_call``: ``result`` is its only output, or a list when several."""

    function: str
    result: Any
    outputs: tuple[dict[str, Any], ...]

    @classmethod
    def _from_json(cls, data: Json) -> ContractCall:
        return cls(
            function=str(data["function"]),
            result=data.get("result"),
            outputs=tuple(dict(output) for output in data["outputs"]),
        )


@dataclass(frozen=True)
class SandboxContract:
    """A contract of a sandbox: one deployed through the API, or one of the sandbox's Segell contracts."""

    address: str
    name: str
    origin: ContractOrigin
    source_unit: str | None
    transaction_hash: str | None
    block_number: int | None
    deployed_at: datetime | None
    on_chain: bool

    @classmethod
    def _fields(cls, data: Json) -> dict[str, Any]:
        origin = data["origin"]
        if origin not in ("deployed", "segell"):
            raise ValueError(f"unknown contract origin {origin!r}")
        block = data.get("block_number")
        return {
            "address": str(data["address"]),
            "name": str(data["name"]),
            "origin": origin,
            "source_unit": data.get("source_unit"),
            "transaction_hash": data.get("transaction_hash"),
            "block_number": None if block is None else int(block),
            "deployed_at": optional_datetime(data.get("deployed_at")),
            "on_chain": bool(data["on_chain"]),
        }

    @classmethod
    def _from_json(cls, data: Json) -> SandboxContract:
        return cls(**cls._fields(data))


@dataclass(frozen=True)
class ContractDetails(SandboxContract):
    """A contract with its ABI, function and event signatures, and (when deployed through the API) its sources."""

    abi: list[dict[str, Any]]
    functions: tuple[str, ...]
    events: tuple[str, ...]
    compiler_version: str | None
    source_hash: str | None
    sources: dict[str, str] | None
    constructor_args: Any

    @classmethod
    def _details(cls, data: Json) -> dict[str, Any]:
        sources = data.get("sources")
        return {
            **cls._fields(data),
            "abi": list(data["abi"]),
            "functions": tuple(data["functions"]),
            "events": tuple(data["events"]),
            "compiler_version": data.get("compiler_version"),
            "source_hash": data.get("source_hash"),
            "sources": None if sources is None else dict(sources),
            "constructor_args": data.get("constructor_args"),
        }

    @classmethod
    def _from_json(cls, data: Json) -> ContractDetails:
        return cls(**cls._details(data))


@dataclass(frozen=True)
class DeployedContract(ContractDetails):
    """A contract just deployed: its details, the deployment transaction and the compiler's warnings."""

    deployment: ContractTransaction
    warnings: tuple[CompilerMessage, ...]

    @classmethod
    def _from_json(cls, data: Json) -> DeployedContract:
        return cls(
            **cls._details(data),
            deployment=ContractTransaction._from_json(data["deployment"]),
            warnings=tuple(CompilerMessage._from_json(message) for message in data["warnings"]),
        )
