// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {AdministrationRegistry} from "../AdministrationRegistry.sol";
import {IAdministrationRegistry} from "../interfaces/IAdministrationRegistry.sol";
import {Test} from "./utils/Test.sol";

contract AdministrationRegistryTest is Test {
    bytes32 private constant CITY = keccak256("city-of-girona");
    bytes32 private constant COUNTY = keccak256("county-of-garrotxa");

    AdministrationRegistry private registry;
    bytes32 private governanceRole;
    address private governance = address(0xA11CE);
    address private clerk = address(0xC1E4C);
    address private outsider = address(0xBAD);

    function setUp() public {
        vm.label(governance, "governance");
        vm.label(clerk, "clerk");
        vm.label(outsider, "outsider");
        registry = new AdministrationRegistry(governance);
        governanceRole = registry.GOVERNANCE_ROLE();
    }

    function _admitCityWithClerk() private {
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        registry.addAccount(CITY, clerk);
        vm.stopPrank();
    }

    function _unauthorized(address account) private view returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, governanceRole);
    }

    // constructor

    function test_Constructor_GrantsAdminAndGovernanceRoles() public view {
        assertEq(governanceRole, keccak256("GOVERNANCE_ROLE"), "role constant");
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), governance), "admin role");
        assertTrue(registry.hasRole(governanceRole, governance), "governance role");
        assertFalse(registry.hasRole(governanceRole, address(this)), "deployer has no role");
    }

    function test_Constructor_RevertsForZeroGovernance() public {
        vm.expectRevert(abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryZeroAccount.selector));
        new AdministrationRegistry(address(0));
    }

    // admitAdministration

    function test_AdmitAdministration_StoresRecordAndEmits() public {
        vm.warp(1_700_000_000);
        vm.expectEmit(address(registry));
        emit IAdministrationRegistry.AdministrationAdmitted(CITY, "City of Girona");
        vm.prank(governance);
        registry.admitAdministration(CITY, "City of Girona");

        IAdministrationRegistry.Administration memory record = registry.getAdministration(CITY);
        assertEq(record.id, CITY, "id");
        assertEq(record.name, "City of Girona", "name");
        assertFalse(record.suspended, "suspended");
        assertEq(record.admittedAt, 1_700_000_000, "admittedAt");
        assertEq(record.accountCount, 0, "accountCount");
        assertTrue(registry.isAdmitted(CITY), "isAdmitted");
    }

    function test_AdmitAdministration_RevertsWithoutGovernanceRole() public {
        vm.expectRevert(_unauthorized(outsider));
        vm.prank(outsider);
        registry.admitAdministration(CITY, "City of Girona");
    }

    function test_AdmitAdministration_RevertsForZeroId() public {
        vm.expectRevert(abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryInvalidId.selector));
        vm.prank(governance);
        registry.admitAdministration(bytes32(0), "Nobody");
    }

    function test_AdmitAdministration_RevertsForEmptyName() public {
        vm.expectRevert(abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryEmptyName.selector));
        vm.prank(governance);
        registry.admitAdministration(CITY, "");
    }

    function test_AdmitAdministration_RevertsWhenAlreadyAdmitted() public {
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryAlreadyAdmitted.selector, CITY)
        );
        registry.admitAdministration(CITY, "Another name");
        vm.stopPrank();
        assertEq(registry.getAdministration(CITY).name, "City of Girona", "name unchanged");
    }

    function test_AdmitAdministration_WorksForAccountGrantedGovernanceRole() public {
        vm.prank(governance);
        registry.grantRole(governanceRole, outsider);
        vm.prank(outsider);
        registry.admitAdministration(CITY, "City of Girona");
        assertTrue(registry.isAdmitted(CITY), "admitted by the new governance account");
    }

    function test_AdmitAdministration_RevertsAfterGovernanceRoleRevoked() public {
        vm.startPrank(governance);
        registry.revokeRole(governanceRole, governance);
        vm.expectRevert(_unauthorized(governance));
        registry.admitAdministration(CITY, "City of Girona");
        vm.stopPrank();
    }

    // addAccount

    function test_AddAccount_AssignsAccountAndEmits() public {
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        vm.expectEmit(address(registry));
        emit IAdministrationRegistry.AccountAdded(CITY, clerk);
        registry.addAccount(CITY, clerk);
        vm.stopPrank();

        assertEq(registry.administrationOf(clerk), CITY, "administrationOf");
        assertTrue(registry.isActiveMember(clerk), "active");
        assertEq(registry.getAdministration(CITY).accountCount, 1, "accountCount");
    }

    function test_AddAccount_RevertsWithoutGovernanceRole() public {
        vm.prank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        vm.expectRevert(_unauthorized(clerk));
        vm.prank(clerk);
        registry.addAccount(CITY, clerk);
    }

    function test_AddAccount_RevertsForZeroAccount() public {
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        vm.expectRevert(abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryZeroAccount.selector));
        registry.addAccount(CITY, address(0));
        vm.stopPrank();
    }

    function test_AddAccount_RevertsForUnknownAdministration() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryUnknownAdministration.selector, CITY)
        );
        vm.prank(governance);
        registry.addAccount(CITY, clerk);
    }

    function test_AddAccount_RevertsForAccountOfAnotherAdministration() public {
        _admitCityWithClerk();
        vm.startPrank(governance);
        registry.admitAdministration(COUNTY, "County of Garrotxa");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAdministrationRegistry.AdministrationRegistryAccountAlreadyAssigned.selector, clerk, CITY
            )
        );
        registry.addAccount(COUNTY, clerk);
        vm.stopPrank();
        assertEq(registry.administrationOf(clerk), CITY, "still the city's");
    }

    function test_AddAccount_RevertsForAccountAlreadyInSameAdministration() public {
        _admitCityWithClerk();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAdministrationRegistry.AdministrationRegistryAccountAlreadyAssigned.selector, clerk, CITY
            )
        );
        vm.prank(governance);
        registry.addAccount(CITY, clerk);
        assertEq(registry.getAdministration(CITY).accountCount, 1, "count unchanged");
    }

    function test_AddAccount_ToSuspendedAdministrationIsNotActive() public {
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        registry.suspendAdministration(CITY);
        registry.addAccount(CITY, clerk);
        vm.stopPrank();
        assertEq(registry.administrationOf(clerk), CITY, "assigned");
        assertFalse(registry.isActiveMember(clerk), "not active while suspended");
    }

    // removeAccount

    function test_RemoveAccount_UnassignsAccountAndEmits() public {
        _admitCityWithClerk();
        vm.expectEmit(address(registry));
        emit IAdministrationRegistry.AccountRemoved(CITY, clerk);
        vm.prank(governance);
        registry.removeAccount(CITY, clerk);

        assertEq(registry.administrationOf(clerk), bytes32(0), "administrationOf");
        assertFalse(registry.isActiveMember(clerk), "not active");
        assertEq(registry.getAdministration(CITY).accountCount, 0, "accountCount");
    }

    function test_RemoveAccount_AllowsReassignmentToAnotherAdministration() public {
        _admitCityWithClerk();
        vm.startPrank(governance);
        registry.admitAdministration(COUNTY, "County of Garrotxa");
        registry.removeAccount(CITY, clerk);
        registry.addAccount(COUNTY, clerk);
        vm.stopPrank();
        assertEq(registry.administrationOf(clerk), COUNTY, "moved");
    }

    function test_RemoveAccount_RevertsWithoutGovernanceRole() public {
        _admitCityWithClerk();
        vm.expectRevert(_unauthorized(clerk));
        vm.prank(clerk);
        registry.removeAccount(CITY, clerk);
    }

    function test_RemoveAccount_RevertsForUnknownAdministration() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryUnknownAdministration.selector, CITY)
        );
        vm.prank(governance);
        registry.removeAccount(CITY, clerk);
    }

    function test_RemoveAccount_RevertsForAccountOfAnotherAdministration() public {
        _admitCityWithClerk();
        vm.startPrank(governance);
        registry.admitAdministration(COUNTY, "County of Garrotxa");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAdministrationRegistry.AdministrationRegistryAccountNotAssigned.selector, clerk, COUNTY
            )
        );
        registry.removeAccount(COUNTY, clerk);
        vm.stopPrank();
        assertEq(registry.administrationOf(clerk), CITY, "unchanged");
    }

    // suspendAdministration / reinstateAdministration

    function test_SuspendAdministration_DeactivatesAccountsAndEmits() public {
        _admitCityWithClerk();
        vm.expectEmit(address(registry));
        emit IAdministrationRegistry.AdministrationSuspended(CITY);
        vm.prank(governance);
        registry.suspendAdministration(CITY);

        assertTrue(registry.getAdministration(CITY).suspended, "suspended");
        assertFalse(registry.isActiveMember(clerk), "inactive");
        assertEq(registry.administrationOf(clerk), CITY, "still assigned");
        assertTrue(registry.isAdmitted(CITY), "still admitted");
    }

    function test_SuspendAdministration_RevertsWithoutGovernanceRole() public {
        _admitCityWithClerk();
        vm.expectRevert(_unauthorized(clerk));
        vm.prank(clerk);
        registry.suspendAdministration(CITY);
    }

    function test_SuspendAdministration_RevertsForUnknownAdministration() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryUnknownAdministration.selector, CITY)
        );
        vm.prank(governance);
        registry.suspendAdministration(CITY);
    }

    function test_SuspendAdministration_RevertsWhenAlreadySuspended() public {
        _admitCityWithClerk();
        vm.startPrank(governance);
        registry.suspendAdministration(CITY);
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryAlreadySuspended.selector, CITY)
        );
        registry.suspendAdministration(CITY);
        vm.stopPrank();
    }

    function test_ReinstateAdministration_ReactivatesAccountsAndEmits() public {
        _admitCityWithClerk();
        vm.startPrank(governance);
        registry.suspendAdministration(CITY);
        vm.expectEmit(address(registry));
        emit IAdministrationRegistry.AdministrationReinstated(CITY);
        registry.reinstateAdministration(CITY);
        vm.stopPrank();

        assertFalse(registry.getAdministration(CITY).suspended, "not suspended");
        assertTrue(registry.isActiveMember(clerk), "active again");
    }

    function test_ReinstateAdministration_RevertsWithoutGovernanceRole() public {
        _admitCityWithClerk();
        vm.prank(governance);
        registry.suspendAdministration(CITY);
        vm.expectRevert(_unauthorized(clerk));
        vm.prank(clerk);
        registry.reinstateAdministration(CITY);
    }

    function test_ReinstateAdministration_RevertsForUnknownAdministration() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryUnknownAdministration.selector, CITY)
        );
        vm.prank(governance);
        registry.reinstateAdministration(CITY);
    }

    function test_ReinstateAdministration_RevertsWhenNotSuspended() public {
        _admitCityWithClerk();
        vm.expectRevert(
            abi.encodeWithSelector(IAdministrationRegistry.AdministrationRegistryNotSuspended.selector, CITY)
        );
        vm.prank(governance);
        registry.reinstateAdministration(CITY);
    }

    // views

    function test_Views_ReturnEmptyAnswersForUnknownAccountsAndIds() public view {
        assertFalse(registry.isActiveMember(outsider), "isActiveMember");
        assertEq(registry.administrationOf(outsider), bytes32(0), "administrationOf");
        assertFalse(registry.isAdmitted(CITY), "isAdmitted");
        IAdministrationRegistry.Administration memory record = registry.getAdministration(CITY);
        assertEq(record.id, bytes32(0), "id");
        assertEq(record.name, "", "name");
        assertEq(record.admittedAt, 0, "admittedAt");
    }

    function test_SupportsInterface_ReportsAccessControl() public view {
        assertTrue(registry.supportsInterface(type(IAccessControl).interfaceId), "IAccessControl");
    }

    // fuzz

    function testFuzz_GovernanceFunctions_RevertForAnyCallerWithoutRole(address caller, bytes32 id, address account)
        public
    {
        vm.assume(caller != governance);
        vm.startPrank(caller);
        vm.expectRevert(_unauthorized(caller));
        registry.admitAdministration(id, "name");
        vm.expectRevert(_unauthorized(caller));
        registry.addAccount(id, account);
        vm.expectRevert(_unauthorized(caller));
        registry.removeAccount(id, account);
        vm.expectRevert(_unauthorized(caller));
        registry.suspendAdministration(id);
        vm.expectRevert(_unauthorized(caller));
        registry.reinstateAdministration(id);
        vm.stopPrank();
    }

    function testFuzz_AddAccount_AssignsAnyNonZeroAccount(bytes32 id, address account, string calldata name) public {
        vm.assume(id != bytes32(0) && account != address(0) && bytes(name).length > 0);
        vm.startPrank(governance);
        registry.admitAdministration(id, name);
        registry.addAccount(id, account);
        vm.stopPrank();
        assertEq(registry.administrationOf(account), id, "administrationOf");
        assertTrue(registry.isActiveMember(account), "active");
        assertEq(registry.getAdministration(id).name, name, "name");
    }

    function testFuzz_IsActiveMember_FollowsSuspension(address account, uint8 toggles) public {
        vm.assume(account != address(0));
        vm.startPrank(governance);
        registry.admitAdministration(CITY, "City of Girona");
        registry.addAccount(CITY, account);
        bool suspended = false;
        for (uint256 i = 0; i < toggles % 8; ++i) {
            if (suspended) {
                registry.reinstateAdministration(CITY);
            } else {
                registry.suspendAdministration(CITY);
            }
            suspended = !suspended;
            assertEq(registry.isActiveMember(account), !suspended, "active iff not suspended");
        }
        vm.stopPrank();
    }
}
