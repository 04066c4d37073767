// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAdministrationRegistry} from "./interfaces/IAdministrationRegistry.sol";

/**
 * @dev Registry of the member administrations of a Segell network.
 *
 * Accounts holding `GOVERNANCE_ROLE` admit administrations, assign chain accounts to them, and suspend and
 * reinstate them. An account acts for one administration at most. An account is an active member while it acts
 * for an administration that is not suspended; the {Notary} lets only active members anchor and revoke.
 *
 * Role management is OpenZeppelin {AccessControl}: `DEFAULT_ADMIN_ROLE` grants and revokes `GOVERNANCE_ROLE`.
 */
contract AdministrationRegistry is AccessControl, IAdministrationRegistry {
    /// @dev Role allowed to admit, suspend and reinstate administrations and to manage their accounts.
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    mapping(bytes32 id => Administration) private _administrations;
    mapping(address account => bytes32 id) private _administrationOf;

    /**
     * @dev Grants `DEFAULT_ADMIN_ROLE` and `GOVERNANCE_ROLE` to `governance`.
     *
     * Requirements:
     *
     * - `governance` cannot be the zero address.
     */
    constructor(address governance) {
        if (governance == address(0)) {
            revert AdministrationRegistryZeroAccount();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(GOVERNANCE_ROLE, governance);
    }

    /**
     * @dev Admits the administration `id` with the display name `name`, not suspended and with no accounts.
     *
     * Requirements:
     *
     * - the caller must have `GOVERNANCE_ROLE`.
     * - `id` cannot be zero.
     * - `name` cannot be empty.
     * - `id` cannot have been admitted before.
     *
     * Emits an {AdministrationAdmitted} event.
     */
    function admitAdministration(bytes32 id, string calldata name) external onlyRole(GOVERNANCE_ROLE) {
        if (id == bytes32(0)) {
            revert AdministrationRegistryInvalidId();
        }
        if (bytes(name).length == 0) {
            revert AdministrationRegistryEmptyName();
        }
        if (_isAdmitted(id)) {
            revert AdministrationRegistryAlreadyAdmitted(id);
        }
        _administrations[id] = Administration({
            id: id, name: name, suspended: false, admittedAt: uint64(block.timestamp), accountCount: 0
        });
        emit AdministrationAdmitted(id, name);
    }

    /**
     * @dev Makes `account` act for the administration `id`. Accounts can be added to a suspended administration;
     * they become active members when it is reinstated.
     *
     * Requirements:
     *
     * - the caller must have `GOVERNANCE_ROLE`.
     * - `account` cannot be the zero address.
     * - `id` must have been admitted.
     * - `account` cannot already act for any administration.
     *
     * Emits an {AccountAdded} event.
     */
    function addAccount(bytes32 id, address account) external onlyRole(GOVERNANCE_ROLE) {
        if (account == address(0)) {
            revert AdministrationRegistryZeroAccount();
        }
        if (!_isAdmitted(id)) {
            revert AdministrationRegistryUnknownAdministration(id);
        }
        bytes32 current = _administrationOf[account];
        if (current != bytes32(0)) {
            revert AdministrationRegistryAccountAlreadyAssigned(account, current);
        }
        _administrationOf[account] = id;
        _administrations[id].accountCount += 1;
        emit AccountAdded(id, account);
    }

    /**
     * @dev Stops `account` acting for the administration `id`. Roots it anchored stay anchored and attributed
     * to `id`.
     *
     * Requirements:
     *
     * - the caller must have `GOVERNANCE_ROLE`.
     * - `id` must have been admitted.
     * - `account` must act for `id`.
     *
     * Emits an {AccountRemoved} event.
     */
    function removeAccount(bytes32 id, address account) external onlyRole(GOVERNANCE_ROLE) {
        if (!_isAdmitted(id)) {
            revert AdministrationRegistryUnknownAdministration(id);
        }
        if (_administrationOf[account] != id) {
            revert AdministrationRegistryAccountNotAssigned(account, id);
        }
        delete _administrationOf[account];
        _administrations[id].accountCount -= 1;
        emit AccountRemoved(id, account);
    }

    /**
     * @dev Suspends the administration `id`: while suspended, none of its accounts is an active member, so none
     * can anchor or revoke. Its anchored roots and revocations stay valid.
     *
     * Requirements:
     *
     * - the caller must have `GOVERNANCE_ROLE`.
     * - `id` must have been admitted.
     * - `id` cannot be suspended already.
     *
     * Emits an {AdministrationSuspended} event.
     */
    function suspendAdministration(bytes32 id) external onlyRole(GOVERNANCE_ROLE) {
        Administration storage administration = _administrations[id];
        if (administration.id == bytes32(0)) {
            revert AdministrationRegistryUnknownAdministration(id);
        }
        if (administration.suspended) {
            revert AdministrationRegistryAlreadySuspended(id);
        }
        administration.suspended = true;
        emit AdministrationSuspended(id);
    }

    /**
     * @dev Lifts the suspension of the administration `id`.
     *
     * Requirements:
     *
     * - the caller must have `GOVERNANCE_ROLE`.
     * - `id` must have been admitted.
     * - `id` must be suspended.
     *
     * Emits an {AdministrationReinstated} event.
     */
    function reinstateAdministration(bytes32 id) external onlyRole(GOVERNANCE_ROLE) {
        Administration storage administration = _administrations[id];
        if (administration.id == bytes32(0)) {
            revert AdministrationRegistryUnknownAdministration(id);
        }
        if (!administration.suspended) {
            revert AdministrationRegistryNotSuspended(id);
        }
        administration.suspended = false;
        emit AdministrationReinstated(id);
    }

    /**
     * @dev Returns true if `account` acts for an administration that is not suspended.
     */
    function isActiveMember(address account) external view returns (bool) {
        bytes32 id = _administrationOf[account];
        return id != bytes32(0) && !_administrations[id].suspended;
    }

    /**
     * @dev Returns the id of the administration `account` acts for, or zero if it acts for none. The answer does
     * not depend on suspension: use {isActiveMember} to know whether the account may act.
     */
    function administrationOf(address account) external view returns (bytes32) {
        return _administrationOf[account];
    }

    /**
     * @dev Returns the record of the administration `id`. For an id that was never admitted the record is zeroed
     * (`id == 0`); use {isAdmitted} to tell.
     */
    function getAdministration(bytes32 id) external view returns (Administration memory) {
        return _administrations[id];
    }

    /**
     * @dev Returns true if the administration `id` has been admitted, whether or not it is suspended.
     */
    function isAdmitted(bytes32 id) external view returns (bool) {
        return _isAdmitted(id);
    }

    function _isAdmitted(bytes32 id) private view returns (bool) {
        return _administrations[id].id != bytes32(0);
    }
}
