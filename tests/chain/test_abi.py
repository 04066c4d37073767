"""JSON ⇄ ABI values: arguments named when they do not fit, answers, events and reverts decoded to JSON."""

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from segell.chain.abi import (
    InvalidAbiArguments,
    UndecodableAbiData,
    UnknownAbiFunction,
    decode_log,
    decode_outputs,
    describe_revert,
    encode_arguments,
    find_function,
    from_json,
    selector,
    signature,
    to_json,
)

HOLDER = "0x" + "11" * 20


def _param(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "internalType": kind, **extra}


PERMIT_TUPLE = _param(
    "permit",
    "tuple",
    components=[_param("holder", "address"), _param("kind", "bytes32"), _param("expires", "uint64")],
)
ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "issue",
        "inputs": [
            _param("id", "uint256"),
            _param("holder", "address"),
            _param("kind", "bytes32"),
            _param("expires", "uint64"),
            _param("note", "string"),
        ],
        "outputs": [],
        "stateMutability": "nonpayable",
    },
    {
        "type": "function",
        "name": "issue",
        "inputs": [_param("id", "uint256"), _param("holder", "address")],
        "outputs": [],
        "stateMutability": "nonpayable",
    },
    {
        "type": "function",
        "name": "permit",
        "inputs": [_param("id", "uint256")],
        "outputs": [PERMIT_TUPLE],
        "stateMutability": "view",
    },
    {"type": "error", "name": "PermitsUnknownPermit", "inputs": [_param("id", "uint256")]},
    {
        "type": "event",
        "name": "PermitIssued",
        "anonymous": False,
        "inputs": [
            _param("id", "uint256", indexed=True),
            _param("holder", "address", indexed=True),
            _param("note", "string", indexed=False),
        ],
    },
]


@pytest.mark.parametrize(
    ("arguments", "argument", "expected"),
    [
        ([1.5, HOLDER], "id", "uint256"),
        (["-1", HOLDER], "id", "uint256"),
        ([True, HOLDER], "id", "uint256"),
        ([1, "0x1234"], "holder", "address"),
        ([1, "0x" + "aB" * 20], "holder", "checksum"),
    ],
    ids=["float", "negative", "bool", "short-address", "bad-checksum"],
)
def test_encode_arguments_names_the_argument_and_the_type_that_does_not_fit(
    arguments: list[Any], argument: str, expected: str
) -> None:
    entry = find_function(ABI, "issue(uint256,address)", None)
    with pytest.raises(InvalidAbiArguments) as caught:
        encode_arguments(entry["inputs"], arguments, "issue(uint256,address)")
    assert caught.value.details[0]["argument"] == argument
    assert expected in caught.value.message
    assert caught.value.code == "invalid_arguments"


def test_encode_arguments_refuses_a_wrong_count_and_a_short_bytes32() -> None:
    entry = find_function(ABI, "issue(uint256,address,bytes32,uint64,string)", None)
    with pytest.raises(InvalidAbiArguments, match=r"takes 5 argument\(s\).*got 2"):
        encode_arguments(entry["inputs"], [1, HOLDER], "issue")
    with pytest.raises(InvalidAbiArguments, match="32 bytes as 0x followed by 64 hex digits"):
        encode_arguments(entry["inputs"], [1, HOLDER, "0x1234", 1, ""], "issue")


def test_encode_arguments_by_name_matches_encoding_by_position() -> None:
    entry = find_function(ABI, "issue", 2)
    by_name = encode_arguments(entry["inputs"], {"holder": HOLDER, "id": "0x10"}, "issue")

    assert by_name == encode_arguments(entry["inputs"], [16, HOLDER], "issue")
    assert by_name == abi_encode(["uint256", "address"], [16, HOLDER])


def test_from_json_takes_a_tuple_as_an_object_and_to_json_gives_it_back() -> None:
    kind = "0x" + "22" * 32
    value = from_json(PERMIT_TUPLE, {"holder": HOLDER, "kind": kind, "expires": "7"}, "permit")

    assert value == ("0x1111111111111111111111111111111111111111", bytes.fromhex("22" * 32), 7)
    assert to_json(PERMIT_TUPLE, value) == {
        "holder": "0x1111111111111111111111111111111111111111",
        "kind": kind,
        "expires": "7",
    }


def test_decode_outputs_gives_json_and_refuses_data_that_does_not_match() -> None:
    entry = find_function(ABI, "permit", 1)
    data = abi_encode(["(address,bytes32,uint64)"], [(HOLDER, b"\x22" * 32, 2**64 - 1)])

    assert decode_outputs(entry["outputs"], data) == [
        {
            "name": "permit",
            "type": "(address,bytes32,uint64)",
            "value": {
                "holder": "0x1111111111111111111111111111111111111111",
                "kind": "0x" + "22" * 32,
                "expires": str(2**64 - 1),
            },
        }
    ]
    with pytest.raises(UndecodableAbiData):
        decode_outputs(entry["outputs"], b"\x01")


def test_find_function_lists_overloads_and_the_functions_there_are() -> None:
    with pytest.raises(UnknownAbiFunction, match="overloaded") as ambiguous:
        find_function(ABI, "issue", None)
    with pytest.raises(UnknownAbiFunction) as unknown:
        find_function(ABI, "approve", 2)

    assert ambiguous.value.code == "ambiguous_function"
    assert ambiguous.value.details == {
        "functions": ["issue(uint256,address)", "issue(uint256,address,bytes32,uint64,string)"]
    }
    assert unknown.value.code == "unknown_function"
    assert "permit(uint256)" in unknown.value.details["functions"]
    assert signature(find_function(ABI, "issue", 2)) == "issue(uint256,address)"
    assert selector(find_function(ABI, "permit", 1)) == keccak(text="permit(uint256)")[:4]


def test_describe_revert_decodes_custom_errors_reasons_and_panics() -> None:
    custom = keccak(text="PermitsUnknownPermit(uint256)")[:4] + abi_encode(["uint256"], [999])
    reason = keccak(text="Error(string)")[:4] + abi_encode(["string"], ["unknown kind"])
    panic = keccak(text="Panic(uint256)")[:4] + abi_encode(["uint256"], [0x11])

    assert describe_revert(ABI, custom) == {
        "error": "PermitsUnknownPermit",
        "args": {"id": "999"},
        "reason": "PermitsUnknownPermit(id=999)",
    }
    assert describe_revert(ABI, reason)["reason"] == "unknown kind"
    assert describe_revert(ABI, panic)["reason"] == "arithmetic overflow or underflow (panic 0x11)"
    assert describe_revert(ABI, None)["reason"] == "reverted without a reason"


def test_decode_log_decodes_known_events_and_keeps_unknown_ones_raw() -> None:
    address = "0x" + "33" * 20
    log = {
        "address": address,
        "topics": [
            keccak(text="PermitIssued(uint256,address,string)"),
            (5).to_bytes(32, "big"),
            bytes(12) + bytes.fromhex("11" * 20),
        ],
        "data": abi_encode(["string"], ["Obra menor"]),
        "blockNumber": 3,
        "transactionHash": b"\xaa" * 32,
        "logIndex": 0,
    }

    decoded = decode_log(log, {address: ABI})
    raw = decode_log(log, {})

    assert (decoded.event, decoded.signature) == ("PermitIssued", "PermitIssued(uint256,address,string)")
    assert decoded.args == {"id": "5", "holder": "0x1111111111111111111111111111111111111111", "note": "Obra menor"}
    assert (raw.event, raw.args, raw.topics[1]) == (None, {}, "0x" + "00" * 31 + "05")
