"""JSON-RPC over a Unix domain socket: how Segell reaches the nodes it manages.

A managed anvil listens on an IPC socket inside its state directory and on no TCP port anyone can reach, so the
node's administration methods (``anvil_*``, impersonation, ``eth_sendTransaction``) are open only to whoever can
open that socket: the Segell process itself (see `chain.anvil`).

`IpcTransport` sends one JSON-RPC body (a request or a batch) and returns the node's answer as the node wrote
it; `IpcProvider` is the web3 provider on top of it. Both keep a few connections open, reconnect when the node
has been restarted, and fail within ``timeout`` instead of waiting on a node that is gone.

web3's own ``IPCProvider`` is not used: it serialises every call behind one lock, spins on a closed socket until
its timeout when the node dies, and resolves paths, which defeats the short ``/proc/self/fd`` form used for
sockets whose path is longer than a Unix socket address allows (108 bytes).

Example::

    w3 = Web3(IpcProvider(Path(".segell/chain/anvil.ipc")))
    w3.eth.block_number
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from eth_typing import ChecksumAddress
from web3 import Web3
from web3._utils.batching import sort_batch_response_by_response_ids
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from segell.chain.nodes import Backend, ChainNode, NodeUnreachable, answers_development_methods, set_balances

__all__ = ["MAX_SOCKET_PATH", "IpcNode", "IpcProvider", "IpcTransport", "connect_unix"]

MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes, the last one a NUL
_POOL_SIZE = 8
_CHUNK = 65536
# A pooled connection whose node was restarted fails like this before the request reaches anyone.
_STALE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """A connected Unix stream socket; paths too long for ``sun_path`` are reached through their directory's fd."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            sock.connect(str(path))
        else:
            directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
            try:
                sock.connect(f"/proc/self/fd/{directory}/{path.name}")
            finally:
                os.close(directory)
    except BaseException:
        sock.close()
        raise
    return sock


class _Closed(Exception):
    """The node closed the connection before answering."""


class IpcTransport:
    """Sends JSON-RPC bodies to a node's IPC socket and returns its answers as raw bytes.

    Thread-safe: each call takes a pooled connection (or opens one), so concurrent callers do not wait on each
    other. A node answers each body with one JSON value followed by a newline (anvil, geth).

    Args:
        path: the node's socket.
        timeout: seconds to wait for connecting, and for the whole answer.

    Raises (from `post`):
        NodeUnreachable: nothing listens on the socket, or it did not answer in time.
    """

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._idle: list[socket.socket] = []
        self._guard = threading.Lock()

    def post(self, body: bytes) -> bytes:
        """Send one request or batch; return the node's answer without its trailing newline."""
        payload = body.rstrip(b"\n") + b"\n"
        sock, reused = self._take()
        try:
            answer = self._exchange(sock, payload)
        except (*_STALE, _Closed) as exc:
            sock.close()
            if not reused:
                raise NodeUnreachable(f"the chain node closed its IPC connection ({type(exc).__name__})") from exc
            # The connection outlived the node it was opened to (a restart): nothing reached a node, try a new one.
            sock = self._connect()
            try:
                answer = self._exchange(sock, payload)
            except (OSError, _Closed) as retry_exc:
                sock.close()
                raise NodeUnreachable(f"the chain node is unreachable ({type(retry_exc).__name__})") from retry_exc
        except TimeoutError as exc:
            sock.close()
            raise NodeUnreachable("the chain node did not answer in time") from exc
        except OSError as exc:
            sock.close()
            raise NodeUnreachable(f"the chain node is unreachable ({type(exc).__name__})") from exc
        self._give_back(sock)
        return answer

    def close(self) -> None:
        """Close the pooled connections; later calls open new ones."""
        with self._guard:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def _take(self) -> tuple[socket.socket, bool]:
        with self._guard:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _connect(self) -> socket.socket:
        try:
            return connect_unix(self.path, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NodeUnreachable(f"no chain node listens on {self.path} (it is stopped or restarting)") from exc
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise NodeUnreachable(f"{self.path}: permission denied (the socket is its owner's alone)") from exc
            raise NodeUnreachable(f"the chain node at {self.path} is unreachable ({exc})") from exc

    def _give_back(self, sock: socket.socket) -> None:
        with self._guard:
            if len(self._idle) < _POOL_SIZE:
                self._idle.append(sock)
                return
        sock.close()

    def _exchange(self, sock: socket.socket, payload: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        sock.settimeout(self.timeout)
        sock.sendall(payload)
        received = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(_CHUNK)
            if not chunk:
                raise _Closed
            received += chunk
            # Compact JSON holds no raw newline (strings escape it): the first one ends the answer.
            end = received.find(b"\n", len(received) - len(chunk))
            if end >= 0:
                return bytes(received[:end])


class IpcProvider(JSONBaseProvider):
    """A web3 provider over `IpcTransport`.

    Args:
        path: the node's IPC socket.
        timeout: seconds to wait for an answer.

    Raises (from calls through ``Web3``): `chain.nodes.NodeUnreachable` when the node cannot be reached.

    Example::

        w3 = Web3(IpcProvider(node.ipc_path))
    """

    def __init__(self, path: Path, *, timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.transport = IpcTransport(path, timeout=timeout)

    def __str__(self) -> str:
        return f"<IpcProvider {self.path}>"

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self.decode_rpc_response(self.transport.post(self.encode_rpc_request(method, params)))

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse]:
        answers = self.decode_rpc_response(self.transport.post(self.encode_batch_rpc_request(requests)))
        return sort_batch_response_by_response_ids(cast(list[RPCResponse], answers))

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            return "result" in self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except NodeUnreachable:
            if show_traceback:
                raise
            return False


class IpcNode(ChainNode):
    """A chain reached over the IPC socket of a node another process runs (the anvil of a running ``segell up``).

    Like `chain.nodes.RpcNode`: Segell does not manage the node; ``is_local_dev`` is True only when it answers
    the development methods, and only then are ``genesis_accounts`` funded.
    """

    backend: Backend = "rpc"

    def __init__(
        self, path: Path, *, timeout: float = 10.0, genesis_accounts: Mapping[ChecksumAddress, int] | None = None
    ) -> None:
        self.rpc_url = None
        self.ipc_path = path
        self.w3 = Web3(IpcProvider(path, timeout=timeout))
        try:
            self.chain_id = int(self.w3.eth.chain_id)
        except NodeUnreachable as exc:
            raise NodeUnreachable(
                f"no Ethereum node answers on the IPC socket {path} ({exc}). Check that the Segell (or node) "
                "that owns it is running, and that this process runs as the same user."
            ) from exc
        self.is_local_dev = answers_development_methods(self.w3)
        if self.is_local_dev:
            set_balances(self.w3, genesis_accounts or {})

    def stop(self) -> None:
        """Close the connections; the node belongs to the process that runs it."""
        provider = self.w3.provider
        if isinstance(provider, IpcProvider):
            provider.transport.close()
