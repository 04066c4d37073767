"""anvil as a managed local node: reachable by Segell alone, supervised, stopped, never left behind.

anvil answers every method to whoever reaches it: ``anvil_setBalance``, ``anvil_impersonateAccount``,
``eth_sendTransaction`` from any address. So Segell reaches it only through an IPC socket, ``<state_dir>/anvil.ipc``
(mode 0600, in a state directory of mode 0700), and runs it in a network namespace of its own (``unshare -n`` as
root, ``unshare -rn`` otherwise): anvil always opens an HTTP port too, and there that port is on a loopback
nobody else shares. Where neither namespace can be made, the node is refused (`NodeIsolationUnavailable`) rather
than started on an open port. anvil holds no account of its own (``--accounts 0``).

anvil keeps its chain in ``<state_dir>/anvil-state.json`` (``--state``, written every second with
``--state-interval 1`` and on a clean exit) and logs to ``<state_dir>/anvil.log``. It is started with
``prctl(PR_SET_PDEATHSIG, SIGTERM)`` from a thread that lives as long as the process, so the kernel stops
anvil when the Python process dies, even by kill -9, and anvil still writes its state file on the way out; a
clean exit stops it through `atexit`. anvil inherits the state directory's lock, so a restart waits until the
previous anvil has finished saving. An anvil that dies on its own is started again over its state file by a
supervisor thread; the socket path does not change, so every client reconnects by itself.

Example::

    with AnvilNode(state_dir=Path(".segell/chain"), genesis_accounts={address: 10**21}) as node:
        node.w3.eth.get_balance(address)
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from eth_typing import ChecksumAddress
from web3 import Web3

from segell.chain.ipc import IpcProvider, IpcTransport
from segell.chain.nodes import (
    AnvilNotFound,
    Backend,
    ChainNode,
    NodeIsolationUnavailable,
    NodeStartFailed,
    NodeUnreachable,
    StateDirLock,
    set_balances,
)

__all__ = [
    "ANVIL_CHAIN_ID",
    "ANVIL_HARDFORK",
    "IPC_SOCKET",
    "AnvilNode",
    "anvil_command",
    "find_anvil",
    "network_isolation",
    "stop_with_parent",
]

log = logging.getLogger("segell.chain")

ANVIL_CHAIN_ID = 31337
ANVIL_HARDFORK = "cancun"
STATE_FILE = "anvil-state.json"
LOG_FILE = "anvil.log"
IPC_SOCKET = "anvil.ipc"
NPM_BINARY = Path("node_modules") / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
_REPO_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_STOP_TIMEOUT = 10.0
# An anvil that dies on its own is started again after RESTART_DELAY seconds, doubled (up to MAX_RESTART_DELAY)
# each time it dies again within STABLE_SECONDS of its start.
RESTART_DELAY = 0.25
MAX_RESTART_DELAY = 10.0
STABLE_SECONDS = 30.0


def find_anvil(explicit: Path | None = None) -> Path:
    """The anvil executable: ``explicit`` if given, else the one on PATH, else the npm package in the repo.

    Raises:
        AnvilNotFound: with what to do about it.
    """
    if explicit is not None:
        if explicit.is_file() and os.access(explicit, os.X_OK):
            return explicit
        raise AnvilNotFound(
            f"anvil not found at {explicit} (not an executable file): fix the path, or leave it unset to use "
            "the anvil on PATH or from `make setup`"
        )
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    bundled = _REPO_ROOT / NPM_BINARY
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    raise AnvilNotFound(
        "anvil not found: run `make setup` (installs it from npm @foundry-rs/anvil-linux-amd64) or put anvil "
        "on PATH, or use --chain embedded"
    )


def anvil_command(
    binary: Path,
    *,
    state_file: Path,
    ipc_socket: str = IPC_SOCKET,
    chain_id: int = ANVIL_CHAIN_ID,
    isolation: list[str] | None = None,
) -> list[str]:
    """The command line Segell runs anvil with, from the state directory (``ipc_socket`` is relative to it).

    ``isolation`` is the `network_isolation` prefix; the HTTP port anvil always opens is then inside a network
    namespace of its own, and port 0 lets it take any.
    """
    return [
        *(isolation or []),
        str(binary),
        "--ipc", ipc_socket,
        "--host", "127.0.0.1",
        "--port", "0",
        "--accounts", "0",
        "--chain-id", str(chain_id),
        "--hardfork", ANVIL_HARDFORK,
        "--state", str(state_file),
        "--state-interval", "1",
    ]  # fmt: skip


_isolation_probes: dict[str, list[str] | str] = {}
_isolation_guard = threading.Lock()


def network_isolation(*, unshare: Path | None = None) -> list[str]:
    """The command prefix that runs a command in a network namespace of its own.

    ``unshare -n`` where this process may create one (root), else ``unshare -rn`` (an unprivileged user
    namespace). Each is tried once per process (``unshare <flags> -- unshare --version``).

    Raises:
        NodeIsolationUnavailable: neither works (or ``unshare`` is missing), with what to do about it.
    """
    found = str(unshare) if unshare is not None else shutil.which("unshare")
    if found is None:
        raise NodeIsolationUnavailable(
            "a managed anvil must run in a network namespace of its own (it always opens an HTTP port, where "
            "anyone on this machine could impersonate an administration), and `unshare` is not on PATH: install "
            "util-linux, or use --chain embedded (or the URL of a node you run and protect yourself)"
        )
    with _isolation_guard:
        if found not in _isolation_probes:
            _isolation_probes[found] = _probe_isolation(found)
        outcome = _isolation_probes[found]
    if isinstance(outcome, str):
        raise NodeIsolationUnavailable(
            "a managed anvil must run in a network namespace of its own (it always opens an HTTP port, where "
            f"anyone on this machine could impersonate an administration), and none can be made here: {outcome}. "
            "Run Segell as root, allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "or kernel.apparmor_restrict_unprivileged_userns=0), or use --chain embedded"
        )
    return list(outcome)


def _probe_isolation(unshare: str) -> list[str] | str:
    failures = []
    for flags in ("-n", "-rn"):
        command = [unshare, flags, "--", unshare, "--version"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"`unshare {flags}`: {exc}")
            continue
        if done.returncode == 0:
            return [unshare, flags, "--"]
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        failures.append(f"`unshare {flags}`: {reason[-1] if reason else f'exit code {done.returncode}'}")
    return "; ".join(failures)


def stop_with_parent() -> None:
    """Have the kernel send this process SIGTERM when the thread that started it exits, its parent killed with -9
    included (Linux). SIGTERM, not SIGKILL: the process stops as it would be asked to."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _prepare_child() -> None:
    # Runs in the child between fork and exec: anvil stops with the thread that forked it, and saves its state as
    # it stops, so a kill -9 of Segell loses no block. The umask makes the IPC socket its owner's alone from the
    # moment anvil binds it.
    os.umask(0o077)
    stop_with_parent()


class _Spawner:
    """One thread, alive until the process ends, that forks every anvil.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process: forking from a
    short-lived thread (a request handler, a test's server thread) would kill anvil with it.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[list[str], dict[str, Any], Future[subprocess.Popen[bytes]]]]
        self._requests = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="segell-anvil-spawner", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            command, options, future = self._requests.get()
            try:
                future.set_result(subprocess.Popen(command, preexec_fn=_prepare_child, **options))  # noqa: PLW1509
            except BaseException as exc:
                future.set_exception(exc)

    def spawn(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((command, options, future))
        return future.result()


_spawner: _Spawner | None = None
_spawner_guard = threading.Lock()
_running: weakref.WeakSet[AnvilNode] = weakref.WeakSet()


def _get_spawner() -> _Spawner:
    global _spawner
    with _spawner_guard:
        if _spawner is None:
            _spawner = _Spawner()
        return _spawner


@atexit.register
def _stop_all() -> None:
    for node in list(_running):
        node.stop()


class AnvilNode(ChainNode):
    """anvil run by Segell, reachable only through ``<state_dir>/anvil.ipc``, with its chain kept in ``state_dir``.

    ``genesis_accounts`` holding less than asked get their balance set with ``anvil_setBalance`` (no
    development key is used). If anvil dies on its own it is started again over its state file (``restarts``
    counts those starts) and ``on_restart``, when set, is called after each from the supervisor thread: the place
    to replay what the node lost since its last state save. ``stop()`` returns once anvil has exited, so the state
    directory is free for a restart. ``unshare`` is the util-linux executable that isolates anvil (default: the
    one on PATH).

    Raises:
        AnvilNotFound, NodeIsolationUnavailable, StateDirInUse, NodeStartFailed.
    """

    backend: Backend = "anvil"

    def __init__(
        self,
        *,
        state_dir: Path,
        genesis_accounts: Mapping[ChecksumAddress, int] | None = None,
        binary: Path | None = None,
        startup_timeout: float = 15.0,
        chain_id: int = ANVIL_CHAIN_ID,
        unshare: Path | None = None,
    ) -> None:
        self.binary = find_anvil(binary)
        self.isolation = network_isolation(unshare=unshare)
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o700)
        state_dir = state_dir.absolute()  # anvil runs from it: its paths must not be relative to ours
        self.state_dir = state_dir
        self.state_file = state_dir / STATE_FILE
        self.log_file = state_dir / LOG_FILE
        self.ipc_path: Path | None = state_dir / IPC_SOCKET
        self.rpc_url = None
        self.chain_id = chain_id
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.on_restart: Callable[[], object] | None = None
        self._startup_timeout = startup_timeout
        self._log: IO[bytes] | None = None
        self._stop_lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._lock = StateDirLock(state_dir, "anvil.lock")
        self._lock.acquire(timeout=_STOP_TIMEOUT)
        try:
            self._start()
            self.w3 = Web3(IpcProvider(state_dir / IPC_SOCKET, timeout=30))
            self.chain_id = int(self.w3.eth.chain_id)
            self.is_local_dev = True
            set_balances(self.w3, genesis_accounts or {})
        except BaseException:
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._supervise, name="segell-anvil-supervisor", daemon=True)
        self._supervisor.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _start(self) -> None:
        socket_path = self.state_dir / IPC_SOCKET
        socket_path.unlink(missing_ok=True)  # left by an anvil that was killed; the state lock says it is ours
        command = anvil_command(
            self.binary, state_file=self.state_file, chain_id=self.chain_id, isolation=self.isolation
        )
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in _terminate()
        self._log.write(f"\n--- segell: starting {' '.join(command)}\n".encode())
        self._log.flush()
        self.process = _get_spawner().spawn(
            command,
            cwd=self.state_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(self._lock.fd,) if self._lock.fd is not None else (),
        )
        _running.add(self)
        if self._wait_ready(socket_path, self._startup_timeout):
            socket_path.chmod(0o600)
            self._started_at = time.monotonic()
            return
        exit_code = self.process.poll()
        tail = self._log_tail()
        self._terminate()
        state_hint = (
            f" If the state file {self.state_file} is damaged, move it aside (anvil then starts an empty chain)."
            if self.state_file.exists()
            else ""
        )
        status = f"exit code {exit_code}" if exit_code is not None else f"no answer in {self._startup_timeout:.0f}s"
        raise NodeStartFailed(
            f"anvil did not start on {socket_path} ({status}).{state_hint} Last lines of {self.log_file}:\n{tail}"
        )

    def _wait_ready(self, socket_path: Path, timeout: float) -> bool:
        assert self.process is not None
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        transport = IpcTransport(socket_path, timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if "result" in json.loads(transport.post(body)):
                        return True
                except (NodeUnreachable, ValueError):
                    pass
                time.sleep(0.05)
            return False
        finally:
            transport.close()

    def _supervise(self) -> None:
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            exit_code = process.wait()
            if self._stopping.wait(delay):
                return
            with self._stop_lock:
                if self._stopping.is_set() or self.process is not process:
                    continue
                lived = time.monotonic() - self._started_at
                log.warning("anvil (pid %s) exited on its own (code %s); starting it again", process.pid, exit_code)
                self._close_log()
                try:
                    self._start()
                except NodeStartFailed as exc:
                    log.error("anvil could not be started again: %s", exc)
                    delay = min(delay * 2, MAX_RESTART_DELAY)
                    continue
                self.restarts += 1
                delay = RESTART_DELAY if lived >= STABLE_SECONDS else min(delay * 2, MAX_RESTART_DELAY)
            if self.on_restart is not None:
                try:
                    self.on_restart()
                except Exception:
                    log.exception("anvil was started again, but what runs after a restart failed")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_bytes()[-8192:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _terminate(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _running.discard(self)
        self._close_log()

    def stop(self) -> None:
        """SIGTERM anvil (it writes its state file), SIGKILL it after 10 s, and return once it has exited."""
        self._stopping.set()
        with self._stop_lock:
            self._terminate()
            self._lock.release()
        w3 = getattr(self, "w3", None)
        if w3 is not None and isinstance(w3.provider, IpcProvider):
            w3.provider.transport.close()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=_STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL anvil without letting it save, and do not start it again (for tests of what survives a crash)."""
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()
