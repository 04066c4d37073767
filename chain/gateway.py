"""A read-only JSON-RPC gateway in front of any Segell chain backend.

The Segell API serves the chain at ``/rpc`` so that stock Ethereum tools (``cast``, ethers, web3.py) can read
contracts, blocks, receipts and logs, whatever the node behind it: the embedded py-evm chain, anvil, or any
JSON-RPC URL. Only an allow-list of reading methods goes through; everything that writes, signs, keeps
server-side state or administers the node is refused with a JSON-RPC error that says so.

The gateway is transport-independent: the web layer hands it the request body and sends back what it returns.
`NodeProxy` puts the gateway in front of a node its owner may also transact on (a sandbox's): raw transactions,
and node administration when allowed, go to the node; every other method that is not a read is refused.

    gateway = ReadOnlyGateway(node.w3.provider, lock=node_lock)
    body = gateway.handle_bytes(request_body)  # b"" means "no response" (only notifications)

Errors follow JSON-RPC 2.0 and the conventions of Ethereum nodes:

    -32700  parse error         the body is not JSON
    -32600  invalid request     not a request object, empty or oversized batch
    -32601  method not found    unknown, or refused because /rpc is read-only
    -32602  invalid params      wrong number or shape of params, state overrides
    -32603  internal error      the node could not be reached or answered nonsense
         3  execution reverted  eth_call / eth_estimateGas reverted; revert data in ``error.data``
    other                       errors from the node, passed through unchanged
"""

from __future__ import annotations

import ast
import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from itertools import accumulate
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
from eth_abi import abi
from eth_bloom.bloom import BloomFilter
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, HTTPProvider
from web3.exceptions import ContractLogicError

from segell.chain.ipc import IpcProvider, IpcTransport
from segell.chain.node_admin import NODE_ADMIN_PREFIXES, refuse_node_admin
from segell.chain.nodes import NodeError, NodeUnreachable

__all__ = [
    "ALLOWED_METHODS",
    "DEFAULT_MAX_BATCH_SIZE",
    "MAX_JSON_DEPTH",
    "json_depth",
    "SupportsMakeRequest",
    "ReadOnlyGateway",
    "NodeProxy",
]

DEFAULT_MAX_BATCH_SIZE: Final = 100
# JSON-RPC batches of log filters nest 5 deep; nothing a reader sends comes close.
MAX_JSON_DEPTH: Final = 64

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
NODE_ERROR: Final = -32000
EXECUTION_REVERTED: Final = 3

JsonObject = dict[str, Any]


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_DEPTH_CHANGE = [0] * 256
_DEPTH_CHANGE[ord("[")] = _DEPTH_CHANGE[ord("{")] = 1
_DEPTH_CHANGE[ord("]")] = _DEPTH_CHANGE[ord("}")] = -1


def json_depth(body: bytes) -> int:
    """How deep a JSON parser would nest reading ``body`` (an upper bound when the body is not valid JSON)."""
    # A parser stops at the first error, and closing more than was opened is one: counting on past that point
    # can only raise the maximum, never hide a deeper prefix.
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_A_BRACKET)
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, brackets)), default=0)


class SupportsMakeRequest(Protocol):
    """What the gateway needs from a web3 provider: ``make_request(method, params) -> RPCResponse``."""

    def make_request(self, method: Any, params: Any) -> Any: ...


# --- what is allowed, and how each method's params must look --------------------------------------

# Kinds of positional parameter, checked before anything reaches the node.
_ADDRESS = "address"
_BLOCK = "block"  # tag or quantity
_BLOCK_REF = "block reference"  # tag, quantity or EIP-1898 object
_BLOCK_OR_HASH = "block or hash"  # eth_getBlockReceipts
_HASH = "hash"
_QUANTITY = "quantity"
_SLOT = "storage slot"
_BOOL = "boolean"
_CALL = "call object"
_FILTER = "filter object"
_PERCENTILES = "percentiles"
_COUNT = "block count"


class _Signature:
    __slots__ = ("kinds", "required")

    def __init__(self, *kinds: str, required: int | None = None) -> None:
        self.kinds = kinds
        self.required = len(kinds) if required is None else required


_SIGNATURES: Final[Mapping[str, _Signature]] = {
    "web3_clientVersion": _Signature(),
    "net_version": _Signature(),
    "net_listening": _Signature(),
    "eth_chainId": _Signature(),
    "eth_blockNumber": _Signature(),
    "eth_syncing": _Signature(),
    "eth_gasPrice": _Signature(),
    "eth_maxPriorityFeePerGas": _Signature(),
    "eth_feeHistory": _Signature(_COUNT, _BLOCK, _PERCENTILES, required=2),
    "eth_getBalance": _Signature(_ADDRESS, _BLOCK_REF, required=1),
    "eth_getCode": _Signature(_ADDRESS, _BLOCK_REF, required=1),
    "eth_getStorageAt": _Signature(_ADDRESS, _SLOT, _BLOCK_REF, required=2),
    "eth_getTransactionCount": _Signature(_ADDRESS, _BLOCK_REF, required=1),
    "eth_call": _Signature(_CALL, _BLOCK_REF, required=1),
    "eth_estimateGas": _Signature(_CALL, _BLOCK, required=1),
    "eth_getBlockByNumber": _Signature(_BLOCK, _BOOL),
    "eth_getBlockByHash": _Signature(_HASH, _BOOL),
    "eth_getBlockTransactionCountByNumber": _Signature(_BLOCK),
    "eth_getBlockTransactionCountByHash": _Signature(_HASH),
    "eth_getTransactionByHash": _Signature(_HASH),
    "eth_getTransactionByBlockNumberAndIndex": _Signature(_BLOCK, _QUANTITY),
    "eth_getTransactionByBlockHashAndIndex": _Signature(_HASH, _QUANTITY),
    "eth_getTransactionReceipt": _Signature(_HASH),
    "eth_getBlockReceipts": _Signature(_BLOCK_OR_HASH),
    "eth_getLogs": _Signature(_FILTER),
    "eth_accounts": _Signature(),
}

ALLOWED_METHODS: Final[frozenset[str]] = frozenset(_SIGNATURES)
"""The methods ``/rpc`` answers. Everything else is refused with -32601."""

_WRITE_METHODS: Final = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_sendRawTransactionSync",
        "eth_sign",
        "eth_signTransaction",
        "eth_signTypedData",
        "eth_signTypedData_v3",
        "eth_signTypedData_v4",
        "eth_submitWork",
        "eth_submitHashrate",
    }
)
_FILTER_METHODS: Final = frozenset(
    {
        "eth_newFilter",
        "eth_newBlockFilter",
        "eth_newPendingTransactionFilter",
        "eth_getFilterChanges",
        "eth_getFilterLogs",
        "eth_uninstallFilter",
        "eth_subscribe",
        "eth_unsubscribe",
    }
)
_ADMIN_PREFIXES: Final = (
    "anvil_",
    "evm_",
    "hardhat_",
    "ganache_",
    "debug_",
    "admin_",
    "miner_",
    "txpool_",
    "trace_",
    "ots_",
    "clique_",
    "qbft_",
    "ibft_",
    "perm_",
    "plugins_",
    "testing_",
)

_NAMED_BLOCKS: Final = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
_QUANTITY_RE: Final = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_DATA_RE: Final = re.compile(r"^0x(?:[0-9a-fA-F]{2})*$")
_ADDRESS_RE: Final = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH_RE: Final = re.compile(r"^0x[0-9a-fA-F]{64}$")

_CALL_QUANTITY_FIELDS: Final = frozenset(
    {
        "gas",
        "gasPrice",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "maxFeePerBlobGas",
        "value",
        "nonce",
        "chainId",
    }
)


def _refusal_message(method: str) -> str:
    if method in _WRITE_METHODS or method.startswith("personal_"):
        return f"{method} is refused: /rpc is read-only; submit through the Segell API"
    if method in _FILTER_METHODS:
        return f"{method} is refused: /rpc is read-only and keeps no filters; use eth_getLogs instead"
    if method.startswith(_ADMIN_PREFIXES):
        return f"{method} is refused: /rpc is read-only and does not administer the node"
    return f"{method} is not available: /rpc is read-only and answers only the methods listed in docs/rpc.md"


class _InvalidParams(Exception):
    """A request's params do not fit the method; becomes a -32602 error."""


def _check_block(value: object, where: str, *, allow_object: bool) -> None:
    if isinstance(value, str) and (value in _NAMED_BLOCKS or _QUANTITY_RE.match(value)):
        return
    if allow_object and isinstance(value, dict):
        if set(value) - {"blockHash", "blockNumber", "requireCanonical"}:
            raise _InvalidParams(f"{where}: unknown field in block reference")
        if ("blockHash" in value) == ("blockNumber" in value):
            raise _InvalidParams(f"{where}: give exactly one of blockHash or blockNumber")
        if "blockHash" in value:
            _check_kind(value["blockHash"], _HASH, f"{where}.blockHash")
        else:
            _check_block(value["blockNumber"], f"{where}.blockNumber", allow_object=False)
        if not isinstance(value.get("requireCanonical", False), bool):
            raise _InvalidParams(f"{where}.requireCanonical must be a boolean")
        return
    raise _InvalidParams(f"{where} must be a block number (hex quantity) or one of {', '.join(sorted(_NAMED_BLOCKS))}")


def _check_call(value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise _InvalidParams(f"{where} must be a call object")
    for field, field_value in value.items():
        if field in ("from", "to"):
            if field_value is not None:
                _check_kind(field_value, _ADDRESS, f"{where}.{field}")
        elif field in ("data", "input"):
            if not isinstance(field_value, str) or not _DATA_RE.match(field_value):
                raise _InvalidParams(f"{where}.{field} must be 0x-prefixed hex bytes")
        elif field in _CALL_QUANTITY_FIELDS and not (isinstance(field_value, str) and _QUANTITY_RE.match(field_value)):
            raise _InvalidParams(f"{where}.{field} must be a hex quantity")
    if "data" in value and "input" in value and value["data"] != value["input"]:
        raise _InvalidParams(f"{where}: data and input differ")


def _check_filter(value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise _InvalidParams(f"{where} must be a filter object")
    if "blockHash" in value:
        if "fromBlock" in value or "toBlock" in value:
            raise _InvalidParams(f"{where}: blockHash excludes fromBlock and toBlock")
        _check_kind(value["blockHash"], _HASH, f"{where}.blockHash")
    for bound in ("fromBlock", "toBlock"):
        if value.get(bound) is not None:
            _check_block(value[bound], f"{where}.{bound}", allow_object=False)
    address = value.get("address")
    if address is not None:
        for item in address if isinstance(address, list) else [address]:
            _check_kind(item, _ADDRESS, f"{where}.address")
    topics = value.get("topics")
    if topics is not None:
        if not isinstance(topics, list) or len(topics) > 4:
            raise _InvalidParams(f"{where}.topics must be a list of at most 4 positions")
        for position in topics:
            for topic in position if isinstance(position, list) else [position]:
                if topic is not None:
                    _check_kind(topic, _HASH, f"{where}.topics")


def _check_kind(value: object, kind: str, where: str) -> None:
    if kind == _ADDRESS:
        if not (isinstance(value, str) and _ADDRESS_RE.match(value)):
            raise _InvalidParams(f"{where} must be a 20-byte 0x-prefixed hex address")
    elif kind == _HASH:
        if not (isinstance(value, str) and _HASH_RE.match(value)):
            raise _InvalidParams(f"{where} must be a 32-byte 0x-prefixed hex hash")
    elif kind in (_QUANTITY, _SLOT):
        if not (isinstance(value, str) and _QUANTITY_RE.match(value)):
            raise _InvalidParams(f"{where} must be a hex quantity")
    elif kind == _COUNT:
        if not ((isinstance(value, str) and _QUANTITY_RE.match(value)) or _is_int(value)):
            raise _InvalidParams(f"{where} must be a hex quantity")
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise _InvalidParams(f"{where} must be a boolean")
    elif kind == _BLOCK:
        _check_block(value, where, allow_object=False)
    elif kind == _BLOCK_REF:
        _check_block(value, where, allow_object=True)
    elif kind == _BLOCK_OR_HASH:
        if not (isinstance(value, str) and _HASH_RE.match(value)):
            _check_block(value, where, allow_object=True)
    elif kind == _CALL:
        _check_call(value, where)
    elif kind == _FILTER:
        _check_filter(value, where)
    elif kind == _PERCENTILES:
        if not (isinstance(value, list) and all(_is_number(p) and 0 <= p <= 100 for p in value)):
            raise _InvalidParams(f"{where} must be a list of percentiles between 0 and 100")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_params(method: str, params: list[Any]) -> None:
    if method in ("eth_call", "eth_estimateGas") and len(params) > 2:
        raise _InvalidParams(f"{method}: state and block overrides are refused: /rpc is read-only")
    signature = _SIGNATURES[method]
    if not signature.required <= len(params) <= len(signature.kinds):
        expected = (
            str(signature.required)
            if signature.required == len(signature.kinds)
            else f"{signature.required} to {len(signature.kinds)}"
        )
        raise _InvalidParams(f"{method} takes {expected} params, got {len(params)}")
    for index, (value, kind) in enumerate(zip(params, signature.kinds, strict=False)):
        _check_kind(value, kind, f"param {index}")


# --- JSON-RPC envelopes -----------------------------------------------------------------------------


def _error(request_id: object, code: int, message: str, data: object = None) -> JsonObject:
    error: JsonObject = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _result(request_id: object, result: object) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _is_valid_id(value: object) -> bool:
    return value is None or isinstance(value, str) or _is_int(value)


class _Checked:
    """A request that passed every check and may go to the node."""

    __slots__ = ("request_id", "method", "params")

    def __init__(self, request_id: object, method: str, params: list[Any]) -> None:
        self.request_id = request_id
        self.method = method
        self.params = params

    def as_json(self, request_id: object) -> JsonObject:
        return {"jsonrpc": "2.0", "id": request_id, "method": self.method, "params": self.params}


def _check_request(entry: object) -> _Checked | JsonObject | None:
    """The request ready to forward, an error response, or None for a notification that gets no answer."""
    if not isinstance(entry, dict):
        return _error(None, INVALID_REQUEST, "invalid request: expected a JSON-RPC request object")
    has_id = "id" in entry
    request_id = entry.get("id")
    if not _is_valid_id(request_id):
        return _error(None, INVALID_REQUEST, "invalid request: id must be a string, an integer or null")
    if entry.get("jsonrpc") != "2.0":
        return _error(request_id, INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
    method = entry.get("method")
    if not isinstance(method, str) or not method:
        return _error(request_id, INVALID_REQUEST, 'invalid request: "method" must be a non-empty string')
    params = entry.get("params")
    if params is None:
        params = []
    elif isinstance(params, dict):
        return _error(request_id, INVALID_PARAMS, f"{method} takes positional params (a JSON array)")
    elif not isinstance(params, list):
        return _error(request_id, INVALID_REQUEST, 'invalid request: "params" must be an array')
    if not has_id:
        # Every allowed method only reads, so a notification has no effect worth running.
        return None
    if method not in ALLOWED_METHODS:
        return _error(request_id, METHOD_NOT_FOUND, _refusal_message(method))
    try:
        _check_params(method, params)
    except _InvalidParams as exc:
        return _error(request_id, INVALID_PARAMS, f"invalid params: {exc}")
    return _Checked(request_id, method, params)


# --- backends -------------------------------------------------------------------------------------


class _Backend(Protocol):
    def send(self, requests: Sequence[_Checked]) -> list[JsonObject]:
        """One response per request, in order, each carrying its request's id."""
        ...

    def close(self) -> None: ...


class _Forwarder(ABC):
    """Forwards requests as JSON to a node, so answers reach the client as the node wrote them."""

    @abstractmethod
    def post(self, body: bytes) -> bytes:
        """Send one JSON-RPC body; the node's answer as it wrote it. Raises NodeUnreachable."""

    def send(self, requests: Sequence[_Checked]) -> list[JsonObject]:
        if not requests:
            return []
        # Our own ids upstream: clients' ids may repeat within a batch.
        body = json.dumps([checked.as_json(index) for index, checked in enumerate(requests)]).encode()
        try:
            answers = json.loads(self.post(body))
        except ValueError as exc:
            raise NodeUnreachable("the chain node answered with something that is not JSON") from exc
        by_id: dict[int, JsonObject] = {}
        if isinstance(answers, list):
            for answer in answers:
                if isinstance(answer, dict) and _is_int(answer.get("id")):
                    by_id[answer["id"]] = answer
        responses = []
        for index, checked in enumerate(requests):
            answer = by_id.get(index)
            if answer is None or ("result" not in answer and not isinstance(answer.get("error"), dict)):
                responses.append(_error(checked.request_id, INTERNAL_ERROR, "the chain node gave no answer"))
            else:
                responses.append({**answer, "id": checked.request_id})
        return responses

    @abstractmethod
    def close(self) -> None:
        """Release the connections to the node."""


class _HttpForwarder(_Forwarder):
    """A node reached over HTTP (Besu, geth, any URL)."""

    def __init__(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        merged = {"Content-Type": "application/json"}
        merged.update({k: v for k, v in (headers or {}).items() if k.lower() != "user-agent"})
        self._client = httpx.Client(timeout=timeout, headers=merged)

    def post(self, body: bytes) -> bytes:
        try:
            response = self._client.post(self.url, content=body)
        except httpx.TimeoutException as exc:
            raise NodeUnreachable("the chain node did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise NodeUnreachable(f"the chain node is unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500 and not response.content.lstrip().startswith((b"{", b"[")):
            raise NodeUnreachable(f"the chain node answered HTTP {response.status_code}")
        return response.content

    def close(self) -> None:
        self._client.close()


class _IpcForwarder(_Forwarder):
    """A node reached over its IPC socket (the anvil Segell manages)."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        self._transport = IpcTransport(path, timeout=timeout)

    def post(self, body: bytes) -> bytes:
        return self._transport.post(body)

    def close(self) -> None:
        self._transport.close()


def _to_wire(value: Any) -> Any:
    """Python values from a provider as JSON-RPC wire values: hex quantities, 0x data, lists, nulls."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(key): _to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_wire(item) for item in value]
    raise TypeError(f"cannot put a {type(value).__name__} on the wire")


class _ProviderBackend:
    """Any provider with make_request: results re-encoded in wire format."""

    def __init__(self, provider: SupportsMakeRequest, lock: AbstractContextManager[object]) -> None:
        self.provider = provider
        self.lock = lock

    def send(self, requests: Sequence[_Checked]) -> list[JsonObject]:
        responses = []
        for checked in requests:
            with self.lock:
                response = self.call(checked.method, checked.params)
            responses.append({"jsonrpc": "2.0", "id": checked.request_id, **response})
        return responses

    def call(self, method: str, params: list[Any]) -> JsonObject:
        response = self.provider.make_request(method, params)
        if not isinstance(response, Mapping):
            return _error(None, INTERNAL_ERROR, "the chain node answered with something that is not a response")
        if "error" in response:
            return {"error": _wire_error(response["error"])}
        return {"result": _to_wire(response.get("result"))}

    def close(self) -> None:
        pass


def _wire_error(error: object) -> JsonObject:
    if isinstance(error, Mapping):
        code = error.get("code")
        wire: JsonObject = {
            "code": code if _is_int(code) else NODE_ERROR,
            "message": str(error.get("message", "")),
        }
        if error.get("data") is not None:
            wire["data"] = _to_wire(error["data"])
        return wire
    return {"code": NODE_ERROR, "message": str(error)}


# The embedded chain (web3's EthereumTesterProvider) speaks eth-tester's Python dialect behind make_request:
# integer block numbers, snake_case fields, ints and bytes in results. These translate both ways.

_ZERO_BLOOM: Final = "0x" + "00" * 256
_EMBEDDED_CALL_FIELDS: Final = {
    "from": "from",
    "to": "to",
    "gas": "gas",
    "gasPrice": "gas_price",
    "maxFeePerGas": "max_fee_per_gas",
    "maxPriorityFeePerGas": "max_priority_fee_per_gas",
    "value": "value",
    "nonce": "nonce",
    "data": "data",
    "input": "data",
    "accessList": "access_list",
    "chainId": "chain_id",
}
_EMBEDDED_IGNORED_CALL_FIELDS: Final = frozenset({"type"})
_ADDRESS_FIELDS: Final = frozenset({"from", "to", "miner", "address", "contractAddress"})


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(record: Mapping[str, Any]) -> JsonObject:
    out: JsonObject = {}
    for key, value in record.items():
        name = _camel(key)
        if name in _ADDRESS_FIELDS and isinstance(value, str):
            # A contract creation has no recipient; anvil and geth say null, eth-tester says "".
            value = value.lower() if value else None
        out[name] = value
    return out


def _shape_log(log: Mapping[str, Any]) -> JsonObject:
    shaped = _camel_keys(log)
    shaped.pop("type", None)  # eth-tester's "mined"; not part of the log object
    shaped.setdefault("removed", False)
    return shaped


def _shape_transaction(transaction: Mapping[str, Any]) -> JsonObject:
    shaped = _camel_keys(transaction)
    if "data" in shaped:
        shaped["input"] = shaped.pop("data")
    return shaped


def _shape_block(block: Mapping[str, Any]) -> JsonObject:
    shaped = _camel_keys({("miner" if key == "coinbase" else key): value for key, value in block.items()})
    shaped["logsBloom"] = _bloom_hex(shaped.get("logsBloom"))
    shaped["transactions"] = [
        _shape_transaction(tx) if isinstance(tx, Mapping) else tx for tx in shaped.get("transactions", [])
    ]
    return shaped


def _shape_receipt(receipt: Mapping[str, Any]) -> JsonObject:
    shaped = _camel_keys(receipt)
    # eth-tester reports a pre-Byzantium state root of 0x01 next to the status; nodes report only the status.
    shaped.pop("stateRoot", None)
    logs = [_shape_log(log) for log in shaped.get("logs", [])]
    shaped["logs"] = logs
    if "logsBloom" not in shaped:
        bloom = BloomFilter()
        for log in logs:
            bloom.add(_as_bytes(log["address"]))
            for topic in log.get("topics", []):
                bloom.add(_as_bytes(topic))
        shaped["logsBloom"] = int(bloom)
    shaped["logsBloom"] = _bloom_hex(shaped["logsBloom"])
    return shaped


def _bloom_hex(bloom: object) -> object:
    if isinstance(bloom, int) and not isinstance(bloom, bool):
        return "0x" + bloom.to_bytes(256, "big").hex()
    return _ZERO_BLOOM if bloom is None else bloom


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    raise TypeError(f"expected bytes or hex, got {type(value).__name__}")


def _revert(exc: BaseException) -> JsonObject:
    """The execution-reverted error for an eth-tester TransactionFailed, with the revert bytes as data.

    eth-tester re-raises the failure with a formatted message; the original exception it chains carries
    either the revert bytes (or their repr), or the reason already decoded from ``Error(string)``.
    """
    original = exc.__context__ if exc.__context__ is not None else exc
    payload: object = original.args[0] if original.args else b""
    if isinstance(payload, BaseException):
        payload = payload.args[0] if payload.args else b""
    if isinstance(payload, str) and payload.startswith(("b'", 'b"')):
        try:
            payload = ast.literal_eval(payload)
        except (ValueError, SyntaxError):
            pass
    if isinstance(payload, bytes):
        return {"code": EXECUTION_REVERTED, "message": "execution reverted", "data": "0x" + payload.hex()}
    reason = str(payload)
    data = "0x08c379a0" + abi.encode(["string"], [reason]).hex()
    return {"code": EXECUTION_REVERTED, "message": f"execution reverted: {reason}", "data": data}


class _EmbeddedBackend(_ProviderBackend):
    """The in-process py-evm chain behind web3's EthereumTesterProvider."""

    def __init__(self, provider: SupportsMakeRequest, lock: AbstractContextManager[object]) -> None:
        super().__init__(provider, lock)
        self._default_caller: str | None = None

    def call(self, method: str, params: list[Any]) -> JsonObject:
        from eth_tester.exceptions import BlockNotFound, TransactionFailed, ValidationError
        from eth_utils.exceptions import ValidationError as UtilsValidationError

        try:
            if method == "eth_getBlockReceipts":
                return {"result": self._block_receipts(params[0])}
            response = self.provider.make_request(method, self._embedded_params(method, params))
        except TransactionFailed as exc:
            return {"error": _revert(exc)}
        except ContractLogicError as exc:
            # web3 turns panics and CCIP-read reverts into its own exceptions, keeping the revert bytes.
            return {
                "error": {
                    "code": EXECUTION_REVERTED,
                    "message": f"execution reverted: {exc.message}",
                    "data": exc.data if isinstance(exc.data, str) else "0x",
                }
            }
        except BlockNotFound as exc:
            return {"error": {"code": NODE_ERROR, "message": f"header not found: {exc}"}}
        except (ValidationError, UtilsValidationError) as exc:
            return {"error": {"code": NODE_ERROR, "message": str(exc)}}
        except _InvalidParams as exc:
            return {"error": {"code": INVALID_PARAMS, "message": f"invalid params: {exc}"}}
        except NodeUnreachable as exc:
            return {"error": {"code": INTERNAL_ERROR, "message": str(exc)}}
        if "error" in response:
            return {"error": _wire_error(response["error"])}
        return {"result": _to_wire(self._shape(method, response.get("result")))}

    def _shape(self, method: str, result: Any) -> Any:
        if result is None:
            return None
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
            shaped = _shape_block(result)
            # eth-tester pads extraData to 32 bytes; the header's own value is what the block hash covers.
            chain = self.provider.ethereum_tester.backend.chain  # type: ignore[attr-defined]
            header = chain.chaindb.get_block_header_by_hash(HexBytes(result["hash"]))
            shaped["extraData"] = header.extra_data
            return shaped
        if method.startswith("eth_getTransactionBy"):
            return _shape_transaction(result)
        if method == "eth_getTransactionReceipt":
            return _shape_receipt(result)
        if method == "eth_getLogs":
            return [_shape_log(log) for log in result]
        if method == "eth_feeHistory":
            return _camel_keys(result)
        return result

    def _raw(self, method: str, params: list[Any]) -> Any:
        response = self.provider.make_request(method, params)
        if "error" in response:
            raise _InvalidParams(str(response["error"].get("message", response["error"])))
        return response.get("result")

    def _block_number(self, block: Any) -> int | str:
        if isinstance(block, dict):
            if "blockHash" in block:
                found = self._raw("eth_getBlockByHash", [block["blockHash"], False])
                if found is None:
                    raise _InvalidParams(f"block {block['blockHash']} not found")
                return int(found["number"])
            block = block["blockNumber"]
        if block in _NAMED_BLOCKS:
            return str(block)
        return int(block, 16)

    def _call_object(self, call: Mapping[str, Any]) -> JsonObject:
        translated: JsonObject = {}
        for field, value in call.items():
            if field in _EMBEDDED_IGNORED_CALL_FIELDS or value is None:
                continue
            name = _EMBEDDED_CALL_FIELDS.get(field)
            if name is None:
                raise _InvalidParams(f"call field {field} is not supported by the embedded chain")
            if field in _CALL_QUANTITY_FIELDS:
                value = int(value, 16)
            elif field == "accessList":
                value = [
                    {"address": entry.get("address"), "storage_keys": entry.get("storageKeys", [])} for entry in value
                ]
            translated[name] = value
        if int(translated.get("from", "0x0"), 16) == 0:
            # Tools send no sender or the zero address. Stock eth-tester charges gas up front even in a call,
            # which the zero address cannot pay, so use its first development account as web3.py does; a
            # provider without accounts keeps the zero address and must make such calls free itself.
            translated["from"] = self._caller()
        return translated

    def _caller(self) -> str:
        if self._default_caller is None:
            accounts = self._raw("eth_accounts", [])
            self._default_caller = accounts[0] if accounts else "0x" + "00" * 20
        return self._default_caller

    def _embedded_params(self, method: str, params: list[Any]) -> list[Any]:
        if method in ("eth_getBalance", "eth_getCode", "eth_getTransactionCount"):
            return [params[0], self._block_number(params[1] if len(params) > 1 else "latest")]
        if method == "eth_getStorageAt":
            return [params[0], params[1], self._block_number(params[2] if len(params) > 2 else "latest")]
        if method in ("eth_call", "eth_estimateGas"):
            block = self._block_number(params[1] if len(params) > 1 else "latest")
            # Every transaction is mined at once, so "pending" state is the latest (eth-tester cannot estimate
            # against "pending", which is what cast and ethers ask for before sending).
            return [self._call_object(params[0]), "latest" if block == "pending" else block]
        if method in ("eth_getBlockByNumber", "eth_getBlockTransactionCountByNumber"):
            return [self._block_number(params[0]), *params[1:]]
        if method == "eth_getTransactionByBlockNumberAndIndex":
            return [self._block_number(params[0]), int(params[1], 16)]
        if method == "eth_getTransactionByBlockHashAndIndex":
            return [params[0], int(params[1], 16)]
        if method == "eth_feeHistory":
            count = params[0] if _is_int(params[0]) else int(params[0], 16)
            return [count, self._block_number(params[1]), params[2] if len(params) > 2 else []]
        if method == "eth_getLogs":
            return [self._log_filter(params[0])]
        return params

    def _log_filter(self, log_filter: Mapping[str, Any]) -> JsonObject:
        if "blockHash" in log_filter:
            number: int | str = self._block_number({"blockHash": log_filter["blockHash"]})
            bounds = {"from_block": number, "to_block": number}
        else:
            bounds = {
                "from_block": self._block_number(log_filter.get("fromBlock") or "latest"),
                "to_block": self._block_number(log_filter.get("toBlock") or "latest"),
            }
        return {**bounds, "address": log_filter.get("address"), "topics": log_filter.get("topics")}

    def _block_receipts(self, block: Any) -> list[JsonObject] | None:
        if isinstance(block, str) and _HASH_RE.match(block):
            found = self._raw("eth_getBlockByHash", [block, False])
        else:
            found = self._raw("eth_getBlockByNumber", [self._block_number(block), False])
        if found is None:
            return None
        receipts = []
        for tx_hash in found["transactions"]:
            receipt = self._raw("eth_getTransactionReceipt", [_to_wire(tx_hash)])
            receipts.append(_to_wire(_shape_receipt(receipt)))
        return receipts


# --- the gateway ----------------------------------------------------------------------------------


class ReadOnlyGateway:
    """Answers JSON-RPC requests from an allow-list of reading methods, refusing everything else.

    Args:
        provider: the node to read from. A `chain.ipc.IpcProvider` (the anvil Segell manages) is reached over
            its socket, a web3 ``HTTPProvider`` (Besu, any URL) or a URL string over HTTP; either way the
            answers are returned as the node wrote them. web3's
            ``EthereumTesterProvider`` (the embedded chain) is called through ``make_request`` and its
            answers are translated into JSON-RPC wire format. Any other object with ``make_request`` is
            called directly and its results re-encoded (ints as hex quantities, bytes as 0x data).
        lock: held around every call into a provider that is not reached over HTTP. The embedded chain is
            not thread-safe: pass the lock the rest of the application uses for it. Without one, the
            gateway serialises its own calls only.
        max_batch_size: largest batch answered; bigger batches get one -32600 error.
        timeout: seconds to wait for an IPC or HTTP node.
        embedded: force (True) or rule out (False) the embedded-chain translation instead of detecting it.

    Example:
        >>> from web3 import EthereumTesterProvider
        >>> gateway = ReadOnlyGateway(EthereumTesterProvider())
        >>> gateway.handle({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
        {'jsonrpc': '2.0', 'id': 1, 'result': '0x0'}
    """

    def __init__(
        self,
        provider: SupportsMakeRequest | str,
        *,
        lock: AbstractContextManager[object] | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        timeout: float = 30.0,
        embedded: bool | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.max_batch_size = max_batch_size
        call_lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()
        self._forwarder: _Forwarder | None = None
        self._backend: _Backend
        if isinstance(provider, IpcProvider):
            self._forwarder = _IpcForwarder(provider.path, timeout=timeout)
            self._backend = self._forwarder
        elif isinstance(provider, str) or (isinstance(provider, HTTPProvider) and not embedded):
            url = provider if isinstance(provider, str) else str(provider.endpoint_uri)
            headers = None if isinstance(provider, str) else provider.get_request_kwargs().get("headers")
            self._forwarder = _HttpForwarder(url, timeout=timeout, headers=headers)
            self._backend = self._forwarder
        elif embedded or (
            embedded is None and (isinstance(provider, EthereumTesterProvider) or hasattr(provider, "ethereum_tester"))
        ):
            self._backend = _EmbeddedBackend(provider, call_lock)
        else:
            self._backend = _ProviderBackend(provider, call_lock)

    def handle(self, payload: object) -> object | None:
        """Answer an already-parsed JSON-RPC body: one request object or a batch (list) of them.

        Returns the response object, the list of responses for a batch, or None when nothing is to be sent
        back (a notification, or a batch of notifications only).
        """
        if isinstance(payload, list):
            return self._handle_batch(payload)
        checked = _check_request(payload)
        if checked is None or isinstance(checked, dict):
            return checked
        return self._send([checked])[0]

    def handle_bytes(self, body: bytes) -> bytes:
        """Answer a raw JSON-RPC body; ``b""`` means no response is due (send HTTP 204).

        A single request to an HTTP node comes back exactly as the node wrote it.
        """
        # py-evm raises the recursion limit to 100,000: json.loads of a deeply nested body would overflow the C
        # stack and kill the process instead of raising, so the nesting is measured before parsing.
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
            return _dump(_error(None, PARSE_ERROR, f"parse error: JSON nested deeper than {MAX_JSON_DEPTH} levels"))
        try:
            payload = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            return _dump(_error(None, PARSE_ERROR, f"parse error: {exc}"))
        if self._forwarder is not None and not isinstance(payload, list):
            checked = _check_request(payload)
            if isinstance(checked, _Checked):
                return self._forward_verbatim(checked)
        response = self.handle(payload)
        return b"" if response is None else _dump(response)

    def close(self) -> None:
        """Release the connections to the node, if any."""
        self._backend.close()

    def __enter__(self) -> ReadOnlyGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _handle_batch(self, batch: list[object]) -> list[object] | JsonObject | None:
        if not batch:
            return _error(None, INVALID_REQUEST, "invalid request: empty batch")
        if len(batch) > self.max_batch_size:
            return _error(
                None,
                INVALID_REQUEST,
                f"batch of {len(batch)} requests is larger than the limit of {self.max_batch_size}; split it",
                {"limit": self.max_batch_size},
            )
        slots: list[_Checked | JsonObject | None] = [_check_request(entry) for entry in batch]
        to_send = [slot for slot in slots if isinstance(slot, _Checked)]
        answers = iter(self._send(to_send))
        responses: list[object] = []
        for slot in slots:
            if isinstance(slot, _Checked):
                responses.append(next(answers))
            elif slot is not None:
                responses.append(slot)
        return responses or None

    def _send(self, requests: list[_Checked]) -> list[JsonObject]:
        local = [_result(checked.request_id, []) if checked.method == "eth_accounts" else None for checked in requests]
        remote = [checked for checked, answer in zip(requests, local, strict=True) if answer is None]
        try:
            answers = iter(self._backend.send(remote))
        except NodeUnreachable as exc:
            answers = iter(_error(checked.request_id, INTERNAL_ERROR, str(exc)) for checked in remote)
        return [answer if answer is not None else next(answers) for answer in local]

    def _forward_verbatim(self, checked: _Checked) -> bytes:
        assert self._forwarder is not None
        if checked.method == "eth_accounts":
            return _dump(_result(checked.request_id, []))
        try:
            raw = self._forwarder.post(_dump(checked.as_json(checked.request_id)))
            answer = json.loads(raw)
        except NodeUnreachable as exc:
            return _dump(_error(checked.request_id, INTERNAL_ERROR, str(exc)))
        except ValueError:
            return _dump(
                _error(
                    checked.request_id,
                    INTERNAL_ERROR,
                    "the chain node answered with something that is not JSON",
                )
            )
        if not isinstance(answer, dict) or answer.get("id") != checked.request_id:
            return _dump(_error(checked.request_id, INTERNAL_ERROR, "the chain node gave no answer"))
        return raw


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- a node one may write to ----------------------------------------------------------------------


class NodeProxy:
    """The JSON-RPC of a node its owner may transact on: the gateway's reads, raw transactions and, when allowed,
    the node administration of `chain.node_admin`'s allow-list. Every other method is refused.

    Args:
        gateway: answers the reading methods, and every request that is not a valid request object.
        provider: the node's web3 provider, to which raw transactions and node administration go: a
            `chain.ipc.IpcProvider` is reached over its socket and its answers passed on as the node wrote them;
            any other provider is called through ``make_request`` and its results put in wire format.
        node_admin: pass the allowed node-administration methods (``anvil_*``, ``evm_*``, ...), their params checked.
        lock: held while a body is answered, so that nothing else uses the node in between.
        max_batch_size: largest batch answered; bigger batches get one -32600 error.

    Example:
        >>> proxy = NodeProxy(ReadOnlyGateway(node.w3.provider), node.w3.provider, node_admin=False)
        >>> proxy.handle_bytes(b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x.."]}')
    """

    def __init__(
        self,
        gateway: ReadOnlyGateway,
        provider: SupportsMakeRequest,
        *,
        node_admin: bool,
        lock: AbstractContextManager[object] | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> None:
        self.gateway = gateway
        self.provider = provider
        self.node_admin = node_admin
        self.max_batch_size = max_batch_size
        self._lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()

    def handle_bytes(self, body: bytes) -> bytes:
        """Answer a raw JSON-RPC body; ``b""`` means no response is due (only notifications)."""
        try:
            payload = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            return _dump(_error(None, PARSE_ERROR, f"parse error: {exc}"))
        with self._lock:
            if isinstance(payload, list):
                if not payload:
                    return _dump(_error(None, INVALID_REQUEST, "invalid request: empty batch"))
                if len(payload) > self.max_batch_size:
                    return _dump(
                        _error(
                            None,
                            INVALID_REQUEST,
                            f"batch of {len(payload)} requests is larger than the limit of "
                            f"{self.max_batch_size}; split it",
                        )
                    )
                # Each element is one request (JSON-RPC 2.0): a list inside the batch is refused, not answered
                # as a batch of its own, so that no body holds more than max_batch_size calls.
                answers = [answer for entry in payload if (answer := self._answer(entry)) is not None]
                return _dump(answers) if answers else b""
            answer = self._answer(payload)
        return b"" if answer is None else _dump(answer)

    def _answer(self, entry: object) -> object | None:
        if isinstance(entry, list):
            return _error(
                None,
                INVALID_REQUEST,
                "invalid request: a batch holds request objects, not batches; send one flat batch",
            )
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("method"), str)
            or entry["method"] in ALLOWED_METHODS
        ):
            return self.gateway.handle(entry)  # the gateway answers invalid requests and reads alike
        method: str = entry["method"]
        request_id = entry.get("id")
        is_notification = "id" not in entry
        params = entry.get("params", [])
        if entry.get("jsonrpc") != "2.0" or not _is_valid_id(request_id):
            return self.gateway.handle(entry)  # the gateway's invalid-request answer
        if not isinstance(params, list):
            answer = _error(request_id, INVALID_PARAMS, "invalid params: params must be an array")
            return None if is_notification else answer
        if method == "eth_sendRawTransaction":
            answer = self._forward(request_id, method, params)
        elif method.startswith(NODE_ADMIN_PREFIXES) and not self.node_admin:
            answer = _error(
                request_id,
                METHOD_NOT_FOUND,
                f"{method} is refused: node administration methods are off for this sandbox. Use the sandbox API "
                "(snapshots, revert, reset), or create a sandbox with node_admin: true to allow them.",
            )
        elif method.startswith(NODE_ADMIN_PREFIXES):
            refusal = refuse_node_admin(method, params)
            if refusal is None:
                answer = self._forward(request_id, method, params)
            else:
                answer = _error(request_id, refusal.code, refusal.message)
        else:
            answer = _error(
                request_id,
                METHOD_NOT_FOUND,
                f"{method} is not available on a sandbox: sign transactions locally and send them with "
                "eth_sendRawTransaction; docs/sandboxes.md lists the methods answered.",
            )
        return None if is_notification else answer

    def _forward(self, request_id: object, method: str, params: list[Any]) -> JsonObject:
        if isinstance(self.provider, IpcProvider):  # anvil, reached over its socket only
            request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            try:
                answer = json.loads(self.provider.transport.post(_dump(request)))
            except (NodeError, ValueError) as exc:
                return _error(request_id, INTERNAL_ERROR, f"the sandbox node did not answer ({type(exc).__name__})")
            if not isinstance(answer, dict):
                return _error(request_id, INTERNAL_ERROR, "the sandbox node gave no answer")
            return {**answer, "id": request_id}
        try:
            response = dict(self.provider.make_request(method, params))
        except Exception as exc:  # the embedded chain raises for malformed transactions
            return _error(request_id, NODE_ERROR, f"{method} failed: {exc}")
        if "error" in response:
            error = response["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            code = error.get("code", NODE_ERROR) if isinstance(error, dict) else NODE_ERROR
            return _error(request_id, code if isinstance(code, int) else NODE_ERROR, str(message))
        try:
            return _result(request_id, _to_wire(response.get("result")))
        except TypeError:
            return _error(request_id, INTERNAL_ERROR, f"{method} answered a value that JSON-RPC cannot carry")
