"""Block header hashes and QBFT extraData, checked against Hyperledger Besu's own test vectors.

Sources (hyperledger/besu unless said otherwise):
- QBFT_RAW: consensus/qbft/src/test/java/org/hyperledger/besu/consensus/qbft/QbftExtraDataCodecTest.java,
  ``RAW_HEX_ENCODING_STRING`` and ``getDecodedExtraDataForRawHexEncodingString`` (vanity 0x01..0x20, validators
  0x..01 and 0x..02, an add vote for 0x..01, round 0xFEDCBA, seals (r=1, s=10, v=0) and (r=10, s=1, v=0)).
- The layouts of ``extraDataCanBeEncodedWithoutCommitSeals`` / ``...WithoutCommitSealsOrRoundNumber`` and the
  refusals of ``incorrectlyEncodedRoundThrowsRlpException``, ``incorrectlyStructuredRlpThrowsException``,
  ``incorrectVoteTypeThrowsException``, ``emptyExtraDataThrowsException`` in the same file.
- DOCS_GENESIS_EXTRA / CONTRACT_GENESIS_EXTRA: the sample QBFT genesis files of Besu's documentation
  (hyperledger/besu-docs, "Configure QBFT consensus", block header and contract validator selection).
- The block-hash rule: consensus/common/.../bft/BftBlockHashing.java (``calculateHashOfBftBlockOnChain``: extraData
  without commit seals and with round 0; ``calculateDataHashForCommittedSeal``: without seals, round kept; the
  genesis hashed as it is) and the header of consensus/ibft/.../BftBlockHashingTest.java (its fields, vanity
  0x00..0x1f, validators 0x..01 and 0x..02, an add vote for 0x..03, round 0xFEDCBA, seals of the keys 1..4).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_keys import keys
from eth_utils.crypto import keccak

from segell.sdk.blocks import (
    BFT_MIX_HASH,
    QbftExtraData,
    QbftVote,
    decode_qbft_extra_data,
    decode_rlp,
    encode_qbft_extra_data,
    encode_rlp,
    header_hash,
    header_hash_matches,
    qbft_block_hash,
    qbft_commit_seal_digest,
)

QBFT_RAW = bytes.fromhex(
    "f8f0a00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ea940000000000000000"
    "000000000000000000000001940000000000000000000000000000000000000002d7940000000000000000"
    "00000000000000000000000181ff83fedcbaf886b841000000000000000000000000000000000000000000"
    "0000000000000000000001000000000000000000000000000000000000000000000000000000000000000a"
    "00b841000000000000000000000000000000000000000000000000000000000000000a0000000000000000"
    "00000000000000000000000000000000000000000000000100"
)
DOCS_GENESIS_EXTRA = bytes.fromhex(
    "f87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65"
    "e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e0"
    "0ce683cf93039b212648e01c6c6b78c080c0"
)
DOCS_GENESIS_VALIDATORS = (
    "64a702e6263b7297a96638cac6ae65e6541f4169",
    "3923390ad55e90c237593b3b0e401f3b08a03185",
    "aefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "c7eeb9a4e00ce683cf93039b212648e01c6c6b78",
)
CONTRACT_GENESIS_EXTRA = bytes.fromhex("e5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0")


def address(n: int) -> bytes:
    return n.to_bytes(20, "big")


def seal(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


BESU_DECODED = QbftExtraData(
    vanity=bytes(range(1, 33)),
    validators=(address(1), address(2)),
    vote=QbftVote(recipient=address(1), add=True),
    round=0xFEDCBA,
    seals=(seal(1, 10, 0), seal(10, 1, 0)),
)


def test_decode_besu_raw_extra_data_gives_besu_fields() -> None:
    assert decode_qbft_extra_data(QBFT_RAW) == BESU_DECODED


def test_encode_besu_fields_gives_besu_raw_extra_data() -> None:
    assert encode_qbft_extra_data(BESU_DECODED) == QBFT_RAW


def test_encode_without_seals_keeps_round_and_empties_seals() -> None:
    vote = [address(1), b"\xff"]
    expected = encode_rlp([BESU_DECODED.vanity, [address(1), address(2)], vote, bytes.fromhex("fedcba"), []])

    assert encode_qbft_extra_data(BESU_DECODED, "without_seals") == expected


def test_encode_without_seals_and_round_writes_round_zero() -> None:
    vote = [address(1), b"\xff"]
    expected = encode_rlp([BESU_DECODED.vanity, [address(1), address(2)], vote, b"", []])

    assert encode_qbft_extra_data(BESU_DECODED, "without_seals_and_round") == expected
    assert expected.endswith(bytes.fromhex("80c0"))  # writeNull() then writeEmptyList(), as Besu's test writes


def test_decode_besu_docs_genesis_extra_data_gives_its_validators() -> None:
    decoded = decode_qbft_extra_data(DOCS_GENESIS_EXTRA)

    assert [v.hex() for v in decoded.validators] == list(DOCS_GENESIS_VALIDATORS)
    assert (decoded.vanity, decoded.vote, decoded.round, decoded.seals) == (bytes(32), None, 0, ())


def test_encode_validators_gives_besu_docs_genesis_extra_data() -> None:
    validators = tuple(bytes.fromhex(v) for v in DOCS_GENESIS_VALIDATORS)

    assert encode_qbft_extra_data(QbftExtraData(bytes(32), validators)) == DOCS_GENESIS_EXTRA
    assert encode_qbft_extra_data(QbftExtraData(bytes(32), ())) == CONTRACT_GENESIS_EXTRA


def test_decode_drop_vote_reads_empty_byte_as_drop() -> None:
    raw = encode_rlp([bytes(32), [], [address(1), b""], bytes.fromhex("fedcba"), []])

    assert decode_qbft_extra_data(raw).vote == QbftVote(recipient=address(1), add=False)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        # incorrectlyEncodedRoundThrowsRlpException: the round with a leading zero byte (and no vote list).
        (
            "round_leading_zero",
            encode_rlp([bytes(32), [], address(1), b"\xff", bytes.fromhex("00dcba"), []]),
        ),
        (
            "round_leading_zero_in_place",
            encode_rlp([bytes(32), [], [address(1), b"\xff"], bytes.fromhex("00dcba"), []]),
        ),
        # incorrectlyStructuredRlpThrowsException: a sixth item after the seals.
        (
            "trailing_item",
            encode_rlp([bytes(32), [], [address(1), b"\xff"], bytes.fromhex("00fedcba"), [], b"\x01"]),
        ),
        # incorrectVoteTypeThrowsException: vote byte 0xAA.
        ("vote_type", encode_rlp([bytes(32), [address(1)], [address(1), b"\xaa"], b"\x01", []])),
        # emptyExtraDataThrowsException.
        ("empty", b""),
        ("seal_length", encode_rlp([bytes(32), [], [], b"", [bytes(64)]])),
        ("not_rlp", bytes.fromhex("f8f0a0")),
    ],
)
def test_decode_refuses_what_besu_refuses(name: str, raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_qbft_extra_data(raw)


def test_rlp_round_trip_and_canonical_form() -> None:
    item: Any = [b"", b"\x7f", b"\x80", [b"a" * 60, []], bytes(1024)]

    assert decode_rlp(encode_rlp(item)) == item
    assert encode_rlp(b"\x7f") == b"\x7f"
    with pytest.raises(ValueError):
        decode_rlp(b"\x81\x05")  # one byte below 0x80 must encode itself
    with pytest.raises(ValueError):
        decode_rlp(b"\xb8\x05hello")  # short string in long form


# The header of Besu's BftBlockHashingTest (setHeaderFieldsExceptForExtraData), as a JSON-RPC block.
BESU_HEADER: dict[str, Any] = {
    "parentHash": "0xa7762d3307dbf2ae6a1ae1b09cf61c7603722b2379731b6b90409cdb8c8288a0",
    "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
    "miner": "0x0000000000000000000000000000000000000000",
    "stateRoot": "0xca07595b82f908822971b7e848398e3395e59ee52565c7ef3603df1a1fa7bc80",
    "transactionsRoot": "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421",
    "receiptsRoot": "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421",
    "logsBloom": "0x" + "00" * 256,
    "difficulty": "0x1",
    "number": "0x1",
    "gasLimit": hex(4704588),
    "gasUsed": "0x0",
    "timestamp": hex(1530674616),
    "mixHash": "0x" + BFT_MIX_HASH.hex(),
    "nonce": "0x0000000000000000",
}
VANITY = bytes(range(32))
COMMITTER_KEYS = [keys.PrivateKey(i.to_bytes(32, "big")) for i in range(1, 5)]


def besu_block(extra: QbftExtraData) -> dict[str, Any]:
    return {**BESU_HEADER, "extraData": "0x" + encode_qbft_extra_data(extra).hex()}


def header_rlp_by_hand(extra_data: bytes) -> bytes:
    """The header's RLP built field by field here (Besu BlockHeader.writeTo for a pre-London header)."""
    h = BESU_HEADER
    fields = [bytes.fromhex(h[k][2:]) for k in ("parentHash", "sha3Uncles", "miner", "stateRoot")]
    fields += [bytes.fromhex(h[k][2:]) for k in ("transactionsRoot", "receiptsRoot", "logsBloom")]
    fields += [b"\x01", b"\x01", (4704588).to_bytes(3, "big"), b"", (1530674616).to_bytes(4, "big")]
    fields += [extra_data, BFT_MIX_HASH, bytes(8)]
    return encode_rlp(fields)


@pytest.fixture(scope="module")
def sealed_block() -> dict[str, Any]:
    """Besu's BftBlockHashingTest header with QBFT extraData, sealed by the keys 1..4 as its test seals it."""
    unsealed = QbftExtraData(VANITY, (address(1), address(2)), QbftVote(address(3), True), 0xFEDCBA)
    digest = keccak(header_rlp_by_hand(encode_qbft_extra_data(unsealed, "without_seals")))
    seals = tuple(key.sign_msg_hash(digest).to_bytes() for key in COMMITTER_KEYS)
    return besu_block(QbftExtraData(unsealed.vanity, unsealed.validators, unsealed.vote, unsealed.round, seals))


def test_qbft_block_hash_is_header_with_extra_data_without_seals_and_round(sealed_block: dict[str, Any]) -> None:
    # Besu's expectedHeaderHash(): the header with encodeWithoutCommitSealsAndRoundNumber(vanity, [], vote, 0, ...).
    expected_extra = encode_qbft_extra_data(QbftExtraData(VANITY, (address(1), address(2)), QbftVote(address(3), True)))
    expected = keccak(header_rlp_by_hand(expected_extra))

    assert qbft_block_hash(sealed_block) == expected
    assert header_hash(sealed_block) != expected  # the plain Ethereum rule would include the seals


def test_qbft_block_hash_ignores_round_and_seals(sealed_block: dict[str, Any]) -> None:
    extra = decode_qbft_extra_data(bytes.fromhex(sealed_block["extraData"][2:]))
    other = besu_block(QbftExtraData(extra.vanity, extra.validators, extra.vote, 3, extra.seals[:1]))

    assert qbft_block_hash(other) == qbft_block_hash(sealed_block)
    assert qbft_commit_seal_digest(other) != qbft_commit_seal_digest(sealed_block)  # the digest keeps the round


def test_commit_seals_recover_the_committers(sealed_block: dict[str, Any]) -> None:
    # Besu's testRecoverCommitterAddresses: each seal, over the commit-seal digest, recovers to its key's address.
    digest = qbft_commit_seal_digest(sealed_block)
    extra = decode_qbft_extra_data(bytes.fromhex(sealed_block["extraData"][2:]))
    recovered = [keys.Signature(s).recover_public_key_from_msg_hash(digest).to_address() for s in extra.seals]

    assert recovered == [key.public_key.to_address() for key in COMMITTER_KEYS]


def test_header_hash_matches_a_qbft_block_with_its_qbft_hash(sealed_block: dict[str, Any]) -> None:
    block = {**sealed_block, "hash": "0x" + qbft_block_hash(sealed_block).hex()}

    assert header_hash_matches(block)
    assert not header_hash_matches({**block, "timestamp": hex(1530674617)})
    assert not header_hash_matches({**block, "hash": "0x" + header_hash(sealed_block).hex()[:-2] + "00"})


def test_qbft_genesis_is_hashed_as_it_is() -> None:
    genesis = {**BESU_HEADER, "number": "0x0", "extraData": "0x" + DOCS_GENESIS_EXTRA.hex()}

    assert qbft_block_hash(genesis) == header_hash(genesis)


def test_header_hash_matches_refuses_missing_fields() -> None:
    assert not header_hash_matches({"hash": "0x" + "00" * 32})
    assert not header_hash_matches({**BESU_HEADER, "extraData": "0x"})  # no hash at all


def test_header_hash_matches_blocks_of_a_real_node(anvil_block: dict[str, Any]) -> None:
    assert header_hash_matches(anvil_block)
    assert not header_hash_matches({**anvil_block, "gasUsed": hex(int(anvil_block["gasUsed"], 16) + 1)})


@pytest.fixture(scope="module")
def anvil_block(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A Cancun block of a real anvil (base fee, withdrawals, blob gas and beacon root fields)."""
    from segell.chain.anvil import AnvilNotFound, find_anvil
    from segell.chain.nodes import NodeIsolationUnavailable, start_node

    try:
        find_anvil(None)
        node = start_node("anvil", state_dir=tmp_path_factory.mktemp("anvil"))
    except (AnvilNotFound, NodeIsolationUnavailable) as exc:
        pytest.skip(f"anvil cannot run here: {exc}")
    with node:
        block: dict[str, Any] = node.w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]  # type: ignore[arg-type]
    return block
