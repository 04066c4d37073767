"""Merkle trees of notarised documents, byte for byte those of OpenZeppelin's `StandardMerkleTree`.

The scheme is specified in docs/notary.md ("Leaves and the tree"); in short:

- a leaf is `keccak256(keccak256(abi.encode(bytes32 documentHash, bytes32 administration, bytes32 salt,
  uint256 index)))`, so no inner node (the hash of 64 bytes) can be presented as a leaf;
- an inner node is `keccak256` of its two children sorted as bytes, which is what OpenZeppelin `MerkleProof`
  (used by `Notary.verify` and `Notary.revoke`) computes;
- leaves are not sorted; the tree is an array of `2n-1` nodes, leaf `k` at array index `2n-2-k`, node `i`'s
  children at `2i+1` and `2i+2`, the root at 0 (`makeMerkleTree` of `@openzeppelin/merkle-tree`);
- a proof lists the siblings from the leaf up (`getProof`).

A `MerkleTree` keeps its nodes as one `bytes` value of `32 * (2n-1)` bytes: `to_bytes()` is what gets stored and
`MerkleTree.from_bytes()` serves proofs from it without hashing anything again.

Example::

    leaves = leaf_hashes([document_hash], administration)
    tree = MerkleTree.build(leaves)
    assert verify_proof(leaf=leaves[0], proof=tree.proof(0), root=tree.root, index=0, size=tree.size)
"""

from collections.abc import Sequence
from typing import Final

import numpy as np
import sha3

__all__ = [
    "MerkleTree",
    "expected_proof_length",
    "leaf_hash",
    "leaf_hashes",
    "leaf_hashes_packed",
    "process_proof",
    "verify_document",
    "verify_proof",
]

WORD: Final = 32
ZERO_SALT: Final = bytes(WORD)
MAX_INDEX: Final = 2**256 - 1

# pysha3's keccak is about seven times faster than pycryptodome's (eth_hash's default) on 32 to 128 byte inputs,
# and hashing is nearly all the work of building a tree.
_keccak: Final = sha3.keccak_256


def _check_word(name: str, value: bytes) -> None:
    if len(value) != WORD:
        raise ValueError(f"{name} must be {WORD} bytes, got {len(value)}")


def _check_words(name: str, values: Sequence[bytes]) -> None:
    lengths = set(map(len, values))  # one pass in C; the slow path below only names the culprit
    if lengths and lengths != {WORD}:
        position = next(i for i, value in enumerate(values) if len(value) != WORD)
        raise ValueError(f"{name}[{position}] must be {WORD} bytes, got {len(values[position])}")


def _check_index(index: int) -> None:
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"index must fit a uint256 (0 <= index < 2**256), got {index}")


def leaf_hash(document_hash: bytes, administration: bytes, salt: bytes, index: int) -> bytes:
    """The leaf of one document: `keccak256(keccak256(abi.encode(document_hash, administration, salt, index)))`.

    `document_hash`, `administration` and `salt` are 32 bytes each (the salt is 32 zero bytes for unsalted
    documents); `index` is the leaf's position in its batch, `0 <= index < 2**256`. The ABI encoding of four static
    words is the words themselves, so no encoder is involved.

    Example::

        >>> leaf = leaf_hash(bytes(32), b"L01080193".ljust(32, b"\\0"), bytes(32), 0)
        >>> leaf.hex()[:16], len(leaf)
        ('a7126f29ab5d05d3', 32)
    """
    _check_word("document_hash", document_hash)
    _check_word("administration", administration)
    _check_word("salt", salt)
    _check_index(index)
    encoded = b"".join((document_hash, administration, salt, index.to_bytes(WORD, "big")))
    digest: bytes = _keccak(_keccak(encoded).digest()).digest()
    return digest


def leaf_hashes(
    document_hashes: Sequence[bytes], administration: bytes, salts: Sequence[bytes] | None = None
) -> list[bytes]:
    """The leaves of a whole batch, leaf `i` for `document_hashes[i]` at index `i`: `leaf_hash` in one pass.

    `salts`, when given, holds one 32-byte salt per document; `None` means 32 zero bytes for all of them.

    Example::

        >>> administration = b"L01080193".ljust(32, b"\\0")
        >>> documents = [bytes([n]) * 32 for n in range(3)]
        >>> leaves = leaf_hashes(documents, administration)
        >>> leaves[2] == leaf_hash(documents[2], administration, bytes(32), 2)
        True
    """
    _check_word("administration", administration)
    _check_words("document_hashes", document_hashes)
    keccak = _keccak
    if salts is None:
        middle = administration + ZERO_SALT
        return [
            keccak(keccak(document + middle + index.to_bytes(WORD, "big")).digest()).digest()
            for index, document in enumerate(document_hashes)
        ]
    if len(salts) != len(document_hashes):
        raise ValueError(f"got {len(salts)} salts for {len(document_hashes)} documents")
    _check_words("salts", salts)
    return [
        keccak(keccak(document + administration + salt + index.to_bytes(WORD, "big")).digest()).digest()
        for index, (document, salt) in enumerate(zip(document_hashes, salts, strict=True))
    ]


def leaf_hashes_packed(document_hashes: bytes, administration: bytes, salts: bytes | None = None) -> list[bytes]:
    """`leaf_hashes` of documents given as one buffer of their 32-byte hashes (and one of their salts).

    The 128 bytes each leaf hashes are laid out for all documents at once, so the loop only calls keccak twice per
    leaf: no concatenation and no integer conversion per document.

    Example::

        >>> administration = b"L01080193".ljust(32, b"\\0")
        >>> documents = [bytes([n]) * 32 for n in range(3)]
        >>> leaf_hashes_packed(b"".join(documents), administration) == leaf_hashes(documents, administration)
        True
    """
    _check_word("administration", administration)
    count, remainder = divmod(len(document_hashes), WORD)
    if remainder:
        raise ValueError(f"document_hashes must be 32 bytes per document, got {len(document_hashes)} bytes")
    if salts is not None and len(salts) != len(document_hashes):
        raise ValueError(f"got {len(salts)} bytes of salts for {count} documents")
    if count >= 2**32:
        raise ValueError(f"at most 2**32 - 1 documents at once, got {count}")
    encoded = np.zeros((count, 4 * WORD), np.uint8)
    encoded[:, :WORD] = np.frombuffer(document_hashes, np.uint8).reshape(count, WORD)
    encoded[:, WORD : 2 * WORD] = np.frombuffer(administration, np.uint8)
    if salts is not None:
        encoded[:, 2 * WORD : 3 * WORD] = np.frombuffer(salts, np.uint8).reshape(count, WORD)
    encoded[:, 4 * WORD - 4 :] = np.arange(count, dtype=">u4").view(np.uint8).reshape(count, 4)
    data, keccak, size = encoded.tobytes(), _keccak, 4 * WORD
    return [keccak(keccak(data[start : start + size]).digest()).digest() for start in range(0, len(data), size)]


def _hash_pair(a: bytes, b: bytes) -> bytes:
    digest: bytes = _keccak(a + b if a < b else b + a).digest()
    return digest


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf`, as OpenZeppelin `MerkleProof.processProof` computes it.

    Each step hashes the running node with the next sibling, sorted as bytes, so the proof carries no left/right
    information. Every node must be 32 bytes (`ValueError` otherwise).

    Example::

        >>> a, b = bytes([1]) * 32, bytes([2]) * 32
        >>> tree = MerkleTree.build([a, b])
        >>> process_proof(a, [b]) == tree.root == process_proof(b, [a])
        True
    """
    _check_word("leaf", leaf)
    _check_words("proof", proof)
    node = leaf
    for sibling in proof:
        node = _hash_pair(node, sibling)
    return node


def _position(index: int, size: int) -> int:
    return 2 * size - 2 - index


def expected_proof_length(index: int, size: int) -> int:
    """The number of siblings in the proof of leaf `index` in a tree of `size` leaves (its node's depth).

    Leaf `index` sits at array position `2*size-2-index`; position `p` is `floor(log2(p+1))` steps below the root.

    Example::

        >>> [expected_proof_length(i, 5) for i in range(5)]
        [3, 3, 2, 2, 2]
        >>> expected_proof_length(0, 1)
        0
    """
    if size < 1:
        raise ValueError(f"a tree has at least one leaf, got size {size}")
    if not 0 <= index < size:
        raise IndexError(f"leaf index {index} is outside a tree of {size} leaves")
    return (_position(index, size) + 1).bit_length() - 1


def verify_proof(*, leaf: bytes, proof: Sequence[bytes], root: bytes, index: int, size: int) -> bool:
    """True if `proof` takes `leaf` to `root` and has the shape of the proof of leaf `index` among `size` leaves.

    OpenZeppelin's sorted-pair hashing is free of positions: `MerkleProof` accepts any path that hashes up to the
    root, whatever its length. Certificate Transparency's verifiers (RFC 6962, RFC 9162 section 2.1.3.2) instead
    check the proof against the leaf index and the tree size. Segell has both numbers without trusting the
    presenter: the index is hashed into the leaf and the size is recorded on chain with the root
    (`Notary.anchorOf(root).size`). So besides `process_proof(leaf, proof) == root` this checks that
    `size >= 1`, `0 <= index < size`, that the leaf, the root and every proof element are 32 bytes, and that
    `len(proof) == expected_proof_length(index, size)`. Malformed input gives False rather than an exception.

    What this cannot check, because `leaf` is opaque here: that `leaf` was computed with `index` (recompute it with
    `leaf_hash`, or use `verify_document`), and that `size` is the anchored size (compare with `anchorOf`). A
    proof of another leaf, or of an inner node, at the same depth would pass this structural check; it is the
    recomputed leaf that rejects them.

    Example::

        >>> leaves = [bytes([n]) * 32 for n in range(3)]
        >>> tree = MerkleTree.build(leaves)
        >>> verify_proof(leaf=leaves[2], proof=tree.proof(2), root=tree.root, index=2, size=3)
        True
        >>> verify_proof(leaf=leaves[2], proof=tree.proof(2), root=tree.root, index=0, size=3)  # depth 2, not 1
        False
    """
    for number in (index, size):
        if not isinstance(number, int) or isinstance(number, bool):
            return False
    if size < 1 or not 0 <= index < size:
        return False
    if len(leaf) != WORD or len(root) != WORD or any(len(sibling) != WORD for sibling in proof):
        return False
    if len(proof) != expected_proof_length(index, size):
        return False
    return process_proof(leaf, proof) == root


def verify_document(
    *,
    document_hash: bytes,
    administration: bytes,
    salt: bytes,
    index: int,
    proof: Sequence[bytes],
    root: bytes,
    size: int,
) -> bool:
    """True if the document at `index` is in the tree of `root` with `size` leaves: `verify_proof` on its leaf.

    The leaf is recomputed from the document's fields and the claimed index, so a proof presented for another
    index, or an inner node presented as a leaf, does not verify. `size` must be the size anchored with `root`.

    Example::

        >>> administration = b"L01080193".ljust(32, b"\\0")
        >>> documents = [bytes([n]) * 32 for n in range(4)]
        >>> tree = MerkleTree.build(leaf_hashes(documents, administration))
        >>> fields = dict(administration=administration, salt=bytes(32), root=tree.root, size=4)
        >>> verify_document(document_hash=documents[1], index=1, proof=tree.proof(1), **fields)
        True
        >>> verify_document(document_hash=documents[1], index=0, proof=tree.proof(1), **fields)
        False
    """
    try:
        leaf = leaf_hash(document_hash, administration, salt, index)
    except (TypeError, ValueError):
        return False
    return verify_proof(leaf=leaf, proof=proof, root=root, index=index, size=size)


class MerkleTree:
    """An OpenZeppelin `StandardMerkleTree` (leaves not sorted) over precomputed leaves, stored as its node array.

    Build one with `MerkleTree.build(leaves)`, store `to_bytes()`, and load it again with `MerkleTree.from_bytes()`
    to serve proofs.

    Example::

        >>> leaves = [bytes([n]) * 32 for n in range(5)]
        >>> tree = MerkleTree.build(leaves)
        >>> tree.size, tree.leaf(4) == leaves[4], len(tree.proof(0))
        (5, True, 3)
        >>> MerkleTree.from_bytes(tree.to_bytes()) == tree
        True
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, nodes: bytes) -> None:
        """Wrap a node array (`32 * (2n-1)` bytes, root first); prefer `build` and `from_bytes`."""
        count, remainder = divmod(len(nodes), WORD)
        if remainder or count % 2 == 0:
            raise ValueError(
                f"a tree of n >= 1 leaves is 32 * (2n-1) bytes; {len(nodes)} bytes is not (an empty tree is refused)"
            )
        self._nodes = nodes
        self._size = (count + 1) // 2

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> "MerkleTree":
        """Build the tree of `leaves` (32-byte leaf hashes, at least one), in their order.

        Example::

            >>> tree = MerkleTree.build([bytes([1]) * 32, bytes([2]) * 32])
            >>> tree.root.hex()[:16]
            '346d8c96a2454213'
        """
        size = len(leaves)
        if size == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        _check_words("leaves", leaves)
        keccak = _keccak
        # Inner nodes are 0 .. size-2 and leaves follow in reverse order; heap level d spans 2**d-1 .. 2**(d+1)-2.
        # Hashing a level at a time, deepest first, turns the loop into one comprehension per level.
        nodes: list[bytes] = [b""] * (size - 1)
        nodes.extend(reversed(leaves))
        for depth in range((size - 1).bit_length() - 1, -1, -1):
            first, end = 2**depth - 1, min(2 ** (depth + 1) - 1, size - 1)
            children = nodes[2 * first + 1 : 2 * end + 1]
            nodes[first:end] = [
                keccak(left + right if left < right else right + left).digest()
                for left, right in zip(children[0::2], children[1::2], strict=True)
            ]
        return cls(b"".join(nodes))

    @classmethod
    def from_bytes(cls, blob: bytes | bytearray | memoryview) -> "MerkleTree":
        """Load a tree stored with `to_bytes()`; raises `ValueError` unless its length is `32 * (2n-1)`, n >= 1.

        Example::

            >>> tree = MerkleTree.build([bytes([7]) * 32])
            >>> MerkleTree.from_bytes(tree.to_bytes()).root == tree.root == bytes([7]) * 32
            True
        """
        return cls(bytes(blob))

    def to_bytes(self) -> bytes:
        """The node array, root first, 32 bytes per node (`tree.dump().tree` of the JS library, concatenated).

        Example::

            >>> len(MerkleTree.build([bytes(32)] * 3).to_bytes())
            160
        """
        return self._nodes

    @property
    def root(self) -> bytes:
        """The root (node 0); for a single leaf, the leaf itself."""
        return self._nodes[:WORD]

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def _node(self, position: int) -> bytes:
        return self._nodes[position * WORD : (position + 1) * WORD]

    def _leaf_position(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < self._size:
            raise IndexError(f"leaf index {index} is outside a tree of {self._size} leaves")
        return _position(index, self._size)

    def leaf(self, index: int) -> bytes:
        """Leaf `index` (array position `2n-2-index`); `IndexError` outside `0 <= index < size`.

        Example::

            >>> MerkleTree.build([bytes([1]) * 32, bytes([2]) * 32]).leaf(1) == bytes([2]) * 32
            True
        """
        return self._node(self._leaf_position(index))

    def proof(self, index: int) -> list[bytes]:
        """The siblings of leaf `index` from the leaf up to (not including) the root, as `getProof` of the JS library.

        Example::

            >>> tree = MerkleTree.build([bytes([n]) * 32 for n in range(3)])
            >>> tree.proof(2) == [tree.to_bytes()[32:64]]  # leaf 2 is at position 2, its sibling is node 1
            True
            >>> process_proof(tree.leaf(0), tree.proof(0)) == tree.root
            True
        """
        position = self._leaf_position(index)
        siblings = []
        while position > 0:
            siblings.append(self._node(position + 1 if position % 2 else position - 1))
            position = (position - 1) // 2
        return siblings

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MerkleTree) and self._nodes == other._nodes

    def __hash__(self) -> int:
        return hash(self._nodes)

    def __repr__(self) -> str:
        return f"MerkleTree(size={self._size}, root=0x{self.root.hex()})"
