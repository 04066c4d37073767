"""Contracts over REST in a sandbox: deploy from source, register one deployed elsewhere, list, show, call, transact,
read events.

Every operation asks `owned_sandbox` first, so another administration's sandbox is 404 and an ended one 409
before anything is compiled or sent. The sandbox's own Segell contracts (registry and notary) are listed beside
the deployed and registered ones, with their committed ABIs, and can be called and transacted the same way.

A contract deployed without the API (``forge create``, a raw transaction) is registered by its address and sources:
they are compiled with the pinned solc and the settings given, and kept only if the runtime code they make is the
code on chain (`chain.bytecode.match_runtime_code`: exact, or all but the metadata), as an explorer's "verify
contract" does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web3 import Web3
from web3.exceptions import TransactionNotFound

from segell.chain.abi import DecodedEvent, UndecodableAbiData, decode_outputs
from segell.chain.artifacts import load_artifact
from segell.chain.bytecode import RuntimeMatch, match_runtime_code, metadata_compiler
from segell.services.deps import Caller
from segell.services.errors import Conflict, NotFound, ValidationFailed
from segell.services.runtime import Runtime
from segell.services.sandboxes import contracts
from segell.services.sandboxes.compile_queue import CompileQueue
from segell.services.sandboxes.contracts import (
    CallResult,
    Compilation,
    CompiledContract,
    CompilerSettings,
    SolidityCompiler,
    TransactionOutcome,
)
from segell.services.sandboxes.contracts_models import SandboxContract
from segell.services.sandboxes.service import SandboxHandle, owned_sandbox
from segell.services.sandboxes.settings import SandboxSettings

SEGELL_CONTRACTS = {"AdministrationRegistry": "registry", "Notary": "notary"}


@cache
def compiler_for(
    cache_dir: Path,
    solc_binary: Path | None,
    toolchain_dir: Path | None,
    timeout: float,
    max_source_bytes: int,
    max_waiting: int,
    max_wait: float,
    engine: Engine,
) -> SolidityCompiler:
    # One per API process (and per SEGELL_HOME): its queue is what makes administrations take turns, and on
    # PostgreSQL holds the compiler and the waiting limits across the processes.
    return SolidityCompiler(
        cache_dir=cache_dir,
        solc_binary=solc_binary,
        toolchain_dir=toolchain_dir,
        timeout=timeout,
        max_source_bytes=max_source_bytes,
        queue=CompileQueue(max_waiting_per_owner=max_waiting, max_wait=max_wait, engine=engine),
    )


def compiler(runtime: Runtime) -> SolidityCompiler:
    settings, sandboxes = runtime.settings, runtime.settings.section(SandboxSettings)
    return compiler_for(
        settings.home_dir / "solc-cache",
        sandboxes.solc_binary,
        sandboxes.toolchain_dir,
        sandboxes.compile_timeout,
        sandboxes.compile_max_source_bytes,
        sandboxes.compile_max_waiting,
        sandboxes.compile_max_wait,
        runtime.engine,
    )


class BytecodeMismatch(ValidationFailed):
    """The sources, compiled with the settings given, do not make the code at the address."""

    code = "bytecode_mismatch"


@dataclass(frozen=True)
class KnownContract:
    """A contract of the sandbox the API can act on: deployed through it, registered, or one of Segell's."""

    address: str
    name: str
    origin: str  # "deployed" | "registered" | "segell"
    abi: list[dict[str, Any]]
    record: SandboxContract | None = None


@dataclass(frozen=True)
class Deployed:
    record: SandboxContract
    outcome: TransactionOutcome
    compilation: Compilation


@dataclass(frozen=True)
class Registered:
    record: SandboxContract
    match: RuntimeMatch
    on_chain_compiler: str | None
    compilation: Compilation


def _segell_contracts(handle: SandboxHandle) -> list[KnownContract]:
    return [
        KnownContract(
            address=to_checksum_address(handle.deployment.address_of(name)),
            name=name,
            origin="segell",
            abi=load_artifact(name).abi,
        )
        for name in SEGELL_CONTRACTS
    ]


def known_record(record: SandboxContract) -> KnownContract:
    return KnownContract(record.address, record.name, record.origin, json.loads(record.abi), record)


def _records(session: Session, handle: SandboxHandle) -> Sequence[SandboxContract]:
    query = (
        select(SandboxContract)
        .where(SandboxContract.sandbox_id == handle.id)
        .order_by(SandboxContract.deployed_at, SandboxContract.id)
    )
    return session.scalars(query).all()


def known_contracts(session: Session, handle: SandboxHandle) -> list[KnownContract]:
    return _segell_contracts(handle) + [known_record(record) for record in _records(session, handle)]


def abis_by_address(session: Session, handle: SandboxHandle) -> dict[str, list[dict[str, Any]]]:
    return {known.address: known.abi for known in known_contracts(session, handle)}


def is_on_chain(w3: Web3, address: str) -> bool:
    return len(w3.eth.get_code(to_checksum_address(address))) > 0


def find_contract(session: Session, handle: SandboxHandle, address: str) -> KnownContract:
    wanted = to_checksum_address(address)
    for known in known_contracts(session, handle):
        if known.address == wanted:
            return known
    raise NotFound(
        f"Sandbox {handle.id} has no contract at {wanted} that this API knows: deploy it through the API, or register "
        f"one deployed elsewhere with POST /v1/sandboxes/{handle.id}/contracts/{wanted}/register and its sources. "
        f"GET /v1/sandboxes/{handle.id}/contracts lists those there are.",
        code="contract_not_found",
    )


def _require_code(w3: Web3, handle: SandboxHandle, known: KnownContract) -> None:
    if not is_on_chain(w3, known.address):
        raise Conflict(
            f"{known.name} at {known.address} is no longer on the chain of sandbox {handle.id}: a reset or a revert"
            " to an earlier snapshot removed it. Deploy it again.",
            code="contract_not_on_chain",
        )


def sandbox(runtime_or_state: object, caller: Caller, sandbox_id: str) -> SandboxHandle:
    return owned_sandbox(runtime_or_state, caller, sandbox_id)


def deploy_contract(
    runtime: Runtime,
    caller: Caller,
    handle: SandboxHandle,
    session: Session,
    *,
    sources: Mapping[str, str],
    contract: str | None,
    constructor_args: Any,
    value: int,
) -> Deployed:
    """Compile `sources` (cached by their hash), deploy the chosen contract from the owner's account, record it."""
    assert caller.administration is not None
    compilation = compiler(runtime).compile(sources, owner=caller.administration.code)
    chosen = compilation.select(contract, list(sources))
    with handle.lock:
        outcome = contracts.deploy(handle.web3(), handle.deployer, chosen, constructor_args, value)
    assert outcome.contract_address is not None
    # After a reset or a revert the owner's nonces start again, and so do the addresses of what it deploys: the
    # new contract takes the place of the one that chain no longer has.
    _forget(session, handle, outcome.contract_address)
    record = SandboxContract(
        id=secrets.token_hex(16),
        sandbox_id=handle.id,
        administration_id=caller.administration.id,
        name=chosen.name,
        source_unit=chosen.qualified_name,
        address=outcome.contract_address,
        abi=json.dumps(chosen.abi),
        sources=json.dumps(dict(sources)),
        source_hash=compilation.source_hash,
        compiler_version=compilation.compiler_version,
        constructor_args=json.dumps(constructor_args),
        transaction_hash=outcome.transaction_hash,
        block_number=outcome.block_number,
        gas_used=outcome.gas_used,
    )
    session.add(record)
    session.flush()
    return Deployed(record, outcome, compilation)


def _forget(session: Session, handle: SandboxHandle, address: str) -> None:
    replaced = session.scalars(
        select(SandboxContract).where(SandboxContract.sandbox_id == handle.id, SandboxContract.address == address)
    ).first()
    if replaced is not None:
        session.delete(replaced)
        session.flush()


def _settings_json(settings: CompilerSettings, evm_version: str) -> dict[str, Any]:
    return {
        "optimizer": settings.optimizer,
        "optimizer_runs": settings.optimizer_runs,
        "evm_version": settings.evm_version or evm_version,
        "via_ir": settings.via_ir,
    }


def _described(settings: Mapping[str, Any]) -> str:
    optimizer = f"optimizer on, {settings['optimizer_runs']} runs" if settings["optimizer"] else "optimizer off"
    return f"{optimizer}, EVM {settings['evm_version']}" + (", via IR" if settings["via_ir"] else "")


@dataclass(frozen=True)
class _Creation:
    transaction_hash: str
    block_number: int
    gas_used: int
    constructor_args: list[Any] | None


def _creation(w3: Web3, address: str, transaction_hash: str, chosen: CompiledContract) -> _Creation:
    """The deployment `transaction_hash` names, checked to have created `address`; its constructor arguments decoded."""
    try:
        receipt = w3.eth.get_transaction_receipt(HexBytes(transaction_hash))
        transaction = w3.eth.get_transaction(HexBytes(transaction_hash))
    except TransactionNotFound:
        raise ValidationFailed(
            f"transaction_hash: the sandbox's chain has no transaction {transaction_hash}. Leave it out, or give the "
            "hash of the transaction that deployed the contract.",
            code="unknown_transaction",
        ) from None
    created = receipt.get("contractAddress")
    if not created or to_checksum_address(created) != address:
        raise ValidationFailed(
            f"transaction_hash: transaction {transaction_hash} did not create the contract at {address}"
            f" ({'it created ' + to_checksum_address(created) if created else 'it created no contract'}). Leave it"
            " out, or give the hash of the transaction that deployed it.",
            code="not_the_creation_transaction",
        )
    data = bytes(HexBytes(transaction.get("input") or b""))
    creation_code = len(chosen.bytecode) // 2 - 1
    constructor = next((entry for entry in chosen.abi if entry.get("type") == "constructor"), None)
    arguments: list[Any] | None = None
    if len(data) >= creation_code:
        try:
            decoded = decode_outputs(constructor.get("inputs", []) if constructor else [], data[creation_code:])
            arguments = [item["value"] for item in decoded]
        except UndecodableAbiData:
            arguments = None
    return _Creation(
        transaction_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
        constructor_args=arguments,
    )


def register_contract(
    runtime: Runtime,
    caller: Caller,
    handle: SandboxHandle,
    session: Session,
    *,
    address: str,
    sources: Mapping[str, str],
    contract: str | None,
    settings: CompilerSettings,
    transaction_hash: str | None,
) -> Registered:
    """Compile `sources` and keep them for the contract at `address` if their runtime code is the code on chain."""
    assert caller.administration is not None
    wanted = to_checksum_address(address)
    if any(known.address == wanted for known in _segell_contracts(handle)):
        raise Conflict(
            f"{wanted} is one of sandbox {handle.id}'s own Segell contracts, known already: call it as it is.",
            code="segell_contract",
        )
    with handle.lock:
        on_chain = bytes(handle.web3().eth.get_code(wanted))
    if not on_chain:
        raise ValidationFailed(
            f"Sandbox {handle.id} holds no contract code at {wanted}: nothing was deployed there, or a reset or a "
            "revert removed it. Deploy the contract first and register the address it was deployed at.",
            code="no_contract_code",
        )
    compiling = compiler(runtime)
    compilation = compiling.compile(sources, owner=caller.administration.code, settings=settings)
    chosen = compilation.select(contract, list(sources))
    used = _settings_json(settings, compiling.toolchain.evm_version)
    named = metadata_compiler(on_chain)
    match = match_runtime_code(
        on_chain, bytes.fromhex(chosen.runtime_bytecode.removeprefix("0x")), chosen.immutable_references
    )
    if match is None:
        compiled_size = len(chosen.runtime_bytecode) // 2 - 1
        if named is not None and named != compilation.compiler_version:
            pinned = compilation.compiler_version
            advice = (
                f"Its own metadata says solc {named} compiled it, and this server compiles with solc {pinned} "
                f"only: deploy it again compiled with solc {pinned}."
            )
        else:
            advice = (
                "Send the sources it was compiled from, the contract's name, and the settings it was compiled with "
                "(`compiler`: `optimizer`, `optimizer_runs`, `evm_version`, `via_ir`; Foundry leaves the optimizer "
                "off unless told otherwise and compiles for its own default EVM version: `forge config` shows both)."
            )
        raise BytecodeMismatch(
            f"The code at {wanted} is not what {chosen.qualified_name} compiles to with solc "
            f"{compilation.compiler_version} ({_described(used)}): {len(on_chain)} bytes on chain, {compiled_size} "
            f"compiled, different beyond the metadata and the immutables. {advice}",
            details={
                "contract": chosen.qualified_name,
                "on_chain_bytes": len(on_chain),
                "compiled_bytes": compiled_size,
                "on_chain_compiler": named,
                "compiler_version": compilation.compiler_version,
                "compiler": used,
            },
        )
    creation = None
    if transaction_hash is not None:
        with handle.lock:
            creation = _creation(handle.web3(), wanted, transaction_hash, chosen)
    _forget(session, handle, wanted)
    record = SandboxContract(
        id=secrets.token_hex(16),
        sandbox_id=handle.id,
        administration_id=caller.administration.id,
        name=chosen.name,
        source_unit=chosen.qualified_name,
        address=wanted,
        abi=json.dumps(chosen.abi),
        sources=json.dumps(dict(sources)),
        source_hash=compilation.source_hash,
        compiler_version=compilation.compiler_version,
        constructor_args=json.dumps(creation.constructor_args if creation else None),
        transaction_hash=creation.transaction_hash if creation else None,
        block_number=creation.block_number if creation else None,
        gas_used=creation.gas_used if creation else None,
        origin="registered",
        verification=match.kind,
        compiler_settings=json.dumps(used),
    )
    session.add(record)
    session.flush()
    return Registered(record, match, named, compilation)


def call_contract(
    session: Session,
    handle: SandboxHandle,
    address: str,
    *,
    function: str,
    arguments: Any,
    sender: str | None,
    value: int,
) -> CallResult:
    known = find_contract(session, handle, address)
    with handle.lock:
        w3 = handle.web3()
        _require_code(w3, handle, known)
        return contracts.call(
            w3, known.address, known.abi, function, arguments, sender=sender or handle.deployer.address, value=value
        )


def transact_contract(
    session: Session,
    handle: SandboxHandle,
    address: str,
    *,
    function: str,
    arguments: Any,
    value: int,
) -> tuple[str, TransactionOutcome]:
    known = find_contract(session, handle, address)
    abis = abis_by_address(session, handle)
    with handle.lock:
        w3 = handle.web3()
        _require_code(w3, handle, known)
        return contracts.transact(
            w3, handle.deployer, known.address, known.abi, function, arguments, value=value, abis=abis
        )


def contract_events(
    session: Session,
    handle: SandboxHandle,
    address: str,
    *,
    name: str | None,
    from_block: int,
    to_block: int | None,
) -> tuple[list[DecodedEvent], int]:
    known = find_contract(session, handle, address)
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        found = contracts.events(w3, known.address, known.abi, name=name, from_block=from_block, to_block=to_block)
    return found, head if to_block is None else min(to_block, head)
