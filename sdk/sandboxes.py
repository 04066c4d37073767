"""Typed results of the sandbox methods of :class:`sdk.Client`: sandboxes, their snapshots and exported accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ._convert import Json, optional_datetime, optional_int, parse_datetime

__all__ = [
    "ExportedAccount",
    "Sandbox",
    "SandboxBackend",
    "SandboxContracts",
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
    """A saved state of a sandbox's chain; :meth:`sdk.Client.revert_sandbox` brings it back."""

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

    ``rpc_url`` is the JSON-RPC endpoint behind the owner's API key (see :meth:`sdk.Client.sandbox_web3`).
    ``accounts[0]`` is admitted for the owner in the sandbox's registry; all are funded. The fields from
    ``head_block`` on are filled by :meth:`sdk.Client.get_sandbox` (and revert/reset) and are None elsewhere.
    """

    id: str
    name: str
    status: SandboxState
    backend: SandboxBackend
    chain_id: int
    contracts: SandboxContracts
    rpc_url: str
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
