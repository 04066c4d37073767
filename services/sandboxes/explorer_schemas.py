"""What the sandbox explorer's JSON answers."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from segell.services.sandboxes.contracts_schemas import ContractOut, EventOut, OutputOut

MAX_EVENTS = 100
# Events are searched over the last blocks only, so that an old, long sandbox answers as fast as a new one.
EVENT_WINDOW = 5_000
# An address's transactions are looked for in the last blocks only: a node has no index of them.
ADDRESS_WINDOW = 1_000
MAX_ADDRESS_TRANSACTIONS = 50
MAX_BLOCK_TRANSACTIONS = 500
MAX_ACTIVITY_BLOCKS = 500


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
    contract: str | None = Field(
        description="The known contract called or created (registry, notary, deployed, registered)."
    )
    function: str | None = Field(description="The function called, when the contract's ABI is known.")
    created: str | None = Field(description="The address of the contract it created.")
    value: str = Field(description="Wei, as a decimal string.")
    status: str = Field(description="`success` or `reverted`.")
    gas_used: int


class ExplorerEvent(EventOut):
    contract: str | None = Field(description="The name of the known contract that emitted it; null when unknown.")


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
    events: list[ExplorerEvent] = Field(
        description=(
            f"Events of every contract in the last {EVENT_WINDOW} blocks, newest first (at most {MAX_EVENTS}): "
            "decoded for the sandbox's registry and notary and the contracts deployed or registered through the "
            "API; undecoded (`event` null) for any other."
        )
    )
    contracts: list[ContractOut]


class ActivityPoint(BaseModel):
    number: int
    timestamp: datetime
    transaction_count: int
    gas_used: int
    gas_limit: int


class ActivityView(BaseModel):
    from_block: int
    to_block: int
    blocks: list[ActivityPoint] = Field(description="One point a block, oldest first: what the charts draw.")


class BlockDetail(BlockOut):
    parent_hash: str
    gas_limit: int
    base_fee_per_gas: str | None = Field(description="Wei, as a decimal string; null before London.")
    miner: str
    head_block: int
    transactions: list[TransactionSummary] = Field(
        description=f"Its transactions in block order (the first {MAX_BLOCK_TRANSACTIONS})."
    )


class DecodedInput(BaseModel):
    function: str = Field(description="The signature of the function called.")
    arguments: list[OutputOut] | None = Field(description="Its arguments by name; null when they do not decode.")


class TransactionDetail(BaseModel):
    hash: str
    block_number: int
    block_hash: str
    timestamp: datetime
    transaction_index: int
    sender: str = Field(alias="from", serialization_alias="from")
    to: str | None = Field(description="Null for a contract creation.")
    created: str | None = Field(description="The address of the contract it created.")
    contract: str | None = Field(description="The known contract called or created.")
    nonce: int
    value: str = Field(description="Wei, as a decimal string.")
    gas_limit: int
    gas_used: int
    gas_price: str = Field(description="The effective gas price, wei, as a decimal string.")
    fee: str = Field(description="gas_used × gas_price, wei, as a decimal string.")
    status: Literal["success", "reverted"]
    input: str = Field(description="The call data (or creation code), 0x-hex.")
    decoded_input: DecodedInput | None = Field(description="The function and arguments, when the ABI is known.")
    logs: list[ExplorerEvent]
    head_block: int


class AddressView(BaseModel):
    address: str
    kind: Literal["contract", "account"]
    label: str | None = Field(
        description="What the address is to the sandbox: a known contract's name, `member account` (the owner's "
        "admitted account), `funded account` or `governance`."
    )
    balance: str = Field(description="Wei, as a decimal string.")
    nonce: int
    code_size: int = Field(description="Bytes of code at the address; 0 for an account.")
    contract: ContractOut | None = Field(description="The known contract at the address.")
    transactions: list[TransactionSummary] = Field(
        description=(
            f"Transactions from it, to it or creating it in the last {ADDRESS_WINDOW} blocks, newest first (at most "
            f"{MAX_ADDRESS_TRANSACTIONS})."
        )
    )
    events: list[ExplorerEvent] = Field(
        description=f"Events it emitted in the last {EVENT_WINDOW} blocks, newest first (at most {MAX_EVENTS})."
    )
    searched_from_block: int = Field(description="The first block searched for its transactions.")
    head_block: int
