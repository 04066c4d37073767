"""What the sandbox explorer's JSON answers."""

from datetime import datetime

from pydantic import BaseModel, Field

from segell.services.sandboxes.contracts_schemas import ContractOut, EventOut

MAX_SEGELL_EVENTS = 100
# Segell's events are searched over the last blocks only, so that an old, long sandbox answers as fast as a new one.
SEGELL_EVENT_WINDOW = 5_000


class BlockOut(BaseModel):
    number: int
    hash: str
    timestamp: datetime
    transaction_count: int
    gas_used: int


class TransactionSummary(BaseModel):
    hash: str
    block_number: int
    sender: str = Field(alias="from", serialization_alias="from")
    to: str | None = Field(description="Null for a contract creation.")
    contract: str | None = Field(description="The known contract called or created (registry, notary, deployed).")
    function: str | None = Field(description="The function called, when the contract's ABI is known.")
    created: str | None = Field(description="The address of the contract it created.")
    value: str = Field(description="Wei, as a decimal string.")
    status: str = Field(description="`success` or `reverted`.")
    gas_used: int


class SandboxSummary(BaseModel):
    id: str
    name: str
    backend: str
    chain_id: int
    head_block: int
    owner_account: str
    registry: str
    notary: str


class ExplorerView(BaseModel):
    sandbox: SandboxSummary
    blocks: list[BlockOut] = Field(description="The latest blocks, newest first.")
    transactions: list[TransactionSummary] = Field(description="The transactions of those blocks, newest first.")
    segell_events: list[EventOut] = Field(
        description=(
            f"Anchors, revocations, admissions and account changes of the sandbox's registry and notary in the last "
            f"{SEGELL_EVENT_WINDOW} blocks, newest first (at most {MAX_SEGELL_EVENTS})."
        )
    )
    contracts: list[ContractOut]
