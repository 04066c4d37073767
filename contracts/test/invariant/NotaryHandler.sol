// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {AdministrationRegistry} from "../../AdministrationRegistry.sol";
import {Notary} from "../../Notary.sol";
import {INotary} from "../../interfaces/INotary.sol";
import {MerkleTrees} from "../utils/MerkleTrees.sol";
import {Vm} from "../utils/Vm.sol";

/**
 * @dev Drives the registry and the notary for invariant tests: every action is tried from an arbitrary actor
 * (governance, member accounts, spare accounts), and every call that succeeds is checked against what the rules
 * allowed at that moment. Rule breaks are counted in ghost variables the invariants assert to be zero.
 */
contract NotaryHandler {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    AdministrationRegistry public immutable registry;
    Notary public immutable notary;
    bytes32 private immutable _governanceRole;

    address[] private _actors;
    bytes32[] private _ids;

    bytes32[] private _roots;
    mapping(bytes32 root => bytes32[]) private _leavesOf;
    mapping(bytes32 root => INotary.Anchor) private _expectedAnchor;
    bytes32[] private _revokedLeaves;

    uint256 public unauthorizedRegistryChanges;
    uint256 public anchorsByInactiveAccounts;
    uint256 public anchorsBySuspendedAdministrations;
    uint256 public invalidAnchorsAccepted;
    uint256 public rootOverwrites;
    uint256 public revocationsByNonIssuers;
    uint256 public revocationsWithoutInclusion;
    uint256 public repeatedRevocations;

    uint256 public successfulAnchors;
    uint256 public successfulRevocations;
    uint256 public rejectedCalls;

    constructor(AdministrationRegistry registry_, Notary notary_, address governance, bytes32[] memory ids) {
        registry = registry_;
        notary = notary_;
        _governanceRole = registry_.GOVERNANCE_ROLE();
        _actors.push(governance);
        for (uint256 i = 1; i <= 7; ++i) {
            _actors.push(vm.addr(i));
        }
        _ids = ids;
    }

    // registry actions

    function admit(uint256 actorSeed, uint256 idSeed) external {
        (address actor, bool governs) = _actor(actorSeed);
        bytes32 id = _id(idSeed);
        vm.prank(actor);
        try registry.admitAdministration(id, "administration") {
            _afterRegistryChange(governs);
        } catch {
            ++rejectedCalls;
        }
    }

    function addAccount(uint256 actorSeed, uint256 idSeed, uint256 accountSeed) external {
        (address actor, bool governs) = _actor(actorSeed);
        (address account,) = _actor(accountSeed);
        vm.prank(actor);
        try registry.addAccount(_id(idSeed), account) {
            _afterRegistryChange(governs);
        } catch {
            ++rejectedCalls;
        }
    }

    function removeAccount(uint256 actorSeed, uint256 idSeed, uint256 accountSeed) external {
        (address actor, bool governs) = _actor(actorSeed);
        (address account,) = _actor(accountSeed);
        vm.prank(actor);
        try registry.removeAccount(_id(idSeed), account) {
            _afterRegistryChange(governs);
        } catch {
            ++rejectedCalls;
        }
    }

    function suspend(uint256 actorSeed, uint256 idSeed) external {
        (address actor, bool governs) = _actor(actorSeed);
        vm.prank(actor);
        try registry.suspendAdministration(_id(idSeed)) {
            _afterRegistryChange(governs);
        } catch {
            ++rejectedCalls;
        }
    }

    function reinstate(uint256 actorSeed, uint256 idSeed) external {
        (address actor, bool governs) = _actor(actorSeed);
        vm.prank(actor);
        try registry.reinstateAdministration(_id(idSeed)) {
            _afterRegistryChange(governs);
        } catch {
            ++rejectedCalls;
        }
    }

    // notary actions

    function anchorNewTree(uint256 actorSeed, uint256 treeSeed, uint8 leafCount, uint64 size) external {
        bytes32[] memory leaves = MerkleTrees.leaves(treeSeed, 1 + (leafCount % 8));
        _anchor(actorSeed, MerkleTrees.root(leaves), leaves, size);
    }

    function anchorExistingRoot(uint256 actorSeed, uint256 rootSeed, uint64 size) external {
        if (_roots.length == 0) return;
        bytes32 root = _roots[rootSeed % _roots.length];
        _anchor(actorSeed, root, _leavesOf[root], size);
    }

    function anchorZeroRoot(uint256 actorSeed, uint64 size) external {
        _anchor(actorSeed, bytes32(0), new bytes32[](0), size);
    }

    function revoke(uint256 actorSeed, uint256 rootSeed, uint256 leafSeed, bool tamper) external {
        if (_roots.length == 0) return;
        (address actor,) = _actor(actorSeed);
        bytes32 root = _roots[rootSeed % _roots.length];
        bytes32[] memory leaves = _leavesOf[root];
        uint256 index = leafSeed % leaves.length;
        bytes32[] memory proof = MerkleTrees.proof(leaves, index);
        // A tampered call claims a leaf that is in no tree, with the proof of a real one.
        bytes32 leaf = tamper ? keccak256(abi.encode("not a leaf", leafSeed)) : leaves[index];

        bool active = registry.isActiveMember(actor);
        bytes32 callerAdministration = registry.administrationOf(actor);
        bool alreadyRevoked = notary.isRevoked(leaf);
        vm.prank(actor);
        try notary.revoke(root, leaf, proof, "revoked") {
            ++successfulRevocations;
            _revokedLeaves.push(leaf);
            if (!active || callerAdministration != _expectedAnchor[root].administration) ++revocationsByNonIssuers;
            if (tamper) ++revocationsWithoutInclusion;
            if (alreadyRevoked) ++repeatedRevocations;
        } catch {
            ++rejectedCalls;
        }
    }

    function advanceTime(uint256 blocks, uint256 secondsPerBlock) external {
        blocks = 1 + (blocks % 1000);
        vm.roll(block.number + blocks);
        vm.warp(block.timestamp + blocks * (1 + (secondsPerBlock % 15)));
    }

    // views for the invariants

    function rootCount() external view returns (uint256) {
        return _roots.length;
    }

    function rootAt(uint256 index) external view returns (bytes32) {
        return _roots[index];
    }

    function expectedAnchor(bytes32 root) external view returns (INotary.Anchor memory) {
        return _expectedAnchor[root];
    }

    function revokedLeafCount() external view returns (uint256) {
        return _revokedLeaves.length;
    }

    function revokedLeafAt(uint256 index) external view returns (bytes32) {
        return _revokedLeaves[index];
    }

    // internals

    function _anchor(uint256 actorSeed, bytes32 root, bytes32[] memory leaves, uint64 size) private {
        (address actor,) = _actor(actorSeed);
        // Mostly a real size, sometimes zero, so both paths are exercised.
        size = size % 16 == 0 ? 0 : uint64(leaves.length);
        bool active = registry.isActiveMember(actor);
        bytes32 administration = registry.administrationOf(actor);
        bool suspended = administration != bytes32(0) && registry.getAdministration(administration).suspended;
        bool alreadyAnchored = _expectedAnchor[root].size != 0;

        vm.prank(actor);
        try notary.anchorRoot(root, size) {
            ++successfulAnchors;
            if (!active || administration == bytes32(0)) ++anchorsByInactiveAccounts;
            if (suspended) ++anchorsBySuspendedAdministrations;
            if (root == bytes32(0) || size == 0) ++invalidAnchorsAccepted;
            if (alreadyAnchored) {
                ++rootOverwrites;
                return;
            }
            _roots.push(root);
            _leavesOf[root] = leaves;
            _expectedAnchor[root] = INotary.Anchor({
                administration: administration,
                account: actor,
                size: size,
                blockNumber: uint64(block.number),
                timestamp: uint64(block.timestamp)
            });
        } catch {
            ++rejectedCalls;
        }
    }

    function _afterRegistryChange(bool governs) private {
        if (!governs) ++unauthorizedRegistryChanges;
    }

    function _actor(uint256 seed) private view returns (address actor, bool governs) {
        // Governance acts in a quarter of the calls so that administrations get admitted and staffed.
        actor = seed % 4 == 0 ? _actors[0] : _actors[seed % _actors.length];
        governs = registry.hasRole(_governanceRole, actor);
    }

    function _id(uint256 seed) private view returns (bytes32) {
        return _ids[seed % _ids.length];
    }
}
