// Builds OpenZeppelin StandardMerkleTrees for the compatibility test of chain/merkle.py.
// stdin: JSON list of trees, each a list of [documentHash, administration, salt, index] (0x-hex words, index as a
// decimal string). stdout: JSON list of {root, tree, proofs} with tree = dump().tree and proofs[i] = getProof(i).
"use strict";

const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const LEAF_ENCODING = ["bytes32", "bytes32", "bytes32", "uint256"];

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const trees = JSON.parse(input).map((values) => {
    const tree = StandardMerkleTree.of(values, LEAF_ENCODING, { sortLeaves: false });
    return {
      root: tree.root,
      tree: tree.dump().tree,
      proofs: values.map((_, i) => tree.getProof(i)),
    };
  });
  process.stdout.write(JSON.stringify(trees));
});
