"""Sandbox endpoints: create, list, show, extend, snapshot, revert, reset, delete, export keys, and JSON-RPC."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from segell.services.deps import CallerDep
from segell.services.errors import error_responses
from segell.services.rpc.api import JSON_RPC_REQUEST, JSON_RPC_RESPONSE
from segell.services.sandboxes.models import Sandbox, SandboxSnapshot
from segell.services.sandboxes.schemas import (
    AccountExport,
    Contracts,
    ExportedAccountOut,
    ExtendRequest,
    SandboxDetail,
    SandboxId,
    SandboxList,
    SandboxOut,
    SandboxRequest,
    SnapshotId,
    SnapshotList,
    SnapshotOut,
    SnapshotRequest,
)
from segell.services.sandboxes.service import SandboxesDep, SandboxStatus

# Every route needs an administration's API key; governance keys get 403.
router = APIRouter(prefix="/v1/sandboxes", tags=["sandboxes"], responses=error_responses(401, 403))
# The routes about one sandbox: unknown or another tenant's (404), deleted or expired (409), node down (503).
one_sandbox = APIRouter(prefix="/{sandbox_id}", responses=error_responses(404, 409, 422, 503))

# The shape of /rpc's requests, but any method name: the sandbox answers writes and, when enabled, node administration.
_SANDBOX_REQUEST: dict[str, Any] = {
    **JSON_RPC_REQUEST,
    "properties": {**JSON_RPC_REQUEST["properties"], "method": {"type": "string", "minLength": 1}},
}
_SANDBOX_JSON_RPC_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"oneOf": [_SANDBOX_REQUEST, {"type": "array", "items": _SANDBOX_REQUEST, "minItems": 1}]},
            "example": {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        }
    },
}


def _rpc_url(request: Request, sandbox_id: str) -> str:
    return str(request.url_for("sandbox_json_rpc", sandbox_id=sandbox_id))


def _sandbox_out(request: Request, sandbox: Sandbox) -> dict[str, Any]:
    return {
        "id": sandbox.id,
        "name": sandbox.name,
        "status": sandbox.status,
        "backend": sandbox.backend,
        "chain_id": sandbox.chain_id,
        "contracts": Contracts(
            registry=sandbox.registry_address, notary=sandbox.notary_address, deployment_block=sandbox.deployment_block
        ),
        "rpc_url": _rpc_url(request, sandbox.id),
        "explorer_url": str(request.url_for("explorer_page", sandbox_id=sandbox.id)),
        "node_admin": sandbox.node_admin,
        "accounts": [account.address for account in sandbox.accounts],
        "governance": sandbox.governance_address,
        "created_at": sandbox.created_at,
        "expires_at": sandbox.expires_at,
        "ended_at": sandbox.ended_at,
    }


def _snapshot_out(snapshot: SandboxSnapshot) -> SnapshotOut:
    return SnapshotOut(
        id=snapshot.id, name=snapshot.name, head_block=snapshot.head_block, created_at=snapshot.created_at
    )


def _detail(request: Request, sandbox: Sandbox, state: SandboxStatus) -> SandboxDetail:
    return SandboxDetail(
        **_sandbox_out(request, sandbox),
        head_block=state.head_block,
        transaction_count=state.transaction_count,
        node_started_at=state.node_started_at,
        uptime_seconds=state.uptime_seconds,
        snapshots=[_snapshot_out(snapshot) for snapshot in sandbox.snapshots],
    )


@router.post(
    "",
    response_model=SandboxOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422, 503),
)
def create_sandbox(body: SandboxRequest, request: Request, caller: CallerDep, sandboxes: SandboxesDep) -> SandboxOut:
    """Create a sandbox: its own chain, the Segell contracts deployed, your administration admitted, funded accounts."""
    sandbox = sandboxes.create(
        caller, name=body.name, ttl_seconds=body.ttl_seconds, backend=body.backend, node_admin=body.node_admin
    )
    return SandboxOut(**_sandbox_out(request, sandbox))


@router.get("", response_model=SandboxList, responses=error_responses(422))
def list_sandboxes(
    request: Request,
    caller: CallerDep,
    sandboxes: SandboxesDep,
    include_ended: Annotated[bool, Query(description="Also list deleted and expired sandboxes.")] = False,
) -> SandboxList:
    """List your administration's sandboxes (running ones unless include_ended)."""
    found = sandboxes.list_owned(caller, include_ended=include_ended)
    return SandboxList(items=[SandboxOut(**_sandbox_out(request, sandbox)) for sandbox in found])


@one_sandbox.get("", response_model=SandboxDetail)
def read_sandbox(sandbox_id: SandboxId, request: Request, caller: CallerDep, sandboxes: SandboxesDep) -> SandboxDetail:
    """One sandbox with its head block, transaction count, uptime, expiry and snapshots (also once ended)."""
    sandbox = sandboxes.get(caller, sandbox_id)
    return _detail(request, sandbox, sandboxes.status(sandbox))


@one_sandbox.delete("", response_model=SandboxOut)
def delete_sandbox(sandbox_id: SandboxId, request: Request, caller: CallerDep, sandboxes: SandboxesDep) -> SandboxOut:
    """Delete a sandbox: its node stops and its chain and snapshots are erased."""
    return SandboxOut(**_sandbox_out(request, sandboxes.delete(caller, sandbox_id)))


@one_sandbox.post("/extend", response_model=SandboxOut)
def extend_sandbox(
    sandbox_id: SandboxId, body: ExtendRequest, request: Request, caller: CallerDep, sandboxes: SandboxesDep
) -> SandboxOut:
    """Add time to a sandbox's time to live, within the server's maximum lifetime."""
    return SandboxOut(**_sandbox_out(request, sandboxes.extend(caller, sandbox_id, body.seconds)))


@one_sandbox.post("/snapshots", response_model=SnapshotOut, status_code=status.HTTP_201_CREATED)
def snapshot_sandbox(
    sandbox_id: SandboxId, caller: CallerDep, sandboxes: SandboxesDep, body: SnapshotRequest | None = None
) -> SnapshotOut:
    """Save the chain's current state; revert to it later, as often as needed."""
    return _snapshot_out(sandboxes.snapshot(caller, sandbox_id, body.name if body else None))


@one_sandbox.get("/snapshots", response_model=SnapshotList)
def list_snapshots(sandbox_id: SandboxId, caller: CallerDep, sandboxes: SandboxesDep) -> SnapshotList:
    """The snapshots of a sandbox, oldest first."""
    sandbox = sandboxes.get(caller, sandbox_id)
    return SnapshotList(items=[_snapshot_out(snapshot) for snapshot in sandbox.snapshots])


@one_sandbox.post("/snapshots/{snapshot_id}/revert", response_model=SandboxDetail)
def revert_sandbox(
    sandbox_id: SandboxId, snapshot_id: SnapshotId, request: Request, caller: CallerDep, sandboxes: SandboxesDep
) -> SandboxDetail:
    """Bring the chain back to a snapshot: later blocks are gone; the snapshot stays for further reverts."""
    sandbox = sandboxes.revert(caller, sandbox_id, snapshot_id)
    return _detail(request, sandbox, sandboxes.status(sandbox))


@one_sandbox.post("/reset", response_model=SandboxDetail)
def reset_sandbox(sandbox_id: SandboxId, request: Request, caller: CallerDep, sandboxes: SandboxesDep) -> SandboxDetail:
    """Bring the chain back to how it was when the sandbox was created (contracts deployed, nothing else)."""
    sandbox = sandboxes.reset(caller, sandbox_id)
    return _detail(request, sandbox, sandboxes.status(sandbox))


@one_sandbox.post("/accounts/export", response_model=AccountExport)
def export_accounts(sandbox_id: SandboxId, caller: CallerDep, sandboxes: SandboxesDep) -> AccountExport:
    """The private keys of the sandbox's funded accounts, for the owner's own tools (kept sealed at rest)."""
    sandbox = sandboxes.get(caller, sandbox_id)
    accounts = sandboxes.export_accounts(caller, sandbox_id)
    return AccountExport(
        sandbox_id=sandbox.id,
        chain_id=sandbox.chain_id,
        accounts=[ExportedAccountOut(address=a.address, private_key=a.private_key, role=a.role) for a in accounts],  # type: ignore[arg-type]
    )


@one_sandbox.post(
    "/rpc",
    name="sandbox_json_rpc",
    openapi_extra={"requestBody": _SANDBOX_JSON_RPC_BODY},
    responses={
        200: {
            "description": "JSON-RPC response(s); refused methods get JSON-RPC error -32601.",
            "content": {
                "application/json": {
                    "schema": {"oneOf": [JSON_RPC_RESPONSE, {"type": "array", "items": JSON_RPC_RESPONSE}]}
                }
            },
        },
        204: {"description": "Only notifications were sent: JSON-RPC answers nothing."},
        **error_responses(413),
    },
    response_class=Response,
)
async def sandbox_json_rpc(
    sandbox_id: SandboxId, request: Request, caller: CallerDep, sandboxes: SandboxesDep
) -> Response:
    """JSON-RPC on the sandbox's chain: reads and eth_sendRawTransaction; node administration only if enabled."""
    body = await request.body()
    answer = await run_in_threadpool(sandboxes.json_rpc, caller, sandbox_id, body)
    if not answer:
        return Response(status_code=204)
    return Response(answer, media_type="application/json")


router.include_router(one_sandbox)
