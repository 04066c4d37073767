"""What the sandbox endpoints take and answer."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from segell.services.display_text import DisplayText
from segell.services.json_types import JSON_NUMBER, JsonInteger

# Issued ids are sbx_ + 16 hex digits; anything up to the column's length is looked up (and not found).
SandboxId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
SnapshotId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
# Printed to terminals and logs, and shown in the explorer.
Name = Annotated[str, DisplayText(max_length=100)]


class SandboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="What the sandbox is for, e.g. `permits-poc`.")
    ttl_seconds: Annotated[int, Field(ge=60, le=366 * 24 * 3600), JSON_NUMBER] | None = Field(
        default=None,
        description="Seconds until it is reaped; the server default if left out.",
    )
    backend: Literal["anvil", "embedded"] | None = Field(
        default=None, description="`anvil` (the default where installed) or `embedded` (the in-process EVM)."
    )
    node_admin: StrictBool = Field(
        default=False,
        description=(
            "Let the JSON-RPC endpoint pass node-administration methods (anvil_*, evm_*, hardhat_*): those of the "
            "allow-list in docs/sandboxes.md, none of which makes the node reach a URL or a file."
        ),
    )


class ExtendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: JsonInteger = Field(ge=1, le=366 * 24 * 3600, description="Seconds added to the time to live.")


class SnapshotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None


class Contracts(BaseModel):
    registry: str = Field(description="AdministrationRegistry address.")
    notary: str = Field(description="Notary address.")
    deployment_block: int


class SnapshotOut(BaseModel):
    id: str
    name: str | None
    head_block: int
    created_at: datetime


class SandboxOut(BaseModel):
    id: str
    name: str
    status: Literal["running", "deleted", "expired"]
    backend: Literal["anvil", "embedded"]
    chain_id: int
    contracts: Contracts
    rpc_url: str = Field(description="JSON-RPC endpoint of the sandbox's chain, behind the owner's API key.")
    explorer_url: str = Field(
        description="The sandbox's explorer page: blocks, transactions, addresses, events and charts; it asks for the "
        "owner's API key."
    )
    node_admin: bool
    accounts: list[str] = Field(description="Funded accounts; the first is admitted for the owner in the registry.")
    governance: str = Field(description="The sandbox's governance account (holds GOVERNANCE_ROLE in its registry).")
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


class SandboxDetail(SandboxOut):
    head_block: int | None = Field(description="Latest block; null when the sandbox is not running.")
    transaction_count: int | None = Field(description="Transactions in all its blocks; null when not running.")
    node_started_at: datetime | None
    uptime_seconds: float | None = Field(description="Seconds since its node (re)started.")
    snapshots: list[SnapshotOut]


class SandboxList(BaseModel):
    items: list[SandboxOut]


class SnapshotList(BaseModel):
    items: list[SnapshotOut]


class ExportedAccountOut(BaseModel):
    address: str
    private_key: str = Field(description="0x-hex private key. Keep it secret.")
    role: Literal["member", "funded"]


class AccountExport(BaseModel):
    sandbox_id: str
    chain_id: int
    accounts: list[ExportedAccountOut]
