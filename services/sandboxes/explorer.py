"""The sandbox explorer: its blocks, transactions, addresses, events, contracts and charts, for its owner only.

Two parts:

- ``GET /v1/sandboxes/{id}/explorer`` and the views under it (``/activity``, ``/blocks/{number}``,
  ``/transactions/{hash}``, ``/addresses/{address}``): the JSON, behind the owner's API key like every API operation.
- ``GET /sandboxes/{id}/explorer`` and the same views under it: one page that holds no data. A browser cannot put an
  API key on a link, so the page asks the owner for the key, keeps it in ``sessionStorage`` (this tab only, gone
  when the tab closes; never a cookie, so no other site can make the browser send it) and fetches the JSON with
  ``Authorization: Bearer``. Everything the chain says is written into the page as text, never as HTML. Script,
  style and the charting library (Chart.js, vendored in ``explorer_static/``) come from this server only, under a
  strict Content-Security-Policy; nothing is loaded from elsewhere.

Transactions and events are decoded with the ABIs of the contracts Segell knows in the sandbox: its registry and
notary, and those deployed or registered through the API.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, cast

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import HTMLResponse, Response
from hexbytes import HexBytes
from pydantic import StringConstraints
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound
from web3.types import BlockData, FilterParams

from segell.chain.abi import UndecodableAbiData, decode_log, decode_outputs, selector, signature
from segell.services.deps import CallerDep, SessionDep
from segell.services.errors import NotFound, error_responses
from segell.services.sandboxes import contracts_service as service
from segell.services.sandboxes.contracts_router import contract_out
from segell.services.sandboxes.contracts_schemas import Address, OutputOut, TransactionHash
from segell.services.sandboxes.contracts_service import KnownContract
from segell.services.sandboxes.explorer_schemas import (
    ADDRESS_WINDOW,
    EVENT_WINDOW,
    MAX_ACTIVITY_BLOCKS,
    MAX_ADDRESS_TRANSACTIONS,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EVENTS,
    ActivityPoint,
    ActivityView,
    AddressView,
    BlockDetail,
    BlockOut,
    DecodedInput,
    ExplorerEvent,
    ExplorerView,
    SandboxSummary,
    TransactionDetail,
    TransactionSummary,
)
from segell.services.sandboxes.service import SandboxHandle

SandboxId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
BlockNumber = Annotated[int, PathParameter(ge=0, lt=2**63, description="The block's number.")]
MAX_BLOCKS = 50
MAX_TRANSACTIONS = 100

_STATIC_DIR: Final = Path(__file__).parent / "explorer_static"
_STATIC_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

api = APIRouter(
    prefix="/v1/sandboxes/{sandbox_id}/explorer",
    tags=["sandbox explorer"],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
# The page and its script: HTML for people, not part of the API schema.
pages = APIRouter(include_in_schema=False)


# -- reading the chain ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sandbox:
    """What the views need to know of a sandbox: its contracts by address, and its accounts' roles."""

    known: Mapping[str, KnownContract]
    labels: Mapping[str, str]

    @property
    def abis(self) -> dict[str, list[dict[str, Any]]]:
        return {address: known.abi for address, known in self.known.items()}


def _sandbox(session: Any, handle: SandboxHandle) -> _Sandbox:
    known = {contract.address: contract for contract in service.known_contracts(session, handle)}
    labels = {address: contract.name for address, contract in known.items()}
    labels[handle.governance.address] = "governance"
    for position, account in enumerate(handle.accounts):
        labels[account.address] = "member account" if position == 0 else "funded account"
    return _Sandbox(known, labels)


def _hex(value: Any) -> str:
    return HexBytes(value).to_0x_hex()


def _address(value: Any) -> str | None:
    return to_checksum_address(value) if value else None


def _function_entry(abi: Sequence[Mapping[str, Any]], data: bytes) -> Mapping[str, Any] | None:
    if len(data) < 4:
        return None
    for entry in abi:
        if entry.get("type") == "function" and selector(entry) == data[:4]:
            return entry
    return None


def _target(tx: Mapping[str, Any], receipt: Mapping[str, Any], sandbox: _Sandbox) -> KnownContract | None:
    return sandbox.known.get(_address(tx.get("to")) or _address(receipt.get("contractAddress")) or "")


def _input(tx: Mapping[str, Any]) -> bytes:
    return bytes(HexBytes(tx.get("input") or tx.get("data") or b""))


def _transactions_of(block: BlockData) -> list[Mapping[str, Any]]:
    """A block's transactions, read with ``full_transactions=True``."""
    return cast(list[Mapping[str, Any]], list(block["transactions"]))


def _summary(tx: Mapping[str, Any], receipt: Mapping[str, Any], sandbox: _Sandbox) -> TransactionSummary:
    target = _target(tx, receipt, sandbox)
    to = _address(tx.get("to"))
    entry = _function_entry(target.abi, _input(tx)) if target and to else None
    return TransactionSummary(
        hash=_hex(tx["hash"]),
        block_number=int(receipt["blockNumber"]),
        **{"from": to_checksum_address(tx["from"])},
        to=to,
        contract=target.name if target else None,
        function=signature(entry) if entry else None,
        created=_address(receipt.get("contractAddress")),
        value=str(int(tx.get("value", 0))),
        status="success" if receipt["status"] == 1 else "reverted",
        gas_used=int(receipt["gasUsed"]),
    )


def _summaries(w3: Web3, transactions: Iterable[Mapping[str, Any]], sandbox: _Sandbox) -> list[TransactionSummary]:
    return [_summary(tx, w3.eth.get_transaction_receipt(tx["hash"]), sandbox) for tx in transactions]


def _events(w3: Web3, sandbox: _Sandbox, head: int, address: str | None = None) -> list[ExplorerEvent]:
    """The newest events of the last `EVENT_WINDOW` blocks (of one address, or all), decoded where the ABI is known."""
    query: FilterParams = {"fromBlock": max(0, head - EVENT_WINDOW + 1), "toBlock": head}
    if address is not None:
        query["address"] = to_checksum_address(address)
    logs = sorted(w3.eth.get_logs(query), key=lambda log: (log["blockNumber"], log["logIndex"]), reverse=True)
    abis = sandbox.abis
    return [_event(decode_log(log, abis), sandbox) for log in logs[:MAX_EVENTS]]


def _event(decoded: Any, sandbox: _Sandbox) -> ExplorerEvent:
    known = sandbox.known.get(decoded.address)
    return ExplorerEvent(**decoded.as_json(), contract=known.name if known else None)


def _contracts_out(w3: Web3, sandbox: _Sandbox) -> list[Any]:
    return [contract_out(known, service.is_on_chain(w3, known.address)) for known in sandbox.known.values()]


def _block_out(block: Mapping[str, Any]) -> BlockOut:
    return BlockOut(
        number=int(block["number"]),
        hash=_hex(block["hash"]),
        timestamp=datetime.fromtimestamp(int(block["timestamp"]), UTC),
        transaction_count=len(block["transactions"]),
        gas_used=int(block["gasUsed"]),
    )


def explorer_view(session: Any, handle: SandboxHandle, block_count: int) -> ExplorerView:
    sandbox = _sandbox(session, handle)
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        blocks = [w3.eth.get_block(n, full_transactions=True) for n in range(head, max(-1, head - block_count), -1)]
        newest_first = [tx for block in blocks for tx in reversed(_transactions_of(block))][:MAX_TRANSACTIONS]
        transactions = _summaries(w3, newest_first, sandbox)
        events = _events(w3, sandbox, head)
        contracts = _contracts_out(w3, sandbox)
    return ExplorerView(
        sandbox=SandboxSummary(
            id=handle.id,
            name=handle.name,
            backend=handle.backend,
            chain_id=handle.chain_id,
            head_block=head,
            owner_account=handle.deployer.address,
            registry=to_checksum_address(handle.deployment.registry),
            notary=to_checksum_address(handle.deployment.notary),
        ),
        blocks=[_block_out(block) for block in blocks],
        transactions=transactions,
        events=events,
        contracts=contracts,
    )


def activity_view(handle: SandboxHandle, block_count: int) -> ActivityView:
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        first = max(0, head - block_count + 1)
        blocks = [w3.eth.get_block(n) for n in range(first, head + 1)]
    return ActivityView(
        from_block=first,
        to_block=head,
        blocks=[
            ActivityPoint(
                number=int(block["number"]),
                timestamp=datetime.fromtimestamp(int(block["timestamp"]), UTC),
                transaction_count=len(block["transactions"]),
                gas_used=int(block["gasUsed"]),
                gas_limit=int(block["gasLimit"]),
            )
            for block in blocks
        ],
    )


def block_view(session: Any, handle: SandboxHandle, number: int) -> BlockDetail:
    sandbox = _sandbox(session, handle)
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        if number > head:
            raise NotFound(
                f"Sandbox {handle.id} has no block {number} yet: its latest is block {head}.", code="block_not_found"
            )
        try:
            block = w3.eth.get_block(number, full_transactions=True)
        except BlockNotFound:
            raise NotFound(f"Sandbox {handle.id} has no block {number}.", code="block_not_found") from None
        transactions = _summaries(w3, _transactions_of(block)[:MAX_BLOCK_TRANSACTIONS], sandbox)
    base_fee = block.get("baseFeePerGas")
    return BlockDetail(
        **_block_out(block).model_dump(),
        parent_hash=_hex(block["parentHash"]),
        gas_limit=int(block["gasLimit"]),
        base_fee_per_gas=None if base_fee is None else str(int(base_fee)),
        miner=to_checksum_address(block["miner"]),
        head_block=head,
        transactions=transactions,
    )


def _decoded_input(tx: Mapping[str, Any], target: KnownContract | None) -> DecodedInput | None:
    if target is None or not tx.get("to"):
        return None
    data = _input(tx)
    entry = _function_entry(target.abi, data)
    if entry is None:
        return None
    try:
        arguments = [OutputOut(**item) for item in decode_outputs(entry.get("inputs", []), data[4:])]
    except UndecodableAbiData:
        return DecodedInput(function=signature(entry), arguments=None)
    return DecodedInput(function=signature(entry), arguments=arguments)


def transaction_view(session: Any, handle: SandboxHandle, transaction_hash: str) -> TransactionDetail:
    sandbox = _sandbox(session, handle)
    with handle.lock:
        w3 = handle.web3()
        try:
            tx = w3.eth.get_transaction(HexBytes(transaction_hash))
            receipt = w3.eth.get_transaction_receipt(HexBytes(transaction_hash))
        except TransactionNotFound:
            raise NotFound(
                f"Sandbox {handle.id} has no mined transaction {transaction_hash}.", code="transaction_not_found"
            ) from None
        block = w3.eth.get_block(receipt["blockNumber"])
        head = int(w3.eth.block_number)
    target = _target(tx, receipt, sandbox)
    gas_price = int(receipt.get("effectiveGasPrice") or tx.get("gasPrice") or 0)
    abis = sandbox.abis
    return TransactionDetail(
        hash=_hex(tx["hash"]),
        block_number=int(receipt["blockNumber"]),
        block_hash=_hex(receipt["blockHash"]),
        timestamp=datetime.fromtimestamp(int(block["timestamp"]), UTC),
        transaction_index=int(receipt["transactionIndex"]),
        **{"from": to_checksum_address(tx["from"])},
        to=_address(tx.get("to")),
        created=_address(receipt.get("contractAddress")),
        contract=target.name if target else None,
        nonce=int(tx["nonce"]),
        value=str(int(tx.get("value", 0))),
        gas_limit=int(tx["gas"]),
        gas_used=int(receipt["gasUsed"]),
        gas_price=str(gas_price),
        fee=str(gas_price * int(receipt["gasUsed"])),
        status="success" if receipt["status"] == 1 else "reverted",
        input=_hex(_input(tx)),
        decoded_input=_decoded_input(tx, target),
        logs=[_event(decode_log(log, abis), sandbox) for log in receipt["logs"]],
        head_block=head,
    )


def _involves(tx: Mapping[str, Any], address: str, w3: Web3) -> Mapping[str, Any] | None:
    """The receipt of `tx` if it is from, to or creating `address`; None if it is not."""
    if _address(tx.get("from")) == address or _address(tx.get("to")) == address:
        return w3.eth.get_transaction_receipt(tx["hash"])
    if not tx.get("to"):
        receipt = w3.eth.get_transaction_receipt(tx["hash"])
        if _address(receipt.get("contractAddress")) == address:
            return receipt
    return None


def address_view(session: Any, handle: SandboxHandle, address: str) -> AddressView:
    sandbox = _sandbox(session, handle)
    wanted = to_checksum_address(address)
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        code = bytes(w3.eth.get_code(wanted))
        balance = int(w3.eth.get_balance(wanted))
        nonce = int(w3.eth.get_transaction_count(wanted))
        first = max(0, head - ADDRESS_WINDOW + 1)
        transactions: list[TransactionSummary] = []
        for number in range(head, first - 1, -1):
            if len(transactions) >= MAX_ADDRESS_TRANSACTIONS:
                break
            for tx in reversed(_transactions_of(w3.eth.get_block(number, full_transactions=True))):
                receipt = _involves(tx, wanted, w3)
                if receipt is not None and len(transactions) < MAX_ADDRESS_TRANSACTIONS:
                    transactions.append(_summary(tx, receipt, sandbox))
        events = _events(w3, sandbox, head, wanted)
    known = sandbox.known.get(wanted)
    return AddressView(
        address=wanted,
        kind="contract" if code else "account",
        label=sandbox.labels.get(wanted),
        balance=str(balance),
        nonce=nonce,
        code_size=len(code),
        contract=contract_out(known, bool(code)) if known else None,
        transactions=transactions,
        events=events,
        searched_from_block=first,
        head_block=head,
    )


# -- the API -------------------------------------------------------------------------------------------------------


@api.get("", response_model=ExplorerView, response_model_by_alias=True)
def read_explorer(
    sandbox_id: SandboxId,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    blocks: Annotated[int, Query(ge=1, le=MAX_BLOCKS, description="How many of the latest blocks.")] = 20,
) -> ExplorerView:
    """What the explorer page shows: latest blocks and transactions, events, contracts. Owner only."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return explorer_view(session, handle, blocks)


@api.get("/activity", response_model=ActivityView)
def read_activity(
    sandbox_id: SandboxId,
    request: Request,
    caller: CallerDep,
    blocks: Annotated[
        int, Query(ge=1, le=MAX_ACTIVITY_BLOCKS, description="How many of the latest blocks to chart.")
    ] = 100,
) -> ActivityView:
    """Transactions and gas of each of the latest blocks, oldest first, for the explorer's charts."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return activity_view(handle, blocks)


@api.get("/blocks/{number}", response_model=BlockDetail, response_model_by_alias=True)
def read_block(
    sandbox_id: SandboxId, number: BlockNumber, request: Request, caller: CallerDep, session: SessionDep
) -> BlockDetail:
    """One block with its transactions, decoded where the contract is known (404 `block_not_found` past the head)."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return block_view(session, handle, number)


@api.get("/transactions/{transaction_hash}", response_model=TransactionDetail, response_model_by_alias=True)
def read_transaction(
    sandbox_id: SandboxId,
    transaction_hash: TransactionHash,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
) -> TransactionDetail:
    """One mined transaction: its input decoded when the contract is known, its logs decoded, its gas and fee."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return transaction_view(session, handle, transaction_hash)


@api.get("/addresses/{address}", response_model=AddressView, response_model_by_alias=True)
def read_address(
    sandbox_id: SandboxId, address: Address, request: Request, caller: CallerDep, session: SessionDep
) -> AddressView:
    """An account or a contract: balance, nonce, code size, the known contract, its latest transactions and events."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return address_view(session, handle, address)


# -- the page ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StaticFile:
    content: bytes
    media_type: str
    etag: str


@cache
def _static_files() -> dict[str, _StaticFile]:
    files = {}
    for path in sorted(_STATIC_DIR.iterdir()):
        if path.suffix in _STATIC_TYPES:
            content = path.read_bytes()
            files[path.name] = _StaticFile(
                content, _STATIC_TYPES[path.suffix], hashlib.sha256(content).hexdigest()[:16]
            )
    return files


@cache
def _page_template() -> str:
    return (_STATIC_DIR / "explorer.html").read_text(encoding="utf-8")


def render_page(sandbox_id: str) -> str:
    files = _static_files()
    # The id is matched by SandboxId's pattern (letters, digits, _ and -): nothing to escape.
    return (
        _page_template()
        .replace("{{sandbox_id}}", sandbox_id)
        .replace("{{js_version}}", files["explorer.js"].etag)
        .replace("{{chart_version}}", files["chart.umd.min.js"].etag)
        .replace("{{css_version}}", files["explorer.css"].etag)
    )


def _page(sandbox_id: str) -> HTMLResponse:
    return HTMLResponse(render_page(sandbox_id), headers=PAGE_HEADERS)


@pages.get("/sandboxes/{sandbox_id}/explorer", response_class=HTMLResponse)
def explorer_page(sandbox_id: SandboxId) -> HTMLResponse:
    """The explorer page; it holds no data and asks for the owner's API key to fetch it."""
    return _page(sandbox_id)


# The views are the same page: its script reads which one from the path, and links them to each other.
@pages.get("/sandboxes/{sandbox_id}/explorer/blocks/{number}", response_class=HTMLResponse)
def explorer_block_page(sandbox_id: SandboxId, number: BlockNumber) -> HTMLResponse:
    return _page(sandbox_id)


@pages.get("/sandboxes/{sandbox_id}/explorer/transactions/{transaction_hash}", response_class=HTMLResponse)
def explorer_transaction_page(sandbox_id: SandboxId, transaction_hash: TransactionHash) -> HTMLResponse:
    return _page(sandbox_id)


@pages.get("/sandboxes/{sandbox_id}/explorer/addresses/{address}", response_class=HTMLResponse)
def explorer_address_page(sandbox_id: SandboxId, address: Address) -> HTMLResponse:
    return _page(sandbox_id)


@pages.get("/static/sandboxes/{name}")
def explorer_static(name: str, request: Request) -> Response:
    file = _static_files().get(name)
    if file is None:
        raise NotFound(f"No static file {name}.")
    headers = {"ETag": f'"{file.etag}"', "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(file.content, media_type=file.media_type, headers=headers)
