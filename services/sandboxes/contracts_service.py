"""Contracts over REST in a sandbox: deploy from source, list, show, call, transact, read events.

Every operation asks `owned_sandbox` first, so another administration's sandbox is 404 and an ended one 409
before anything is compiled or sent. The sandbox's own Segell contracts (registry and notary) are listed beside
the deployed ones, with their committed ABIs, and can be called and transacted the same way.
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
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from segell.chain.abi import DecodedEvent
from segell.chain.artifacts import load_artifact
from segell.services.deps import Caller
from segell.services.errors import Conflict, NotFound
from segell.services.runtime import Runtime
from segell.services.sandboxes import contracts
from segell.services.sandboxes.compile_queue import CompileQueue
from segell.services.sandboxes.contracts import CallResult, Compilation, SolidityCompiler, TransactionOutcome
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
) -> SolidityCompiler:
    # One per API process (and per SEGELL_HOME): its queue is what makes administrations take turns.
    return SolidityCompiler(
        cache_dir=cache_dir,
        solc_binary=solc_binary,
        toolchain_dir=toolchain_dir,
        timeout=timeout,
        max_source_bytes=max_source_bytes,
        queue=CompileQueue(max_waiting_per_owner=max_waiting, max_wait=max_wait),
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
    )


@dataclass(frozen=True)
class KnownContract:
    """A contract of the sandbox the API can act on: deployed through it, or one of Segell's."""

    address: str
    name: str
    origin: str  # "deployed" | "segell"
    abi: list[dict[str, Any]]
    record: SandboxContract | None = None


@dataclass(frozen=True)
class Deployed:
    record: SandboxContract
    outcome: TransactionOutcome
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


def _known(record: SandboxContract) -> KnownContract:
    return KnownContract(record.address, record.name, "deployed", json.loads(record.abi), record)


def _records(session: Session, handle: SandboxHandle) -> Sequence[SandboxContract]:
    query = (
        select(SandboxContract)
        .where(SandboxContract.sandbox_id == handle.id)
        .order_by(SandboxContract.block_number, SandboxContract.id)
    )
    return session.scalars(query).all()


def known_contracts(session: Session, handle: SandboxHandle) -> list[KnownContract]:
    return _segell_contracts(handle) + [_known(record) for record in _records(session, handle)]


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
        f"Sandbox {handle.id} has no contract at {wanted} deployed through this API; "
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
    replaced = session.scalars(
        select(SandboxContract).where(
            SandboxContract.sandbox_id == handle.id, SandboxContract.address == outcome.contract_address
        )
    ).first()
    if replaced is not None:
        session.delete(replaced)
        session.flush()
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
