"""Sandboxes (``client.sandboxes``): their typed results (sandboxes, snapshots, exported accounts) and the group."""

from __future__ import annotations

import builtins  # the group has a method named `list`
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ._convert import Json, items, json_object, optional_datetime, optional_int, parse_datetime
from ._transport import Transport, segment
from .errors import RPCError

if TYPE_CHECKING:
    from web3 import Web3

__all__ = [
    "ExportedAccount",
    "Sandbox",
    "SandboxBackend",
    "SandboxContracts",
    "Sandboxes",
    "SandboxSnapshot",
    "SandboxState",
]

SandboxBackend = Literal["anvil", "embedded"]
SandboxState = Literal["running", "deleted", "expired"]


@dataclass(frozen=True)
class SandboxContracts:
    """The Segell contracts deployed in a sandbox when it was created."""

    registry: str
    notary: str
    deployment_block: int

    @classmethod
    def _from_json(cls, data: Json) -> SandboxContracts:
        return cls(str(data["registry"]), str(data["notary"]), int(data["deployment_block"]))


@dataclass(frozen=True)
class SandboxSnapshot:
    """A saved state of a sandbox's chain; :meth:`Sandboxes.revert` brings it back."""

    id: str
    name: str | None
    head_block: int
    created_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> SandboxSnapshot:
        return cls(str(data["id"]), data.get("name"), int(data["head_block"]), parse_datetime(data["created_at"]))


@dataclass(frozen=True)
class Sandbox:
    """An isolated chain of one administration.

    ``rpc_url`` is the JSON-RPC endpoint behind the owner's API key (see :meth:`Sandboxes.web3`);
    ``explorer_url`` the sandbox's explorer page, which asks for that key in the browser.
    ``accounts[0]`` is admitted for the owner in the sandbox's registry; all are funded. The fields from
    ``head_block`` on are filled by :meth:`Sandboxes.get` (and revert/reset) and are None elsewhere.
    """

    id: str
    name: str
    status: SandboxState
    backend: SandboxBackend
    chain_id: int
    contracts: SandboxContracts
    rpc_url: str
    explorer_url: str
    node_admin: bool
    accounts: tuple[str, ...]
    governance: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    head_block: int | None = None
    transaction_count: int | None = None
    node_started_at: datetime | None = None
    uptime_seconds: float | None = None
    snapshots: tuple[SandboxSnapshot, ...] = ()

    @classmethod
    def _from_json(cls, data: Json) -> Sandbox:
        uptime = data.get("uptime_seconds")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            status=data["status"],
            backend=data["backend"],
            chain_id=int(data["chain_id"]),
            contracts=SandboxContracts._from_json(data["contracts"]),
            rpc_url=str(data["rpc_url"]),
            explorer_url=str(data["explorer_url"]),
            node_admin=bool(data["node_admin"]),
            accounts=tuple(str(address) for address in data["accounts"]),
            governance=str(data["governance"]),
            created_at=parse_datetime(data["created_at"]),
            expires_at=parse_datetime(data["expires_at"]),
            ended_at=optional_datetime(data.get("ended_at")),
            head_block=optional_int(data.get("head_block")),
            transaction_count=optional_int(data.get("transaction_count")),
            node_started_at=optional_datetime(data.get("node_started_at")),
            uptime_seconds=None if uptime is None else float(uptime),
            snapshots=tuple(SandboxSnapshot._from_json(item) for item in data.get("snapshots", [])),
        )


@dataclass(frozen=True)
class ExportedAccount:
    """A funded account of a sandbox with its private key (``role`` is ``member`` for the admitted one)."""

    address: str
    private_key: str
    role: Literal["member", "funded"]

    @classmethod
    def _from_json(cls, data: Json) -> ExportedAccount:
        return cls(str(data["address"]), str(data["private_key"]), data["role"])

    def __repr__(self) -> str:
        return f"ExportedAccount(address={self.address!r}, role={self.role!r}, private_key='0x…')"


class Sandboxes:
    """``client.sandboxes``: chains of the administration's own, with the Segell contracts. An administration's key."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(
        self,
        name: str,
        *,
        ttl_seconds: int | None = None,
        backend: SandboxBackend | None = None,
        node_admin: bool = False,
    ) -> Sandbox:
        """Create a sandbox: a chain of its own with the Segell contracts deployed and your administration admitted.

        Arguments:
            name: what it is for, e.g. ``"permits-poc"``.
            ttl_seconds: seconds until it is removed (the server's default, one hour, when None).
            backend: ``"anvil"`` (the default where the server has it) or ``"embedded"``.
            node_admin: let its JSON-RPC endpoint pass ``anvil_*``/``evm_*``/``hardhat_*`` methods.

        Raises:
            ConflictError: ``code == "sandbox_quota_exhausted"`` when the administration runs as many as it may,
                ``"sandbox_lifetime_exceeded"`` for a ``ttl_seconds`` past the server's maximum lifetime, or
                ``"backend_unavailable"`` when anvil is asked for and not installed.

        Example::

            sandbox = segell.sandboxes.create("permits-poc", ttl_seconds=3600)
            w3 = segell.sandboxes.web3(sandbox.id)
            print(sandbox.contracts.notary, w3.eth.block_number)
        """
        body: dict[str, Any] = {"name": name, "node_admin": node_admin}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if backend is not None:
            body["backend"] = backend
        return self._transport.call("POST", "/v1/sandboxes", Sandbox._from_json, json=body)

    def list(self, *, include_ended: bool = False) -> list[Sandbox]:
        """Your administration's running sandboxes (and deleted and expired ones with ``include_ended``)."""
        params = {"include_ended": "true"} if include_ended else None
        return self._transport.call("GET", "/v1/sandboxes", items(Sandbox._from_json), params=params)

    def get(self, sandbox_id: str) -> Sandbox:
        """One sandbox with its head block, transaction count, uptime, expiry and snapshots."""
        return self._transport.call("GET", f"/v1/sandboxes/{segment(sandbox_id)}", Sandbox._from_json)

    def delete(self, sandbox_id: str) -> Sandbox:
        """Delete a sandbox: its node stops and its chain and snapshots are erased."""
        return self._transport.call("DELETE", f"/v1/sandboxes/{segment(sandbox_id)}", Sandbox._from_json)

    def extend(self, sandbox_id: str, seconds: int) -> Sandbox:
        """Add ``seconds`` to a sandbox's time to live (``ConflictError`` beyond the server's maximum lifetime)."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/extend"
        return self._transport.call("POST", path, Sandbox._from_json, json={"seconds": seconds})

    def snapshot(self, sandbox_id: str, name: str | None = None) -> SandboxSnapshot:
        """Save the sandbox's chain as it is now; :meth:`revert` brings it back, as often as needed."""
        body = {"name": name} if name is not None else {}
        path = f"/v1/sandboxes/{segment(sandbox_id)}/snapshots"
        return self._transport.call("POST", path, SandboxSnapshot._from_json, json=body)

    def list_snapshots(self, sandbox_id: str) -> builtins.list[SandboxSnapshot]:
        """The snapshots of a sandbox, oldest first."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/snapshots"
        return self._transport.call("GET", path, items(SandboxSnapshot._from_json))

    def revert(self, sandbox_id: str, snapshot_id: str) -> Sandbox:
        """Bring the sandbox's chain back to a snapshot; the blocks made since are gone."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/snapshots/{segment(snapshot_id)}/revert"
        return self._transport.call("POST", path, Sandbox._from_json)

    def reset(self, sandbox_id: str) -> Sandbox:
        """Bring the sandbox's chain back to how it was created: contracts deployed, nothing else."""
        return self._transport.call("POST", f"/v1/sandboxes/{segment(sandbox_id)}/reset", Sandbox._from_json)

    def export_accounts(self, sandbox_id: str) -> builtins.list[ExportedAccount]:
        """The sandbox's funded accounts with their private keys, for your own tools (``Account.from_key``)."""
        path = f"/v1/sandboxes/{segment(sandbox_id)}/accounts/export"
        return self._transport.call(
            "POST", path, lambda data: [ExportedAccount._from_json(item) for item in data["accounts"]]
        )

    def rpc(self, sandbox_id: str, method: str, params: builtins.list[Any] | None = None) -> Any:
        """Send one JSON-RPC request to a sandbox's chain and return its ``result``.

        Raises:
            RPCError: the node answered with an error, or refused the method (``code == -32601``).
        """
        url = f"{self._transport.base_url}/v1/sandboxes/{segment(sandbox_id)}/rpc"
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        answer = self._transport.call("POST", f"/v1/sandboxes/{segment(sandbox_id)}/rpc", json_object, json=request)
        error = answer.get("error")
        if isinstance(error, dict):
            raise RPCError(
                str(error.get("message", error)), code=int(error.get("code", 0)), url=url, data=error.get("data")
            )
        return answer.get("result")

    def web3(self, sandbox_id: str) -> Web3:
        """A ``web3.Web3`` on the sandbox's chain, through the API with this client's key.

        Example::

            w3 = segell.sandboxes.web3(sandbox.id)
            account = Account.from_key(segell.sandboxes.export_accounts(sandbox.id)[0].private_key)
            w3.eth.get_balance(account.address)

        Needs the ``web3`` extra (``pip install 'segell-sdk[web3]'``); raises ``ImportError`` without it.
        """
        try:  # web3 is an optional extra: the rest of the SDK does not need it
            from web3 import HTTPProvider, Web3
        except ImportError as error:
            raise ImportError(
                "Client.sandboxes.web3 needs web3.py: install it with `pip install 'segell-sdk[web3]'`"
            ) from error

        headers = self._transport.authorization
        url = f"{self._transport.base_url}/v1/sandboxes/{segment(sandbox_id)}/rpc"
        return Web3(HTTPProvider(url, request_kwargs={"headers": headers, "timeout": self._transport.timeout}))
