"""The sandbox explorer: its latest blocks, transactions, Segell events and contracts, for its owner only.

Two parts:

- ``GET /v1/sandboxes/{id}/explorer``: the JSON, behind the owner's API key like every API operation.
- ``GET /sandboxes/{id}/explorer``: a page that holds no data. A browser cannot put an API key on a link, so the
  page asks the owner for the key, keeps it in ``sessionStorage`` (this tab only, gone when the tab closes; never a
  cookie, so no other site can make the browser send it) and fetches the JSON with
  ``Authorization: Bearer``. Everything the chain says is written into the page as text, never as HTML. Script
  and style come from this server only (a strict Content-Security-Policy); nothing is loaded from elsewhere.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from hexbytes import HexBytes
from pydantic import StringConstraints
from web3 import Web3

from segell.chain.abi import selector, signature
from segell.services.deps import CallerDep, SessionDep
from segell.services.errors import NotFound, error_responses
from segell.services.sandboxes import contracts
from segell.services.sandboxes import contracts_service as service
from segell.services.sandboxes.contracts_router import event_out
from segell.services.sandboxes.contracts_schemas import ContractOut
from segell.services.sandboxes.explorer_schemas import (
    MAX_SEGELL_EVENTS,
    SEGELL_EVENT_WINDOW,
    BlockOut,
    ExplorerView,
    SandboxSummary,
    TransactionSummary,
)
from segell.services.sandboxes.service import SandboxHandle

SandboxId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
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


@dataclass(frozen=True)
class _Known:
    name: str
    abi: list[dict[str, Any]]


def _function_of(abi: list[dict[str, Any]], data: bytes) -> str | None:
    for entry in abi:
        if entry.get("type") == "function" and selector(entry) == data[:4]:
            return signature(entry)
    return None


def _transactions(w3: Web3, blocks: list[Any], known: dict[str, _Known]) -> list[TransactionSummary]:
    summaries: list[TransactionSummary] = []
    for block in blocks:
        for tx in reversed(block["transactions"]):
            if len(summaries) >= MAX_TRANSACTIONS:
                return summaries
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            to = to_checksum_address(tx["to"]) if tx.get("to") else None
            created_address = receipt.get("contractAddress")
            created = to_checksum_address(created_address) if created_address else None
            target = known.get(to or created or "")
            data = bytes(HexBytes(tx.get("input") or tx.get("data") or b""))
            summaries.append(
                TransactionSummary(
                    hash=HexBytes(tx["hash"]).to_0x_hex(),
                    block_number=int(block["number"]),
                    **{"from": to_checksum_address(tx["from"])},
                    to=to,
                    contract=target.name if target else None,
                    function=_function_of(target.abi, data) if target and to and data else None,
                    created=created,
                    value=str(int(tx.get("value", 0))),
                    status="success" if receipt["status"] == 1 else "reverted",
                    gas_used=int(receipt["gasUsed"]),
                )
            )
    return summaries


def explorer_view(session: Any, handle: SandboxHandle, block_count: int) -> ExplorerView:
    known_contracts = service.known_contracts(session, handle)
    known = {c.address: _Known(c.name, c.abi) for c in known_contracts}
    segell = [c for c in known_contracts if c.origin == "segell"]
    with handle.lock:
        w3 = handle.web3()
        head = int(w3.eth.block_number)
        blocks = [w3.eth.get_block(n, full_transactions=True) for n in range(head, max(-1, head - block_count), -1)]
        transactions = _transactions(w3, blocks, known)
        first = max(0, head - SEGELL_EVENT_WINDOW + 1)
        events = [
            event
            for contract in segell
            for event in contracts.events(
                w3, contract.address, contract.abi, name=None, from_block=first, to_block=head
            )
        ]
        present = {c.address: service.is_on_chain(w3, c.address) for c in known_contracts}
    events.sort(key=lambda e: (e.block_number, e.log_index), reverse=True)
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
        blocks=[
            BlockOut(
                number=int(block["number"]),
                hash=HexBytes(block["hash"]).to_0x_hex(),
                timestamp=datetime.fromtimestamp(int(block["timestamp"]), UTC),
                transaction_count=len(block["transactions"]),
                gas_used=int(block["gasUsed"]),
            )
            for block in blocks
        ],
        transactions=transactions,
        segell_events=[event_out(event) for event in events[:MAX_SEGELL_EVENTS]],
        contracts=[
            ContractOut(
                address=c.address,
                name=c.name,
                origin=c.origin,  # type: ignore[arg-type]
                source_unit=c.record.source_unit if c.record else None,
                transaction_hash=c.record.transaction_hash if c.record else None,
                block_number=c.record.block_number if c.record else None,
                deployed_at=c.record.deployed_at if c.record else None,
                on_chain=present[c.address],
            )
            for c in known_contracts
        ],
    )


@api.get("", response_model=ExplorerView, response_model_by_alias=True)
def read_explorer(
    sandbox_id: SandboxId,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    blocks: Annotated[int, Query(ge=1, le=MAX_BLOCKS, description="How many of the latest blocks.")] = 20,
) -> ExplorerView:
    """What the explorer page shows: latest blocks and transactions, Segell events, contracts. Owner only."""
    handle = service.sandbox(request.app.state, caller, sandbox_id)
    return explorer_view(session, handle, blocks)


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
        .replace("{{css_version}}", files["explorer.css"].etag)
    )


@pages.get("/sandboxes/{sandbox_id}/explorer", response_class=HTMLResponse)
def explorer_page(sandbox_id: SandboxId) -> HTMLResponse:
    """The explorer page; it holds no data and asks for the owner's API key to fetch it."""
    return HTMLResponse(render_page(sandbox_id), headers=PAGE_HEADERS)


@pages.get("/static/sandboxes/{name}")
def explorer_static(name: str, request: Request) -> Response:
    file = _static_files().get(name)
    if file is None:
        raise NotFound(f"No static file {name}.")
    headers = {"ETag": f'"{file.etag}"', "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(file.content, media_type=file.media_type, headers=headers)
