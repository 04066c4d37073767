// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {AdministrationRegistry} from "../AdministrationRegistry.sol";
import {Notary} from "../Notary.sol";
import {IAdministrationRegistry} from "../interfaces/IAdministrationRegistry.sol";
import {INotary} from "../interfaces/INotary.sol";
import {MerkleTrees} from "./utils/MerkleTrees.sol";
import {Test} from "./utils/Test.sol";

contract NotaryTest is Test {
    bytes32 private constant CITY = keccak256("city-of-girona");
    bytes32 private constant COUNTY = keccak256("county-of-garrotxa");
    uint256 private constant BATCH = 7;

    AdministrationRegistry private registry;
    Notary private notary;
    address private governance = address(0xA11CE);
    address private cityClerk = address(0xC1E4C);
    address private cityArchivist = address(0xA4C);
    address private countyClerk = address(0xC0C1E4C);
    address private outsider = address(0xBAD);

    bytes32[] private batch;
    bytes32 private batchRoot;

    function setUp() public {
        vm.label(governance, "governance");
        vm.label(cityClerk, "cityClerk");
        vm.label(cityArchivist, "cityArchivist");
        vm.label(countyClerk, "countyClerk");
        vm.label(outsider, "outsider");
        registry = new AdministrationRegistry(governance);
        notary = new Notary(registry);
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        registry.admitAdministration(COUNTY, "County of Garrotxa");
        registry.addAccount(CITY, cityClerk);
        registry.addAccount(CITY, cityArchivist);
        registry.addAccount(COUNTY, countyClerk);
        vm.stopPrank();
        batch = MerkleTrees.leaves(1, BATCH);
        batchRoot = MerkleTrees.root(batch);
    }

    function _anchorBatchAsCity() private {
        vm.prank(cityClerk);
        notary.anchorRoot(batchRoot, uint64(BATCH));
    }

    // constructor and registry

    function test_Constructor_SetsRegistry() public view {
        assertEq(address(notary.registry()), address(registry), "registry");
    }

    function test_Constructor_RevertsForZeroRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryInvalidRegistry.selector));
        new Notary(IAdministrationRegistry(address(0)));
    }

    // anchorRoot

    function test_AnchorRoot_StoresRecordAndEmits() public {
        vm.roll(1234);
        vm.warp(1_700_000_000);
        vm.expectEmit(address(notary));
        emit INotary.RootAnchored(batchRoot, CITY, cityClerk, uint64(BATCH));
        _anchorBatchAsCity();

        INotary.Anchor memory anchor = notary.anchorOf(batchRoot);
        assertEq(anchor.administration, CITY, "administration");
        assertEq(anchor.account, cityClerk, "account");
        assertEq(anchor.size, BATCH, "size");
        assertEq(anchor.blockNumber, 1234, "blockNumber");
        assertEq(anchor.timestamp, 1_700_000_000, "timestamp");
        assertTrue(notary.isAnchored(batchRoot), "isAnchored");
    }

    function test_AnchorRoot_RevertsForNonMember() public {
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, outsider));
        vm.prank(outsider);
        notary.anchorRoot(batchRoot, uint64(BATCH));
    }

    function test_AnchorRoot_RevertsForGovernanceWithoutAdministration() public {
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, governance));
        vm.prank(governance);
        notary.anchorRoot(batchRoot, uint64(BATCH));
    }

    function test_AnchorRoot_RevertsForSuspendedAdministration() public {
        vm.prank(governance);
        registry.suspendAdministration(CITY);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, cityClerk));
        _anchorBatchAsCity();
        assertFalse(notary.isAnchored(batchRoot), "not anchored");
    }

    function test_AnchorRoot_WorksAgainAfterReinstatement() public {
        vm.startPrank(governance);
        registry.suspendAdministration(CITY);
        registry.reinstateAdministration(CITY);
        vm.stopPrank();
        _anchorBatchAsCity();
        assertTrue(notary.isAnchored(batchRoot), "anchored");
    }

    function test_AnchorRoot_RevertsForRemovedAccount() public {
        vm.prank(governance);
        registry.removeAccount(CITY, cityClerk);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, cityClerk));
        _anchorBatchAsCity();
    }

    function test_AnchorRoot_RevertsForZeroRoot() public {
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryInvalidRoot.selector));
        vm.prank(cityClerk);
        notary.anchorRoot(bytes32(0), 1);
    }

    function test_AnchorRoot_RevertsForEmptyTree() public {
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryEmptyTree.selector));
        vm.prank(cityClerk);
        notary.anchorRoot(batchRoot, 0);
    }

    function test_AnchorRoot_RevertsWhenAnchoredBySameAdministration() public {
        _anchorBatchAsCity();
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryRootAlreadyAnchored.selector, batchRoot));
        vm.prank(cityArchivist);
        notary.anchorRoot(batchRoot, uint64(BATCH) + 1);
        assertEq(notary.anchorOf(batchRoot).account, cityClerk, "first record kept");
        assertEq(notary.anchorOf(batchRoot).size, BATCH, "first size kept");
    }

    function test_AnchorRoot_RevertsWhenAnchoredByAnotherAdministration() public {
        _anchorBatchAsCity();
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryRootAlreadyAnchored.selector, batchRoot));
        vm.prank(countyClerk);
        notary.anchorRoot(batchRoot, uint64(BATCH));
        assertEq(notary.anchorOf(batchRoot).administration, CITY, "first issuer kept");
    }

    function test_AnchorRoot_KeepsRecordAfterAccountRemovedAndAdministrationSuspended() public {
        _anchorBatchAsCity();
        vm.startPrank(governance);
        registry.removeAccount(CITY, cityClerk);
        registry.suspendAdministration(CITY);
        vm.stopPrank();
        assertEq(notary.anchorOf(batchRoot).administration, CITY, "administration");
        assertTrue(notary.verify(MerkleTrees.proof(batch, 0), batchRoot, batch[0]), "still verifies");
    }

    // revoke

    function test_Revoke_StoresRecordAndEmits() public {
        _anchorBatchAsCity();
        vm.roll(2000);
        vm.warp(1_800_000_000);
        bytes32[] memory proof = MerkleTrees.proof(batch, 3);
        vm.expectEmit(address(notary));
        emit INotary.LeafRevoked(batch[3], batchRoot, CITY, "issued in error");
        vm.prank(cityArchivist);
        notary.revoke(batchRoot, batch[3], proof, "issued in error");

        INotary.Revocation memory revocation = notary.revocationOf(batch[3]);
        assertEq(revocation.administration, CITY, "administration");
        assertEq(revocation.root, batchRoot, "root");
        assertEq(revocation.blockNumber, 2000, "blockNumber");
        assertEq(revocation.timestamp, 1_800_000_000, "timestamp");
        assertEq(revocation.reason, "issued in error", "reason");
        assertTrue(notary.isRevoked(batch[3]), "isRevoked");
        assertFalse(notary.isRevoked(batch[2]), "sibling not revoked");
    }

    function test_Revoke_RevertsForNonMember() public {
        _anchorBatchAsCity();
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, outsider));
        vm.prank(outsider);
        notary.revoke(batchRoot, batch[0], proof, "reason");
    }

    function test_Revoke_RevertsForSuspendedIssuer() public {
        _anchorBatchAsCity();
        vm.prank(governance);
        registry.suspendAdministration(CITY);
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, cityClerk));
        vm.prank(cityClerk);
        notary.revoke(batchRoot, batch[0], proof, "reason");
    }

    function test_Revoke_RevertsForUnknownRoot() public {
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryUnknownRoot.selector, batchRoot));
        vm.prank(cityClerk);
        notary.revoke(batchRoot, batch[0], proof, "reason");
    }

    function test_Revoke_RevertsForAnotherAdministration() public {
        _anchorBatchAsCity();
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotIssuer.selector, batchRoot, COUNTY));
        vm.prank(countyClerk);
        notary.revoke(batchRoot, batch[0], proof, "reason");
        assertFalse(notary.isRevoked(batch[0]), "not revoked");
    }

    function test_Revoke_RevertsForInvalidProof() public {
        _anchorBatchAsCity();
        bytes32[] memory proof = MerkleTrees.proof(batch, 1);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryInvalidProof.selector, batchRoot, batch[0]));
        vm.prank(cityClerk);
        notary.revoke(batchRoot, batch[0], proof, "reason");
    }

    function test_Revoke_RevertsForLeafOfAnotherTree() public {
        _anchorBatchAsCity();
        bytes32 stranger = MerkleTrees.leaf(2, 0);
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryInvalidProof.selector, batchRoot, stranger));
        vm.prank(cityClerk);
        notary.revoke(batchRoot, stranger, proof, "reason");
    }

    function test_Revoke_RevertsWhenAlreadyRevoked() public {
        _anchorBatchAsCity();
        bytes32[] memory proof = MerkleTrees.proof(batch, 4);
        vm.startPrank(cityClerk);
        notary.revoke(batchRoot, batch[4], proof, "first");
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryLeafAlreadyRevoked.selector, batch[4]));
        notary.revoke(batchRoot, batch[4], proof, "second");
        vm.stopPrank();
        assertEq(notary.revocationOf(batch[4]).reason, "first", "first revocation kept");
    }

    // verify and views

    function test_Verify_AcceptsEveryLeafOfAnchoredTree() public {
        _anchorBatchAsCity();
        for (uint256 i = 0; i < BATCH; ++i) {
            assertTrue(notary.verify(MerkleTrees.proof(batch, i), batchRoot, batch[i]), "leaf verifies");
        }
    }

    function test_Verify_RejectsUnanchoredRoot() public view {
        assertFalse(notary.verify(MerkleTrees.proof(batch, 0), batchRoot, batch[0]), "unanchored root");
    }

    function test_Verify_RejectsWrongProofAndForeignLeaf() public {
        _anchorBatchAsCity();
        assertFalse(notary.verify(MerkleTrees.proof(batch, 1), batchRoot, batch[0]), "wrong proof");
        assertFalse(notary.verify(MerkleTrees.proof(batch, 0), batchRoot, MerkleTrees.leaf(2, 0)), "foreign leaf");
    }

    function test_Verify_StillAcceptsRevokedLeaf() public {
        _anchorBatchAsCity();
        bytes32[] memory proof = MerkleTrees.proof(batch, 0);
        vm.prank(cityClerk);
        notary.revoke(batchRoot, batch[0], proof, "reason");
        assertTrue(notary.verify(proof, batchRoot, batch[0]), "inclusion does not change");
        assertTrue(notary.isRevoked(batch[0]), "revoked");
    }

    function test_Views_ReturnZeroedRecordsForUnknownRootAndLeaf() public view {
        INotary.Anchor memory anchor = notary.anchorOf(batchRoot);
        assertEq(anchor.size, 0, "size");
        assertEq(anchor.account, address(0), "account");
        assertFalse(notary.isAnchored(batchRoot), "isAnchored");
        INotary.Revocation memory revocation = notary.revocationOf(batch[0]);
        assertEq(revocation.root, bytes32(0), "root");
        assertEq(revocation.reason, "", "reason");
        assertFalse(notary.isRevoked(batch[0]), "isRevoked");
    }

    // fuzz

    function testFuzz_AnchorRoot_RevertsForAnyNonMember(address caller, bytes32 root, uint64 size) public {
        vm.assume(registry.administrationOf(caller) == bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotActiveMember.selector, caller));
        vm.prank(caller);
        notary.anchorRoot(root, size);
    }

    function testFuzz_AnchorRoot_RecordsAnyRootAndSizeOnce(bytes32 root, uint64 size, uint64 blockNumber) public {
        vm.assume(root != bytes32(0) && size != 0);
        vm.roll(blockNumber);
        vm.prank(countyClerk);
        notary.anchorRoot(root, size);
        INotary.Anchor memory anchor = notary.anchorOf(root);
        assertEq(anchor.administration, COUNTY, "administration");
        assertEq(anchor.size, size, "size");
        assertEq(anchor.blockNumber, blockNumber, "blockNumber");

        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryRootAlreadyAnchored.selector, root));
        vm.prank(cityClerk);
        notary.anchorRoot(root, size);
    }

    function testFuzz_Verify_AcceptsEveryLeafAndRejectsOthers(uint256 seed, uint8 count, uint8 index, bytes32 other)
        public
    {
        uint256 leafCount = bound(count, 1, 64);
        uint256 leafIndex = bound(index, 0, leafCount - 1);
        bytes32[] memory leaves = MerkleTrees.leaves(seed, leafCount);
        bytes32 root = MerkleTrees.root(leaves);
        vm.prank(cityClerk);
        notary.anchorRoot(root, uint64(leafCount));

        bytes32[] memory proof = MerkleTrees.proof(leaves, leafIndex);
        assertTrue(notary.verify(proof, root, leaves[leafIndex]), "member leaf verifies");
        vm.assume(other != leaves[leafIndex]);
        assertFalse(notary.verify(proof, root, other), "other leaf does not verify");
    }

    function testFuzz_Revoke_OnlyIssuerWithValidProof(uint256 seed, uint8 count, uint8 index, string calldata reason)
        public
    {
        uint256 leafCount = bound(count, 1, 32);
        uint256 leafIndex = bound(index, 0, leafCount - 1);
        bytes32[] memory leaves = MerkleTrees.leaves(seed, leafCount);
        bytes32 root = MerkleTrees.root(leaves);
        bytes32[] memory proof = MerkleTrees.proof(leaves, leafIndex);
        vm.prank(cityClerk);
        notary.anchorRoot(root, uint64(leafCount));

        vm.expectRevert(abi.encodeWithSelector(INotary.NotaryNotIssuer.selector, root, COUNTY));
        vm.prank(countyClerk);
        notary.revoke(root, leaves[leafIndex], proof, reason);

        vm.prank(cityArchivist);
        notary.revoke(root, leaves[leafIndex], proof, reason);
        assertEq(notary.revocationOf(leaves[leafIndex]).reason, reason, "reason");
        assertEq(notary.revocationOf(leaves[leafIndex]).administration, CITY, "administration");
    }
}
