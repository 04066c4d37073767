"""Contracts over REST in a sandbox: deploy from Solidity source, register one deployed elsewhere, list, show, call,
transact, events."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import StringConstraints

from segell.chain.abi import DecodedEvent, signature
from segell.services.deps import CallerDep, RuntimeDep, SessionDep
from segell.services.errors import error_responses
from segell.services.sandboxes import contracts_service as service
from segell.services.sandboxes.contracts import CompilerSettings, TransactionOutcome
from segell.services.sandboxes.contracts_schemas import (
    Address,
    CallOut,
    CallRequest,
    CompilerMessageOut,
    ContractDetail,
    ContractList,
    ContractOut,
    DeployOut,
    DeployRequest,
    EventList,
    EventOut,
    OutputOut,
    RegisterOut,
    RegisterRequest,
    TransactionOut,
    TransactRequest,
    wei,
)
from segell.services.sandboxes.contracts_service import KnownContract

SandboxId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]

# Administrations' keys only (403 for governance); unknown or another tenant's sandbox 404, ended 409, node down 503.
router = APIRouter(
    prefix="/v1/sandboxes/{sandbox_id}/contracts",
    tags=["sandbox contracts"],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)


def event_out(event: DecodedEvent) -> EventOut:
    return EventOut(**event.as_json())


def transaction_out(function: str | None, outcome: TransactionOutcome) -> TransactionOut:
    return TransactionOut(
        function=function,
        transaction_hash=outcome.transaction_hash,
        block_number=outcome.block_number,
        status=outcome.status,  # type: ignore[arg-type]
        gas_used=outcome.gas_used,
        events=[event_out(event) for event in outcome.events],
    )


def _summary(known: KnownContract, on_chain: bool) -> dict[str, Any]:
    record = known.record
    return {
        "address": known.address,
        "name": known.name,
        "origin": known.origin,
        "source_unit": record.source_unit if record else None,
        "transaction_hash": record.transaction_hash if record else None,
        "block_number": record.block_number if record else None,
        "deployed_at": record.deployed_at if record and record.origin == "deployed" else None,
        "on_chain": on_chain,
        "verification": record.verification if record else None,
    }


def contract_out(known: KnownContract, on_chain: bool) -> ContractOut:
    return ContractOut(**_summary(known, on_chain))


def _detail(known: KnownContract, on_chain: bool) -> dict[str, Any]:
    record = known.record
    abi = known.abi
    return {
        **_summary(known, on_chain),
        "abi": abi,
        "functions": [signature(e) for e in abi if e.get("type") == "function"],
        "events": [signature(e) for e in abi if e.get("type") == "event"],
        "compiler_version": record.compiler_version if record else None,
        "source_hash": record.source_hash if record else None,
        "sources": json.loads(record.sources) if record else None,
        "constructor_args": json.loads(record.constructor_args) if record else None,
        "compiler_settings": json.loads(record.compiler_settings) if record and record.compiler_settings else None,
    }


_COMPILING = (
    "Compile Solidity sources with the pinned solc and deploy one contract from the owner's account.\n\n"
    "Limits (server settings, defaults in brackets): the sources are at most `SEGELL_SANDBOX_COMPILE_MAX_SOURCE_"
    "BYTES` in all [256 KiB], else 413 `sources_too_large` before anything is compiled; a compilation is stopped "
    "after `SEGELL_SANDBOX_COMPILE_TIMEOUT` seconds [30] and answers 422 `compilation_timeout`; a compiler that "
    "stops without an answer gives 422 `compiler_crashed` with its message. Each API process compiles one input at "
    "a time, taking administrations in turns (round-robin): an administration may have "
    "`SEGELL_SANDBOX_COMPILE_MAX_WAITING` compilations waiting [4] and each waits at most "
    "`SEGELL_SANDBOX_COMPILE_MAX_WAIT` seconds [60], else 503 `compiler_busy`. Sources compiled before are answered "
    "from the cache without waiting."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeployOut,
    responses=error_responses(413, 503),
    description=_COMPILING,
)
def deploy_contract(
    sandbox_id: SandboxId,
    body: DeployRequest,
    request: Request,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> DeployOut:
    """Compile Solidity sources with the pinned solc and deploy one contract from the owner's account."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    deployed = service.deploy_contract(
        runtime,
        caller,
        handle,
        session,
        sources=body.sources,
        contract=body.contract,
        constructor_args=body.constructor_args,
        value=wei(body.value),
    )
    known = service.known_record(deployed.record)
    return DeployOut(
        **_detail(known, True),
        deployment=transaction_out(None, deployed.outcome),
        warnings=[CompilerMessageOut(**m.as_json()) for m in deployed.compilation.warnings],
    )


_REGISTERING = (
    "Register a contract deployed without this API (`forge create`, a raw transaction) by its address, with the "
    "Solidity sources it was compiled from. They are compiled with the pinned solc and the `compiler` settings given, "
    "and kept only if the runtime code they make is the code at the address (`eth_getCode`): `exact` when it is the "
    "same byte for byte once the constructor's immutable values are taken from the chain, `partial` when only the "
    "metadata hash at its end differs (sources that differ in comments or whitespace). Otherwise 422 "
    "`bytecode_mismatch`, saying how they differ. Once registered, the contract is called, transacted and its events "
    "read like one deployed through the API, and the explorer decodes its transactions and events. Registering an "
    "address again replaces what was registered for it.\n\n"
    "The compiler's limits, turns and cache are those of deploying (`POST /v1/sandboxes/{sandbox_id}/contracts`)."
)


@router.post(
    "/{address}/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterOut,
    responses=error_responses(413, 503),
    description=_REGISTERING,
)
def register_contract(
    sandbox_id: SandboxId,
    address: Address,
    body: RegisterRequest,
    request: Request,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> RegisterOut:
    """Register a contract deployed elsewhere, with sources that compile to the code at its address."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    registered = service.register_contract(
        runtime,
        caller,
        handle,
        session,
        address=address,
        sources=body.sources,
        contract=body.contract,
        settings=CompilerSettings(
            optimizer=body.compiler.optimizer,
            optimizer_runs=body.compiler.optimizer_runs,
            evm_version=body.compiler.evm_version,
            via_ir=body.compiler.via_ir,
        ),
        transaction_hash=body.transaction_hash,
    )
    return RegisterOut(
        **_detail(service.known_record(registered.record), True),
        immutables=registered.match.immutables,
        on_chain_compiler=registered.on_chain_compiler,
        warnings=[CompilerMessageOut(**m.as_json()) for m in registered.compilation.warnings],
    )


@router.get("", response_model=ContractList)
def list_contracts(sandbox_id: SandboxId, request: Request, caller: CallerDep, session: SessionDep) -> ContractList:
    """The sandbox's Segell contracts and those deployed through the API or registered, oldest first."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    known = service.known_contracts(session, handle)
    with handle.lock:
        w3 = handle.web3()
        present = [service.is_on_chain(w3, contract.address) for contract in known]
    return ContractList(items=[contract_out(c, p) for c, p in zip(known, present, strict=True)])


@router.get("/{address}", response_model=ContractDetail)
def read_contract(
    sandbox_id: SandboxId, address: Address, request: Request, caller: CallerDep, session: SessionDep
) -> ContractDetail:
    """One contract with its ABI, function and event signatures, and the sources it was compiled from."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    known = service.find_contract(session, handle, address)
    with handle.lock:
        on_chain = service.is_on_chain(handle.web3(), known.address)
    return ContractDetail(**_detail(known, on_chain))


@router.post("/{address}/call", response_model=CallOut)
def call_contract(
    sandbox_id: SandboxId, address: Address, body: CallRequest, request: Request, caller: CallerDep, session: SessionDep
) -> CallOut:
    """Run a function with eth_call (nothing is sent, nothing changes) and return its decoded outputs."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    result = service.call_contract(
        session, handle, address, function=body.function, arguments=body.args, sender=body.sender, value=wei(body.value)
    )
    return CallOut(function=result.function, result=result.result, outputs=[OutputOut(**o) for o in result.outputs])


@router.post("/{address}/transact", response_model=TransactionOut)
def transact_contract(
    sandbox_id: SandboxId,
    address: Address,
    body: TransactRequest,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
) -> TransactionOut:
    """Send a transaction calling a function from the owner's account; wait for it and decode its events."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    function, outcome = service.transact_contract(
        session, handle, address, function=body.function, arguments=body.args, value=wei(body.value)
    )
    return transaction_out(function, outcome)


@router.get("/{address}/events", response_model=EventList)
def contract_events(
    sandbox_id: SandboxId,
    address: Address,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    name: Annotated[
        str | None,
        Query(max_length=300, pattern=r"^[A-Za-z_$][A-Za-z0-9_$]*(\(.*\))?$", description="Event name or signature."),
    ] = None,
    from_block: Annotated[int, Query(ge=0, lt=2**63, description="First block, inclusive.")] = 0,
    to_block: Annotated[
        int | None, Query(ge=0, lt=2**63, description="Last block, inclusive; the head if left out.")
    ] = None,
) -> EventList:
    """The contract's decoded events between two blocks, of one kind (`name`) or all."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    found, last = service.contract_events(session, handle, address, name=name, from_block=from_block, to_block=to_block)
    return EventList(items=[event_out(event) for event in found], from_block=from_block, to_block=last)
