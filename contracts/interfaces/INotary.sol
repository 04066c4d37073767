// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {IAdministrationRegistry} from "./IAdministrationRegistry.sol";

/**
 * @dev External interface of {Notary}: write-once Merkle roots anchored by member administrations, and
 * revocation of single leaves by the administration that anchored them.
 */
interface INotary {
    /**
     * @dev The record of an anchored root: who anchored it, how many leaves the tree has, and when.
     * A root that was never anchored reads as a zeroed record (`size == 0`).
     */
    struct Anchor {
        bytes32 administration;
        address account;
        uint64 size;
        uint64 blockNumber;
        uint64 timestamp;
    }

    /**
     * @dev The record of a revoked leaf: the administration that revoked it, the root it was proven against,
     * when, and why. A leaf that was never revoked reads as a zeroed record (`root == 0`).
     */
    struct Revocation {
        bytes32 administration;
        bytes32 root;
        uint64 blockNumber;
        uint64 timestamp;
        string reason;
    }

    /**
     * @dev The registry address given to the constructor is the zero address.
     */
    error NotaryInvalidRegistry();

    /**
     * @dev The `account` does not act for an administration that is admitted and not suspended.
     */
    error NotaryNotActiveMember(address account);

    /**
     * @dev The tree size is zero.
     */
    error NotaryEmptyTree();

    /**
     * @dev The root is zero.
     */
    error NotaryInvalidRoot();

    /**
     * @dev The `root` has already been anchored; roots are write-once.
     */
    error NotaryRootAlreadyAnchored(bytes32 root);

    /**
     * @dev The `root` has not been anchored.
     */
    error NotaryUnknownRoot(bytes32 root);

    /**
     * @dev The caller acts for `administration`, which is not the administration that anchored `root`.
     */
    error NotaryNotIssuer(bytes32 root, bytes32 administration);

    /**
     * @dev The proof does not show that `leaf` is in the tree of `root`.
     */
    error NotaryInvalidProof(bytes32 root, bytes32 leaf);

    /**
     * @dev The `leaf` has already been revoked.
     */
    error NotaryLeafAlreadyRevoked(bytes32 leaf);

    /**
     * @dev Emitted when `account`, acting for `administration`, anchors `root` of a tree of `size` leaves.
     */
    event RootAnchored(bytes32 indexed root, bytes32 indexed administration, address indexed account, uint64 size);

    /**
     * @dev Emitted when `administration` revokes `leaf`, proven to be in its anchored `root`, for `reason`.
     */
    event LeafRevoked(bytes32 indexed leaf, bytes32 indexed root, bytes32 indexed administration, string reason);

    /**
     * @dev Anchors `root`, the Merkle root of a tree of `size` leaves, for the caller's administration.
     */
    function anchorRoot(bytes32 root, uint64 size) external;

    /**
     * @dev Revokes `leaf`, which `proof` shows to be in `root`, anchored by the caller's administration.
     */
    function revoke(bytes32 root, bytes32 leaf, bytes32[] calldata proof, string calldata reason) external;

    /**
     * @dev Returns true if `root` is anchored and `proof` shows that `leaf` is in its tree.
     */
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external view returns (bool);

    /**
     * @dev Returns the anchor record of `root`, zeroed if it was never anchored.
     */
    function anchorOf(bytes32 root) external view returns (Anchor memory);

    /**
     * @dev Returns true if `root` has been anchored.
     */
    function isAnchored(bytes32 root) external view returns (bool);

    /**
     * @dev Returns the revocation record of `leaf`, zeroed if it was never revoked.
     */
    function revocationOf(bytes32 leaf) external view returns (Revocation memory);

    /**
     * @dev Returns true if `leaf` has been revoked.
     */
    function isRevoked(bytes32 leaf) external view returns (bool);

    /**
     * @dev Returns the registry of member administrations this notary trusts.
     */
    function registry() external view returns (IAdministrationRegistry);
}
