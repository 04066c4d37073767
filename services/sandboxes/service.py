"""Rules for sandboxes: who may create, see and use one, quotas, time to live, snapshots, reaping, restarts.

Other domains that act inside a sandbox (contracts over REST, the explorer) get it with `owned_sandbox`::

    handle = owned_sandbox(request.app.state, caller, sandbox_id)   # 404 / 409 / 503 as domain errors
    with handle.lock:                                                # keeps a revert or reset from interleaving
        w3 = handle.web3()
        send_transaction(w3, handle.deployer, {...})

A sandbox is an isolated chain (anvil or the embedded EVM) with its own governance account, the Segell contracts
deployed by it, the owner's administration admitted, and funded accounts whose keys are sealed under the master key.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from fastapi import Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from web3 import Web3

from segell.chain.deploy import Deployment, ensure_deployed, load_record
from segell.chain.gateway import NodeProxy
from segell.chain.keys import generate_account, open_private_key, seal_private_key
from segell.chain.nodes import NodeError
from segell.chain.registry import RegistryClient
from segell.services.administrations.api import Administration
from segell.services.deps import Caller, administration_of
from segell.services.errors import Conflict, NotFound, Unavailable
from segell.services.locks import CrossProcessLock, is_shared_database
from segell.services.runtime import Runtime
from segell.services.sandboxes.manager import (
    INITIAL_SNAPSHOT,
    SandboxInstance,
    SandboxLock,
    SandboxManager,
    SandboxNodeError,
    anvil_available,
)
from segell.services.sandboxes.models import Sandbox, SandboxAccount, SandboxSnapshot
from segell.services.sandboxes.settings import SandboxSettings

__all__ = [
    "ACCOUNT_FUNDS_WEI",
    "SandboxHandle",
    "SandboxService",
    "SandboxesDep",
    "get_sandboxes",
    "owned_sandbox",
]

log = logging.getLogger("segell")

#: What each funded account of a sandbox starts with; the sandbox's governance account gets far more.
ACCOUNT_FUNDS_WEI = 1_000 * 10**18
GOVERNANCE_FUNDS_WEI = 10**9 * 10**18
FUNDED_ACCOUNTS = 3
BACKENDS = ("anvil", "embedded")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------
# What other domains use


@dataclass(frozen=True)
class SandboxHandle:
    """A running sandbox, as a caller who owns it may use it.

    Attributes:
        id, name, backend (``anvil`` | ``embedded``), chain_id, administration_code: what the sandbox is.
        deployment: the Segell contracts in it (``deployment.registry``, ``deployment.notary``).
        deployer: the owner's member account (admitted in the sandbox's registry, funded); may sign transactions.
        accounts: every funded account of the owner, ``deployer`` first.
        governance: the sandbox's own governance account (holds GOVERNANCE_ROLE in its registry).
        lock: hold it around a sequence of calls that a revert or reset must not interleave with.
    """

    id: str
    name: str
    backend: str
    chain_id: int
    administration_code: str
    deployment: Deployment
    deployer: LocalAccount
    accounts: tuple[LocalAccount, ...]
    governance: LocalAccount
    _instance: SandboxInstance

    @property
    def rpc_url(self) -> str | None:
        """The node's own HTTP JSON-RPC URL: None, since no sandbox node is reachable over TCP (use `web3()`)."""
        return self._instance.node.rpc_url

    @property
    def lock(self) -> SandboxLock:
        return self._instance.lock

    def web3(self) -> Web3:
        """A `Web3` connected to the sandbox's chain (in-process for embedded)."""
        return self._instance.node.w3


def owned_sandbox(runtime_or_state: object, caller: Caller, sandbox_id: str) -> SandboxHandle:
    """The running sandbox ``sandbox_id`` of the caller's administration.

    ``runtime_or_state`` is the `SandboxService`, the app's ``state`` (or the app, or a request), or the `Runtime`.

    Raises:
        Forbidden: the governance key (sandboxes belong to administrations).
        NotFound: no such sandbox, or one of another administration.
        Conflict: the sandbox was deleted (code ``sandbox_deleted``) or has expired (``sandbox_expired``).
        Unavailable: its node is not running (it could not be restored at start).
    """
    return _find_service(runtime_or_state).handle(caller, sandbox_id)


def get_sandboxes(request: Request) -> SandboxService:
    service: SandboxService = request.app.state.sandboxes
    return service


SandboxesDep = Annotated["SandboxService", Depends(get_sandboxes)]

_services_by_runtime: dict[int, SandboxService] = {}


def _find_service(source: object) -> SandboxService:
    if isinstance(source, SandboxService):
        return source
    if isinstance(source, Runtime):
        found = _services_by_runtime.get(id(source))
        if found is not None:
            return found
    for candidate in (source, getattr(source, "state", None), getattr(getattr(source, "app", None), "state", None)):
        service = getattr(candidate, "sandboxes", None)
        if isinstance(service, SandboxService):
            return service
    raise Unavailable("Sandboxes are not running on this server.")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class SandboxStatus:
    """What `show` reports about a sandbox's chain; None when it is not running."""

    head_block: int | None
    transaction_count: int | None
    node_started_at: datetime | None
    uptime_seconds: float | None
    rpc_running: bool


@dataclass(frozen=True)
class ExportedAccount:
    address: str
    private_key: str
    role: str


# --------------------------------------------------------------------------------------------------
# The service


class SandboxService:
    """Creates, restores, reaps and stops the sandboxes of one running API.

    ``clock`` gives the current UTC time; tests move it to make sandboxes expire without waiting.
    """

    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.section(SandboxSettings)
        self.clock = clock
        anvil_binary = Path(runtime.settings.anvil_binary) if runtime.settings.anvil_binary else None
        # Several API processes: a sandbox's node runs in one of them and the others reach it (manager.py).
        self.shared = runtime.settings.workers > 1
        self.manager = SandboxManager(
            runtime.settings.home_dir / "sandboxes", anvil_binary=anvil_binary, shared=self.shared
        )
        self.anvil_available = anvil_available(anvil_binary)
        self._reservations: Counter[int] = Counter()
        self._reservation_guard = threading.Lock()
        self._creation_lock = CrossProcessLock(runtime.engine, "sandbox-creation")
        self._tx_counts: dict[str, tuple[int, int, int]] = {}  # sandbox id -> (node id, block, transactions)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._reaper: threading.Thread | None = None
        self.reaped = threading.Condition()
        self.sweeps = 0

    # -- life of the service --------------------------------------------------------------------

    def start(self) -> None:
        """Bring back the sandboxes that were running (from their saved state), reap expired ones, start the reaper."""
        _services_by_runtime[id(self.runtime)] = self
        self.reap_expired()
        with self.runtime.transaction() as session:
            running = session.scalars(select(Sandbox).where(Sandbox.status == "running")).all()
            to_restore = [(s.id, s.backend, s.chain_id) for s in running]
        for sandbox_id, backend, chain_id in to_restore:
            try:
                if self.shared:
                    self.manager.open(sandbox_id, backend, chain_id=chain_id)
                else:
                    self.manager.start(sandbox_id, backend, chain_id=chain_id)
            except Exception as exc:  # one damaged sandbox must not keep the API (or the others) from starting
                log.error("sandbox %s could not be restored: %s", sandbox_id, exc)
        self._reaper = threading.Thread(target=self._reap_periodically, name="segell-sandbox-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        """Stop the reaper and every sandbox node (their state is saved); no process or port is left behind."""
        self._stopping.set()
        self._wake.set()
        if self._reaper is not None:
            self._reaper.join(timeout=30)
        self.manager.stop_all()
        _services_by_runtime.pop(id(self.runtime), None)

    def wake_reaper(self) -> None:
        """Make the reaper sweep now instead of at its next interval."""
        self._wake.set()

    def _reap_periodically(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.settings.reaper_interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.reap_expired()
                if self.shared:
                    self.release_ended()
            except Exception:
                log.exception("sandbox reaper: a sweep failed")
            with self.reaped:
                self.sweeps += 1
                self.reaped.notify_all()

    def reap_expired(self) -> list[str]:
        """Stop and delete every running sandbox whose time to live has passed; return their ids."""
        now = self.clock()
        with self.runtime.transaction() as session:
            expired = session.scalars(
                select(Sandbox).where(Sandbox.status == "running", Sandbox.expires_at <= now)
            ).all()
            for sandbox in expired:
                self.manager.remove(sandbox.id)
                sandbox.status = "expired"
                sandbox.ended_at = now
            ids = [sandbox.id for sandbox in expired]
        for sandbox_id in ids:
            self._tx_counts.pop(sandbox_id, None)
            log.info("sandbox %s expired and was reaped", sandbox_id)
        return ids

    def release_ended(self) -> list[str]:
        """Stop and delete the nodes this process runs of sandboxes another process deleted or reaped (several API
        processes); return their ids."""
        owned = [instance.sandbox_id for instance in self.manager.running() if instance.owned]
        if not owned:
            return []
        with self.runtime.transaction() as session:
            still = set(
                session.scalars(select(Sandbox.id).where(Sandbox.id.in_(owned), Sandbox.status == "running")).all()
            )
        ended = [sandbox_id for sandbox_id in owned if sandbox_id not in still]
        for sandbox_id in ended:
            self.manager.remove(sandbox_id)
            log.info("sandbox %s ended in another process; its node was stopped and removed", sandbox_id)
        return ended

    # -- creating --------------------------------------------------------------------------------

    def create(
        self, caller: Caller, *, name: str, ttl_seconds: int | None, backend: str | None, node_admin: bool
    ) -> Sandbox:
        """A new sandbox for the caller's administration, ready to use when this returns."""
        administration = _administration_of(caller)
        backend = self._choose_backend(backend)
        ttl = ttl_seconds if ttl_seconds is not None else self.settings.default_ttl
        limit = self.settings.max_lifetime
        if ttl > limit:
            # This server's limit, not the API's: a conflict with its configuration, as an extension past it is.
            raise Conflict(
                f"ttl_seconds: {ttl} is more than the {limit} seconds a sandbox may live on this server; ask for less.",
                code="sandbox_lifetime_exceeded",
                details={"max_lifetime_seconds": limit},
            )
        with self._reserve(administration.id, administration.code):
            sandbox_id = f"sbx_{secrets.token_hex(8)}"
            try:
                return self._build(sandbox_id, administration.id, name, backend, ttl, node_admin)
            except SandboxNodeError as exc:
                self.manager.remove(sandbox_id)
                raise Unavailable(
                    f"The sandbox's chain did not start ({exc}). Try again in a moment; if it persists, ask for the "
                    "other backend.",
                    code="sandbox_start_failed",
                ) from exc
            except BaseException:
                self.manager.remove(sandbox_id)
                raise

    def _choose_backend(self, backend: str | None) -> str:
        if self.shared and backend != "anvil":
            if backend is None and self.anvil_available:
                return "anvil"
            raise Conflict(
                "backend: this server runs several API processes, and an embedded sandbox's chain would live inside "
                "one of them, out of the others' reach. Ask for backend `anvil` (operators install it with `make "
                "setup`), or run the server with one process.",
                code="backend_unavailable",
                details=[{"location": "body.backend", "message": "only anvil sandboxes run with several processes"}],
            )
        if backend is None:
            return "anvil" if self.anvil_available else "embedded"
        if backend == "anvil" and not self.anvil_available:
            # What this server can run, not something the request could know from the schema: a conflict.
            raise Conflict(
                "backend: anvil cannot run on this server (it is not installed, or no network namespace can be "
                "made to keep its node to the server). Ask for backend `embedded`, or leave backend out (the server "
                "then picks what it has); operators install anvil with `make setup` (docs/security.md).",
                code="backend_unavailable",
                details=[{"location": "body.backend", "message": "anvil cannot run on this server"}],
            )
        return backend

    @contextmanager
    def _reserve(self, administration_id: int, code: str) -> Iterator[None]:
        """Hold a place within the quotas while a sandbox is being built (two creations cannot both take the last).

        With several API processes on PostgreSQL, the places being built in another process are not counted
        here: creations then take turns across the processes instead (`_creation_lock`), each checking the quotas
        against the sandboxes the database holds.
        """
        if is_shared_database(self.runtime.engine):
            with self._creation_lock:
                self._check_quotas(administration_id, code)
                yield
            return
        with self._reservation_guard:
            self._check_quotas(administration_id, code)
            self._reservations[administration_id] += 1
        try:
            yield
        finally:
            with self._reservation_guard:
                self._reservations[administration_id] -= 1

    def _check_quotas(self, administration_id: int, code: str) -> None:
        with self.runtime.transaction() as session:
            own = session.scalar(
                select(func.count())
                .select_from(Sandbox)
                .where(Sandbox.administration_id == administration_id, Sandbox.status == "running")
            )
            total = session.scalar(select(func.count()).select_from(Sandbox).where(Sandbox.status == "running"))
        own = (own or 0) + self._reservations[administration_id]
        total = (total or 0) + sum(self._reservations.values())
        limit = self.settings.max_per_administration
        if own >= limit:
            raise Conflict(
                f"Administration {code} already runs {own} sandboxes, the most it may run at once ({limit}). "
                "Delete one it no longer needs (DELETE /v1/sandboxes/{id}) "
                "or wait until one expires, then try again.",
                code="sandbox_quota_exhausted",
                details={"running": own, "limit": limit},
            )
        if total >= self.settings.max_running:
            raise Conflict(
                f"This server already runs {total} sandboxes, its limit. Try again later, or delete one of "
                "yours you no longer need.",
                code="sandbox_capacity_exhausted",
                details={"running": total, "limit": self.settings.max_running},
            )

    def _build(
        self, sandbox_id: str, administration_id: int, name: str, backend: str, ttl: int, node_admin: bool
    ) -> Sandbox:
        master_key = self.runtime.master_key
        governance = generate_account()
        accounts = [generate_account() for _ in range(FUNDED_ACCOUNTS)]
        with self.runtime.transaction() as session:
            administration = session.get_one(Administration, administration_id)
            admin_code, admin_registry_id, admin_name = (
                administration.code,
                administration.registry_id,
                administration.name,
            )
        # A chain id of its own: what is signed for one sandbox cannot be replayed on another.
        chain_id = 0x5E6E_0000_0000 + secrets.randbelow(2**32)
        genesis: dict[ChecksumAddress, int] = {governance.address: GOVERNANCE_FUNDS_WEI}
        genesis.update({account.address: ACCOUNT_FUNDS_WEI for account in accounts})
        instance = self.manager.start(sandbox_id, backend, chain_id=chain_id, genesis_accounts=genesis)
        w3 = instance.node.w3
        deployment = ensure_deployed(w3, governance, instance.directory / "deployment.json")
        registry = RegistryClient(w3, deployment.registry)
        registry_id = bytes.fromhex(admin_registry_id[2:])
        registry.admit_administration(governance, registry_id, admin_name)
        registry.add_account(governance, registry_id, accounts[0].address)
        self.manager.save_state(instance, INITIAL_SNAPSHOT)
        now = self.clock()
        with self.runtime.transaction() as session:
            sandbox = Sandbox(
                id=sandbox_id,
                administration_id=administration_id,
                name=name,
                backend=backend,
                chain_id=chain_id,
                status="running",
                node_admin=node_admin,
                registry_address=deployment.registry,
                notary_address=deployment.notary,
                deployment_block=deployment.block,
                governance_address=governance.address,
                governance_sealed_key=seal_private_key(governance.key, master_key, label=governance.address),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
            sandbox.accounts = [
                SandboxAccount(
                    position=position,
                    address=account.address,
                    sealed_key=seal_private_key(account.key, master_key, label=account.address),
                )
                for position, account in enumerate(accounts)
            ]
            session.add(sandbox)
            session.flush()
            session.refresh(sandbox, ["accounts", "snapshots", "administration"])
        log.info("sandbox %s (%s, chain %d) created for %s", sandbox_id, backend, chain_id, admin_code)
        return sandbox

    # -- reading ---------------------------------------------------------------------------------

    def list_owned(self, caller: Caller, *, include_ended: bool) -> Sequence[Sandbox]:
        administration = _administration_of(caller)
        with self.runtime.transaction() as session:
            query = (
                select(Sandbox)
                .where(Sandbox.administration_id == administration.id)
                .options(selectinload(Sandbox.accounts), selectinload(Sandbox.snapshots))
                .order_by(Sandbox.created_at, Sandbox.id)
            )
            if not include_ended:
                query = query.where(Sandbox.status == "running")
            return session.scalars(query).all()

    def get(self, caller: Caller, sandbox_id: str) -> Sandbox:
        """The caller's sandbox, whatever its status; 404 when unknown or another administration's."""
        administration = _administration_of(caller)
        with self.runtime.transaction() as session:
            return _owned_row(session, administration.id, sandbox_id)

    def status(self, sandbox: Sandbox) -> SandboxStatus:
        instance = self.manager.get(sandbox.id) if sandbox.status == "running" else None
        if self.shared and sandbox.status == "running":
            try:
                instance = self.manager.open(sandbox.id, sandbox.backend, chain_id=sandbox.chain_id)
            except (SandboxNodeError, NodeError) as exc:
                log.warning("sandbox %s: its node could not be reached: %s", sandbox.id, exc)
                instance = None
        if instance is None:
            return SandboxStatus(None, None, None, None, False)
        with instance.lock:
            w3 = instance.node.w3
            head = int(w3.eth.block_number)
            transactions = self._transaction_count(instance, head)
        started = datetime.fromtimestamp(instance.started_at, UTC)
        return SandboxStatus(head, transactions, started, max(0.0, time.time() - instance.started_at), True)

    def _transaction_count(self, instance: SandboxInstance, head: int) -> int:
        # Counted block by block once, then only the new blocks; a revert starts a new node (or, in another
        # process, a new anvil behind the same one) and a new count.
        node_key = hash((id(instance.node), instance.pid))
        cached_node, counted_to, count = self._tx_counts.get(instance.sandbox_id, (node_key, -1, 0))
        if cached_node != node_key or counted_to > head:
            counted_to, count = -1, 0
        w3 = instance.node.w3
        for number in range(counted_to + 1, head + 1):
            count += int(w3.eth.get_block_transaction_count(number))
        self._tx_counts[instance.sandbox_id] = (node_key, head, count)
        return count

    def handle(self, caller: Caller, sandbox_id: str) -> SandboxHandle:
        administration = _administration_of(caller)
        master_key = self.runtime.master_key
        with self.runtime.transaction() as session:
            sandbox = _owned_row(session, administration.id, sandbox_id)
            self._require_running(sandbox)
            accounts = tuple(
                _open_account(account.sealed_key, account.address, master_key) for account in sandbox.accounts
            )
            governance = _open_account(sandbox.governance_sealed_key, sandbox.governance_address, master_key)
            name, backend, chain_id = sandbox.name, sandbox.backend, sandbox.chain_id
        instance = self._instance(sandbox_id, backend, chain_id)
        deployment = load_record(instance.directory / "deployment.json")
        if deployment is None:
            raise Unavailable(f"Sandbox {sandbox_id} has lost its deployment record; delete it and create another.")
        return SandboxHandle(
            id=sandbox_id,
            name=name,
            backend=backend,
            chain_id=chain_id,
            administration_code=administration.code,
            deployment=deployment,
            deployer=accounts[0],
            accounts=accounts,
            governance=governance,
            _instance=instance,
        )

    def _instance(self, sandbox_id: str, backend: str, chain_id: int) -> SandboxInstance:
        instance = self.manager.get(sandbox_id)
        if self.shared:
            if backend != "anvil" and instance is None:
                raise Unavailable(
                    f"Sandbox {sandbox_id} runs on an embedded chain, inside one process of this server, which runs "
                    "several: it cannot be reached from this one. Create an anvil sandbox instead.",
                    code="sandbox_not_running",
                )
            if backend == "anvil":
                try:
                    instance = self.manager.open(sandbox_id, backend, chain_id=chain_id)
                except (SandboxNodeError, NodeError) as exc:
                    raise Unavailable(
                        f"The node of sandbox {sandbox_id} could not be reached or started ({exc}). Try again in a "
                        "moment; if it persists, delete the sandbox and create another.",
                        code="sandbox_not_running",
                    ) from exc
        if instance is None:
            raise Unavailable(
                f"The node of sandbox {sandbox_id} is not running (it could not be restored when the server "
                "started; the server log says why). Delete the sandbox and create another.",
                code="sandbox_not_running",
            )
        return instance

    def running(self, caller: Caller, sandbox_id: str) -> tuple[Sandbox, SandboxInstance]:
        sandbox = self.get(caller, sandbox_id)
        self._require_running(sandbox)
        return sandbox, self._instance(sandbox_id, sandbox.backend, sandbox.chain_id)

    # -- changing --------------------------------------------------------------------------------

    def delete(self, caller: Caller, sandbox_id: str) -> Sandbox:
        administration = _administration_of(caller)
        with self.runtime.transaction() as session:
            sandbox = _owned_row(session, administration.id, sandbox_id)
            self._require_running(sandbox)
            self.manager.remove(sandbox_id)
            sandbox.status = "deleted"
            sandbox.ended_at = self.clock()
            session.flush()
            session.refresh(sandbox, ["accounts", "snapshots"])
        self._tx_counts.pop(sandbox_id, None)
        return sandbox

    def extend(self, caller: Caller, sandbox_id: str, seconds: int) -> Sandbox:
        administration = _administration_of(caller)
        limit = self.settings.max_lifetime
        with self.runtime.transaction() as session:
            sandbox = _owned_row(session, administration.id, sandbox_id)
            self._require_running(sandbox)
            expires_at = max(sandbox.expires_at, self.clock()) + timedelta(seconds=seconds)
            latest = sandbox.created_at + timedelta(seconds=limit)
            if expires_at > latest:
                remaining = max(0, int((latest - sandbox.expires_at).total_seconds()))
                raise Conflict(
                    f"Sandbox {sandbox_id} may live at most {limit} seconds in all (until {latest.isoformat()}); "
                    f"it can be extended by {remaining} more seconds. Ask for less, or snapshot what you need and "
                    "create a new sandbox.",
                    code="sandbox_lifetime_exhausted",
                    details={"max_lifetime_seconds": limit, "extendable_seconds": remaining},
                )
            sandbox.expires_at = expires_at
            session.flush()
            session.refresh(sandbox, ["accounts", "snapshots"])
        return sandbox

    def snapshot(self, caller: Caller, sandbox_id: str, name: str | None) -> SandboxSnapshot:
        sandbox, instance = self.running(caller, sandbox_id)
        limit = self.settings.max_snapshots
        if len(sandbox.snapshots) >= limit:
            raise Conflict(
                f"Sandbox {sandbox_id} already keeps {limit} snapshots, the most it may. Reset it, or create a new "
                "sandbox for another line of work.",
                code="sandbox_snapshot_limit",
                details={"snapshots": len(sandbox.snapshots), "limit": limit},
            )
        snapshot_id = f"snap_{secrets.token_hex(8)}"
        with instance.lock:
            head = int(instance.node.w3.eth.block_number)
            self.manager.save_state(instance, snapshot_id)
        with self.runtime.transaction() as session:
            snapshot = SandboxSnapshot(
                id=snapshot_id, sandbox_id=sandbox_id, name=name, head_block=head, created_at=self.clock()
            )
            session.add(snapshot)
        return snapshot

    def revert(self, caller: Caller, sandbox_id: str, snapshot_id: str) -> Sandbox:
        sandbox, instance = self.running(caller, sandbox_id)
        if not any(snapshot.id == snapshot_id for snapshot in sandbox.snapshots):
            raise NotFound(
                f"Sandbox {sandbox_id} has no snapshot {snapshot_id!r}. "
                f"GET /v1/sandboxes/{sandbox_id}/snapshots lists them."
            )
        self._restore(instance, snapshot_id)
        return sandbox

    def reset(self, caller: Caller, sandbox_id: str) -> Sandbox:
        sandbox, instance = self.running(caller, sandbox_id)
        self._restore(instance, INITIAL_SNAPSHOT)
        return sandbox

    def _restore(self, instance: SandboxInstance, name: str) -> None:
        try:
            self.manager.restore_state(instance, name)
        except (SandboxNodeError, NodeError, OSError) as exc:
            raise Unavailable(
                f"Sandbox {instance.sandbox_id} could not be restored ({exc}). Try again; if it persists, delete the "
                "sandbox and create another.",
                code="sandbox_restore_failed",
            ) from exc
        self._tx_counts.pop(instance.sandbox_id, None)

    def export_accounts(self, caller: Caller, sandbox_id: str) -> list[ExportedAccount]:
        administration = _administration_of(caller)
        master_key = self.runtime.master_key
        with self.runtime.transaction() as session:
            sandbox = _owned_row(session, administration.id, sandbox_id)
            self._require_running(sandbox)
            return [
                ExportedAccount(
                    address=account.address,
                    private_key="0x" + open_private_key(account.sealed_key, master_key, label=account.address).hex(),
                    role="member" if account.position == 0 else "funded",
                )
                for account in sandbox.accounts
            ]

    def _require_running(self, sandbox: Sandbox) -> None:
        """409 for a sandbox that was deleted or has expired (also one past its expiry the reaper has not swept yet)."""
        if sandbox.status == "running" and sandbox.expires_at <= self.clock():
            self.wake_reaper()
            _refuse_ended(sandbox, "expired")
        if sandbox.status != "running":
            _refuse_ended(sandbox, sandbox.status)

    # -- JSON-RPC --------------------------------------------------------------------------------

    def json_rpc(self, caller: Caller, sandbox_id: str, body: bytes) -> bytes:
        """Answer a JSON-RPC body on the sandbox's chain; ``b""`` when nothing is due (only notifications)."""
        sandbox, instance = self.running(caller, sandbox_id)
        proxy = NodeProxy(
            instance.gateway, instance.node.w3.provider, node_admin=sandbox.node_admin, lock=instance.lock
        )
        return proxy.handle_bytes(body)


def _administration_of(caller: Caller) -> Administration:
    administration: Administration = administration_of(caller)
    return administration


def _owned_row(session: Session, administration_id: int, sandbox_id: str) -> Sandbox:
    sandbox = session.scalar(
        select(Sandbox)
        .where(Sandbox.id == sandbox_id)
        .options(selectinload(Sandbox.accounts), selectinload(Sandbox.snapshots))
    )
    if sandbox is None or sandbox.administration_id != administration_id:
        # Another administration's sandbox is not disclosed.
        raise NotFound(f"No sandbox {sandbox_id!r}. GET /v1/sandboxes lists yours.")
    return sandbox


def _refuse_ended(sandbox: Sandbox, status: str) -> NoReturn:
    if status == "deleted":
        raise Conflict(
            f"Sandbox {sandbox.id} was deleted and its chain is gone. Create another with POST /v1/sandboxes.",
            code="sandbox_deleted",
        )
    raise Conflict(
        f"Sandbox {sandbox.id} expired at {sandbox.expires_at.isoformat()} and was removed. Create another with "
        "POST /v1/sandboxes (extend a sandbox's time to live before it ends with POST /v1/sandboxes/{id}/extend).",
        code="sandbox_expired",
    )


def _open_account(sealed: str, address: str, master_key: bytes) -> LocalAccount:
    account: LocalAccount = Account.from_key(open_private_key(sealed, master_key, label=address))
    return account
