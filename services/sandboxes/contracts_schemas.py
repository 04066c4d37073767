"""Request and response bodies of the sandbox contract endpoints."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from segell.services.json_types import JSON_NUMBER
from segell.services.sandboxes.contracts import MAX_SOURCE_BYTES, MAX_SOURCE_FILES, OPTIMIZER_RUNS

Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
TransactionHash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
ContractName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,200}(:[A-Za-z_$][A-Za-z0-9_$]*)?$")]
# The EVM versions solc compiles for that a sandbox's node runs.
EvmVersion = Literal["london", "paris", "shanghai", "cancun", "prague"]
# Amounts of wei: a JSON integer or a decimal string (JavaScript cannot hold every uint256 as a number).
Wei = Annotated[int, Field(ge=0, lt=2**256)] | Annotated[str, StringConstraints(pattern=r"^[0-9]{1,78}$")]
FunctionName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[A-Za-z_$][A-Za-z0-9_$]*(\(.*\))?$"
    ),
]
# Relative, already normal (no `.`, `..` or empty parts, so no way out of the compiler's directory), ending in .sol.
SOURCE_PATH_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9_.\-]*/)*[A-Za-z0-9_][A-Za-z0-9_.\-]*\.sol$"
MAX_SOURCE_PATH_LENGTH = 204
_SOURCE_PATH = re.compile(SOURCE_PATH_PATTERN)


def wei(value: int | str | None) -> int:
    return int(value) if value is not None else 0


class SourcesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, str] = Field(
        description=(
            f'Solidity files by path, e.g. `{{"Permits.sol": "pragma solidity ^0.8.20; ..."}}`; at most '
            f"{MAX_SOURCE_FILES} files and {MAX_SOURCE_BYTES // 1024} KiB in all (`SEGELL_SANDBOX_COMPILE_MAX_SOURCE_"
            "BYTES` on the server; more answers 413 `sources_too_large` before anything is compiled). They may import "
            "each other by relative path and `@openzeppelin/contracts/...` (the pinned OpenZeppelin); nothing else."
        ),
        min_length=1,
        max_length=MAX_SOURCE_FILES,
        json_schema_extra={
            "propertyNames": {"pattern": SOURCE_PATH_PATTERN, "maxLength": MAX_SOURCE_PATH_LENGTH},
            "additionalProperties": {"type": "string", "pattern": "^[^\\x00]*$"},
        },
    )

    @field_validator("sources")
    @classmethod
    def _check_sources(cls, sources: dict[str, str]) -> dict[str, str]:
        for path, text in sources.items():
            if len(path) > MAX_SOURCE_PATH_LENGTH or not _SOURCE_PATH.fullmatch(path):
                raise ValueError(
                    f"{path[:80]!r} is not a usable file name: give relative paths such as `contracts/Permits.sol`"
                    " (letters, digits, `_ . -`, each part starting with a letter, digit or `_`, ending in .sol)"
                )
            if "\x00" in text:
                raise ValueError(f"{path} contains a NUL character; send the Solidity text as it is")
        return sources  # their size is the compiler's to limit (413, by the server's setting)


class DeployRequest(SourcesRequest):
    contract: ContractName | None = Field(
        default=None,
        description="Which contract to deploy: `Name` or `path.sol:Name`; optional when only one can be.",
    )
    constructor_args: list[Any] | dict[str, Any] = Field(
        default_factory=list, description="The constructor's arguments, in order or by name; see the call endpoint."
    )
    value: Wei | None = Field(default=None, description="Wei sent with the deployment (payable constructors).")


class CompilerSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    optimizer: StrictBool = Field(default=True, description="Whether the optimizer ran (Foundry's default: off).")
    optimizer_runs: Annotated[int, Field(ge=0, lt=2**32), JSON_NUMBER] = Field(
        default=OPTIMIZER_RUNS, description="The optimizer's `runs`."
    )
    evm_version: EvmVersion | None = Field(
        default=None, description="The EVM version compiled for; the server's pinned one (`cancun`) when left out."
    )
    via_ir: StrictBool = Field(default=False, description="Whether it was compiled through the IR pipeline.")


class RegisterRequest(SourcesRequest):
    contract: ContractName | None = Field(
        default=None,
        description="Which contract of the sources is at the address: `Name` or `path.sol:Name`; optional when only "
        "one can be deployed.",
    )
    compiler: CompilerSettingsIn = Field(
        default_factory=CompilerSettingsIn,
        description="The settings the contract was compiled with; the compiler itself is always the pinned solc.",
    )
    transaction_hash: TransactionHash | None = Field(
        default=None,
        description="The transaction that deployed it, if known: it must have created this address. Its block and "
        "gas are recorded and its constructor arguments decoded.",
    )


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: FunctionName = Field(
        description="A function name, or its signature such as `issue(uint256,address)` to choose an overload."
    )
    args: list[Any] | dict[str, Any] = Field(
        default_factory=list,
        description=(
            "Arguments in order (array) or by parameter name (object). Integers as JSON numbers or decimal "
            "strings; addresses, `bytes` and `bytesN` as 0x-hex; bools; arrays; tuples as objects or arrays."
        ),
    )
    sender: Address | None = Field(
        default=None, alias="from", description="The caller seen by the contract; the owner's account by default."
    )
    value: Wei | None = Field(default=None, description="Wei sent with the call.")


class TransactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: FunctionName = Field(description=CallRequest.model_fields["function"].description)
    args: list[Any] | dict[str, Any] = Field(
        default_factory=list, description=CallRequest.model_fields["args"].description
    )
    value: Wei | None = Field(default=None, description="Wei sent with the transaction (payable functions only).")


class CompilerMessageOut(BaseModel):
    file: str | None
    line: int | None
    column: int | None
    severity: str = Field(description="`error`, `warning` or `info`.")
    type: str | None = Field(description="solc's kind of message: `ParserError`, `TypeError`, `Warning`, ...")
    message: str


class EventOut(BaseModel):
    event: str | None = Field(description="The event's name; null for a log no known ABI decodes.")
    signature: str | None
    address: str
    block_number: int
    transaction_hash: str
    log_index: int
    args: dict[str, Any] = Field(description="Decoded arguments by name: integers as decimal strings, bytes as 0x-hex.")
    topics: list[str]
    data: str


class TransactionOut(BaseModel):
    function: str | None = Field(description="The signature of the function called; null for a deployment.")
    transaction_hash: str
    block_number: int
    status: Literal["success", "reverted"]
    gas_used: int
    events: list[EventOut]


class OutputOut(BaseModel):
    name: str
    type: str
    value: Any


class CallOut(BaseModel):
    function: str
    result: Any = Field(description="The only output's value; an array of them when several; null when none.")
    outputs: list[OutputOut]


class ContractOut(BaseModel):
    address: str
    name: str
    origin: Literal["deployed", "registered", "segell"] = Field(
        description="`deployed` through this API; `registered`: deployed elsewhere and registered with sources that "
        "compile to its code; or `segell`: the sandbox's own registry and notary."
    )
    source_unit: str | None = Field(description="`path.sol:Name` of a deployed contract.")
    transaction_hash: str | None
    block_number: int | None
    deployed_at: datetime | None
    on_chain: bool = Field(description="False once a reset or a revert to an earlier snapshot removed its code.")
    verification: Literal["exact", "partial"] | None = Field(
        default=None,
        description="A registered contract's match: `exact` (the same code, metadata included) or `partial` (the "
        "same code; the metadata hash differs: sources that differ in comments or whitespace).",
    )


class ContractList(BaseModel):
    items: list[ContractOut]


class ContractDetail(ContractOut):
    abi: list[dict[str, Any]]
    functions: list[str] = Field(description="Function signatures, as `function` accepts them.")
    events: list[str] = Field(description="Event signatures.")
    compiler_version: str | None
    source_hash: str | None
    sources: dict[str, str] | None = Field(description="The files the contract was compiled from.")
    constructor_args: list[Any] | dict[str, Any] | None
    compiler_settings: dict[str, Any] | None = Field(
        default=None, description="The settings a registered contract was compiled with to match."
    )


class DeployOut(ContractDetail):
    deployment: TransactionOut
    warnings: list[CompilerMessageOut] = Field(description="What the compiler warned about, if anything.")


class RegisterOut(ContractDetail):
    immutables: int = Field(description="How many immutable values were read from the code on chain.")
    on_chain_compiler: str | None = Field(description="The solc version the code's own metadata names, if any.")
    warnings: list[CompilerMessageOut] = Field(description="What the compiler warned about, if anything.")


class EventList(BaseModel):
    items: list[EventOut]
    from_block: int
    to_block: int = Field(description="The last block searched (the head when none was asked for).")
