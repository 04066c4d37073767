"""Contracts of an administration's own, in a sandbox: compile Solidity, deploy, call, transact, read events.

Nothing here knows about HTTP or the database; `contracts_service` puts it behind sandboxes and tenants.

- `SolidityCompiler` compiles with the pinned solc (``[tool.segell]``: native through py-solc-x, else the npm
  build through ``tools/solc``; never a ``solc`` from ``PATH``, and always checked to be that version), with
  imports limited to the request's own files and OpenZeppelin from ``node_modules``. Output is cached by the hash
  of the compiler input, in memory and on disk: the same source compiles once. Failures are cached too, so a
  broken contract sent again costs nothing. Sources are limited in size, compilations take turns by
  administration (`CompileQueue`) and are killed past a time limit.
- `deploy`, `call`, `transact`, `events` act on a `Web3` with a funded local account, converting JSON arguments
  and answers with `chain.abi`, whose errors they answer as `InvalidArguments`, `UnknownFunction` and
  `ExecutionReverted`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError
from web3.types import TxParams, Wei

from segell.chain.abi import (
    AbiError,
    DecodedEvent,
    InvalidAbiArguments,
    UndecodableAbiData,
    UnknownAbiFunction,
    decode_log,
    decode_outputs,
    describe_revert,
    encode_arguments,
    find_function,
    revert_data,
    selector,
    signature,
)
from segell.chain.compile import (
    REPO_ROOT,
    CompileError,
    check_solc,
    find_solc,
    read_toolchain,
    with_library_sources,
    without_comments,
)
from segell.chain.transactions import send_transaction
from segell.services.errors import Conflict, PayloadTooLarge, Unavailable, ValidationFailed
from segell.services.sandboxes.compile_queue import CompileQueue

OPTIMIZER_RUNS = 200
MAX_SOURCE_FILES = 20
MAX_SOURCE_BYTES = 256 * 1024
COMPILE_TIMEOUT_S = 30.0
# How much of a crashing compiler's own words are passed on.
MAX_CRASH_MESSAGE = 2_000
MAX_EVENT_BLOCK_RANGE = 10_000
MAX_EVENTS = 1_000

# What each compilation asks solc for: enough to deploy a contract, and to match it against the code on a chain.
_OUTPUTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"]
_LIBRARY = re.compile(r"\blibrary\s+([A-Za-z_$][A-Za-z0-9_$]*)")


class CompilationFailed(ValidationFailed):
    """solc refused the sources; `details` lists each message with file, line and column."""

    code = "compilation_failed"


class InvalidArguments(ValidationFailed):
    code = "invalid_arguments"


class UnknownFunction(ValidationFailed):
    code = "unknown_function"


class ExecutionReverted(Conflict):
    """The contract refused the call; `details` carries the decoded revert reason or custom error."""

    code = "execution_reverted"


class SourcesTooLarge(PayloadTooLarge):
    code = "sources_too_large"


class CompilationTimedOut(ValidationFailed):
    code = "compilation_timeout"


class CompilerCrashed(ValidationFailed):
    code = "compiler_crashed"


# -- compiling ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompilerMessage:
    severity: str  # "error" | "warning" | "info"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "type": self.type,
            "message": self.message,
        }


@dataclass(frozen=True)
class CompiledContract:
    name: str
    source_unit: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-hex creation code, without constructor arguments
    kind: str = "contract"  # "contract" | "library" (solc gives libraries bytecode too)
    runtime_bytecode: str = "0x"  # 0x-hex code the creation code leaves on chain, zeros in place of immutables
    # solc's evm.deployedBytecode.immutableReferences: {AST id: [{"start", "length"}]} in the runtime code.
    immutable_references: dict[str, list[dict[str, int]]] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.source_unit}:{self.name}"


@dataclass(frozen=True)
class Compilation:
    source_hash: str
    compiler_version: str
    contracts: tuple[CompiledContract, ...]
    warnings: tuple[CompilerMessage, ...] = ()
    errors: tuple[CompilerMessage, ...] = ()

    def select(self, name: str | None, own_units: Sequence[str]) -> CompiledContract:
        """The contract to deploy: `name` (``Name`` or ``path.sol:Name``), or the only deployable one of `own_units`."""
        deployable = [
            c for c in self.contracts if c.source_unit in own_units and len(c.bytecode) > 2 and c.kind == "contract"
        ]
        if name is None:
            if len(deployable) == 1:
                return deployable[0]
            listed = ", ".join(c.qualified_name for c in deployable) or "none"
            raise ValidationFailed(
                f"Say which contract to deploy in `contract` (deployable: {listed}).",
                code="contract_not_chosen",
                details={"deployable": [c.qualified_name for c in deployable]},
            )
        matching = [c for c in self.contracts if name in (c.name, c.qualified_name)]
        if len(matching) > 1:
            matching = [c for c in matching if c.source_unit in own_units]
        if len(matching) != 1:
            listed = ", ".join(c.qualified_name for c in deployable) or "none"
            problem = "is ambiguous: give it as path.sol:Name" if matching else "is not in the sources"
            raise ValidationFailed(
                f"Contract {name!r} {problem} (deployable: {listed}).",
                code="unknown_contract",
                details={"deployable": [c.qualified_name for c in deployable]},
            )
        chosen = matching[0]
        if chosen.kind == "library":
            raise ValidationFailed(
                f"{chosen.qualified_name} is a library: its internal functions are compiled into the contracts"
                " that use it. Deploy one of those contracts.",
                code="not_deployable",
            )
        if len(chosen.bytecode) <= 2:
            raise ValidationFailed(
                f"{chosen.qualified_name} is abstract or an interface and cannot be deployed; deploy a contract"
                " that implements it.",
                code="not_deployable",
            )
        if "__$" in chosen.bytecode:
            raise ValidationFailed(
                f"{chosen.qualified_name} needs linked libraries, which are not supported: make the library"
                " functions `internal` so that they are compiled into the contract.",
                code="not_deployable",
            )
        return chosen


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    # solc counts bytes of UTF-8.
    before = text.encode("utf-8")[:offset]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return line, column


def _messages(entries: Sequence[Mapping[str, Any]], sources: Mapping[str, str]) -> list[CompilerMessage]:
    messages = []
    for entry in entries:
        location = entry.get("sourceLocation") or {}
        file, line, column = location.get("file"), None, None
        if (
            isinstance(file, str)
            and file in sources
            and isinstance(location.get("start"), int)
            and location["start"] >= 0
        ):
            line, column = _line_and_column(sources[file], location["start"])
        messages.append(
            CompilerMessage(
                severity=str(entry.get("severity", "error")),
                message=str(entry.get("message", "")),
                file=file,
                line=line,
                column=column,
                type=entry.get("type"),
            )
        )
    return messages


@dataclass(frozen=True)
class CompilerSettings:
    """The solc settings a compilation uses; the defaults are those contracts are deployed with through the API.

    Registering a contract deployed elsewhere compiles it with the settings it was deployed with (Foundry's
    default, for one, is the optimizer off).
    """

    optimizer: bool = True
    optimizer_runs: int = OPTIMIZER_RUNS
    evm_version: str | None = None  # the pinned toolchain's when None
    via_ir: bool = False


# Shared by every compiler of the process: one memory cache.
_MEMORY: OrderedDict[str, Compilation] = OrderedDict()
_MEMORY_GUARD = threading.Lock()


class SolidityCompiler:
    """The pinned solc with a cache. Safe to share between threads; it compiles one input at a time, in turns.

    Args:
        cache_dir: where compilations are kept on disk (none when None).
        solc_binary: the compiler to run; the pinned one found by `chain.compile.find_solc` when None. Either way
            it must report the pinned version, or compiling answers 503 `compiler_unavailable`.
        toolchain_dir: where ``tools/solc`` and ``node_modules`` (the npm solc, OpenZeppelin) are; this checkout's
            when None.
        timeout: seconds one compilation may take; the compiler is killed past it.
        max_source_bytes: most bytes of Solidity (UTF-8, every file together) one compilation takes.
        queue: the turns at the compiler; a queue of its own when None.

    Example::

        compiler = SolidityCompiler(cache_dir=Path(".segell/solc-cache"))
        compilation = compiler.compile({"Permits.sol": source})
        permits = compilation.select("Permits", ["Permits.sol"])
    """

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        solc_binary: Path | None = None,
        toolchain_dir: Path | None = None,
        memory_entries: int = 128,
        disk_entries: int = 2_000,
        timeout: float = COMPILE_TIMEOUT_S,
        max_source_bytes: int = MAX_SOURCE_BYTES,
        queue: CompileQueue | None = None,
    ) -> None:
        self.toolchain = read_toolchain()
        self.toolchain_dir = toolchain_dir or REPO_ROOT
        self._given_solc = solc_binary
        self._solc_binary: Path | None = None
        self._solc_guard = threading.Lock()
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.max_source_bytes = max_source_bytes
        self.queue = queue if queue is not None else CompileQueue()
        self._memory_entries = memory_entries
        self.disk_entries = disk_entries

    @property
    def solc_binary(self) -> Path:
        """The pinned compiler, found and checked on first use (503 `compiler_unavailable` when there is none)."""
        with self._solc_guard:
            if self._solc_binary is None:
                try:
                    if self._given_solc is None:
                        found = find_solc(self.toolchain.solc, toolchain_dir=self.toolchain_dir)
                    else:
                        check_solc(self._given_solc, self.toolchain.solc)
                        found = self._given_solc
                except CompileError as exc:
                    raise Unavailable(
                        f"This server has no working Solidity compiler {self.toolchain.solc}: {exc}. Its operator"
                        " must install it.",
                        code="compiler_unavailable",
                    ) from None
                self._solc_binary = found
            return self._solc_binary

    def standard_input(self, sources: Mapping[str, str], settings: CompilerSettings | None = None) -> dict[str, Any]:
        chosen = settings or CompilerSettings()
        compiler_settings: dict[str, Any] = {
            "evmVersion": chosen.evm_version or self.toolchain.evm_version,
            "optimizer": {"enabled": chosen.optimizer, "runs": chosen.optimizer_runs},
            "outputSelection": {unit: {"*": _OUTPUTS} for unit in sources},
        }
        if chosen.via_ir:
            compiler_settings["viaIR"] = True
        return {
            "language": "Solidity",
            "sources": {
                unit: {"content": text}
                for unit, text in with_library_sources(sources, self.toolchain_dir / "node_modules").items()
            },
            "settings": compiler_settings,
        }

    def compile(
        self, sources: Mapping[str, str], *, owner: Hashable = None, settings: CompilerSettings | None = None
    ) -> Compilation:
        """Compile `sources` (``{path.sol: text}``) in `owner`'s turn, or return the cached result of the same input.

        `settings` are the API's deploy settings when None (optimizer on, 200 runs, the pinned EVM version).

        Raises `SourcesTooLarge` (413) before anything is compiled, `CompilationFailed` with every error located,
        `CompilationTimedOut` once the compiler was stopped at `timeout`, `CompilerCrashed` with the compiler's own
        message, `CompilerBusy` when `owner` has too many compilations waiting or waited too long for its turn.
        """
        size = sum(len(text.encode("utf-8")) for text in sources.values())
        if size > self.max_source_bytes:
            raise SourcesTooLarge(
                f"The Solidity sources are {size} bytes; this server compiles at most {self.max_source_bytes} bytes"
                " per request. Deploy the contracts separately or make them smaller.",
                details={"size_bytes": size, "limit_bytes": self.max_source_bytes},
            )
        standard_input = self.standard_input(sources, settings)
        text = json.dumps(standard_input, sort_keys=True, separators=(",", ":"))
        key = hashlib.sha256(f"solc {self.toolchain.solc}\n{text}".encode()).hexdigest()
        compilation = self._cached(key)
        if compilation is None:
            with self.queue.turn(owner):
                compilation = self._cached(key) or self._run(key, text, standard_input)
        if compilation.errors:
            summary = "; ".join(
                f"{m.file}:{m.line}:{m.column}: {m.message}" if m.file else m.message for m in compilation.errors[:5]
            )
            raise CompilationFailed(
                f"The Solidity sources do not compile; fix them and send them again. {summary}",
                details=[m.as_json() for m in compilation.errors + compilation.warnings],
            )
        return compilation

    def _cached(self, key: str) -> Compilation | None:
        with _MEMORY_GUARD:
            if key in _MEMORY:
                _MEMORY.move_to_end(key)
                return _MEMORY[key]
        if self.cache_dir is not None:
            path = self.cache_dir / f"{key}.json"
            try:
                compilation = _compilation_from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                return None
            self._remember(key, compilation)
            return compilation
        return None

    def _remember(self, key: str, compilation: Compilation) -> None:
        with _MEMORY_GUARD:
            _MEMORY[key] = compilation
            _MEMORY.move_to_end(key)
            while len(_MEMORY) > self._memory_entries:
                _MEMORY.popitem(last=False)

    def _run(self, key: str, text: str, standard_input: Mapping[str, Any]) -> Compilation:
        # No import callback: solc reads no file at all, only what is in the input.
        command = [str(self.solc_binary), "--standard-json", "--no-import-callback"]
        try:
            # A session of its own, so that a timeout kills the compiler with whatever it started.
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise Unavailable(
                f"The Solidity compiler {self.solc_binary} cannot be run ({exc.strerror or exc}); its operator must"
                " reinstall it (`npm ci`).",
                code="compiler_unavailable",
            ) from None
        try:
            stdout, stderr = process.communicate(text, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_session(process)
            raise CompilationTimedOut(
                f"The compiler did not finish within {self.timeout:g} seconds and was stopped. Send fewer or smaller"
                " contracts per request, or simplify the one that takes long.",
                details={"limit_seconds": self.timeout},
            ) from None
        except BaseException:
            _kill_session(process)
            raise
        sources = {unit: entry["content"] for unit, entry in standard_input["sources"].items()}
        libraries = {
            (unit, name) for unit, text in sources.items() for name in _LIBRARY.findall(without_comments(text))
        }
        try:
            output = json.loads(stdout)
            messages = _messages(output.get("errors", []), sources)
            contracts = tuple(
                CompiledContract(
                    name=name,
                    source_unit=unit,
                    abi=entry["abi"],
                    bytecode="0x" + entry["evm"]["bytecode"]["object"],
                    kind="library" if (unit, name) in libraries else "contract",
                    runtime_bytecode="0x" + entry["evm"]["deployedBytecode"]["object"],
                    immutable_references=entry["evm"]["deployedBytecode"].get("immutableReferences") or {},
                )
                for unit, by_name in sorted(output.get("contracts", {}).items())
                for name, entry in sorted(by_name.items())
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            # No JSON, or JSON that is not solc's output: the compiler stopped part-way or is not solc at all.
            said = (stderr.strip() or stdout.strip() or "no message")[-MAX_CRASH_MESSAGE:]
            raise CompilerCrashed(
                f"The Solidity compiler stopped without compiling (exit status {process.returncode}): {said}. "
                "Change the sources around what it names, or send them in smaller parts.",
                details={"exit_status": process.returncode, "message": said},
            ) from None
        compilation = Compilation(
            source_hash=key,
            compiler_version=self.toolchain.solc,
            contracts=contracts,
            warnings=tuple(m for m in messages if m.severity != "error"),
            errors=tuple(m for m in messages if m.severity == "error"),
        )
        self._remember(key, compilation)
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            temporary = self.cache_dir / f"{key}.{threading.get_ident()}.tmp"
            temporary.write_text(json.dumps(_compilation_to_json(compilation)), encoding="utf-8")
            temporary.replace(self.cache_dir / f"{key}.json")
            self._prune_disk_cache()
        return compilation

    def _prune_disk_cache(self) -> None:
        # Every distinct input adds a file: keep the newest, so that the directory cannot grow without end.
        assert self.cache_dir is not None
        entries = sorted(self.cache_dir.glob("*.json"), key=_modified, reverse=True)
        for stale in entries[self.disk_entries :]:
            stale.unlink(missing_ok=True)


def _kill_session(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another server sharing the directory
        return 0.0


def _compilation_to_json(compilation: Compilation) -> dict[str, Any]:
    return {
        "source_hash": compilation.source_hash,
        "compiler_version": compilation.compiler_version,
        "contracts": [
            {
                "name": c.name,
                "source_unit": c.source_unit,
                "abi": c.abi,
                "bytecode": c.bytecode,
                "kind": c.kind,
                "runtime_bytecode": c.runtime_bytecode,
                "immutable_references": c.immutable_references,
            }
            for c in compilation.contracts
        ],
        "warnings": [m.as_json() for m in compilation.warnings],
        "errors": [m.as_json() for m in compilation.errors],
    }


def _compilation_from_json(data: Mapping[str, Any]) -> Compilation:
    def message(entry: Mapping[str, Any]) -> CompilerMessage:
        return CompilerMessage(**entry)

    return Compilation(
        source_hash=data["source_hash"],
        compiler_version=data["compiler_version"],
        contracts=tuple(CompiledContract(**entry) for entry in data["contracts"]),
        warnings=tuple(message(entry) for entry in data["warnings"]),
        errors=tuple(message(entry) for entry in data["errors"]),
    )


# -- reverts ------------------------------------------------------------------------------------------------------


def _node_message(exc: Exception) -> str:
    """What a node said, without web3's wrapping (``{'code': -32003, 'message': '...'}``)."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    for candidate in (error, *exc.args, getattr(exc, "message", None)):
        said = candidate.get("message") if isinstance(candidate, dict) else None
        if isinstance(said, str):
            return said
    message = getattr(exc, "message", None) or exc
    return str(message)


def _reverted(what: str, abi: Sequence[Mapping[str, Any]], exc: Exception) -> ExecutionReverted:
    described = describe_revert(abi, revert_data(exc))
    if described["error"] is None and not revert_data(exc):
        described["reason"] = _node_message(exc)
    return ExecutionReverted(
        f"{what} reverted: {described['reason']}. Change the arguments or the contract's state and try again.",
        details=described,
    )


_REVERTS = (ContractCustomError, ContractLogicError, ContractPanicError)


@contextmanager
def _abi_errors_as_domain_errors() -> Iterator[None]:
    """`chain.abi`'s errors as the answers of the contracts API (422, or 409 for an undecodable answer)."""
    try:
        yield
    except InvalidAbiArguments as exc:
        raise InvalidArguments(exc.message, details=exc.details) from None
    except UnknownAbiFunction as exc:
        raise UnknownFunction(exc.message, code=exc.code, details=exc.details) from None
    except UndecodableAbiData as exc:
        raise ExecutionReverted(exc.message, code=exc.code, details=exc.details) from None
    except AbiError as exc:
        raise ValidationFailed(exc.message, code=exc.code, details=exc.details) from None


# -- acting on a chain --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionOutcome:
    transaction_hash: str
    block_number: int
    status: str  # "success" | "reverted"
    gas_used: int
    events: tuple[DecodedEvent, ...]
    contract_address: str | None = None


def _outcome(
    w3: Web3, receipt: Mapping[str, Any], abis: Mapping[str, Sequence[Mapping[str, Any]]]
) -> TransactionOutcome:
    address = receipt.get("contractAddress")
    return TransactionOutcome(
        transaction_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        status="success" if receipt["status"] == 1 else "reverted",
        gas_used=int(receipt["gasUsed"]),
        events=tuple(decode_log(log, abis) for log in receipt["logs"]),
        contract_address=to_checksum_address(address) if address else None,
    )


def _send(
    w3: Web3,
    account: LocalAccount,
    tx: TxParams,
    what: str,
    abi: Sequence[Mapping[str, Any]],
) -> Mapping[str, Any]:
    value = int(tx.get("value", 0))
    balance = int(w3.eth.get_balance(account.address))
    if value > balance:
        raise ExecutionReverted(
            f"{what} would send {value} wei but the account {account.address} holds {balance}: send less.",
            code="insufficient_funds",
            details={"balance": str(balance), "value": str(value)},
        )
    try:
        return send_transaction(w3, account, tx)
    except _REVERTS as exc:
        raise _reverted(what, abi, exc) from None
    except Web3RPCError as exc:
        message = _node_message(exc)
        if "revert" in message.lower():
            raise _reverted(what, abi, exc) from None
        raise ExecutionReverted(
            f"The sandbox's node refused to run {what}: {message}. Check the arguments and the value sent.",
            code="transaction_refused",
        ) from None


@_abi_errors_as_domain_errors()
def deploy(
    w3: Web3, account: LocalAccount, contract: CompiledContract, constructor_args: Any, value: int = 0
) -> TransactionOutcome:
    """Deploy `contract` from `account` with JSON `constructor_args`; the outcome carries the new address."""
    constructor = next((entry for entry in contract.abi if entry.get("type") == "constructor"), None)
    inputs = constructor.get("inputs", []) if constructor else []
    what = f"The constructor of {contract.name}"
    encoded = encode_arguments(inputs, constructor_args if constructor_args is not None else [], what)
    data = contract.bytecode + encoded.hex()
    receipt = _send(w3, account, {"data": HexBytes(data), "value": Wei(value)}, what, contract.abi)
    outcome = _outcome(w3, receipt, {})
    if outcome.status != "success" or outcome.contract_address is None:
        raise ExecutionReverted(f"{what} reverted in block {outcome.block_number}; check the constructor arguments.")
    return _outcome(w3, receipt, {outcome.contract_address: contract.abi})


@dataclass(frozen=True)
class CallResult:
    function: str
    outputs: list[dict[str, Any]]

    @property
    def result(self) -> Any:
        if len(self.outputs) == 1:
            return self.outputs[0]["value"]
        if not self.outputs:
            return None
        return [output["value"] for output in self.outputs]


@_abi_errors_as_domain_errors()
def call(
    w3: Web3,
    address: str,
    abi: Sequence[Mapping[str, Any]],
    function: str,
    arguments: Any,
    *,
    sender: str | None = None,
    value: int = 0,
) -> CallResult:
    """Run `function` with eth_call (nothing is sent) and return its decoded outputs."""
    entry = find_function(abi, function, len(arguments) if isinstance(arguments, list | dict) else None)
    what = signature(entry)
    data = selector(entry) + encode_arguments(entry.get("inputs", []), arguments, what)
    tx: TxParams = {"to": to_checksum_address(address), "data": HexBytes(data), "value": Wei(value)}
    if sender is not None:
        tx["from"] = to_checksum_address(sender)
    try:
        answer = w3.eth.call(tx)
    except _REVERTS as exc:
        raise _reverted(what, abi, exc) from None
    except Web3RPCError as exc:
        raise _reverted(what, abi, exc) from None
    return CallResult(function=what, outputs=decode_outputs(entry.get("outputs", []), bytes(answer)))


@_abi_errors_as_domain_errors()
def transact(
    w3: Web3,
    account: LocalAccount,
    address: str,
    abi: Sequence[Mapping[str, Any]],
    function: str,
    arguments: Any,
    *,
    value: int = 0,
    abis: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[str, TransactionOutcome]:
    """Send a transaction calling `function` from `account`; return its signature and mined outcome."""
    entry = find_function(abi, function, len(arguments) if isinstance(arguments, list | dict) else None)
    what = signature(entry)
    if value and entry.get("stateMutability") != "payable":
        raise InvalidArguments(f"{what} is not payable: send it without a value.")
    data = selector(entry) + encode_arguments(entry.get("inputs", []), arguments, what)
    receipt = _send(
        w3, account, {"to": to_checksum_address(address), "data": HexBytes(data), "value": Wei(value)}, what, abi
    )
    known = {**(abis or {}), to_checksum_address(address): abi}
    return what, _outcome(w3, receipt, known)


def events(
    w3: Web3,
    address: str,
    abi: Sequence[Mapping[str, Any]],
    *,
    name: str | None,
    from_block: int,
    to_block: int | None,
) -> list[DecodedEvent]:
    """Decoded logs of the contract at `address` between two blocks (inclusive), optionally one event by name."""
    head = w3.eth.block_number
    last = head if to_block is None else min(to_block, head)
    if from_block > last:
        return []
    if last - from_block + 1 > MAX_EVENT_BLOCK_RANGE:
        raise ValidationFailed(
            f"Ask for at most {MAX_EVENT_BLOCK_RANGE} blocks at a time (from_block {from_block} to {last} is"
            f" {last - from_block + 1}); narrow from_block and to_block.",
            code="block_range_too_large",
        )
    wanted_topics: set[bytes] = set()
    if name is not None:
        wanted = name.replace(" ", "")
        matching = [
            entry for entry in abi if entry.get("type") == "event" and wanted in (entry.get("name"), signature(entry))
        ]
        if not matching:
            available = sorted({signature(e) for e in abi if e.get("type") == "event"})
            raise ValidationFailed(
                f"The contract has no event {name!r}. Its events: {', '.join(available) or 'none'}.",
                code="unknown_event",
                details={"events": available},
            )
        wanted_topics = {keccak(text=signature(entry)) for entry in matching}
    # Filtered here rather than by topic: eth-tester's topic filters do not match what nodes match.
    logs = w3.eth.get_logs({"address": to_checksum_address(address), "fromBlock": from_block, "toBlock": last})
    if name is not None:
        logs = [log for log in logs if log["topics"] and bytes(HexBytes(log["topics"][0])) in wanted_topics]
    return [decode_log(log, {to_checksum_address(address): abi}) for log in logs[:MAX_EVENTS]]
