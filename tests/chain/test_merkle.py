"""Merkle trees of notarised documents: layout, proofs, and a verifier that rejects every corrupted proof.

The adversarial cases follow RFC 6962/9162 practice: besides the hash path, the verifier is given the leaf index and
the tree size and checks the proof's shape against them. Two limits are asserted here rather than hidden, because
OpenZeppelin's sorted-pair hashing carries no positions: `verify_proof` takes an opaque leaf, so a genuine proof of
another leaf (or of an inner node) at the same depth passes its structural check; `verify_document` rejects those by
recomputing the leaf with the claimed index. And the size only enters through the proof length, so a size with the
same depth passes in Python; the anchored size (`Notary.anchorOf(root).size`) is what refutes it.
"""

import doctest
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segell.chain import merkle
from segell.chain.merkle import (
    MerkleTree,
    expected_proof_length,
    leaf_hash,
    leaf_hashes,
    leaf_hashes_packed,
    process_proof,
    verify_document,
    verify_proof,
)

SIZES = (1, 2, 3, 7, 8, 100, 1000)
CITY = b"L01080193".ljust(32, b"\0")


@dataclass(frozen=True)
class Batch:
    """A batch as the notary builds it: salted documents of one administration, their leaves and tree."""

    documents: list[bytes]
    salts: list[bytes]
    leaves: list[bytes]
    tree: MerkleTree
    nodes: list[bytes] = field(repr=False)

    @property
    def size(self) -> int:
        return self.tree.size

    def fields(self, index: int) -> dict[str, bytes]:
        return {"document_hash": self.documents[index], "administration": CITY, "salt": self.salts[index]}

    def path(self, position: int) -> list[bytes]:
        """Siblings of any node of the array (leaf or inner) up to the root."""
        siblings = []
        while position > 0:
            siblings.append(self.nodes[position + 1 if position % 2 else position - 1])
            position = (position - 1) // 2
        return siblings

    def ancestor(self, position: int, steps: int) -> int:
        """The position of a node's ancestor `steps` levels up (0: the node itself)."""
        for _ in range(steps):
            position = (position - 1) // 2
        return position


@cache
def batch(size: int) -> Batch:
    documents = [hashlib.sha256(f"document {size}/{i}".encode()).digest() for i in range(size)]
    salts = [hashlib.sha256(f"salt {size}/{i}".encode()).digest() for i in range(size)]
    leaves = leaf_hashes(documents, CITY, salts)
    tree = MerkleTree.build(leaves)
    blob = tree.to_bytes()
    nodes = [blob[i : i + 32] for i in range(0, len(blob), 32)]
    return Batch(documents, salts, leaves, tree, nodes)


def reference_tree(leaves: list[bytes]) -> list[bytes]:
    """`makeMerkleTree` of @openzeppelin/merkle-tree, transcribed line by line (one node at a time)."""
    tree = [b""] * (2 * len(leaves) - 1)
    for i, leaf in enumerate(leaves):
        tree[len(tree) - 1 - i] = leaf
    for i in range(len(tree) - 1 - len(leaves), -1, -1):
        tree[i] = keccak(b"".join(sorted([tree[2 * i + 1], tree[2 * i + 2]])))
    return tree


def indexes_under_attack(size: int) -> list[int]:
    """Every index of a small tree; for a large one the ends, the middle and both sides of the depth change."""
    if size <= 8:
        return list(range(size))
    deepest = expected_proof_length(0, size)
    shallow = [i for i in range(size) if expected_proof_length(i, size) < deepest]
    chosen = {0, 1, size // 2, size - 2, size - 1}
    if shallow:
        chosen |= {shallow[0] - 1, shallow[0]}
    return sorted(chosen)


def flip(word: bytes, bit: int) -> bytes:
    flipped = bytearray(word)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def genuine(b: Batch, index: int) -> dict[str, object]:
    return {"leaf": b.leaves[index], "proof": b.tree.proof(index), "root": b.tree.root, "index": index, "size": b.size}


# Leaves


def test_leaf_hash_is_double_keccak_of_the_abi_encoding() -> None:
    salt = bytes(range(32))
    for index in (0, 1, 255, 256, 2**64, 2**256 - 1):
        encoded = encode(["bytes32", "bytes32", "bytes32", "uint256"], [b"\x42" * 32, CITY, salt, index])
        assert leaf_hash(b"\x42" * 32, CITY, salt, index) == keccak(keccak(encoded))


def test_leaf_hashes_equal_leaf_hash_at_each_position() -> None:
    documents = [keccak(text=str(i)) for i in range(20)]
    salts = [keccak(text=f"salt {i}") for i in range(20)]
    assert leaf_hashes(documents, CITY, salts) == [
        leaf_hash(d, CITY, s, i) for i, (d, s) in enumerate(zip(documents, salts, strict=True))
    ]
    assert leaf_hashes(documents, CITY) == [leaf_hash(d, CITY, bytes(32), i) for i, d in enumerate(documents)]
    assert leaf_hashes(documents, CITY, None) == leaf_hashes(documents, CITY, [bytes(32)] * 20)
    assert leaf_hashes([], CITY) == []


def test_packed_leaf_hashes_equal_leaf_hashes() -> None:
    documents = [keccak(text=str(i)) for i in range(300)]
    salts = [keccak(text=f"salt {i}") for i in range(300)]
    assert leaf_hashes_packed(b"".join(documents), CITY, b"".join(salts)) == leaf_hashes(documents, CITY, salts)
    assert leaf_hashes_packed(b"".join(documents), CITY) == leaf_hashes(documents, CITY)
    assert leaf_hashes_packed(b"", CITY) == []
    with pytest.raises(ValueError, match="32 bytes per document"):
        leaf_hashes_packed(bytes(63), CITY)
    with pytest.raises(ValueError, match="salts"):
        leaf_hashes_packed(bytes(64), CITY, bytes(32))
    with pytest.raises(ValueError, match="administration"):
        leaf_hashes_packed(bytes(32), CITY[:31])


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ((bytes(31), CITY, bytes(32), 0), ValueError),
        ((bytes(33), CITY, bytes(32), 0), ValueError),
        ((bytes(32), CITY[:31], bytes(32), 0), ValueError),
        ((bytes(32), CITY, b"", 0), ValueError),
        ((bytes(32), CITY, bytes(32), -1), ValueError),
        ((bytes(32), CITY, bytes(32), 2**256), ValueError),
        ((bytes(32), CITY, bytes(32), 1.0), TypeError),
        ((bytes(32), CITY, bytes(32), True), TypeError),
    ],
)
def test_leaf_hash_rejects_malformed_fields(arguments: tuple[bytes, bytes, bytes, int], error: type[Exception]) -> None:
    with pytest.raises(error):
        leaf_hash(*arguments)


def test_leaf_hashes_reject_malformed_batches() -> None:
    with pytest.raises(ValueError, match=r"document_hashes\[2\] must be 32 bytes, got 31"):
        leaf_hashes([bytes(32), bytes(32), bytes(31)], CITY)
    with pytest.raises(ValueError, match="administration"):
        leaf_hashes([bytes(32)], CITY + b"\0")
    with pytest.raises(ValueError, match="got 1 salts for 2 documents"):
        leaf_hashes([bytes(32), bytes(32)], CITY, [bytes(32)])
    with pytest.raises(ValueError, match=r"salts\[1\]"):
        leaf_hashes([bytes(32), bytes(32)], CITY, [bytes(32), bytes(16)])


# The tree


@pytest.mark.parametrize("size", range(1, 70))
def test_build_lays_out_nodes_as_make_merkle_tree(size: int) -> None:
    b = batch(size)
    assert b.nodes == reference_tree(b.leaves)
    assert b.tree.root == b.nodes[0]
    assert [b.tree.leaf(i) for i in range(size)] == b.leaves
    assert b.nodes[size - 1 :] == b.leaves[::-1]


def test_build_of_one_leaf_is_the_leaf() -> None:
    tree = MerkleTree.build([b"\x07" * 32])
    assert (tree.root, tree.size, tree.proof(0), tree.to_bytes()) == (b"\x07" * 32, 1, [], b"\x07" * 32)


def test_build_of_two_leaves_hashes_them_sorted() -> None:
    low, high = b"\x01" * 32, b"\x02" * 32
    assert MerkleTree.build([high, low]).root == MerkleTree.build([low, high]).root == keccak(low + high)
    assert MerkleTree.build([high, low]).to_bytes() == keccak(low + high) + low + high


def test_build_rejects_empty_tree_and_malformed_leaves() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree.build([])
    with pytest.raises(ValueError, match=r"leaves\[1\] must be 32 bytes"):
        MerkleTree.build([bytes(32), bytes(64)])


def test_proof_lists_siblings_from_the_leaf_up() -> None:
    b = batch(5)  # positions: 0 root; 1, 2 and 3 inner; leaves 4, 3, 2, 1, 0 at positions 4 .. 8
    assert b.tree.proof(0) == [b.nodes[7], b.nodes[4], b.nodes[2]]
    assert b.tree.proof(3) == [b.nodes[6], b.nodes[1]]
    assert b.tree.proof(4) == [b.nodes[3], b.nodes[2]]


@pytest.mark.parametrize("index", [-1, 5, 2**64])
def test_leaf_and_proof_reject_an_index_outside_the_tree(index: int) -> None:
    with pytest.raises(IndexError):
        batch(5).tree.proof(index)
    with pytest.raises(IndexError):
        batch(5).tree.leaf(index)


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64, 96 + 1, 128, 32 * 1000])
def test_from_bytes_rejects_a_length_that_is_no_tree(length: int) -> None:
    with pytest.raises(ValueError, match="32 \\* \\(2n-1\\) bytes"):
        MerkleTree.from_bytes(bytes(length))


def test_from_bytes_serves_proofs_of_the_stored_tree() -> None:
    b = batch(100)
    stored = MerkleTree.from_bytes(bytearray(b.tree.to_bytes()))
    assert stored == b.tree
    assert (stored.root, stored.size) == (b.tree.root, 100)
    assert [stored.proof(i) for i in range(100)] == [b.tree.proof(i) for i in range(100)]
    assert MerkleTree.from_bytes(bytes(32 * 199)).size == 100  # length alone is validated: no rehashing on load


def test_expected_proof_length_is_the_depth_of_the_leaf() -> None:
    assert [expected_proof_length(i, 7) for i in range(7)] == [3, 3, 3, 3, 3, 3, 2]
    assert [expected_proof_length(i, 8) for i in range(8)] == [3] * 8
    assert expected_proof_length(0, 1) == 0
    assert expected_proof_length(0, 2**40 + 1) == 41
    with pytest.raises(IndexError):
        expected_proof_length(3, 3)
    with pytest.raises(ValueError):
        expected_proof_length(0, 0)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(merkle, raise_on_error=True).attempted >= 20


# Adversarial proofs


@pytest.mark.parametrize("size", SIZES)
def test_genuine_proofs_verify_for_every_leaf(size: int) -> None:
    b = batch(size)
    for index in range(size):
        assert verify_proof(**genuine(b, index))  # type: ignore[arg-type]
        assert verify_document(**b.fields(index), index=index, proof=b.tree.proof(index), root=b.tree.root, size=size)


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_an_index_off_by_one(size: int) -> None:
    b = batch(size)
    for index in indexes_under_attack(size):
        proof = b.tree.proof(index)
        for wrong in (index - 1, index + 1):
            # The attacker recomputes the leaf with the index they claim: the root changes.
            if 0 <= wrong < 2**256:
                forged = leaf_hash(b.documents[index], CITY, b.salts[index], wrong)
                assert not verify_proof(leaf=forged, proof=proof, root=b.tree.root, index=wrong, size=size)
                assert process_proof(forged, proof) != b.tree.root
            assert not verify_document(**b.fields(index), index=wrong, proof=proof, root=b.tree.root, size=size)
            # The untouched leaf under another index: only the depth can tell, the opaque leaf cannot.
            same_depth = 0 <= wrong < size and expected_proof_length(wrong, size) == len(proof)
            assert verify_proof(leaf=b.leaves[index], proof=proof, root=b.tree.root, index=wrong, size=size) is (
                same_depth
            )


def test_index_off_by_one_across_a_depth_change_is_rejected_by_the_proof_length() -> None:
    b = batch(7)  # leaves 0..5 are at depth 3, leaf 6 at depth 2
    assert not verify_proof(leaf=b.leaves[5], proof=b.tree.proof(5), root=b.tree.root, index=6, size=7)
    assert not verify_proof(leaf=b.leaves[6], proof=b.tree.proof(6), root=b.tree.root, index=5, size=7)


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_a_size_of_another_depth_and_leaves_the_rest_to_the_anchor(size: int) -> None:
    b = batch(size)
    for index in indexes_under_attack(size):
        proof = b.tree.proof(index)
        for wrong in {size - 1, size + 1, 2 * size, 2 * size + 1, size // 2, 0, -1}:
            if wrong == size:
                continue
            same_shape = 0 <= index < wrong and expected_proof_length(index, wrong) == len(proof)
            arguments = {"proof": proof, "root": b.tree.root, "index": index, "size": wrong}
            assert verify_proof(leaf=b.leaves[index], **arguments) is same_shape  # type: ignore[arg-type]
            assert verify_document(**b.fields(index), **arguments) is same_shape  # type: ignore[arg-type]


def test_size_claims_of_the_same_depth_pass_the_python_check() -> None:
    # Documented limit: 7 and 8 leaves put leaf 0 at depth 3 alike; Notary.anchorOf(root).size says which is true.
    b = batch(7)
    assert verify_proof(leaf=b.leaves[0], proof=b.tree.proof(0), root=b.tree.root, index=0, size=8)
    assert not verify_proof(leaf=b.leaves[0], proof=b.tree.proof(0), root=b.tree.root, index=0, size=9)
    assert not verify_proof(leaf=b.leaves[6], proof=b.tree.proof(6), root=b.tree.root, index=6, size=8)


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_a_wrong_leaf_or_root(size: int) -> None:
    b, other = batch(size), batch(size + 1)
    for index in indexes_under_attack(size):
        arguments = genuine(b, index)
        for leaf in (keccak(b"not a leaf"), bytes(32), other.leaves[index], b.tree.root):
            if leaf != b.leaves[index] and not (size == 1 and leaf == b.tree.root):
                assert not verify_proof(**{**arguments, "leaf": leaf})  # type: ignore[arg-type]
        for root in (other.tree.root, bytes(32), b.leaves[index] if size > 1 else keccak(b"x")):
            assert not verify_proof(**{**arguments, "root": root})  # type: ignore[arg-type]
        for index_other in (index - 1, index + 1):
            if 0 <= index_other < size:
                assert not verify_proof(**{**arguments, "leaf": b.leaves[index_other]})  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_every_flipped_bit(size: int) -> None:
    b = batch(size)
    root = b.tree.root
    for index in indexes_under_attack(size):
        leaf, proof = b.leaves[index], b.tree.proof(index)
        for bit in range(256):
            assert not verify_proof(leaf=flip(leaf, bit), proof=proof, root=root, index=index, size=size)
            assert not verify_proof(leaf=leaf, proof=proof, root=flip(root, bit), index=index, size=size)
            for k in range(len(proof)):
                corrupted = [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]]
                assert not verify_proof(leaf=leaf, proof=corrupted, root=root, index=index, size=size)
                assert process_proof(leaf, corrupted) != root


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_truncated_and_extended_proofs(size: int) -> None:
    b = batch(size)
    root = b.tree.root
    for index in indexes_under_attack(size):
        leaf, proof = b.leaves[index], b.tree.proof(index)
        altered = [proof[:-1], proof[1:], proof[:-2], []] if proof else []
        for extra in (root, bytes(32), leaf, keccak(b"extra"), *proof):
            altered += [[*proof, extra], [extra, *proof], [*proof[:1], extra, *proof[1:]]]
        altered = [candidate for candidate in altered if candidate != proof]
        assert altered
        for candidate in altered:
            assert not verify_proof(leaf=leaf, proof=candidate, root=root, index=index, size=size)
            assert process_proof(leaf, candidate) != root  # the hash path alone rejects them too


@pytest.mark.parametrize("size", SIZES)
def test_inner_node_as_leaf_is_rejected_unless_depths_match_and_never_as_a_document(size: int) -> None:
    b = batch(size)
    claimed = indexes_under_attack(size)
    for position in range(size - 1):  # every inner node, the root included
        inner, path = b.nodes[position], b.path(position)
        assert process_proof(inner, path) == b.tree.root  # OpenZeppelin's MerkleProof alone would accept it
        # An inner node hashes 64 bytes (its sorted children); a leaf hashes the 32-byte hash of its 128-byte
        # encoding. Only keccak of 32 bytes can equal a leaf, so no document's fields produce an inner node.
        assert inner == keccak(b"".join(sorted([b.nodes[2 * position + 1], b.nodes[2 * position + 2]])))
        assert inner not in b.leaves
        for index in claimed:
            depth_matches = expected_proof_length(index, size) == len(path)
            assert verify_proof(leaf=inner, proof=path, root=b.tree.root, index=index, size=size) is depth_matches
            assert not verify_document(**b.fields(index), index=index, proof=path, root=b.tree.root, size=size)


def test_inner_node_at_leaf_depth_is_caught_by_recomputing_the_leaf() -> None:
    b = batch(3)  # node 1 (inner) and leaf 2 (position 2) are both at depth 1
    assert verify_proof(leaf=b.nodes[1], proof=[b.nodes[2]], root=b.tree.root, index=2, size=3)
    assert not verify_document(**b.fields(2), index=2, proof=[b.nodes[2]], root=b.tree.root, size=3)


@pytest.mark.parametrize("size", SIZES)
def test_verify_rejects_the_proof_of_another_index(size: int) -> None:
    b = batch(size)
    attacked = indexes_under_attack(size)
    for index in attacked:
        for other in attacked:
            if other == index:
                continue
            proof = b.tree.proof(other)
            assert not verify_proof(leaf=b.leaves[index], proof=proof, root=b.tree.root, index=index, size=size)
            assert not verify_document(**b.fields(index), index=index, proof=proof, root=b.tree.root, size=size)
            # The whole genuine proof of `other` presented under `index`: its document's leaf binds `other`.
            assert not verify_document(**b.fields(other), index=index, proof=proof, root=b.tree.root, size=size)


@pytest.mark.parametrize(
    "change",
    [
        {"index": True},
        {"index": 0.0},
        {"size": 0},
        {"size": -5},
        {"index": -1},
        {"leaf": bytes(31)},
        {"root": bytes(33)},
        {"proof": [bytes(31), bytes(32), bytes(32)]},
    ],
)
def test_verify_returns_false_for_malformed_input(change: dict[str, object]) -> None:
    b = batch(8)
    assert verify_proof(**genuine(b, 0))  # type: ignore[arg-type]
    assert verify_proof(**{**genuine(b, 0), **change}) is False  # type: ignore[arg-type]


def test_process_proof_rejects_nodes_that_are_not_words() -> None:
    with pytest.raises(ValueError):
        process_proof(bytes(32), [bytes(31)])
    with pytest.raises(ValueError):
        process_proof(bytes(20), [])


# Properties over every size


def test_every_size_up_to_1000_builds_the_reference_tree_and_proves_its_leaves() -> None:
    rng = random.Random(6962)
    for size in range(1, 1001):
        b = batch(size) if size in SIZES else None
        leaves = b.leaves if b else [rng.randbytes(32) for _ in range(size)]
        tree = b.tree if b else MerkleTree.build(leaves)
        if size <= 300 or size % 97 == 0:
            assert tree.to_bytes() == b"".join(reference_tree(leaves))
        for index in {0, size - 1, rng.randrange(size), rng.randrange(size)}:
            proof = tree.proof(index)
            assert len(proof) == expected_proof_length(index, size)
            assert verify_proof(leaf=leaves[index], proof=proof, root=tree.root, index=index, size=size)
        assert MerkleTree.from_bytes(tree.to_bytes()) == tree


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 1000), st.data())
def test_any_stored_tree_round_trips_and_proves_any_leaf(size: int, data: st.DataObject) -> None:
    leaves = [data.draw(st.binary(min_size=32, max_size=32)) for _ in range(min(size, 3))]
    leaves += [keccak(size.to_bytes(4, "big") + i.to_bytes(4, "big")) for i in range(size - len(leaves))]
    tree = MerkleTree.build(leaves)
    stored = MerkleTree.from_bytes(tree.to_bytes())
    index = data.draw(st.integers(0, size - 1))
    assert (stored.root, stored.size, stored.leaf(index)) == (tree.root, size, leaves[index])
    assert verify_proof(leaf=leaves[index], proof=stored.proof(index), root=tree.root, index=index, size=size)


# Fuzzing the verifiers with mutations of genuine proofs

FUZZ_SIZES = (1, 2, 3, 5, 7, 8, 9, 16, 33, 100)
Claim = dict[str, object]


@cache
def mutations(size: int) -> st.SearchStrategy[Callable[[Claim], Claim]]:
    """The mutations of a claim on `batch(size)`; built once per size: building a strategy costs more than a draw."""
    b = batch(size)
    any_node = st.sampled_from(b.nodes)
    word = st.one_of(any_node, st.binary(min_size=32, max_size=32))
    position = st.integers(0, 12)
    bit = st.integers(0, 255)

    def flipped(key: str) -> st.SearchStrategy[Callable[[Claim], Claim]]:
        return bit.map(lambda n: lambda c: {**c, key: flip(c[key], n)})  # type: ignore[arg-type]

    def proof_edit(
        edit: Callable[[list[bytes], int, bytes, int], list[bytes]],
    ) -> st.SearchStrategy[Callable[[Claim], Claim]]:
        return st.tuples(position, word, bit).map(
            lambda t: lambda c: {**c, "proof": edit(list(c["proof"]), t[0], t[1], t[2])}  # type: ignore[call-overload]
        )

    def flip_element(proof: list[bytes], k: int, _: bytes, n: int) -> list[bytes]:
        if proof:
            proof[k % len(proof)] = flip(proof[k % len(proof)], n)
        return proof

    def replace_element(proof: list[bytes], k: int, w: bytes, _: int) -> list[bytes]:
        if proof:
            proof[k % len(proof)] = w
        return proof

    def insert_element(proof: list[bytes], k: int, w: bytes, _: int) -> list[bytes]:
        proof.insert(k % (len(proof) + 1), w)
        return proof

    def drop_element(proof: list[bytes], k: int, _: bytes, __: int) -> list[bytes]:
        if proof:
            del proof[k % len(proof)]
        return proof

    other_index = st.integers(0, b.size - 1)
    return st.one_of(
        flipped("document_hash"),
        flipped("administration"),
        flipped("salt"),
        flipped("root"),
        flipped("leaf"),
        proof_edit(flip_element),
        proof_edit(replace_element),
        proof_edit(insert_element),
        proof_edit(drop_element),
        st.integers(-2, b.size + 2).map(lambda i: lambda c: {**c, "index": i}),
        st.integers(-1, 2 * b.size + 2).map(lambda s: lambda c: {**c, "size": s}),
        other_index.map(lambda i: lambda c: {**c, "proof": b.tree.proof(i)}),
        other_index.map(lambda i: lambda c: {**c, **b.fields(i), "leaf": b.leaves[i]}),
        st.integers(0, len(b.nodes) - 1).map(lambda p: lambda c: {**c, "leaf": b.nodes[p], "proof": b.path(p)}),
        any_node.map(lambda node: lambda c: {**c, "root": node}),
    )


@st.composite
def claims(draw: st.DrawFn) -> tuple[Batch, Claim, Claim]:
    b = batch(draw(st.sampled_from(FUZZ_SIZES)))
    index = draw(st.integers(0, b.size - 1))
    original: Claim = {**b.fields(index), **genuine(b, index)}
    claim = original
    for mutate in draw(st.lists(mutations(b.size), max_size=4)):
        claim = mutate(claim)
    return b, original, claim


def structurally_fits(claim: Claim) -> bool:
    index, size, proof = claim["index"], claim["size"], claim["proof"]
    assert isinstance(index, int) and isinstance(size, int) and isinstance(proof, list)
    return 0 <= index < size and expected_proof_length(index, size) == len(proof)


@settings(max_examples=800, deadline=None)
@given(claims())
def test_fuzzed_document_claims_verify_only_when_genuine(generated: tuple[Batch, Claim, Claim]) -> None:
    """Accepted iff the fields are those of the document at the claimed index, with that leaf's real proof and
    the real root, and the claimed size gives that proof's length (the anchored size settles the rest)."""
    b, _, claim = generated
    index = claim["index"]
    is_genuine = (
        isinstance(index, int)
        and 0 <= index < b.size
        and {k: claim[k] for k in ("document_hash", "administration", "salt")} == b.fields(index)
        and claim["proof"] == b.tree.proof(index)
        and claim["root"] == b.tree.root
        and structurally_fits(claim)
    )
    arguments = {k: claim[k] for k in ("document_hash", "administration", "salt", "index", "proof", "root", "size")}
    assert verify_document(**arguments) is is_genuine  # type: ignore[arg-type]


@settings(max_examples=800, deadline=None)
@given(claims())
# An inner node claimed as the one leaf of a tree whose root it is, and a leaf with its path cut short to a subtree.
@example((batch(5), {}, {"leaf": batch(5).nodes[1], "proof": [], "root": batch(5).nodes[1], "index": 0, "size": 1}))
@example(
    (
        batch(1),
        {},
        {"leaf": flip(batch(1).nodes[0], 3), "proof": [], "root": flip(batch(1).nodes[0], 3), "index": 0, "size": 1},
    )
)
@example(
    (
        batch(8),
        {},
        {"leaf": batch(8).nodes[7], "proof": batch(8).path(7)[:2], "root": batch(8).nodes[1], "index": 1, "size": 4},
    )
)
def test_fuzzed_leaf_claims_verify_only_for_a_real_node_and_its_path(generated: tuple[Batch, Claim, Claim]) -> None:
    """For an opaque leaf: accepted iff it is a node of the tree presented with its own path up to the claimed root,
    the real root or one of the node's ancestors (a subtree's root: never anchored, so never believed), in a shape
    the claimed index and size allow. The node is a real leaf whenever the index was recomputed into it. Any word
    is the one leaf of the tree it is the root of: a leaf and root flipped alike, with no proof, verify."""
    b, _, claim = generated
    leaf, proof, root = claim["leaf"], claim["proof"], claim["root"]
    is_node_with_its_path = (leaf == root and proof == []) or any(
        leaf == node and proof == b.path(position)[:steps] and root == b.nodes[b.ancestor(position, steps)]
        for position, node in enumerate(b.nodes)
        for steps in range(len(b.path(position)) + 1)
    )
    is_genuine = is_node_with_its_path and structurally_fits(claim)
    arguments = {k: claim[k] for k in ("leaf", "proof", "root", "index", "size")}
    assert verify_proof(**arguments) is is_genuine  # type: ignore[arg-type]
