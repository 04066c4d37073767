"""The running chains of the sandboxes: started, saved, restored and stopped, never left behind.

Each sandbox keeps everything in ``<SEGELL_HOME>/sandboxes/<id>/``:

    chain/                 the node's state (anvil's state file, or the embedded chain's block journal)
    snapshots/<name>       saved states of that chain; ``initial`` is the state right after creation

A snapshot is a copy of the chain's state: anvil's ``anvil_dumpState`` (the format of its ``--state`` file), or the
embedded chain's journal. Reverting stops the node, puts the saved state in place and starts the node again, so
snapshots survive a restart of the API and can be reverted to more than once.

anvil nodes are children of the API process started with PDEATHSIG (`chain.anvil`): they stop with it, even when
it is killed. `SandboxManager.stop_all` stops them on a clean shutdown; their state is saved on the way out.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eth_typing import ChecksumAddress

from segell.chain.anvil import STATE_FILE, AnvilNode, find_anvil, network_isolation
from segell.chain.durable import replace_atomically
from segell.chain.embedded import JOURNAL_NAME, EmbeddedNode
from segell.chain.gateway import ReadOnlyGateway
from segell.chain.nodes import AnvilNotFound, ChainNode, NodeError, NodeIsolationUnavailable

log = logging.getLogger("segell")

INITIAL_SNAPSHOT = "initial"


class SandboxNodeError(Exception):
    """A sandbox's node could not be started, saved or restored; the message says why."""


def anvil_available(binary: Path | None = None) -> bool:
    """Whether anvil is installed and can run where only this process reaches it (`chain.anvil`)."""
    try:
        find_anvil(binary)
        network_isolation()
    except (AnvilNotFound, NodeIsolationUnavailable):
        return False
    return True


@dataclass
class SandboxInstance:
    """One running sandbox chain. Hold `lock` while using `node` for anything a revert must not interleave with."""

    sandbox_id: str
    backend: str
    directory: Path
    chain_id: int
    node: ChainNode
    gateway: ReadOnlyGateway
    started_at: float = field(default_factory=time.time)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def chain_dir(self) -> Path:
        return self.directory / "chain"

    @property
    def pid(self) -> int | None:
        return self.node.pid if isinstance(self.node, AnvilNode) else None


class SandboxManager:
    """The sandbox nodes this process runs, by sandbox id."""

    def __init__(self, root: Path, *, anvil_binary: Path | None = None) -> None:
        self.root = root
        self.anvil_binary = anvil_binary
        self._instances: dict[str, SandboxInstance] = {}
        self._guard = threading.Lock()

    def directory(self, sandbox_id: str) -> Path:
        return self.root / sandbox_id

    def snapshot_path(self, sandbox_id: str, name: str) -> Path:
        return self.directory(sandbox_id) / "snapshots" / name

    def get(self, sandbox_id: str) -> SandboxInstance | None:
        with self._guard:
            return self._instances.get(sandbox_id)

    def running(self) -> list[SandboxInstance]:
        with self._guard:
            return list(self._instances.values())

    def start(
        self,
        sandbox_id: str,
        backend: str,
        *,
        chain_id: int,
        genesis_accounts: Mapping[ChecksumAddress, int] | None = None,
    ) -> SandboxInstance:
        """Start the sandbox's node over the state it holds (a fresh chain funding ``genesis_accounts`` when none).

        Give ``genesis_accounts`` only when creating: on a restart the state already holds the funds, and topping
        up accounts that spent gas would add a block the owner did not make.
        """
        directory = self.directory(sandbox_id)
        chain_dir = directory / "chain"
        chain_dir.mkdir(parents=True, exist_ok=True)
        node = self._start_node(backend, chain_dir, chain_id, genesis_accounts or {})
        instance = SandboxInstance(
            sandbox_id=sandbox_id,
            backend=backend,
            directory=directory,
            chain_id=chain_id,
            node=node,
            gateway=_gateway(node),
        )
        with self._guard:
            previous = self._instances.pop(sandbox_id, None)
            self._instances[sandbox_id] = instance
        if previous is not None:
            _stop_instance(previous)
        return instance

    def _start_node(
        self, backend: str, chain_dir: Path, chain_id: int, genesis_accounts: Mapping[ChecksumAddress, int]
    ) -> ChainNode:
        try:
            if backend == "anvil":
                return AnvilNode(
                    state_dir=chain_dir,
                    genesis_accounts=genesis_accounts,
                    binary=self.anvil_binary,
                    chain_id=chain_id,
                )
            return EmbeddedNode(state_dir=chain_dir, genesis_accounts=genesis_accounts, chain_id=chain_id)
        except NodeError as exc:
            raise SandboxNodeError(f"the {backend} node of the sandbox did not start: {exc}") from exc

    def save_state(self, instance: SandboxInstance, name: str) -> Path:
        """Save the chain's current state as snapshot ``name`` (overwriting one of that name)."""
        target = self.snapshot_path(instance.sandbox_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with instance.lock:
            if instance.backend == "anvil":
                response = instance.node.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
                if "error" in response:
                    raise SandboxNodeError(f"anvil did not save its state: {response['error']}")
                state = gzip.decompress(bytes.fromhex(str(response["result"])[2:]))
            else:
                # The journal is appended and fsync'd before a transaction is acknowledged: it is the chain.
                state = (instance.chain_dir / JOURNAL_NAME).read_bytes()
            replace_atomically(target, state, mode=0o600)
        return target

    def restore_state(self, instance: SandboxInstance, name: str) -> SandboxInstance:
        """Stop the node, put snapshot ``name`` in place of its state, and start it again."""
        source = self.snapshot_path(instance.sandbox_id, name)
        if not source.is_file():
            raise SandboxNodeError(f"the saved state {name!r} of sandbox {instance.sandbox_id} is missing")
        with instance.lock:
            _stop_instance(instance)
            state_file = instance.chain_dir / (STATE_FILE if instance.backend == "anvil" else JOURNAL_NAME)
            replace_atomically(state_file, source.read_bytes(), mode=0o600)
            node = self._start_node(instance.backend, instance.chain_dir, instance.chain_id, {})
            instance.node = node
            instance.gateway = _gateway(node)
        return instance

    def stop(self, sandbox_id: str) -> None:
        """Stop the sandbox's node (its state is kept); nothing of it runs afterwards."""
        with self._guard:
            instance = self._instances.pop(sandbox_id, None)
        if instance is not None:
            with instance.lock:
                _stop_instance(instance)

    def remove(self, sandbox_id: str) -> None:
        """Stop the sandbox's node and delete everything it kept on disk."""
        self.stop(sandbox_id)
        shutil.rmtree(self.directory(sandbox_id), ignore_errors=True)

    def stop_all(self) -> None:
        for instance in self.running():
            try:
                self.stop(instance.sandbox_id)
            except Exception:
                log.exception("sandbox %s: stopping its node failed", instance.sandbox_id)


def _gateway(node: ChainNode) -> ReadOnlyGateway:
    return ReadOnlyGateway(node.rpc_url or node.w3.provider)


def _stop_instance(instance: SandboxInstance) -> None:
    instance.gateway.close()
    instance.node.stop()
