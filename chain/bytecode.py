"""Matching compiled runtime bytecode against the code a chain holds, as a block explorer's "verify contract" does.

solc ends a contract's runtime code with its metadata: a CBOR map (the IPFS hash of the metadata JSON, which covers
the sources byte for byte, and the compiler's version) followed by its length in two bytes. Two compilations of the
same code from sources that differ in a comment differ only there. And a contract's `immutable` values are written
into its runtime code by its constructor: the compiler's output has zeros where the chain has the values, at the
places the compiler lists as ``immutableReferences``.

- ``exact``: the code is the same once the immutables are taken from the chain: the same sources, settings and
  compiler.
- ``partial``: the same once the metadata is left out as well: the same code, from sources that differ in what does
  not change it (comments, whitespace, file names), or a different metadata setting.

Example::

    match = match_runtime_code(w3.eth.get_code(address), compiled_runtime, immutable_references)
    if match is None:
        print("the sources do not make this contract")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["RuntimeMatch", "match_runtime_code", "metadata_compiler", "strip_metadata"]

# A CBOR map of one to five entries opens solc's metadata (`ipfs`, `bzzr0`/`bzzr1`, `experimental`, `solc`).
_CBOR_MAPS = range(0xA1, 0xA6)
_SOLC_KEY = b"\x64solc"

MatchKind = Literal["exact", "partial"]


@dataclass(frozen=True)
class RuntimeMatch:
    """How compiled code matched the chain's: `kind` ``exact`` or ``partial`` (all but the metadata)."""

    kind: MatchKind
    immutables: int  # how many immutable variables' values were taken from the chain


def _metadata_length(code: bytes) -> int:
    """The length of the metadata at the end of `code`, its two length bytes included; 0 when it has none."""
    if len(code) < 2:
        return 0
    length = int.from_bytes(code[-2:], "big") + 2
    if length > len(code) or length < 3 or code[-length] not in _CBOR_MAPS:
        return 0
    return length


def strip_metadata(code: bytes) -> bytes:
    """`code` without solc's CBOR metadata at its end (unchanged when it has none)."""
    length = _metadata_length(code)
    return code[:-length] if length else code


def metadata_compiler(code: bytes) -> str | None:
    """The solc version the metadata at the end of `code` names (``"0.8.37"``), if it names one."""
    length = _metadata_length(code)
    if not length:
        return None
    metadata = code[-length:-2]
    at = metadata.find(_SOLC_KEY)
    if at < 0:
        return None
    value = metadata[at + len(_SOLC_KEY) :]
    if value[:1] == b"\x43" and len(value) >= 4:  # a release: three bytes
        return ".".join(str(part) for part in value[1:4])
    if value[:1] == b"\x58" and len(value) >= 2:  # a pre-release: text of the length that follows
        return value[2 : 2 + value[1]].decode("ascii", "replace")
    return None


def _with_chain_immutables(
    compiled: bytes, on_chain: bytes, immutable_references: Mapping[str, Sequence[Mapping[str, int]]]
) -> tuple[bytes, int] | None:
    code = bytearray(compiled)
    # One variable may be read in several places: each holds its value.
    for references in immutable_references.values():
        for reference in references:
            start, length = int(reference["start"]), int(reference["length"])
            if start < 0 or length <= 0 or start + length > min(len(code), len(on_chain)):
                return None
            code[start : start + length] = on_chain[start : start + length]
    return bytes(code), sum(1 for references in immutable_references.values() if references)


def match_runtime_code(
    on_chain: bytes,
    compiled: bytes,
    immutable_references: Mapping[str, Sequence[Mapping[str, int]]] | None = None,
) -> RuntimeMatch | None:
    """Whether `compiled` runtime code (solc's ``evm.deployedBytecode``) is the code a chain holds, and how closely.

    Args:
        on_chain: what ``eth_getCode`` answers for the contract.
        compiled: the compiled runtime code, with zeros in the places of its immutables.
        immutable_references: solc's ``evm.deployedBytecode.immutableReferences``: the places the chain's values
            are taken from.

    Returns:
        A `RuntimeMatch`, or None when the code differs beyond its metadata (or the chain holds no code).
    """
    if not on_chain or not compiled:
        return None
    filled = _with_chain_immutables(compiled, on_chain, immutable_references or {})
    if filled is None:
        return None
    code, immutables = filled
    if code == on_chain:
        return RuntimeMatch("exact", immutables)
    if strip_metadata(code) == strip_metadata(on_chain):
        return RuntimeMatch("partial", immutables)
    return None
