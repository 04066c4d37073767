"""Block headers checked without any chain library: RLP, the header hash, and QBFT's ``extraData``.

A node answers ``eth_getBlockByNumber`` with a block's header fields and its ``hash``. `header_hash_matches` says
whether those fields hash to that ``hash``, so a verifier can tell a block the node really holds from a hash it
merely repeats. Two rules exist:

- Ethereum's: ``keccak256(rlp(header))`` over the header fields in their order (``baseFeePerGas`` and later
  fields only when the block has them).
- QBFT's (Hyperledger Besu, ``BftBlockHashing.calculateHashOfBftBlockOnChain``): the same, but with ``extraData``
  re-encoded without its commit seals and with the round set to 0, since both change while validators agree on
  a block; the genesis block is hashed as it is. The digest validators sign as their commit seal
  (`qbft_commit_seal_digest`) keeps the round and leaves out the seals.

QBFT's ``extraData`` is ``rlp([32-byte vanity, [validators], vote, round, [seals]])`` where ``vote`` is ``[]`` or
``[address, 0xff]`` (add) / ``[address, ""]`` (drop), ``round`` an integer scalar and each seal 65 bytes
``r || s || v`` (Besu ``QbftExtraDataCodec``).

Example::

    block = rpc("eth_getBlockByNumber", ["0x10", False])
    assert header_hash_matches(block)
    validators = decode_qbft_extra_data(bytes.fromhex(block["extraData"][2:])).validators
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ._proof import keccak256

__all__ = [
    "QbftExtraData",
    "QbftVote",
    "decode_qbft_extra_data",
    "decode_rlp",
    "encode_qbft_extra_data",
    "encode_rlp",
    "header_hash",
    "header_hash_matches",
    "header_rlp",
    "qbft_block_hash",
    "qbft_commit_seal_digest",
]

RlpItem: TypeAlias = bytes | Sequence["RlpItem"]
"""An RLP item: a byte string or a list of items."""

#: ``mixHash`` of every BFT block (Besu ``BftHelpers.EXPECTED_MIX_HASH``): "ctical byzantine fault tolerance".
BFT_MIX_HASH = bytes.fromhex("63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365")

VANITY_LENGTH = 32
SEAL_LENGTH = 65
_ADD_VOTE = b"\xff"  # Besu Vote.ADD_BYTE_VALUE; a drop is the empty string
_MAX_ROUND = 2**31 - 1  # Besu reads the round as a Java int

# (JSON-RPC name, kind) of each header field in its RLP order; the fields from baseFeePerGas on exist only in
# blocks of the forks that added them (London, Shanghai, Cancun, Prague).
_HEADER_FIELDS: tuple[tuple[str, Literal["bytes", "int"]], ...] = (
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
)
_OPTIONAL_FIELDS: tuple[tuple[str, Literal["bytes", "int"]], ...] = (
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "bytes"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),
)


# --- RLP ---------------------------------------------------------------------------------------------------------


def encode_rlp(item: RlpItem) -> bytes:
    """The RLP encoding of a byte string or a (nested) list of them."""
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        if len(data) == 1 and data[0] < 0x80:
            return data
        return _length_prefix(len(data), 0x80) + data
    payload = b"".join(encode_rlp(child) for child in item)
    return _length_prefix(len(payload), 0xC0) + payload


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def decode_rlp(data: bytes) -> RlpItem:
    """The item ``data`` encodes; raises ``ValueError`` on anything but one canonical RLP item."""
    item, end = _decode_at(data, 0)
    if end != len(data):
        raise ValueError(f"RLP: {len(data) - end} bytes after the item")
    return item


def _decode_at(data: bytes, start: int) -> tuple[RlpItem, int]:
    if start >= len(data):
        raise ValueError("RLP: data ends where an item should start")
    first = data[start]
    if first < 0x80:
        return data[start : start + 1], start + 1
    if first < 0xB8:
        length, body = first - 0x80, start + 1
        if length == 1 and body < len(data) and data[body] < 0x80:
            raise ValueError("RLP: a single byte below 0x80 must encode itself")
        return _take(data, body, length), body + length
    if first < 0xC0:
        length, body = _long_length(data, start, first - 0xB7)
        return _take(data, body, length), body + length
    if first < 0xF8:
        length, body = first - 0xC0, start + 1
    else:
        length, body = _long_length(data, start, first - 0xF7)
    end = body + length
    if end > len(data):
        raise ValueError("RLP: a list runs past the end of the data")
    items: list[RlpItem] = []
    position = body
    while position < end:
        child, position = _decode_at(data[:end], position)
        items.append(child)
    return items, end


def _long_length(data: bytes, start: int, size: int) -> tuple[int, int]:
    encoded = data[start + 1 : start + 1 + size]
    if len(encoded) != size or encoded[0] == 0:
        raise ValueError("RLP: a length is cut short or starts with a zero byte")
    length = int.from_bytes(encoded, "big")
    if length < 56:
        raise ValueError("RLP: a length below 56 must use the short form")
    return length, start + 1 + size


def _take(data: bytes, start: int, length: int) -> bytes:
    if start + length > len(data):
        raise ValueError("RLP: a string runs past the end of the data")
    return data[start : start + length]


def _scalar(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


def _read_scalar(item: RlpItem, what: str) -> int:
    if not isinstance(item, bytes):
        raise ValueError(f"{what} is a list, not an integer")
    if item[:1] == b"\x00":
        raise ValueError(f"{what} has a leading zero byte")
    return int.from_bytes(item, "big")


# --- QBFT extraData ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QbftVote:
    """A validator's vote carried in a block: add (``add=True``) or drop ``recipient`` (20 bytes)."""

    recipient: bytes
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    """The decoded ``extraData`` of a QBFT block.

    Attributes:
        vanity: 32 bytes of free data.
        validators: the 20-byte addresses of the validators.
        vote: the vote the proposer cast, or None.
        round: the consensus round the block was agreed in.
        seals: the commit seals, 65 bytes ``r || s || v`` each.
    """

    vanity: bytes
    validators: tuple[bytes, ...]
    vote: QbftVote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = ()


ExtraDataForm = Literal["full", "without_seals", "without_seals_and_round"]


def encode_qbft_extra_data(extra: QbftExtraData, form: ExtraDataForm = "full") -> bytes:
    """``extraData`` as Besu's ``QbftExtraDataCodec`` writes it.

    Args:
        extra: what to encode.
        form: ``"full"``; ``"without_seals"`` (an empty seal list: what commit seals sign); or
            ``"without_seals_and_round"`` (also round 0: what the block hash covers).
    """
    vote: RlpItem = [] if extra.vote is None else [extra.vote.recipient, _ADD_VOTE if extra.vote.add else b""]
    round_number = 0 if form == "without_seals_and_round" else extra.round
    seals: list[RlpItem] = list(extra.seals) if form == "full" else []
    return encode_rlp([extra.vanity, list(extra.validators), vote, _scalar(round_number), seals])


def decode_qbft_extra_data(raw: bytes) -> QbftExtraData:
    """Read a QBFT ``extraData``; raises ``ValueError`` where Besu's ``QbftExtraDataCodec`` would refuse it."""
    if not raw:
        raise ValueError("QBFT extraData is empty")
    item = decode_rlp(raw)
    if isinstance(item, bytes) or len(item) != 5:
        raise ValueError("QBFT extraData is not a list of 5 items (vanity, validators, vote, round, seals)")
    vanity, validators, vote, round_item, seals = item
    if not isinstance(vanity, bytes):
        raise ValueError("QBFT extraData: the vanity is a list")
    if isinstance(validators, bytes) or any(not _is_address(v) for v in validators):
        raise ValueError("QBFT extraData: the validators are not a list of 20-byte addresses")
    round_number = _read_scalar(round_item, "QBFT extraData's round")
    if round_number > _MAX_ROUND:
        raise ValueError(f"QBFT extraData's round {round_number} does not fit in 32 bits")
    if isinstance(seals, bytes) or any(not isinstance(s, bytes) or len(s) != SEAL_LENGTH for s in seals):
        raise ValueError(f"QBFT extraData: the seals are not a list of {SEAL_LENGTH}-byte signatures")
    return QbftExtraData(
        vanity=vanity,
        validators=tuple(bytes(v) for v in validators if isinstance(v, bytes)),
        vote=_decode_vote(vote),
        round=round_number,
        seals=tuple(bytes(s) for s in seals if isinstance(s, bytes)),
    )


def _is_address(item: RlpItem) -> bool:
    return isinstance(item, bytes) and len(item) == 20


def _decode_vote(vote: RlpItem) -> QbftVote | None:
    if isinstance(vote, bytes):
        raise ValueError("QBFT extraData: the vote is not a list")
    if not vote:
        return None
    if len(vote) != 2 or not _is_address(vote[0]) or vote[1] not in (b"", _ADD_VOTE):
        raise ValueError("QBFT extraData: the vote is not [address, 0xff (add) or empty (drop)]")
    recipient, kind = vote
    assert isinstance(recipient, bytes)
    return QbftVote(recipient=recipient, add=kind == _ADD_VOTE)


# --- Header hashes -----------------------------------------------------------------------------------------------


def header_rlp(block: Mapping[str, Any], *, extra_data: bytes | None = None) -> bytes:
    """The RLP of a block's header from its JSON-RPC fields, with ``extra_data`` in place of its own if given."""
    fields: list[RlpItem] = []
    for name, kind in _HEADER_FIELDS:
        fields.append(_field(block, name, kind))
    for name, kind in _OPTIONAL_FIELDS:
        if block.get(name) is None:
            break
        fields.append(_field(block, name, kind))
    if extra_data is not None:
        fields[12] = extra_data
    return encode_rlp(fields)


def _field(block: Mapping[str, Any], name: str, kind: Literal["bytes", "int"]) -> bytes:
    value = block.get(name)
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise ValueError(f"the block's {name} is {value!r}, not 0x-prefixed hex")
    digits = value[2:]
    if kind == "int":
        return _scalar(int(digits or "0", 16))
    return bytes.fromhex(digits)


def header_hash(block: Mapping[str, Any]) -> bytes:
    """Ethereum's block hash: ``keccak256`` of the header's RLP."""
    return keccak256(header_rlp(block))


def qbft_block_hash(block: Mapping[str, Any]) -> bytes:
    """QBFT's block hash: the header with ``extraData`` re-encoded without seals and with round 0 (the genesis as
    it is). Raises ``ValueError`` when the ``extraData`` is not QBFT's."""
    if _field(block, "number", "int") == b"":
        return header_hash(block)
    extra = decode_qbft_extra_data(_field(block, "extraData", "bytes"))
    return keccak256(header_rlp(block, extra_data=encode_qbft_extra_data(extra, "without_seals_and_round")))


def qbft_commit_seal_digest(block: Mapping[str, Any]) -> bytes:
    """What each validator signs as its commit seal: the header with ``extraData`` re-encoded without the seals,
    the round kept (Besu ``BftBlockHashing.calculateDataHashForCommittedSeal``)."""
    extra = decode_qbft_extra_data(_field(block, "extraData", "bytes"))
    return keccak256(header_rlp(block, extra_data=encode_qbft_extra_data(extra, "without_seals")))


def header_hash_matches(block: Mapping[str, Any]) -> bool:
    """Whether the block's header fields hash to its ``hash``, by Ethereum's rule or, where its ``extraData`` is
    QBFT's, by QBFT's. A block with a missing or malformed field does not match."""
    try:
        claimed = _field(block, "hash", "bytes")
        if header_hash(block) == claimed:
            return True
        return len(_field(block, "extraData", "bytes")) > VANITY_LENGTH and qbft_block_hash(block) == claimed
    except ValueError:
        return False
