"""Matching compiled runtime code against a chain's: metadata, immutables, exact and partial matches."""

from segell.chain.artifacts import load_artifact
from segell.chain.bytecode import match_runtime_code, metadata_compiler, strip_metadata


def metadata(ipfs: bytes, solc: bytes = b"\x43\x00\x08\x25") -> bytes:
    """solc's CBOR metadata (``{"ipfs": ..., "solc": ...}``) with its two length bytes."""
    cbor = b"\xa2\x64ipfs\x58\x22" + ipfs + b"\x64solc" + solc
    return cbor + len(cbor).to_bytes(2, "big")


CODE = bytes.fromhex("6080604052348015600e575f80fd5b50") + b"\x7f" + bytes(32) + b"\x50\x00"
# The PUSH32 at offset 16 pushes an immutable: 32 zero bytes in the compiler's output, the value on chain.
IMMUTABLES = {"7": [{"start": 17, "length": 32}]}
VALUE = bytes(range(1, 33))


def deployed(code: bytes, ipfs: bytes) -> bytes:
    on_chain = bytearray(code + metadata(ipfs))
    on_chain[17:49] = VALUE
    return bytes(on_chain)


def test_same_code_and_metadata_with_chain_immutables_is_an_exact_match() -> None:
    ipfs = b"\x12\x20" + bytes(range(32))
    match = match_runtime_code(deployed(CODE, ipfs), CODE + metadata(ipfs), IMMUTABLES)
    assert match is not None and (match.kind, match.immutables) == ("exact", 1)


def test_other_metadata_hash_is_a_partial_match() -> None:
    on_chain = deployed(CODE, b"\x12\x20" + bytes(32))
    match = match_runtime_code(on_chain, CODE + metadata(b"\x12\x20" + bytes([1]) * 32), IMMUTABLES)
    assert match is not None and match.kind == "partial"


def test_immutables_left_out_do_not_match() -> None:
    ipfs = b"\x12\x20" + bytes(32)
    assert match_runtime_code(deployed(CODE, ipfs), CODE + metadata(ipfs), {}) is None


def test_one_changed_instruction_does_not_match() -> None:
    ipfs = b"\x12\x20" + bytes(32)
    changed = bytearray(CODE)
    changed[1] = 0x81
    assert match_runtime_code(deployed(CODE, ipfs), bytes(changed) + metadata(ipfs), IMMUTABLES) is None


def test_immutable_beyond_the_code_does_not_match() -> None:
    ipfs = b"\x12\x20" + bytes(32)
    far = {"1": [{"start": 10_000, "length": 32}]}
    assert match_runtime_code(deployed(CODE, ipfs), CODE + metadata(ipfs), far) is None


def test_no_code_on_chain_does_not_match() -> None:
    assert match_runtime_code(b"", CODE) is None


def test_metadata_names_the_compiler_and_is_stripped() -> None:
    ipfs = b"\x12\x20" + bytes(32)
    assert metadata_compiler(CODE + metadata(ipfs)) == "0.8.37"
    assert metadata_compiler(CODE + metadata(ipfs, solc=b"\x58\x05" + b"0.8.9")) == "0.8.9"
    assert strip_metadata(CODE + metadata(ipfs)) == CODE
    # Code without metadata is left as it is.
    assert strip_metadata(CODE) == CODE and metadata_compiler(CODE) is None


def test_committed_notary_names_the_pinned_compiler() -> None:
    artifact = load_artifact("Notary")
    runtime = bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
    assert metadata_compiler(runtime) == "0.8.37"
    assert len(strip_metadata(runtime)) < len(runtime)
