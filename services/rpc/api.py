"""What the other domains may use of the JSON-RPC endpoint: the OpenAPI schemas of a JSON-RPC request and answer,
which the sandboxes' own endpoint documents itself with."""

from segell.services.rpc.router import JSON_RPC_REQUEST, JSON_RPC_RESPONSE

__all__ = ["JSON_RPC_REQUEST", "JSON_RPC_RESPONSE"]
