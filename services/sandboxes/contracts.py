"""Contracts of an administration's own, in a sandbox: compile Solidity, deploy, call, transact, read events.

Nothing here knows about HTTP or the database; `contracts_service` puts it behind sandboxes and tenants.

- `SolidityCompiler` compiles with the pinned solc (``[tool.segell]``: native through py-solc-x, else the npm
  build through ``tools/solc``), with imports limited to the request's own files and OpenZeppelin from
  ``node_modules``. Output is cached by the hash of the compiler input, in memory and on disk: the same source
  compiles once. Failures are cached too, so a broken contract sent again costs nothing. Sources are limited in
  size, compilations take turns by administration (`CompileQueue`) and are killed past a time limit.
- `encode_arguments` turns JSON values into ABI values by the ABI types, with a message naming the argument
  and what it should be; `to_json` turns decoded values back (integers as decimal strings, bytes as 0x-hex).
- `deploy`, `call`, `transact`, `events` act on a `Web3` with a funded local account.
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
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError
from web3.types import TxParams

from segell.chain.compile import CompileError, find_solc, read_toolchain, with_library_sources, without_comments
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

_LIBRARY = re.compile(r"\blibrary\s+([A-Za-z_$][A-Za-z0-9_$]*)")
_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


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
        if file in sources and isinstance(location.get("start"), int) and location["start"] >= 0:
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


# Shared by every compiler of the process: one memory cache.
_MEMORY: OrderedDict[str, Compilation] = OrderedDict()
_MEMORY_GUARD = threading.Lock()


class SolidityCompiler:
    """The pinned solc with a cache. Safe to share between threads; it compiles one input at a time, in turns.

    Args:
        cache_dir: where compilations are kept on disk (none when None).
        solc_binary: the compiler to run; the pinned one found by `chain.compile.find_solc` when None.
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
        memory_entries: int = 128,
        disk_entries: int = 2_000,
        timeout: float = COMPILE_TIMEOUT_S,
        max_source_bytes: int = MAX_SOURCE_BYTES,
        queue: CompileQueue | None = None,
    ) -> None:
        self.toolchain = read_toolchain()
        self._solc_binary = solc_binary
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.max_source_bytes = max_source_bytes
        self.queue = queue if queue is not None else CompileQueue()
        self._memory_entries = memory_entries
        self.disk_entries = disk_entries

    @property
    def solc_binary(self) -> Path:
        if self._solc_binary is None:
            try:
                self._solc_binary = find_solc(self.toolchain.solc)
            except CompileError as exc:
                raise Unavailable(
                    f"This server has no Solidity compiler: {exc}. Its operator must install one.",
                    code="compiler_unavailable",
                ) from None
        return self._solc_binary

    def standard_input(self, sources: Mapping[str, str]) -> dict[str, Any]:
        return {
            "language": "Solidity",
            "sources": {unit: {"content": text} for unit, text in with_library_sources(sources).items()},
            "settings": {
                "evmVersion": self.toolchain.evm_version,
                "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
                "outputSelection": {unit: {"*": ["abi", "evm.bytecode.object"]} for unit in sources},
            },
        }

    def compile(self, sources: Mapping[str, str], *, owner: Hashable = None) -> Compilation:
        """Compile `sources` (``{path.sol: text}``) in `owner`'s turn, or return the cached result of the same input.

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
        standard_input = self.standard_input(sources)
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
        try:
            output = json.loads(stdout)
        except ValueError:
            said = (stderr.strip() or stdout.strip() or "no message")[-MAX_CRASH_MESSAGE:]
            raise CompilerCrashed(
                f"The Solidity compiler stopped without compiling (exit status {process.returncode}): {said}. "
                "Change the sources around what it names, or send them in smaller parts.",
                details={"exit_status": process.returncode, "message": said},
            ) from None
        sources = {unit: entry["content"] for unit, entry in standard_input["sources"].items()}
        messages = _messages(output.get("errors", []), sources)
        libraries = {
            (unit, name) for unit, text in sources.items() for name in _LIBRARY.findall(without_comments(text))
        }
        contracts = tuple(
            CompiledContract(
                name=name,
                source_unit=unit,
                abi=entry["abi"],
                bytecode="0x" + entry["evm"]["bytecode"]["object"],
                kind="library" if (unit, name) in libraries else "contract",
            )
            for unit, by_name in sorted(output.get("contracts", {}).items())
            for name, entry in sorted(by_name.items())
        )
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
            {"name": c.name, "source_unit": c.source_unit, "abi": c.abi, "bytecode": c.bytecode, "kind": c.kind}
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


# -- ABI types <-> JSON -------------------------------------------------------------------------------------------


def abi_type(entry: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter: tuples spelled out, ``(uint256,address)[]``."""
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in entry.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(abi_type(i) for i in entry.get('inputs', []))})"


def _invalid(where: str, expected: str, value: Any) -> InvalidArguments:
    shown = json.dumps(value, ensure_ascii=False)[:80]
    return InvalidArguments(
        f"Argument {where} must be {expected}, got {shown}.",
        details=[{"argument": where, "expected": expected}],
    )


def _split_array(kind: str) -> tuple[str, int | None] | None:
    if not kind.endswith("]"):
        return None
    start = kind.rindex("[")
    size = kind[start + 1 : -1]
    return kind[:start], (int(size) if size else None)


def _to_int(value: Any, where: str, kind: str) -> int:
    signed = kind.startswith("int")
    digits = kind[3:] if signed else kind[4:]
    bits = int(digits) if digits else 256
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    expected = f"a {kind}: an integer from {low} to {high}, as a JSON number or a decimal string"
    if isinstance(value, bool):
        raise _invalid(where, expected, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,80}", value.strip()):
        number = int(value.strip())
    elif isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{1,64}", value.strip()):
        number = int(value.strip(), 16)
    else:
        raise _invalid(where, expected, value)
    if not low <= number <= high:
        raise _invalid(where, expected, value)
    return number


def _to_bytes(value: Any, where: str, size: int | None) -> bytes:
    expected = f"{size} bytes as 0x followed by {2 * size} hex digits" if size else "bytes as 0x-prefixed hex"
    if not isinstance(value, str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", value):
        raise _invalid(where, expected, value)
    data = bytes.fromhex(value[2:])
    if size is not None and len(data) != size:
        raise _invalid(where, expected, value)
    return data


def _to_address(value: Any, where: str) -> str:
    expected = "an address: 0x followed by 40 hex digits (mixed case must be a valid checksum)"
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise _invalid(where, expected, value)
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and not is_checksum_address(value):
        raise _invalid(where, expected, value)
    return to_checksum_address(value)


def from_json(entry: Mapping[str, Any], value: Any, where: str) -> Any:
    """One JSON value as the ABI parameter `entry` expects it, or `InvalidArguments` naming `where`."""
    kind = str(entry["type"])
    array = _split_array(kind)
    if array is not None:
        inner_kind, size = array
        expected = f"a JSON array of {size if size is not None else 'any number of'} {inner_kind}"
        if not isinstance(value, list) or (size is not None and len(value) != size):
            raise _invalid(where, expected, value)
        inner = {**entry, "type": inner_kind}
        return [from_json(inner, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if kind == "tuple":
        components = entry.get("components", [])
        names = [c.get("name") or "" for c in components]
        if isinstance(value, dict) and all(names):
            missing = [name for name in names if name not in value]
            extra = sorted(set(value) - set(names))
            if missing or extra:
                raise _invalid(where, f"an object with exactly the fields {', '.join(names)}", value)
            value = [value[name] for name in names]
        if not isinstance(value, list) or len(value) != len(components):
            fields = ", ".join(f"{c.get('name') or '?'} ({abi_type(c)})" for c in components)
            raise _invalid(where, f"a tuple: an object or an array of {fields}", value)
        return tuple(
            from_json(c, item, f"{where}.{c.get('name') or index}")
            for index, (c, item) in enumerate(zip(components, value, strict=True))
        )
    if kind == "address":
        return _to_address(value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(where, "a bool: true or false", value)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise _invalid(where, "a string", value)
        return value
    if kind == "bytes":
        return _to_bytes(value, where, None)
    if kind.startswith("bytes"):
        return _to_bytes(value, where, int(kind[5:]))
    if kind.startswith(("uint", "int")):
        return _to_int(value, where, kind)
    raise _invalid(where, f"a value of the unsupported type {kind}", value)


def to_json(entry: Mapping[str, Any], value: Any) -> Any:
    """A decoded ABI value as JSON: integers as decimal strings, bytes as 0x-hex, tuples as objects when named."""
    kind = str(entry["type"])
    array = _split_array(kind)
    if array is not None:
        inner = {**entry, "type": array[0]}
        return [to_json(inner, item) for item in value]
    if kind == "tuple":
        components = entry.get("components", [])
        items = [to_json(c, item) for c, item in zip(components, value, strict=True)]
        names = [c.get("name") or "" for c in components]
        return dict(zip(names, items, strict=True)) if all(names) else items
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if kind == "address":
        return to_checksum_address(value)
    return value


def encode_arguments(inputs: Sequence[Mapping[str, Any]], arguments: Any, what: str) -> bytes:
    """ABI-encode JSON `arguments` (an array in order, or an object by parameter name) for `inputs`."""
    names = [entry.get("name") or "" for entry in inputs]
    if isinstance(arguments, dict):
        if not all(names):
            raise InvalidArguments(f"{what} has unnamed parameters: give the arguments as a JSON array.")
        unknown = sorted(set(arguments) - set(names))
        missing = [name for name in names if name not in arguments]
        if unknown or missing:
            raise InvalidArguments(
                f"{what} takes {', '.join(names) or 'no arguments'}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
                + ".",
                details={"expected": [{"name": n, "type": abi_type(e)} for n, e in zip(names, inputs, strict=True)]},
            )
        arguments = [arguments[name] for name in names]
    if not isinstance(arguments, list) or len(arguments) != len(inputs):
        count = len(arguments) if isinstance(arguments, list) else "no array of"
        listed = ", ".join(f"{abi_type(e)} {n}".strip() for n, e in zip(names, inputs, strict=True))
        raise InvalidArguments(
            f"{what} takes {len(inputs)} argument(s) ({listed or 'none'}), got {count} argument(s).",
            details={"expected": [{"name": n, "type": abi_type(e)} for n, e in zip(names, inputs, strict=True)]},
        )
    values = [
        from_json(entry, value, names[index] or f"#{index}")
        for index, (entry, value) in enumerate(zip(inputs, arguments, strict=True))
    ]
    try:
        return abi_encode([abi_type(entry) for entry in inputs], values)
    except (EncodingError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidArguments(f"The arguments of {what} cannot be encoded: {exc}") from None


def decode_outputs(outputs: Sequence[Mapping[str, Any]], data: bytes) -> list[dict[str, Any]]:
    try:
        values = abi_decode([abi_type(entry) for entry in outputs], data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise ExecutionReverted(
            f"The contract answered data that does not match its ABI ({exc}); is it the contract you deployed?",
            code="undecodable_result",
        ) from None
    return [
        {"name": entry.get("name") or "", "type": abi_type(entry), "value": to_json(entry, value)}
        for entry, value in zip(outputs, values, strict=True)
    ]


def find_function(abi: Sequence[Mapping[str, Any]], wanted: str, argument_count: int | None) -> Mapping[str, Any]:
    """The ABI entry named by `wanted`: a name, or a signature such as ``issue(uint256,address)`` for overloads."""
    functions = [entry for entry in abi if entry.get("type") == "function"]
    compact = wanted.replace(" ", "")
    if "(" in compact:
        matching = [entry for entry in functions if signature(entry) == compact]
    else:
        matching = [entry for entry in functions if entry.get("name") == compact]
        if len(matching) > 1 and argument_count is not None:
            matching = [entry for entry in matching if len(entry.get("inputs", [])) == argument_count] or matching
    available = sorted(signature(entry) for entry in functions)
    if not matching:
        raise UnknownFunction(
            f"The contract has no function {wanted!r}. Its functions: {', '.join(available) or 'none'}.",
            details={"functions": available},
        )
    if len(matching) > 1:
        overloads = sorted(signature(entry) for entry in matching)
        raise UnknownFunction(
            f"{wanted!r} is overloaded: name one by its signature, e.g. {overloads[0]!r}"
            f" (one of {', '.join(overloads)}).",
            code="ambiguous_function",
            details={"functions": overloads},
        )
    return matching[0]


def selector(entry: Mapping[str, Any]) -> bytes:
    return keccak(text=signature(entry))[:4]


# -- reverts ------------------------------------------------------------------------------------------------------


def _revert_data(exc: Exception) -> bytes | None:
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str) and re.fullmatch(r"0x([0-9a-fA-F]{2})*", data):
        return bytes.fromhex(data[2:])
    return None


def describe_revert(abi: Sequence[Mapping[str, Any]], data: bytes | None) -> dict[str, Any]:
    """A revert's reason: ``Error(string)``, ``Panic(uint256)`` or a custom error of `abi`, with its arguments."""
    if not data or len(data) < 4:
        return {"error": None, "args": {}, "reason": "reverted without a reason"}
    try:
        if data[:4] == keccak(text="Error(string)")[:4]:
            (reason,) = abi_decode(["string"], data[4:])
            return {"error": "Error", "args": {"reason": reason}, "reason": reason}
        if data[:4] == keccak(text="Panic(uint256)")[:4]:
            (code,) = abi_decode(["uint256"], data[4:])
            reason = _PANIC_REASONS.get(code, "panic")
            return {"error": "Panic", "args": {"code": str(code)}, "reason": f"{reason} (panic 0x{code:02x})"}
        for entry in abi:
            if entry.get("type") == "error" and selector(entry) == data[:4]:
                inputs = entry.get("inputs", [])
                values = abi_decode([abi_type(i) for i in inputs], data[4:])
                args = {
                    (i.get("name") or str(n)): to_json(i, v)
                    for n, (i, v) in enumerate(zip(inputs, values, strict=True))
                }
                rendered = ", ".join(f"{k}={v}" for k, v in args.items())
                return {"error": entry["name"], "args": args, "reason": f"{entry['name']}({rendered})"}
    except (DecodingError, ValueError, OverflowError):
        pass
    return {"error": None, "args": {}, "reason": f"reverted with data 0x{data.hex()}"}


def _node_message(exc: Exception) -> str:
    """What a node said, without web3's wrapping (``{'code': -32003, 'message': '...'}``)."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    for candidate in (error, *exc.args, getattr(exc, "message", None)):
        if isinstance(candidate, dict) and isinstance(candidate.get("message"), str):
            return candidate["message"]
    message = getattr(exc, "message", None) or exc
    return str(message)


def _reverted(what: str, abi: Sequence[Mapping[str, Any]], exc: Exception) -> ExecutionReverted:
    described = describe_revert(abi, _revert_data(exc))
    if described["error"] is None and not _revert_data(exc):
        described["reason"] = _node_message(exc)
    return ExecutionReverted(
        f"{what} reverted: {described['reason']}. Change the arguments or the contract's state and try again.",
        details=described,
    )


_REVERTS = (ContractCustomError, ContractLogicError, ContractPanicError)


# -- acting on a chain --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedEvent:
    event: str | None
    signature: str | None
    address: str
    block_number: int
    transaction_hash: str
    log_index: int
    args: dict[str, Any] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    data: str = "0x"

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "signature": self.signature,
            "address": self.address,
            "block_number": self.block_number,
            "transaction_hash": self.transaction_hash,
            "log_index": self.log_index,
            "args": self.args,
            "topics": list(self.topics),
            "data": self.data,
        }


@dataclass(frozen=True)
class TransactionOutcome:
    transaction_hash: str
    block_number: int
    status: str  # "success" | "reverted"
    gas_used: int
    events: tuple[DecodedEvent, ...]
    contract_address: str | None = None


def event_entries(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, Mapping[str, Any]]:
    """Non-anonymous events of `abi` by topic 0."""
    return {
        keccak(text=signature(entry)): entry
        for entry in abi
        if entry.get("type") == "event" and not entry.get("anonymous")
    }


def decode_log(log: Mapping[str, Any], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> DecodedEvent:
    """Decode one log with the ABI known for its address; undecodable logs keep their raw topics and data."""
    address = to_checksum_address(log["address"])
    topics = [HexBytes(topic) for topic in log["topics"]]
    data = HexBytes(log["data"])
    base = {
        "address": address,
        "block_number": int(log["blockNumber"]),
        "transaction_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
        "log_index": int(log["logIndex"]),
        "topics": tuple(topic.to_0x_hex() for topic in topics),
        "data": data.to_0x_hex(),
    }
    entry = event_entries(abis.get(address, [])).get(bytes(topics[0])) if topics else None
    if entry is None:
        return DecodedEvent(event=None, signature=None, **base)
    inputs = entry.get("inputs", [])
    indexed = [i for i in inputs if i.get("indexed")]
    plain = [i for i in inputs if not i.get("indexed")]
    try:
        plain_values = iter(abi_decode([abi_type(i) for i in plain], bytes(data)))
        indexed_topics = iter(topics[1:])
        args: dict[str, Any] = {}
        for position, item in enumerate(inputs):
            name = item.get("name") or str(position)
            if item.get("indexed"):
                topic = bytes(next(indexed_topics))
                kind = abi_type(item)
                # Dynamic indexed values are only their hash on chain.
                if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
                    args[name] = "0x" + topic.hex()
                else:
                    args[name] = to_json(item, abi_decode([kind], topic)[0])
            else:
                args[name] = to_json(item, next(plain_values))
    except (DecodingError, ValueError, StopIteration, OverflowError):
        return DecodedEvent(event=None, signature=None, **base)
    if len(indexed) != len(topics) - 1:
        return DecodedEvent(event=None, signature=None, **base)
    return DecodedEvent(event=entry["name"], signature=signature(entry), args=args, **base)


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


def deploy(
    w3: Web3, account: LocalAccount, contract: CompiledContract, constructor_args: Any, value: int = 0
) -> TransactionOutcome:
    """Deploy `contract` from `account` with JSON `constructor_args`; the outcome carries the new address."""
    constructor = next((entry for entry in contract.abi if entry.get("type") == "constructor"), None)
    inputs = constructor.get("inputs", []) if constructor else []
    what = f"The constructor of {contract.name}"
    encoded = encode_arguments(inputs, constructor_args if constructor_args is not None else [], what)
    data = contract.bytecode + encoded.hex()
    receipt = _send(w3, account, {"data": HexBytes(data), "value": value}, what, contract.abi)
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
    tx: TxParams = {"to": to_checksum_address(address), "data": HexBytes(data), "value": value}
    if sender is not None:
        tx["from"] = to_checksum_address(sender)
    try:
        answer = w3.eth.call(tx)
    except _REVERTS as exc:
        raise _reverted(what, abi, exc) from None
    except Web3RPCError as exc:
        raise _reverted(what, abi, exc) from None
    return CallResult(function=what, outputs=decode_outputs(entry.get("outputs", []), bytes(answer)))


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
        w3, account, {"to": to_checksum_address(address), "data": HexBytes(data), "value": value}, what, abi
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
