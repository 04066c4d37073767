"""JSON ⇄ ABI values: the arguments people write as JSON, and the values, events and reverts a contract answers.

- `encode_arguments` turns JSON values into ABI-encoded bytes by the ABI types, with a message naming the argument
  and what it should be; `from_json` does it for one value.
- `to_json` turns decoded values back: integers as decimal strings, bytes as 0x-hex, named tuples as objects.
- `decode_outputs`, `decode_log` and `describe_revert` decode what a contract answers, emits and reverts with.
- `find_function`, `signature` and `selector` name ABI entries.

Errors::

    ValueError
     └─ AbiError                 message, a code, details naming what was wrong
         ├─ InvalidAbiArguments  the JSON arguments do not fit the ABI types
         ├─ UnknownAbiFunction   no such function, or an overloaded name (code ``ambiguous_function``)
         └─ UndecodableAbiData   an answer that does not match the ABI

Example::

    entry = find_function(abi, "issue", 2)
    data = selector(entry) + encode_arguments(entry["inputs"], [1, "0x" + "11" * 20], signature(entry))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


class AbiError(ValueError):
    """JSON that does not fit an ABI, or an answer that does not match one; `code` and `details` say how."""

    code = "abi_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidAbiArguments(AbiError):
    code = "invalid_arguments"


class UnknownAbiFunction(AbiError):
    code = "unknown_function"


class UndecodableAbiData(AbiError):
    code = "undecodable_result"


def abi_type(entry: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter: tuples spelled out, ``(uint256,address)[]``."""
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in entry.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def signature(entry: Mapping[str, Any]) -> str:
    """The canonical signature of a function, event or error entry, e.g. ``issue(uint256,address)``."""
    return f"{entry['name']}({','.join(abi_type(i) for i in entry.get('inputs', []))})"


def _invalid(where: str, expected: str, value: Any) -> InvalidAbiArguments:
    shown = json.dumps(value, ensure_ascii=False)[:80]
    return InvalidAbiArguments(
        f"Argument {where} must be {expected}, got {shown}.",
        details=[{"argument": where, "expected": expected}],
    )


def _split_array(kind: str) -> tuple[str, int | None] | None:
    if not kind.endswith("]"):
        return None
    start = kind.rindex("[")
    size = kind[start + 1 : -1]
    return kind[:start], (int(size) if size else None)


def _to_int(value: Any, where: str, kind: str) -> int:
    signed = kind.startswith("int")
    digits = kind[3:] if signed else kind[4:]
    bits = int(digits) if digits else 256
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    expected = f"a {kind}: an integer from {low} to {high}, as a JSON number or a decimal string"
    if isinstance(value, bool):
        raise _invalid(where, expected, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,80}", value.strip()):
        number = int(value.strip())
    elif isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{1,64}", value.strip()):
        number = int(value.strip(), 16)
    else:
        raise _invalid(where, expected, value)
    if not low <= number <= high:
        raise _invalid(where, expected, value)
    return number


def _to_bytes(value: Any, where: str, size: int | None) -> bytes:
    expected = f"{size} bytes as 0x followed by {2 * size} hex digits" if size else "bytes as 0x-prefixed hex"
    if not isinstance(value, str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", value):
        raise _invalid(where, expected, value)
    data = bytes.fromhex(value[2:])
    if size is not None and len(data) != size:
        raise _invalid(where, expected, value)
    return data


def _to_address(value: Any, where: str) -> str:
    expected = "an address: 0x followed by 40 hex digits (mixed case must be a valid checksum)"
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise _invalid(where, expected, value)
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and not is_checksum_address(value):
        raise _invalid(where, expected, value)
    return to_checksum_address(value)


def from_json(entry: Mapping[str, Any], value: Any, where: str) -> Any:
    """One JSON value as the ABI parameter `entry` expects it, or `InvalidAbiArguments` naming `where`."""
    kind = str(entry["type"])
    array = _split_array(kind)
    if array is not None:
        inner_kind, size = array
        expected = f"a JSON array of {size if size is not None else 'any number of'} {inner_kind}"
        if not isinstance(value, list) or (size is not None and len(value) != size):
            raise _invalid(where, expected, value)
        inner = {**entry, "type": inner_kind}
        return [from_json(inner, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if kind == "tuple":
        components = entry.get("components", [])
        names = [c.get("name") or "" for c in components]
        if isinstance(value, dict) and all(names):
            missing = [name for name in names if name not in value]
            extra = sorted(set(value) - set(names))
            if missing or extra:
                raise _invalid(where, f"an object with exactly the fields {', '.join(names)}", value)
            value = [value[name] for name in names]
        if not isinstance(value, list) or len(value) != len(components):
            fields = ", ".join(f"{c.get('name') or '?'} ({abi_type(c)})" for c in components)
            raise _invalid(where, f"a tuple: an object or an array of {fields}", value)
        return tuple(
            from_json(c, item, f"{where}.{c.get('name') or index}")
            for index, (c, item) in enumerate(zip(components, value, strict=True))
        )
    if kind == "address":
        return _to_address(value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(where, "a bool: true or false", value)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise _invalid(where, "a string", value)
        return value
    if kind == "bytes":
        return _to_bytes(value, where, None)
    if kind.startswith("bytes"):
        return _to_bytes(value, where, int(kind[5:]))
    if kind.startswith(("uint", "int")):
        return _to_int(value, where, kind)
    raise _invalid(where, f"a value of the unsupported type {kind}", value)


def to_json(entry: Mapping[str, Any], value: Any) -> Any:
    """A decoded ABI value as JSON: integers as decimal strings, bytes as 0x-hex, tuples as objects when named."""
    kind = str(entry["type"])
    array = _split_array(kind)
    if array is not None:
        inner = {**entry, "type": array[0]}
        return [to_json(inner, item) for item in value]
    if kind == "tuple":
        components = entry.get("components", [])
        items = [to_json(c, item) for c, item in zip(components, value, strict=True)]
        names = [c.get("name") or "" for c in components]
        return dict(zip(names, items, strict=True)) if all(names) else items
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if kind == "address":
        return to_checksum_address(value)
    return value


def encode_arguments(inputs: Sequence[Mapping[str, Any]], arguments: Any, what: str) -> bytes:
    """ABI-encode JSON `arguments` (an array in order, or an object by parameter name) for `inputs`."""
    names = [entry.get("name") or "" for entry in inputs]
    if isinstance(arguments, dict):
        if not all(names):
            raise InvalidAbiArguments(f"{what} has unnamed parameters: give the arguments as a JSON array.")
        unknown = sorted(set(arguments) - set(names))
        missing = [name for name in names if name not in arguments]
        if unknown or missing:
            raise InvalidAbiArguments(
                f"{what} takes {', '.join(names) or 'no arguments'}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
                + ".",
                details={"expected": [{"name": n, "type": abi_type(e)} for n, e in zip(names, inputs, strict=True)]},
            )
        arguments = [arguments[name] for name in names]
    if not isinstance(arguments, list) or len(arguments) != len(inputs):
        count = len(arguments) if isinstance(arguments, list) else "no array of"
        listed = ", ".join(f"{abi_type(e)} {n}".strip() for n, e in zip(names, inputs, strict=True))
        raise InvalidAbiArguments(
            f"{what} takes {len(inputs)} argument(s) ({listed or 'none'}), got {count} argument(s).",
            details={"expected": [{"name": n, "type": abi_type(e)} for n, e in zip(names, inputs, strict=True)]},
        )
    values = [
        from_json(entry, value, names[index] or f"#{index}")
        for index, (entry, value) in enumerate(zip(inputs, arguments, strict=True))
    ]
    try:
        return abi_encode([abi_type(entry) for entry in inputs], values)
    except (EncodingError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidAbiArguments(f"The arguments of {what} cannot be encoded: {exc}") from None


def decode_outputs(outputs: Sequence[Mapping[str, Any]], data: bytes) -> list[dict[str, Any]]:
    """What a call answered, as ``[{"name", "type", "value"}]`` with JSON values; `UndecodableAbiData` if not.

    Example: ``decode_outputs([{"name": "n", "type": "uint256"}], (7).to_bytes(32, "big"))`` is
    ``[{"name": "n", "type": "uint256", "value": "7"}]``.
    """
    try:
        values = abi_decode([abi_type(entry) for entry in outputs], data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise UndecodableAbiData(
            f"The contract answered data that does not match its ABI ({exc}); is it the contract you deployed?"
        ) from None
    return [
        {"name": entry.get("name") or "", "type": abi_type(entry), "value": to_json(entry, value)}
        for entry, value in zip(outputs, values, strict=True)
    ]


def find_function(abi: Sequence[Mapping[str, Any]], wanted: str, argument_count: int | None) -> Mapping[str, Any]:
    """The ABI entry named by `wanted`: a name, or a signature such as ``issue(uint256,address)`` for overloads."""
    functions = [entry for entry in abi if entry.get("type") == "function"]
    compact = wanted.replace(" ", "")
    if "(" in compact:
        matching = [entry for entry in functions if signature(entry) == compact]
    else:
        matching = [entry for entry in functions if entry.get("name") == compact]
        if len(matching) > 1 and argument_count is not None:
            matching = [entry for entry in matching if len(entry.get("inputs", [])) == argument_count] or matching
    available = sorted(signature(entry) for entry in functions)
    if not matching:
        raise UnknownAbiFunction(
            f"The contract has no function {wanted!r}. Its functions: {', '.join(available) or 'none'}.",
            details={"functions": available},
        )
    if len(matching) > 1:
        overloads = sorted(signature(entry) for entry in matching)
        raise UnknownAbiFunction(
            f"{wanted!r} is overloaded: name one by its signature, e.g. {overloads[0]!r}"
            f" (one of {', '.join(overloads)}).",
            code="ambiguous_function",
            details={"functions": overloads},
        )
    return matching[0]


def selector(entry: Mapping[str, Any]) -> bytes:
    """The 4-byte selector of a function or error entry: the start of the keccak-256 of its `signature`."""
    return keccak(text=signature(entry))[:4]


def revert_data(exc: Exception) -> bytes | None:
    """The revert data web3 attached to `exc` (a revert of a call or transaction), or None."""
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str) and re.fullmatch(r"0x([0-9a-fA-F]{2})*", data):
        return bytes.fromhex(data[2:])
    return None


def describe_revert(abi: Sequence[Mapping[str, Any]], data: bytes | None) -> dict[str, Any]:
    """A revert's reason: ``Error(string)``, ``Panic(uint256)`` or a custom error of `abi`, with its arguments."""
    if not data or len(data) < 4:
        return {"error": None, "args": {}, "reason": "reverted without a reason"}
    try:
        if data[:4] == keccak(text="Error(string)")[:4]:
            (reason,) = abi_decode(["string"], data[4:])
            return {"error": "Error", "args": {"reason": reason}, "reason": reason}
        if data[:4] == keccak(text="Panic(uint256)")[:4]:
            (code,) = abi_decode(["uint256"], data[4:])
            reason = _PANIC_REASONS.get(code, "panic")
            return {"error": "Panic", "args": {"code": str(code)}, "reason": f"{reason} (panic 0x{code:02x})"}
        for entry in abi:
            if entry.get("type") == "error" and selector(entry) == data[:4]:
                inputs = entry.get("inputs", [])
                values = abi_decode([abi_type(i) for i in inputs], data[4:])
                args = {
                    (i.get("name") or str(n)): to_json(i, v)
                    for n, (i, v) in enumerate(zip(inputs, values, strict=True))
                }
                rendered = ", ".join(f"{k}={v}" for k, v in args.items())
                return {"error": entry["name"], "args": args, "reason": f"{entry['name']}({rendered})"}
    except (DecodingError, ValueError, OverflowError):
        pass
    return {"error": None, "args": {}, "reason": f"reverted with data 0x{data.hex()}"}


@dataclass(frozen=True)
class DecodedEvent:
    """A log decoded by an ABI: `event`, `signature` and `args` are empty when no ABI known decodes it."""

    event: str | None
    signature: str | None
    address: str
    block_number: int
    transaction_hash: str
    log_index: int
    args: dict[str, Any] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    data: str = "0x"

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "signature": self.signature,
            "address": self.address,
            "block_number": self.block_number,
            "transaction_hash": self.transaction_hash,
            "log_index": self.log_index,
            "args": self.args,
            "topics": list(self.topics),
            "data": self.data,
        }


def event_entries(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, Mapping[str, Any]]:
    """Non-anonymous events of `abi` by topic 0."""
    return {
        keccak(text=signature(entry)): entry
        for entry in abi
        if entry.get("type") == "event" and not entry.get("anonymous")
    }


def decode_log(log: Mapping[str, Any], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> DecodedEvent:
    """Decode one log with the ABI known for its address; undecodable logs keep their raw topics and data."""
    address = to_checksum_address(log["address"])
    topics = [HexBytes(topic) for topic in log["topics"]]
    data = HexBytes(log["data"])
    base: dict[str, Any] = {
        "address": address,
        "block_number": int(log["blockNumber"]),
        "transaction_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
        "log_index": int(log["logIndex"]),
        "topics": tuple(topic.to_0x_hex() for topic in topics),
        "data": data.to_0x_hex(),
    }
    entry = event_entries(abis.get(address, [])).get(bytes(topics[0])) if topics else None
    if entry is None:
        return DecodedEvent(event=None, signature=None, **base)
    inputs = entry.get("inputs", [])
    indexed = [i for i in inputs if i.get("indexed")]
    plain = [i for i in inputs if not i.get("indexed")]
    try:
        plain_values = iter(abi_decode([abi_type(i) for i in plain], bytes(data)))
        indexed_topics = iter(topics[1:])
        args: dict[str, Any] = {}
        for position, item in enumerate(inputs):
            name = item.get("name") or str(position)
            if item.get("indexed"):
                topic = bytes(next(indexed_topics))
                kind = abi_type(item)
                # Dynamic indexed values are only their hash on chain.
                if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
                    args[name] = "0x" + topic.hex()
                else:
                    args[name] = to_json(item, abi_decode([kind], topic)[0])
            else:
                args[name] = to_json(item, next(plain_values))
    except (DecodingError, ValueError, StopIteration, OverflowError):
        return DecodedEvent(event=None, signature=None, **base)
    if len(indexed) != len(topics) - 1:
        return DecodedEvent(event=None, signature=None, **base)
    return DecodedEvent(event=entry["name"], signature=signature(entry), args=args, **base)
