from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from services.deps import RuntimeDep

router = APIRouter(tags=["chain"])

_JSON_RPC_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                "description": "A JSON-RPC 2.0 request or a batch of them.",
            },
            "example": {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        }
    },
}


@router.post(
    "/rpc",
    openapi_extra={"requestBody": _JSON_RPC_BODY},
    responses={
        200: {
            "description": "JSON-RPC response(s); errors use JSON-RPC error objects (-32601 for refused methods).",
            "content": {"application/json": {"schema": {}}},
        },
        204: {"description": "Only notifications were sent: JSON-RPC answers nothing."},
    },
    response_class=Response,
)
async def json_rpc(request: Request, runtime: RuntimeDep) -> Response:
    """Read-only JSON-RPC over the chain; methods that write or administer the node are refused."""
    answer = await run_in_threadpool(runtime.gateway.handle_bytes, await request.body())
    if not answer:
        return Response(status_code=204)
    return Response(answer, media_type="application/json")
