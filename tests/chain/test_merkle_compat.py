"""chain.merkle against the two implementations it must agree with: OpenZeppelin's JS StandardMerkleTree (same
nodes, same proofs) and the deployed Notary's MerkleProof (anchored roots verify, our proofs revoke)."""

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from segell.chain import errors
from segell.chain.deploy import deploy
from segell.chain.merkle import MerkleTree, leaf_hash, leaf_hashes, verify_proof
from segell.chain.nodes import ChainNode, start_node
from segell.chain.notary import NotaryClient
from segell.chain.registry import RegistryClient
from segell.chain.transactions import send_transaction

REPO = Path(__file__).resolve().parents[2]
OZ_SCRIPT = Path(__file__).with_name("oz_merkle_tree.js")
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree" / "package.json"
NODE = shutil.which("node")
COMPAT_SIZES = (1, 2, 5, 64, 1000)
CITY = b"L01080193".ljust(32, b"\0")


def hexes(words: list[bytes]) -> list[str]:
    return ["0x" + word.hex() for word in words]


@dataclass(frozen=True)
class Values:
    documents: list[bytes]
    salts: list[bytes]
    indexes: list[int]

    def rows(self) -> list[list[str]]:
        return [
            ["0x" + d.hex(), "0x" + CITY.hex(), "0x" + s.hex(), str(i)]
            for d, s, i in zip(self.documents, self.salts, self.indexes, strict=True)
        ]


def batch_values(size: int) -> Values:
    documents = [hashlib.sha256(f"compat {size}/{i}".encode()).digest() for i in range(size)]
    # Odd sizes are salted, even ones use the zero salt of unsalted documents.
    salts = [hashlib.sha256(f"salt {size}/{i}".encode()).digest() if size % 2 else bytes(32) for i in range(size)]
    return Values(documents, salts, list(range(size)))


# Indexes at the edges of uint256, in a tree whose index field is not the position (only leaf_hash is exercised).
EDGE_VALUES = Values(
    documents=[hashlib.sha256(str(i).encode()).digest() for i in range(4)],
    salts=[bytes(32), b"\xff" * 32, bytes(32), b"\x01" * 32],
    indexes=[2**256 - 1, 2**255, 2**64 + 1, 256],
)


@pytest.fixture(scope="module")
def openzeppelin_trees() -> list[dict[str, object]]:
    if NODE is None:
        pytest.skip("node not found: the OpenZeppelin JS comparison needs Node.js (and `npm install`)")
    if not OZ_PACKAGE.is_file():
        pytest.skip("@openzeppelin/merkle-tree not installed: run `npm install` (make setup) to compare with it")
    values = [batch_values(size).rows() for size in COMPAT_SIZES] + [EDGE_VALUES.rows()]
    completed = subprocess.run(
        [NODE, str(OZ_SCRIPT)],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    trees: list[dict[str, object]] = json.loads(completed.stdout)
    assert len(trees) == len(values)
    return trees


@pytest.mark.parametrize("position", range(len(COMPAT_SIZES)), ids=[f"size-{s}" for s in COMPAT_SIZES])
def test_tree_matches_openzeppelin_standard_merkle_tree(
    openzeppelin_trees: list[dict[str, object]], position: int
) -> None:
    size = COMPAT_SIZES[position]
    values = batch_values(size)
    expected = openzeppelin_trees[position]
    tree = MerkleTree.build(leaf_hashes(values.documents, CITY, values.salts))
    blob = tree.to_bytes()
    assert "0x" + tree.root.hex() == expected["root"]
    assert hexes([blob[i : i + 32] for i in range(0, len(blob), 32)]) == expected["tree"]
    assert [hexes(tree.proof(i)) for i in range(size)] == expected["proofs"]


def test_leaf_hash_matches_openzeppelin_for_extreme_indexes(openzeppelin_trees: list[dict[str, object]]) -> None:
    leaves = [
        leaf_hash(d, CITY, s, i)
        for d, s, i in zip(EDGE_VALUES.documents, EDGE_VALUES.salts, EDGE_VALUES.indexes, strict=True)
    ]
    tree = MerkleTree.build(leaves)
    expected = openzeppelin_trees[-1]
    assert "0x" + tree.root.hex() == expected["root"]
    assert [hexes(tree.proof(i)) for i in range(4)] == expected["proofs"]


# On chain

ANCHORED_SIZE = 37


@dataclass
class AnchoredBatch:
    node: ChainNode
    notary: NotaryClient
    issuer: LocalAccount
    tree: MerkleTree
    leaves: list[bytes]


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnchoredBatch]:
    governance: LocalAccount = Account.create()
    node = start_node(
        "embedded", state_dir=tmp_path_factory.mktemp("embedded"), genesis_accounts={governance.address: 10**24}
    )
    try:
        deployment = deploy(node.w3, governance)
        registry = RegistryClient(node.w3, deployment.registry)
        notary = NotaryClient(node.w3, deployment.notary)
        issuer: LocalAccount = Account.create()
        registry.admit_administration(governance, CITY, "Barcelona")
        registry.add_account(governance, CITY, issuer.address)
        send_transaction(node.w3, governance, {"to": issuer.address, "value": 10**18})
        values = batch_values(ANCHORED_SIZE)
        leaves = leaf_hashes(values.documents, CITY, values.salts)
        tree = MerkleTree.build(leaves)
        notary.anchor_root(issuer, tree.root, tree.size)
        yield AnchoredBatch(node, notary, issuer, tree, leaves)
    finally:
        node.stop()


def test_notary_verifies_every_leaf_of_an_anchored_tree(anchored: AnchoredBatch) -> None:
    tree, notary = anchored.tree, anchored.notary
    anchored_size = notary.anchor_of(tree.root).size
    assert anchored_size == ANCHORED_SIZE
    for index, leaf in enumerate(anchored.leaves):
        proof = tree.proof(index)
        assert notary.verify(proof, tree.root, leaf)
        assert verify_proof(leaf=leaf, proof=proof, root=tree.root, index=index, size=anchored_size)


def test_notary_rejects_corrupted_proofs(anchored: AnchoredBatch) -> None:
    tree, notary = anchored.tree, anchored.notary
    leaf, proof = anchored.leaves[10], tree.proof(10)
    corrupted_first = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    for bad_proof in (corrupted_first, proof[:-1], [*proof, tree.root], tree.proof(11), []):
        assert not notary.verify(bad_proof, tree.root, leaf)
    assert not notary.verify(proof, tree.root, anchored.leaves[11])
    assert not notary.verify(proof, MerkleTree.build(anchored.leaves[:36]).root, leaf)  # a root never anchored


def test_notary_revokes_a_leaf_with_our_proof(anchored: AnchoredBatch) -> None:
    tree, notary, issuer = anchored.tree, anchored.notary, anchored.issuer
    leaf = anchored.leaves[36]  # the shallowest leaf: its proof is one sibling shorter than leaf 0's
    assert len(tree.proof(36)) < len(tree.proof(0))
    with pytest.raises(errors.InvalidProof):
        notary.revoke(issuer, tree.root, leaf, tree.proof(35), "wrong proof")
    assert not notary.is_revoked(leaf)
    notary.revoke(issuer, tree.root, leaf, tree.proof(36), "superseded")
    revocation = notary.revocation_of(leaf)
    assert (revocation.administration, revocation.root, revocation.reason) == (CITY, tree.root, "superseded")
    assert notary.is_revoked(leaf) and not notary.is_revoked(anchored.leaves[0])
