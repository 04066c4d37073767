// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {AdministrationRegistry} from "../../AdministrationRegistry.sol";
import {Notary} from "../../Notary.sol";
import {INotary} from "../../interfaces/INotary.sol";
import {Test} from "../utils/Test.sol";
import {NotaryHandler} from "./NotaryHandler.sol";

/**
 * @dev Invariants of the registry and the notary under random sequences of calls from random actors
 * (see {NotaryHandler}).
 */
contract NotaryInvariantsTest is Test {
    AdministrationRegistry private registry;
    Notary private notary;
    NotaryHandler private handler;

    function setUp() public {
        address governance = address(0xA11CE);
        registry = new AdministrationRegistry(governance);
        notary = new Notary(registry);
        bytes32[] memory ids = new bytes32[](3);
        ids[0] = keccak256("city");
        ids[1] = keccak256("county");
        ids[2] = keccak256("region");
        handler = new NotaryHandler(registry, notary, governance, ids);
        targetContract(address(handler));
    }

    function invariant_OnlyGovernanceChangesRegistry() public view {
        assertEq(handler.unauthorizedRegistryChanges(), 0, "registry changed by an account without GOVERNANCE_ROLE");
    }

    function invariant_OnlyActiveMembersAnchor() public view {
        assertEq(handler.anchorsByInactiveAccounts(), 0, "root anchored by an account that is not an active member");
        assertEq(handler.invalidAnchorsAccepted(), 0, "zero root or empty tree anchored");
    }

    function invariant_SuspendedAdministrationNeverAnchors() public view {
        assertEq(handler.anchorsBySuspendedAdministrations(), 0, "root anchored by a suspended administration");
    }

    function invariant_AnchoredRootNeverChanges() public view {
        assertEq(handler.rootOverwrites(), 0, "anchored root anchored again");
        uint256 count = handler.rootCount();
        for (uint256 i = 0; i < count; ++i) {
            bytes32 root = handler.rootAt(i);
            INotary.Anchor memory expected = handler.expectedAnchor(root);
            INotary.Anchor memory actual = notary.anchorOf(root);
            assertEq(actual.administration, expected.administration, "anchor administration changed");
            assertEq(actual.account, expected.account, "anchor account changed");
            assertEq(actual.size, expected.size, "anchor size changed");
            assertEq(actual.blockNumber, expected.blockNumber, "anchor block changed");
            assertEq(actual.timestamp, expected.timestamp, "anchor timestamp changed");
        }
    }

    function invariant_OnlyIssuerRevokesProvenLeaves() public view {
        assertEq(handler.revocationsByNonIssuers(), 0, "leaf revoked by an account that is not the issuer");
        assertEq(handler.revocationsWithoutInclusion(), 0, "leaf revoked without being in the root");
        assertEq(handler.repeatedRevocations(), 0, "leaf revoked twice");
        uint256 count = handler.revokedLeafCount();
        for (uint256 i = 0; i < count; ++i) {
            INotary.Revocation memory revocation = notary.revocationOf(handler.revokedLeafAt(i));
            assertEq(
                revocation.administration,
                notary.anchorOf(revocation.root).administration,
                "revocation recorded for another administration than the root's issuer"
            );
        }
    }
}
