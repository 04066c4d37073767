from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from segell.chain.gateway import ALLOWED_METHODS
from segell.services.deps import RuntimeDep
from segell.services.errors import error_responses

router = APIRouter(tags=["chain"])

_ID = {"type": ["integer", "string", "null"]}
JSON_RPC_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "jsonrpc": {"enum": ["2.0"]},
        "id": {**_ID, "description": "Left out for a notification, which gets no answer."},
        "method": {
            "type": "string",
            "enum": sorted(ALLOWED_METHODS),
            "description": "The methods answered; any other is refused with error -32601.",
        },
        "params": {"type": "array"},
    },
    "required": ["jsonrpc", "method"],
}
JSON_RPC_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "jsonrpc": {"enum": ["2.0"]},
        "id": _ID,
        "result": {},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "data": {}},
            "required": ["code", "message"],
        },
    },
    "required": ["jsonrpc", "id"],
    "oneOf": [{"required": ["result"]}, {"required": ["error"]}],
}
_JSON_RPC_BODY: dict[str, Any] = {
    # JSON-RPC answers every body, none included, in a 200: a request it cannot read gets an error object
    # (-32700 not JSON, -32600 not a request, -32601 a method it does not answer), not an HTTP error.
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [JSON_RPC_REQUEST, {"type": "array", "items": JSON_RPC_REQUEST, "minItems": 1}, {}],
                "description": "A JSON-RPC 2.0 request or a batch of them; anything else is answered with a "
                "JSON-RPC error object.",
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
            "content": {
                "application/json": {
                    "schema": {"oneOf": [JSON_RPC_RESPONSE, {"type": "array", "items": JSON_RPC_RESPONSE}]}
                }
            },
        },
        204: {"description": "Only notifications were sent: JSON-RPC answers nothing."},
        # Refused before the gateway sees the body (services/limits.py).
        **error_responses(413, 422),
    },
    response_class=Response,
)
async def json_rpc(request: Request, runtime: RuntimeDep) -> Response:
    """Read-only JSON-RPC over the chain; methods that write or administer the node are refused."""
    answer = await run_in_threadpool(runtime.gateway.handle_bytes, await request.body())
    if not answer:
        return Response(status_code=204)
    return Response(answer, media_type="application/json")
