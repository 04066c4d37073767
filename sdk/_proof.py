"""Leaves, Merkle proofs and the ABI words of the Notary contract, computed without any chain library.

Everything here is pure and deterministic: it is the part of a proof bundle's verification that needs no network.
The layout is OpenZeppelin ``StandardMerkleTree``'s (docs/notary.md): a leaf is
``keccak256(keccak256(abi.encode(bytes32, bytes32, bytes32, uint256)))`` and an inner node is the ``keccak256`` of
its two children sorted as bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

try:  # safe-pysha3 (installed with the Segell server) is several times faster than pycryptodome
    from sha3 import keccak_256 as _keccak_256

    def keccak256(data: bytes) -> bytes:
        return bytes(_keccak_256(data).digest())

except ImportError:  # the SDK on its own: pycryptodome, its declared dependency, ships wheels everywhere
    from Crypto.Hash import keccak as _keccak

    def keccak256(data: bytes) -> bytes:
        return bytes(_keccak.new(data=data, digest_bits=256).digest())


__all__ = [
    "ADDRESS_PATTERN",
    "HASH_PATTERN",
    "abi_words",
    "hash_file",
    "hash_stream",
    "keccak256",
    "leaf_hash",
    "parse_hash",
    "process_proof",
    "proof_length",
    "selector",
]

HASH_PATTERN = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
ADDRESS_PATTERN = re.compile(r"0x[0-9a-fA-F]{40}")
_READ_CHUNK = 1 << 20


def parse_hash(value: str) -> bytes | None:
    """32 bytes from ``64 hex digits`` (``0x`` optional), or ``None`` if ``value`` is not one."""
    if not HASH_PATTERN.fullmatch(value):
        return None
    return bytes.fromhex(value[2:] if value[:2] == "0x" else value)


def hash_stream(stream: IO[bytes]) -> bytes:
    """SHA-256 of a binary stream, read in chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(_READ_CHUNK):
        digest.update(chunk)
    return digest.digest()


def hash_file(path: str | os.PathLike[str]) -> bytes:
    """SHA-256 of a file, streamed from disk (never read whole)."""
    with Path(path).open("rb") as stream:
        return hash_stream(stream)


def leaf_hash(document_hash: bytes, administration: bytes, salt: bytes, index: int) -> bytes:
    """The tree leaf of a document: ``keccak256(keccak256(abi.encode(hash, administration, salt, index)))``."""
    encoded = document_hash + administration + salt + index.to_bytes(32, "big")
    return keccak256(keccak256(encoded))


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from ``leaf``, hashing sorted pairs (OpenZeppelin ``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = keccak256(node + sibling if node <= sibling else sibling + node)
    return node


def proof_length(leaf_index: int, tree_size: int) -> int:
    """How many siblings the proof of leaf ``leaf_index`` has in a tree of ``tree_size`` leaves.

    The tree is an array of ``2n-1`` nodes with leaf ``k`` at ``2n-2-k``; the depth of node ``i`` is
    ``floor(log2(i+1))``.
    """
    return (2 * tree_size - 2 - leaf_index + 1).bit_length() - 1


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a Solidity signature such as ``"anchorOf(bytes32)"``."""
    return keccak256(signature.encode("ascii"))[:4]


def abi_words(data: bytes) -> list[bytes]:
    """Split ABI-encoded return data into its 32-byte words; raises ``ValueError`` on a partial word."""
    if len(data) % 32:
        raise ValueError(f"ABI data of {len(data)} bytes is not a whole number of 32-byte words")
    return [data[offset : offset + 32] for offset in range(0, len(data), 32)]
