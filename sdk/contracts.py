"""Contracts in a sandbox (``client.contracts``): the group and its typed results.

Values decoded from a contract keep the API's JSON form: integers as decimal strings (a ``uint256`` does not fit
a JavaScript number, and the same JSON serves every client), addresses checksummed, ``bytes`` as ``0x``-hex,
structs as dicts by field name.
"""

from __future__ import annotations

import builtins  # the group has a method named `list`
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ._convert import Json, items, optional_datetime
from ._transport import Transport, segment

__all__ = [
    "CompilerMessage",
    "CompilerSettings",
    "ContractCall",
    "ContractDetails",
    "ContractEvent",
    "ContractOrigin",
    "Contracts",
    "ContractTransaction",
    "DeployedContract",
    "RegisteredContract",
    "SandboxContract",
]

ContractOrigin = Literal["deployed", "registered", "segell"]


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
class CompilerSettings:
    """The solc settings a contract deployed elsewhere was compiled with, for :meth:`Contracts.register`.

    The defaults are those of :meth:`Contracts.deploy`; Foundry's own default is ``optimizer=False``. The compiler
    is always the server's pinned solc; ``evm_version`` None is its pinned EVM version.
    """

    optimizer: bool = True
    optimizer_runs: int = 200
    evm_version: str | None = None
    via_ir: bool = False

    def _as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "optimizer": self.optimizer,
            "optimizer_runs": self.optimizer_runs,
            "via_ir": self.via_ir,
        }
        if self.evm_version is not None:
            body["evm_version"] = self.evm_version
        return body


@dataclass(frozen=True)
class SandboxContract:
    """A contract of a sandbox: deployed through the API, registered, or one of the sandbox's Segell contracts.

    ``verification`` is how a registered contract's sources matched its code: ``"exact"``, or ``"partial"`` when
    only the metadata hash differs (sources that differ in comments or whitespace); None for the others.
    """

    address: str
    name: str
    origin: ContractOrigin
    source_unit: str | None
    transaction_hash: str | None
    block_number: int | None
    deployed_at: datetime | None
    on_chain: bool
    verification: Literal["exact", "partial"] | None

    @classmethod
    def _fields(cls, data: Json) -> dict[str, Any]:
        origin = data["origin"]
        if origin not in ("deployed", "registered", "segell"):
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
            "verification": data.get("verification"),
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
    compiler_settings: dict[str, Any] | None

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
            "compiler_settings": data.get("compiler_settings"),
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


@dataclass(frozen=True)
class RegisteredContract(ContractDetails):
    """A contract deployed elsewhere, registered with sources that compile to its code (``verification`` says how
    closely); ``immutables`` is how many immutable values were read from the chain, ``on_chain_compiler`` the solc
    version its own metadata names."""

    immutables: int
    on_chain_compiler: str | None
    warnings: tuple[CompilerMessage, ...]

    @classmethod
    def _from_json(cls, data: Json) -> RegisteredContract:
        return cls(
            **cls._details(data),
            immutables=int(data["immutables"]),
            on_chain_compiler=data.get("on_chain_compiler"),
            warnings=tuple(CompilerMessage._from_json(message) for message in data["warnings"]),
        )


class Contracts:
    """``client.contracts``: Solidity compiled, deployed and called in a sandbox. An administration's key.

    Every method takes the sandbox's id first, e.g. ``client.contracts.list(sandbox.id)``.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def deploy(
        self,
        sandbox_id: str,
        sources: Mapping[str, str] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        contract: str | None = None,
        args: list[Any] | Mapping[str, Any] | None = None,
        value: int | None = None,
    ) -> DeployedContract:
        """Compile Solidity with the server's pinned solc and deploy one contract in a sandbox, from its owner.

        Arguments:
            sandbox_id: the sandbox, e.g. ``"sbx_0123456789abcdef"``.
            sources: ``{"path.sol": text}``, or the path of a ``.sol`` file, or several paths (sent by their
                names relative to their common folder, so that relative imports between them work).
                ``@openzeppelin/contracts/...`` imports are served by the server.
            contract: which contract to deploy, ``Name`` or ``path.sol:Name``; needed only when several can be.
            args: the constructor's arguments, in order or by name (see :meth:`call`).
            value: wei sent to a payable constructor.

        Compiling takes a few seconds the first time (the server then caches it by the sources' hash): give the
        client a ``timeout`` of a minute or more.

        Raises:
            ValidationError: ``code == "compilation_failed"`` with every compiler error (file, line, column,
                message) in ``details``; ``"invalid_arguments"`` for constructor arguments of the wrong type.
            ConflictError: the constructor reverted, or the sandbox was deleted or has expired.
            NotFoundError: no such sandbox for this administration.

        Example::

            permits = segell.contracts.deploy(sandbox.id, Path("Permits.sol"), args=[owner])
            print(permits.address, permits.deployment.gas_used)
        """
        body: dict[str, Any] = {"sources": _solidity_sources(sources)}
        if contract is not None:
            body["contract"] = contract
        if args is not None:
            body["constructor_args"] = list(args) if not isinstance(args, Mapping) else dict(args)
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts"
        return self._transport.call("POST", path, DeployedContract._from_json, json=body)

    def register(
        self,
        sandbox_id: str,
        address: str,
        sources: Mapping[str, str] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        contract: str | None = None,
        compiler: CompilerSettings | None = None,
        transaction_hash: str | None = None,
    ) -> RegisteredContract:
        """Register a contract deployed without the API (``forge create``, a raw transaction) by its sources.

        The server compiles them with its pinned solc and the ``compiler`` settings, and keeps them only if their
        runtime code is the code at ``address``, as a block explorer's "verify contract" does. Then
        :meth:`call`, :meth:`send` and :meth:`events` work on it, and the explorer decodes it.

        Arguments:
            sandbox_id: the sandbox.
            address: where the contract is.
            sources: as for :meth:`deploy`.
            contract: ``Name`` or ``path.sol:Name``; needed only when the sources hold several contracts.
            compiler: the settings it was compiled with (the API's deploy settings when None).
            transaction_hash: the transaction that deployed it, to record its block, gas and constructor arguments.

        Raises:
            ValidationError: ``code == "bytecode_mismatch"`` when the sources do not make that code (the message
                says how they differ), ``"no_contract_code"`` when nothing is deployed at ``address``.
            ConflictError: ``code == "segell_contract"`` for the sandbox's own registry or notary.

        Example::

            registered = segell.contracts.register(
                sandbox.id, address, Path("Permits.sol"), compiler=CompilerSettings(optimizer=False)
            )
            print(registered.verification)  # "exact"
        """
        body: dict[str, Any] = {"sources": _solidity_sources(sources)}
        if contract is not None:
            body["contract"] = contract
        if compiler is not None:
            body["compiler"] = compiler._as_json()
        if transaction_hash is not None:
            body["transaction_hash"] = transaction_hash
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts/{segment(address)}/register"
        return self._transport.call("POST", path, RegisteredContract._from_json, json=body)

    def list(self, sandbox_id: str) -> list[SandboxContract]:
        """The sandbox's Segell contracts (registry, notary) and those deployed in it through the API or registered."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts"
        return self._transport.call("GET", path, items(SandboxContract._from_json))

    def get(self, sandbox_id: str, address: str) -> ContractDetails:
        """One contract of a sandbox with its ABI, function signatures and sources."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts/{segment(address)}"
        return self._transport.call("GET", path, ContractDetails._from_json)

    def call(
        self,
        sandbox_id: str,
        address: str,
        function: str,
        args: builtins.list[Any] | Mapping[str, Any] | None = None,
        *,
        sender: str | None = None,
        value: int | None = None,
    ) -> ContractCall:
        """Run a contract function with ``eth_call``: nothing is sent and nothing changes.

        Arguments:
            function: its name, or its signature (``"issue(uint256,address)"``) to choose among overloads.
            args: in order (a list) or by parameter name (a dict). Integers as ``int`` or decimal strings;
                addresses, ``bytes`` and ``bytesN`` as ``0x``-hex; lists for arrays; dicts or lists for structs.
            sender: the ``msg.sender`` the contract sees; the sandbox owner's account by default.

        Outputs come back as the API's JSON: integers as decimal strings, structs as dicts::

            segell.contracts.call(sandbox.id, permits.address, "permit", [7]).result
            # {'holder': '0x...', 'kind': '0x...', 'expires': '1900000000', 'revoked': False}

        Raises:
            ValidationError: ``code`` ``unknown_function``, ``ambiguous_function`` or ``invalid_arguments``,
                with a message naming what to send.
            ConflictError: ``code == "execution_reverted"`` with the decoded reason or custom error in
                ``details``.
        """
        body: dict[str, Any] = {"function": function, "args": _contract_args(args)}
        if sender is not None:
            body["from"] = sender
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts/{segment(address)}/call"
        return self._transport.call("POST", path, ContractCall._from_json, json=body)

    def send(
        self,
        sandbox_id: str,
        address: str,
        function: str,
        args: builtins.list[Any] | Mapping[str, Any] | None = None,
        *,
        value: int | None = None,
    ) -> ContractTransaction:
        """Send a transaction calling a contract function from the sandbox owner's account and wait until mined.

        Arguments are as for :meth:`call`. The result has the transaction hash, block, status, gas
        used and the decoded events::

            sent = segell.contracts.send(sandbox.id, permits.address, "issue", [7, holder])
            print(sent.events[0].event, sent.events[0].args)

        Raises:
            ConflictError: ``code == "execution_reverted"``: the contract refused, reason in ``details``.
        """
        body: dict[str, Any] = {"function": function, "args": _contract_args(args)}
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts/{segment(address)}/transact"
        return self._transport.call("POST", path, ContractTransaction._from_json, json=body)

    def events(
        self,
        sandbox_id: str,
        address: str,
        name: str | None = None,
        *,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> builtins.list[ContractEvent]:
        """A contract's decoded events between two blocks (inclusive; up to the head by default), one kind or all."""
        params: dict[str, str] = {"from_block": str(from_block)}
        if name is not None:
            params["name"] = name
        if to_block is not None:
            params["to_block"] = str(to_block)
        path = f"/v1/sandboxes/{segment(sandbox_id)}/contracts/{segment(address)}/events"
        return self._transport.call("GET", path, items(ContractEvent._from_json), params=params)


def _contract_args(args: list[Any] | Mapping[str, Any] | None) -> list[Any] | dict[str, Any]:
    if args is None:
        return []
    return dict(args) if isinstance(args, Mapping) else list(args)


def _solidity_sources(
    sources: Mapping[str, str] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> dict[str, str]:
    if isinstance(sources, Mapping):
        return {str(name): str(text) for name, text in sources.items()}
    paths = [Path(sources)] if isinstance(sources, str | os.PathLike) else [Path(item) for item in sources]
    if not paths:
        raise ValueError("give at least one Solidity file")
    resolved = [path.resolve() for path in paths]
    root = Path(os.path.commonpath([path.parent for path in resolved]))
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8") for path in resolved}
