// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/**
 * @dev Builds sorted-pair keccak256 Merkle trees and proofs in tests, the tree shape OpenZeppelin's {MerkleProof}
 * verifies. Pairs are taken left to right on each level; an odd node is carried up unchanged.
 */
library MerkleTrees {
    /// @dev A leaf hashed twice, as OpenZeppelin's StandardMerkleTree does, so that it can never equal an inner node.
    function leaf(uint256 seed, uint256 index) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(seed, index))));
    }

    function leaves(uint256 seed, uint256 count) internal pure returns (bytes32[] memory result) {
        result = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            result[i] = leaf(seed, i);
        }
    }

    function root(bytes32[] memory nodes) internal pure returns (bytes32) {
        require(nodes.length > 0, "MerkleTrees: empty tree");
        bytes32[] memory level = nodes;
        while (level.length > 1) {
            level = _parentLevel(level);
        }
        return level[0];
    }

    function proof(bytes32[] memory nodes, uint256 index) internal pure returns (bytes32[] memory path) {
        require(index < nodes.length, "MerkleTrees: index out of range");
        bytes32[] memory scratch = new bytes32[](256);
        uint256 length = 0;
        bytes32[] memory level = nodes;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) {
                scratch[length++] = level[sibling];
            }
            level = _parentLevel(level);
            index /= 2;
        }
        path = new bytes32[](length);
        for (uint256 i = 0; i < length; ++i) {
            path[i] = scratch[i];
        }
    }

    function _parentLevel(bytes32[] memory level) private pure returns (bytes32[] memory parents) {
        parents = new bytes32[]((level.length + 1) / 2);
        for (uint256 i = 0; i < parents.length; ++i) {
            uint256 left = 2 * i;
            parents[i] =
                left + 1 < level.length ? Hashes.commutativeKeccak256(level[left], level[left + 1]) : level[left];
        }
    }
}
