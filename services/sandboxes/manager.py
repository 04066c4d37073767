"""The running chains of the sandboxes: started, saved, restored and stopped, never left behind.

Each sandbox keeps everything in ``<SEGELL_HOME>/sandboxes/<id>/``:

    chain/                 the node's state (anvil's state file, or the embedded chain's block journal)
    snapshots/<name>       saved states of that chain; ``initial`` is the state right after creation

A snapshot is a copy of the chain's state: anvil's ``anvil_dumpState`` (the format of its ``--state`` file), or the
embedded chain's journal. Reverting stops the node, puts the saved state in place and starts the node again, so
snapshots survive a restart of the API and can be reverted to more than once.

anvil nodes are children of the API process started with PDEATHSIG (`chain.anvil`): they stop with it, even when
it is killed. `SandboxManager.stop_all` stops them on a clean shutdown; their state is saved on the way out.

With several API processes (`shared=True`, `segell up --workers N`), a sandbox's anvil runs in one of them, the
one that started it (it holds the node's state lock, ``chain/anvil.lock``); the others reach it through its IPC
socket (`SandboxManager.open`). When that process dies its anvil stops with it, and the next process that needs
the sandbox starts it again over its saved state. A revert asked of another process freezes the node, puts the
snapshot in place of its state and kills it: the process that runs it starts it again at once, over the snapshot.
`SandboxLock` keeps a revert from interleaving with what any process does on the node.
"""

from __future__ import annotations

import fcntl
import gzip
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from eth_typing import ChecksumAddress

from segell.chain.anvil import IPC_SOCKET, STATE_FILE, AnvilNode, find_anvil, network_isolation
from segell.chain.durable import replace_atomically
from segell.chain.gateway import ReadOnlyGateway
from segell.chain.ipc import IpcNode
from segell.chain.nodes import (
    AnvilNotFound,
    ChainNode,
    NodeError,
    NodeIsolationUnavailable,
    StateDirInUse,
    StateDirLock,
)

log = logging.getLogger("segell")

INITIAL_SNAPSHOT = "initial"
#: Seconds a process waits for the node another process runs: to answer on its socket, or to come back after a
#: revert.
NODE_WAIT_SECONDS = 30.0


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


class SandboxLock:
    """A sandbox's lock: re-entrant for the thread that holds it and, given a `path`, held against every other
    process too (``flock`` on that file, taken by the outermost hold of the thread).

    Example::

        with instance.lock:
            ...  # no revert, here or in another API process, interleaves
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self) -> None:
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self.path is not None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise
            self._fd = fd

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # closing the file lets the flock go
            self._fd = None
        self._threads.release()

    def __enter__(self) -> SandboxLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


@dataclass
class SandboxInstance:
    """One running sandbox chain. Hold `lock` while using `node` for anything a revert must not interleave with.

    `owned`: this process runs the node; False when it reaches the node another API process runs.
    """

    sandbox_id: str
    backend: str
    directory: Path
    chain_id: int
    node: ChainNode
    gateway: ReadOnlyGateway
    started_at: float = field(default_factory=time.time)
    lock: SandboxLock = field(default_factory=SandboxLock)
    owned: bool = True

    @property
    def chain_dir(self) -> Path:
        return self.directory / "chain"

    @property
    def pid(self) -> int | None:
        if isinstance(self.node, AnvilNode):
            return self.node.pid
        return _anvil_pid((self.chain_dir / STATE_FILE).absolute()) if not self.owned else None


class SandboxManager:
    """The sandbox nodes this process runs, and with `shared` those it reaches in other processes, by sandbox id."""

    def __init__(self, root: Path, *, anvil_binary: Path | None = None, shared: bool = False) -> None:
        self.root = root
        self.anvil_binary = anvil_binary
        self.shared = shared
        self._instances: dict[str, SandboxInstance] = {}
        self._guard = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}

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
            lock=self._lock_of(sandbox_id),
        )
        self._keep(instance)
        return instance

    def _lock_of(self, sandbox_id: str) -> SandboxLock:
        return SandboxLock(self.directory(sandbox_id) / "use.lock" if self.shared else None)

    def _keep(self, instance: SandboxInstance) -> None:
        sandbox_id = instance.sandbox_id
        with self._guard:
            previous = self._instances.pop(sandbox_id, None)
            self._instances[sandbox_id] = instance
        if previous is not None:
            _stop_instance(previous)

    def runs_elsewhere(self, sandbox_id: str) -> bool:
        """Whether a process other than this one's instance runs the sandbox's anvil: its state lock is held."""
        chain_dir = self.directory(sandbox_id) / "chain"
        if not chain_dir.is_dir():
            return False
        instance = self.get(sandbox_id)
        if instance is not None and instance.owned:
            return False
        lock = StateDirLock(chain_dir, "anvil.lock")
        try:
            lock.acquire()
        except StateDirInUse:
            return True
        lock.release()
        return False

    def open(self, sandbox_id: str, backend: str, *, chain_id: int) -> SandboxInstance:
        """The sandbox's node for this process (`shared`): the one it runs, the one another process runs (reached
        through its IPC socket), or, when nobody runs it any more, started here over its saved state."""
        with self._guard:
            opening = self._opening.setdefault(sandbox_id, threading.Lock())
        with opening:
            instance = self.get(sandbox_id)
            if instance is not None and (instance.owned or self.runs_elsewhere(sandbox_id)):
                return instance
            if instance is not None:
                log.info("sandbox %s: the process that ran its node is gone; starting it here", sandbox_id)
            deadline = time.monotonic() + NODE_WAIT_SECONDS
            while True:
                if backend == "anvil" and self.runs_elsewhere(sandbox_id):
                    try:
                        return self._attach(sandbox_id, backend, chain_id)
                    except NodeError:
                        pass  # starting, or coming back from a revert: wait for it
                else:
                    # Under the sandbox's lock: a revert in the process that runs the node stops it for a moment.
                    with self._lock_of(sandbox_id):
                        if not self.runs_elsewhere(sandbox_id):
                            return self.start(sandbox_id, backend, chain_id=chain_id)
                if time.monotonic() > deadline:
                    raise SandboxNodeError(f"the node of sandbox {sandbox_id}, run by another process, does not answer")
                time.sleep(0.1)

    def _attach(self, sandbox_id: str, backend: str, chain_id: int) -> SandboxInstance:
        directory = self.directory(sandbox_id)
        node = IpcNode(directory / "chain" / IPC_SOCKET, timeout=30)
        instance = SandboxInstance(
            sandbox_id=sandbox_id,
            backend=backend,
            directory=directory,
            chain_id=chain_id,
            node=node,
            gateway=_gateway(node),
            lock=self._lock_of(sandbox_id),
            owned=False,
        )
        self._keep(instance)
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
            # py-evm loads with the first embedded sandbox (as with an embedded main chain, `chain.nodes`): a quarter
            # of a second of every API process's start otherwise, and nothing a node on anvil or a URL needs.
            from segell.chain.embedded import EmbeddedNode

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
                from segell.chain.embedded import JOURNAL_NAME

                # The journal is appended and fsync'd before a transaction is acknowledged: it is the chain.
                state = (instance.chain_dir / JOURNAL_NAME).read_bytes()
            replace_atomically(target, state, mode=0o600)
        return target

    def restore_state(self, instance: SandboxInstance, name: str) -> SandboxInstance:
        """Stop the node, put snapshot ``name`` in place of its state, and start it again."""
        source = self.snapshot_path(instance.sandbox_id, name)
        if not source.is_file():
            raise SandboxNodeError(f"the saved state {name!r} of sandbox {instance.sandbox_id} is missing")
        if not instance.owned:
            return self._restore_elsewhere(instance, source)
        from segell.chain.embedded import JOURNAL_NAME

        with instance.lock:
            _stop_instance(instance)
            state_file = instance.chain_dir / (STATE_FILE if instance.backend == "anvil" else JOURNAL_NAME)
            replace_atomically(state_file, source.read_bytes(), mode=0o600)
            node = self._start_node(instance.backend, instance.chain_dir, instance.chain_id, {})
            instance.node = node
            instance.gateway = _gateway(node)
        return instance

    def _restore_elsewhere(self, instance: SandboxInstance, source: Path) -> SandboxInstance:
        """Revert the node another process runs: freeze it (no state save after this), put the snapshot in place of
        its state, kill it; its process starts it again over the snapshot, or this one does if that process is
        gone."""
        with instance.lock:
            state_file = (instance.chain_dir / STATE_FILE).absolute()
            frozen = _anvil_pids(state_file)
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            replace_atomically(state_file, source.read_bytes(), mode=0o600)
            for pid in frozen:
                os.kill(pid, signal.SIGKILL)
            _stop_instance(instance)
            deadline = time.monotonic() + NODE_WAIT_SECONDS
            while True:
                if not self.runs_elsewhere(instance.sandbox_id):
                    node = self._start_node(instance.backend, instance.chain_dir, instance.chain_id, {})
                    instance.owned = True
                    break
                if _anvil_pids(state_file) and not set(_anvil_pids(state_file)) & set(frozen):
                    try:
                        node = IpcNode(instance.chain_dir / IPC_SOCKET, timeout=30)
                        break
                    except NodeError:
                        pass
                if time.monotonic() > deadline:
                    raise SandboxNodeError(f"the node of sandbox {instance.sandbox_id} did not come back")
                time.sleep(0.05)
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
        """Stop the sandbox's node and delete everything it kept on disk.

        A node another process runs is left to it: that process removes it at its next sweep
        (`SandboxService.release_ended`), once the database no longer says the sandbox runs.
        """
        self.stop(sandbox_id)
        if self.shared and self.runs_elsewhere(sandbox_id):
            return
        shutil.rmtree(self.directory(sandbox_id), ignore_errors=True)

    def stop_all(self) -> None:
        for instance in self.running():
            try:
                self.stop(instance.sandbox_id)
            except Exception:
                log.exception("sandbox %s: stopping its node failed", instance.sandbox_id)


def _anvil_pids(state_file: Path) -> list[int]:
    """The anvil processes running over `state_file` (the one ``--state`` names), from /proc."""
    wanted = f"--state\0{state_file}\0".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if wanted in cmdline.read():
                    found.append(int(entry.name))
        except OSError:
            continue  # ended meanwhile, or another user's
    return found


def _anvil_pid(state_file: Path) -> int | None:
    pids = _anvil_pids(state_file)
    return pids[0] if pids else None


def _gateway(node: ChainNode) -> ReadOnlyGateway:
    return ReadOnlyGateway(node.rpc_url or node.w3.provider)


def _stop_instance(instance: SandboxInstance) -> None:
    instance.gateway.close()
    instance.node.stop()
