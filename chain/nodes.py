"""One way to get a connected `Web3`, whichever EVM is behind it.

Three backends share the `ChainNode` interface:

- ``embedded``: py-evm in this process (eth-tester), nothing to install; blocks journaled in ``state_dir``.
- ``anvil``: a managed local anvil process with its state file in ``state_dir``.
- ``rpc``: any JSON-RPC URL (Hyperledger Besu QBFT for a consortium network), or the IPC socket of a node
  another process manages (the anvil of a running ``segell up``); Segell does not manage it.

Example::

    from pathlib import Path
    from segell.chain.nodes import start_node

    with start_node("auto", state_dir=Path(".segell/chain")) as node:
        print(node.backend, node.chain_id, node.w3.eth.block_number)

Exceptions::

    NodeError
    ├── AnvilNotFound         anvil is not installed where we look
    ├── NodeStartFailed       a managed node did not come up
    │   ├── NodeIsolationUnavailable  anvil cannot be run where only Segell reaches it
    │   ├── StateDirInUse     another running node owns this state directory
    │   └── JournalError      the embedded chain's journal is damaged or no longer replays to the same blocks
    └── NodeUnreachable       nothing usable answers at a JSON-RPC URL
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Literal, Self

from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

__all__ = [
    "LOCAL_DEV_CHAIN_IDS",
    "AnvilNotFound",
    "Backend",
    "ChainNode",
    "JournalError",
    "NodeError",
    "NodeIsolationUnavailable",
    "NodeStartFailed",
    "NodeUnreachable",
    "RpcNode",
    "StateDirInUse",
    "answers_development_methods",
    "has_long_extra_data",
    "is_ipc_spec",
    "start_node",
]

log = logging.getLogger("segell.chain")

Backend = Literal["embedded", "anvil", "rpc"]

# Chain ids of anvil/hardhat (31337) and ganache/geth --dev (1337). On an rpc node they are shown in messages
# but are not enough to call a chain "local development": Besu's quickstart networks also use 1337.
LOCAL_DEV_CHAIN_IDS = frozenset({31337, 1337})

_NO_ACCOUNTS: Mapping[str, int] = MappingProxyType({})


class NodeError(Exception):
    """Base class of every error raised while starting, reaching or stopping a chain node."""


class AnvilNotFound(NodeError):
    """The anvil binary is neither where it was asked to be, on PATH, nor in node_modules."""


class NodeStartFailed(NodeError):
    """A managed node (embedded or anvil) did not come up."""


class NodeIsolationUnavailable(NodeStartFailed):
    """No network namespace can be made for anvil, so it would serve its node-admin methods on a TCP port."""


class StateDirInUse(NodeStartFailed):
    """Another running node already owns the state directory."""


class JournalError(NodeStartFailed):
    """The embedded chain's journal cannot be read or does not replay to the recorded blocks."""


class NodeUnreachable(NodeError):
    """Nothing answers JSON-RPC at the URL, or what answers is not an Ethereum node."""


class ChainNode(ABC):
    """A running (or reachable) chain and a `Web3` connected to it.

    Attributes:
        backend: ``"embedded"``, ``"anvil"`` or ``"rpc"``.
        w3: a connected `Web3`.
        rpc_url: the HTTP JSON-RPC URL of a node reached over HTTP; None for the embedded chain and for nodes
            reached over IPC (a managed anvil has no URL anyone can reach).
        ipc_path: the IPC socket of a node reached over IPC (a managed anvil), else None.
        chain_id: the EIP-155 chain id.
        is_local_dev: True for a throw-away development chain, on which the well-known development keys may
            be used (see `chain.keys.refuse_development_key`).
        confirmations: blocks that must follow a transaction's block before its receipt counts as final
            (`chain.transactions.wait_for_confirmations`); 0 on chains with immediate finality (QBFT, a
            managed node).
        proof_of_authority: the chain's blocks carry more than 32 bytes of ``extraData`` (QBFT, IBFT, Clique),
            so ``w3`` reads them through web3's ``ExtraDataToPOAMiddleware``.
    """

    backend: Backend
    w3: Web3
    rpc_url: str | None
    ipc_path: Path | None = None
    chain_id: int
    is_local_dev: bool
    confirmations: int = 0
    proof_of_authority: bool = False

    @abstractmethod
    def stop(self) -> None:
        """Release the node. Idempotent; for a managed node, returns once the node has fully stopped."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """Where this process reaches the node, for its operator's log: a URL, a socket path, or "in-process"."""
        return self.rpc_url or (str(self.ipc_path) if self.ipc_path else "in-process")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.backend} chain_id={self.chain_id} {self.endpoint}>"


class RpcNode(ChainNode):
    """A chain reached over HTTP JSON-RPC that Segell does not manage (Besu, geth, a remote anvil).

    On a real network `genesis_accounts` do not apply: accounts there must be funded by its operator. A
    development node reached by URL (anvil in docker compose) funds them like a managed anvil.
    ``is_local_dev`` is True only when the node answers the development methods ``anvil_nodeInfo`` or
    ``hardhat_metadata`` — a node that hands out balances and impersonation to anyone protects nothing with a
    private key. A chain id of 31337 or 1337 alone is not enough (Besu's quickstart network uses 1337).
    """

    backend: Backend = "rpc"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        genesis_accounts: Mapping[ChecksumAddress, int] | None = None,
        confirmations: int = 0,
    ) -> None:
        self.rpc_url = url
        self.confirmations = confirmations
        self.w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
        # The first contact is made without web3's retries so that a wrong URL fails in seconds.
        probe = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
        try:
            self.chain_id = int(probe.eth.chain_id)
        except Exception as exc:
            raise NodeUnreachable(
                f"no Ethereum JSON-RPC node answers at {url} ({type(exc).__name__}: {exc}). "
                "Check the URL and that the node is running with its HTTP JSON-RPC API enabled "
                "(Besu: --rpc-http-enabled --rpc-http-api=ETH,NET,WEB3), or use --chain embedded|anvil."
            ) from exc
        self.is_local_dev = answers_development_methods(probe)
        self.proof_of_authority = has_long_extra_data(probe)
        if self.proof_of_authority:
            # web3 refuses blocks whose extraData exceeds 32 bytes unless this middleware reads it first.
            self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        if self.is_local_dev:
            set_balances(self.w3, genesis_accounts or {})

    def stop(self) -> None:
        """Nothing to release: the node belongs to its operator."""


def set_balances(w3: Web3, accounts: Mapping[ChecksumAddress, int]) -> None:
    """Raise the balance of each account holding less than asked, on a development node (no key needed)."""
    for address, wei in accounts.items():
        if w3.eth.get_balance(address) >= wei:
            continue
        for method in ("anvil_setBalance", "hardhat_setBalance"):
            response = w3.provider.make_request(method, [address, hex(wei)])  # type: ignore[arg-type]
            if "error" not in response:
                break
        else:
            raise NodeStartFailed(f"the development node refused to fund {address}: {response['error']}")


def has_long_extra_data(w3: Web3) -> bool:
    """Whether the node's latest block has more than 32 bytes of ``extraData``, as QBFT and Clique blocks do.

    Read raw, since web3 itself refuses such a block without ``ExtraDataToPOAMiddleware``.
    """
    response = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]
    block = response.get("result")
    extra = block.get("extraData") if isinstance(block, dict) else None
    return isinstance(extra, str) and len(extra) > 2 + 2 * 32


def answers_development_methods(w3: Web3) -> bool:
    """Whether the node answers ``anvil_nodeInfo`` or ``hardhat_metadata`` (a development node)."""
    for method in ("anvil_nodeInfo", "hardhat_metadata"):
        try:
            response = w3.provider.make_request(method, [])  # type: ignore[arg-type]
        except Exception:
            continue
        if "result" in response and "error" not in response:
            return True
    return False


def start_node(
    spec: str,
    *,
    state_dir: Path,
    genesis_accounts: Mapping[str, int] = _NO_ACCOUNTS,
    anvil_binary: Path | None = None,
    startup_timeout: float = 15.0,
    confirmations: int = 0,
) -> ChainNode:
    """Start (or connect to) a chain and return it connected.

    Args:
        spec: ``"embedded"``, ``"anvil"``, ``"auto"`` (anvil when its binary is found, else embedded), an
            ``http://``/``https://`` JSON-RPC URL, or the absolute path of a node's IPC socket (``*.ipc``, such
            as ``$SEGELL_HOME/chain/anvil.ipc`` of a running ``segell up``).
        state_dir: where a managed node keeps its state (created if missing). Unused for a URL.
        genesis_accounts: address -> wei each account must hold after start. The embedded chain puts them
            in its genesis block (and tops up, in a journaled block, those holding less at a later start);
            anvil sets the balance of those holding less with ``anvil_setBalance``; an rpc chain ignores
            them (its operator funds accounts).
        anvil_binary: an explicit anvil executable; otherwise PATH, then ``node_modules`` are searched. With
            ``"auto"``, an anvil that cannot be isolated (`NodeIsolationUnavailable`) means the embedded chain.
        startup_timeout: seconds to wait for a managed node to answer.
        confirmations: for a URL, blocks that must follow a transaction's block before its receipt counts as
            final (a managed node and a socket have one producer, so their blocks are final at once).

    Raises:
        AnvilNotFound, NodeStartFailed (NodeIsolationUnavailable for ``"anvil"``), NodeUnreachable (see the
        module docstring).

    Example::

        node = start_node("embedded", state_dir=Path("/tmp/chain"), genesis_accounts={address: 10**21})
        try:
            node.w3.eth.get_balance(address)
        finally:
            node.stop()
    """
    accounts = normalize_genesis_accounts(genesis_accounts)
    if spec.startswith(("http://", "https://")):
        if confirmations < 0:
            raise NodeError(f"confirmations must be 0 or more, not {confirmations}")
        return RpcNode(spec, timeout=startup_timeout, genesis_accounts=accounts, confirmations=confirmations)
    if is_ipc_spec(spec):
        from segell.chain.ipc import IpcNode

        return IpcNode(Path(spec), timeout=startup_timeout, genesis_accounts=accounts)
    if spec not in ("embedded", "anvil", "auto"):
        raise NodeError(
            f"unknown chain {spec!r}: use embedded, anvil, auto, an http(s):// JSON-RPC URL "
            "(for example http://127.0.0.1:8545) or the absolute path of a node's IPC socket (*.ipc)"
        )
    if spec in ("anvil", "auto"):
        from segell.chain.anvil import AnvilNode, find_anvil, network_isolation

        try:
            binary = find_anvil(anvil_binary)
            network_isolation()
        except (AnvilNotFound, NodeIsolationUnavailable) as exc:
            if spec == "anvil":
                raise
            log.warning("chain auto: the embedded chain, since anvil cannot be used here (%s)", exc)
        else:
            return AnvilNode(
                state_dir=state_dir, genesis_accounts=accounts, binary=binary, startup_timeout=startup_timeout
            )
    from segell.chain.embedded import EmbeddedNode

    return EmbeddedNode(state_dir=state_dir, genesis_accounts=accounts)


def is_ipc_spec(spec: str) -> bool:
    """Whether a chain spec names a node's IPC socket: an absolute path ending in ``.ipc``."""
    return spec.startswith("/") and spec.endswith(".ipc")


def normalize_genesis_accounts(accounts: Mapping[str, int]) -> dict[ChecksumAddress, int]:
    """Check addresses and amounts; return them keyed by checksum address."""
    normalized: dict[ChecksumAddress, int] = {}
    for address, wei in accounts.items():
        if not is_address(address):
            raise NodeError(f"genesis account {address!r} is not an address (0x and 40 hex digits)")
        if not isinstance(wei, int) or isinstance(wei, bool) or wei < 0:
            raise NodeError(f"genesis balance for {address} must be a non-negative int of wei, not {wei!r}")
        normalized[to_checksum_address(address)] = wei
    return normalized


class StateDirLock:
    """An exclusive lock on ``<state_dir>/<name>``, released when the process ends (even on kill -9)."""

    def __init__(self, state_dir: Path, name: str) -> None:
        self.path = state_dir / name
        self._fd: int | None = None

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for a previous holder (a node still saving) to let go."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise StateDirInUse(
                    f"{self.path.parent} is in use by another running node (pid {holder}): stop it, "
                    "or give this node another state directory"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @property
    def fd(self) -> int | None:
        """The locked file descriptor; a child process that inherits it keeps the lock until it exits."""
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
