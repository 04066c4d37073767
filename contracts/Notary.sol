// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAdministrationRegistry} from "./interfaces/IAdministrationRegistry.sol";
import {INotary} from "./interfaces/INotary.sol";

/**
 * @dev Anchors Merkle roots of batches of notarised hashes for the member administrations of an
 * {AdministrationRegistry}, and records revocations of single leaves.
 *
 * A root is write-once: the first anchor binds it to the anchoring administration and account, the tree size and
 * the block, and nothing can change that record afterwards. Anyone can check that a leaf is in an anchored root
 * with {verify}, which uses OpenZeppelin {MerkleProof} (sorted-pair keccak256 trees, as built by OpenZeppelin's
 * StandardMerkleTree).
 *
 * Leaves must be hashed differently from inner nodes (StandardMerkleTree hashes a leaf twice), otherwise an inner
 * node would verify as a leaf. Revocations are keyed by leaf alone, so leaves should be unique per issuer (for
 * example by encoding the issuing administration or a salt into the leaf); the revocation record names the
 * administration that revoked it.
 */
contract Notary is INotary {
    IAdministrationRegistry private immutable _registry;

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(bytes32 leaf => Revocation) private _revocations;

    /**
     * @dev Sets the registry of member administrations, which cannot be changed afterwards.
     *
     * Requirements:
     *
     * - `administrationRegistry` cannot be the zero address.
     */
    constructor(IAdministrationRegistry administrationRegistry) {
        if (address(administrationRegistry) == address(0)) {
            revert NotaryInvalidRegistry();
        }
        _registry = administrationRegistry;
    }

    /**
     * @dev Anchors `root`, the Merkle root of a tree of `size` leaves, for the administration the caller acts for.
     * The record binds the root to its size, so a verifier reading {anchorOf} or the {RootAnchored} event learns
     * the size the issuer stated together with the root.
     *
     * Requirements:
     *
     * - the caller must be an active member of the registry (its administration admitted and not suspended).
     * - `root` cannot be zero.
     * - `size` cannot be zero.
     * - `root` cannot have been anchored before, by anyone.
     *
     * Emits a {RootAnchored} event.
     */
    function anchorRoot(bytes32 root, uint64 size) external {
        bytes32 administration = _activeAdministrationOf(msg.sender);
        if (root == bytes32(0)) {
            revert NotaryInvalidRoot();
        }
        if (size == 0) {
            revert NotaryEmptyTree();
        }
        if (_anchors[root].size != 0) {
            revert NotaryRootAlreadyAnchored(root);
        }
        // uint64 holds block numbers and timestamps for far longer than any chain will run.
        _anchors[root] = Anchor({
            administration: administration,
            account: msg.sender,
            size: size,
            blockNumber: uint64(block.number),
            timestamp: uint64(block.timestamp)
        });
        emit RootAnchored(root, administration, msg.sender, size);
    }

    /**
     * @dev Revokes `leaf` for `reason`. A leaf can be revoked once, by the administration that issued it.
     *
     * The contract stores roots, not leaves, so the only way it can know who issued a leaf is a proof that the leaf
     * is in a root: `proof` must show that `leaf` is in `root`, and `root` must have been anchored by the
     * administration the caller acts for. A leaf that several administrations anchored can be revoked by any one
     * of them; the record names which.
     *
     * Requirements:
     *
     * - the caller must be an active member of the registry.
     * - `root` must have been anchored.
     * - `root` must have been anchored by the administration the caller acts for.
     * - `proof` must show that `leaf` is in `root` (OpenZeppelin {MerkleProof-verifyCalldata}).
     * - `leaf` cannot have been revoked before.
     *
     * Emits a {LeafRevoked} event.
     */
    function revoke(bytes32 root, bytes32 leaf, bytes32[] calldata proof, string calldata reason) external {
        bytes32 administration = _activeAdministrationOf(msg.sender);
        Anchor storage anchor = _anchors[root];
        if (anchor.size == 0) {
            revert NotaryUnknownRoot(root);
        }
        if (anchor.administration != administration) {
            revert NotaryNotIssuer(root, administration);
        }
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) {
            revert NotaryInvalidProof(root, leaf);
        }
        if (_revocations[leaf].root != bytes32(0)) {
            revert NotaryLeafAlreadyRevoked(leaf);
        }
        _revocations[leaf] = Revocation({
            administration: administration,
            root: root,
            blockNumber: uint64(block.number),
            timestamp: uint64(block.timestamp),
            reason: reason
        });
        emit LeafRevoked(leaf, root, administration, reason);
    }

    /**
     * @dev Returns true if `root` has been anchored and `proof` shows that `leaf` is in its tree. It does not look
     * at revocations: use {isRevoked} or {revocationOf} for that.
     */
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external view returns (bool) {
        return _anchors[root].size != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /**
     * @dev Returns the anchor record of `root`. For a root that was never anchored the record is zeroed
     * (`size == 0`); use {isAnchored} to tell.
     */
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /**
     * @dev Returns true if `root` has been anchored.
     */
    function isAnchored(bytes32 root) external view returns (bool) {
        return _anchors[root].size != 0;
    }

    /**
     * @dev Returns the revocation record of `leaf`. For a leaf that was never revoked the record is zeroed
     * (`root == 0`); use {isRevoked} to tell.
     */
    function revocationOf(bytes32 leaf) external view returns (Revocation memory) {
        return _revocations[leaf];
    }

    /**
     * @dev Returns true if `leaf` has been revoked.
     */
    function isRevoked(bytes32 leaf) external view returns (bool) {
        return _revocations[leaf].root != bytes32(0);
    }

    /**
     * @dev Returns the registry of member administrations this notary trusts.
     */
    function registry() external view returns (IAdministrationRegistry) {
        return _registry;
    }

    /**
     * @dev Returns the administration `account` acts for, reverting with {NotaryNotActiveMember} unless the account
     * is an active member of the registry.
     */
    function _activeAdministrationOf(address account) private view returns (bytes32) {
        if (!_registry.isActiveMember(account)) {
            revert NotaryNotActiveMember(account);
        }
        return _registry.administrationOf(account);
    }
}
