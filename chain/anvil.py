"""anvil as a managed local node: found, started on a free loopback port, stopped, never left behind.

anvil keeps its chain in ``<state_dir>/anvil-state.json`` (``--state``, written every second with
``--state-interval 1`` and on a clean exit) and logs to ``<state_dir>/anvil.log``. It is started with
``prctl(PR_SET_PDEATHSIG, SIGTERM)`` from a thread that lives as long as the process, so the kernel stops
anvil when the Python process dies, even by kill -9, and anvil still writes its state file on the way out; a
clean exit stops it through `atexit`. anvil inherits the state directory's lock, so a restart waits until the
previous anvil has finished saving.

Example::

    with AnvilNode(state_dir=Path(".segell/chain"), genesis_accounts={address: 10**21}) as node:
        node.w3.eth.get_balance(address)
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from eth_typing import ChecksumAddress
from web3 import HTTPProvider, Web3

from chain.nodes import AnvilNotFound, Backend, ChainNode, NodeStartFailed, StateDirLock, set_balances

__all__ = ["ANVIL_CHAIN_ID", "ANVIL_HARDFORK", "AnvilNode", "anvil_command", "find_anvil"]

ANVIL_CHAIN_ID = 31337
ANVIL_HARDFORK = "cancun"
STATE_FILE = "anvil-state.json"
LOG_FILE = "anvil.log"
NPM_BINARY = Path("node_modules") / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
_REPO_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_STOP_TIMEOUT = 10.0


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


def anvil_command(binary: Path, *, port: int, state_file: Path, chain_id: int = ANVIL_CHAIN_ID) -> list[str]:
    """The command line Segell runs anvil with."""
    return [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--hardfork", ANVIL_HARDFORK,
        "--state", str(state_file),
        "--state-interval", "1",
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGTERM when the thread that forked us exits.
    # SIGTERM, not SIGKILL: anvil then saves its state, so a kill -9 of Segell loses no block.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


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
                future.set_result(subprocess.Popen(command, preexec_fn=_die_with_parent, **options))  # noqa: PLW1509
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
    """anvil run by Segell on 127.0.0.1, with its chain kept in ``state_dir``.

    ``genesis_accounts`` holding less than asked get their balance set with ``anvil_setBalance`` (no
    development key is used). ``stop()`` returns once anvil has exited, so the port and the state file are
    free for a restart.
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
    ) -> None:
        self.binary = find_anvil(binary)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.state_file = state_dir / STATE_FILE
        self.log_file = state_dir / LOG_FILE
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stop_lock = threading.Lock()
        self._lock = StateDirLock(state_dir, "anvil.lock")
        self._lock.acquire(timeout=_STOP_TIMEOUT)
        started = time.perf_counter()
        try:
            self._start(startup_timeout, chain_id)
            self.w3 = Web3(HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))
            self.chain_id = int(self.w3.eth.chain_id)
            self.is_local_dev = True
            set_balances(self.w3, genesis_accounts or {})
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _start(self, timeout: float, chain_id: int) -> None:
        for attempt in range(3):
            port = _free_port()
            command = anvil_command(self.binary, port=port, state_file=self.state_file, chain_id=chain_id)
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
            self._log.write(f"\n--- segell: starting {' '.join(command)}\n".encode())
            self._log.flush()
            self.rpc_url: str | None = f"http://127.0.0.1:{port}"
            self.process = _get_spawner().spawn(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=(self._lock.fd,) if self._lock.fd is not None else (),
            )
            _running.add(self)
            if self._wait_ready(port, timeout):
                return
            exit_code = self.process.poll()
            tail = self._log_tail()
            self._terminate()
            if exit_code is not None and "Address already in use" in tail and attempt < 2:
                continue  # another program took the port between our probe and anvil's bind
            state_hint = (
                f" If the state file {self.state_file} is damaged, move it aside (anvil then starts an empty chain)."
                if self.state_file.exists()
                else ""
            )
            status = f"exit code {exit_code}" if exit_code is not None else f"no answer in {timeout:.0f}s"
            raise NodeStartFailed(
                f"anvil did not start on 127.0.0.1:{port} ({status}).{state_hint} "
                f"Last lines of {self.log_file}:\n{tail}"
            )

    def _wait_ready(self, port: int, timeout: float) -> bool:
        assert self.process is not None
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}", data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=1) as response:
                    if "result" in json.loads(response.read()):
                        return True
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_bytes()[-8192:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

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
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """SIGTERM anvil (it writes its state file), SIGKILL it after 10 s, and return once it has exited."""
        with self._stop_lock:
            self._terminate()
            self._lock.release()

    def kill(self) -> None:
        """SIGKILL anvil without letting it save (for tests of what survives a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()
