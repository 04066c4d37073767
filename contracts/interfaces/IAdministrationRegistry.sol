// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

/**
 * @dev External interface of {AdministrationRegistry}: the on-chain list of member administrations of a Segell
 * network and the accounts that act for each of them.
 */
interface IAdministrationRegistry {
    /**
     * @dev A member administration. `admittedAt` is the timestamp of the block that admitted it; an administration
     * that was never admitted reads as a zeroed record (`id == 0`).
     */
    struct Administration {
        bytes32 id;
        string name;
        bool suspended;
        uint64 admittedAt;
        uint32 accountCount;
    }

    /**
     * @dev The administration id is zero, which is reserved for "no administration".
     */
    error AdministrationRegistryInvalidId();

    /**
     * @dev The administration name is empty.
     */
    error AdministrationRegistryEmptyName();

    /**
     * @dev The administration `id` has already been admitted.
     */
    error AdministrationRegistryAlreadyAdmitted(bytes32 id);

    /**
     * @dev The administration `id` has not been admitted.
     */
    error AdministrationRegistryUnknownAdministration(bytes32 id);

    /**
     * @dev The `account` already acts for the administration `id`; an account acts for one administration at most.
     */
    error AdministrationRegistryAccountAlreadyAssigned(address account, bytes32 id);

    /**
     * @dev The `account` does not act for the administration `id`.
     */
    error AdministrationRegistryAccountNotAssigned(address account, bytes32 id);

    /**
     * @dev The account is the zero address.
     */
    error AdministrationRegistryZeroAccount();

    /**
     * @dev The administration `id` is already suspended.
     */
    error AdministrationRegistryAlreadySuspended(bytes32 id);

    /**
     * @dev The administration `id` is not suspended.
     */
    error AdministrationRegistryNotSuspended(bytes32 id);

    /**
     * @dev Emitted when the administration `id` is admitted under the display name `name`.
     */
    event AdministrationAdmitted(bytes32 indexed id, string name);

    /**
     * @dev Emitted when `account` starts acting for the administration `id`.
     */
    event AccountAdded(bytes32 indexed id, address indexed account);

    /**
     * @dev Emitted when `account` stops acting for the administration `id`.
     */
    event AccountRemoved(bytes32 indexed id, address indexed account);

    /**
     * @dev Emitted when the administration `id` is suspended.
     */
    event AdministrationSuspended(bytes32 indexed id);

    /**
     * @dev Emitted when the administration `id` is reinstated after a suspension.
     */
    event AdministrationReinstated(bytes32 indexed id);

    /**
     * @dev Admits the administration `id` with the display name `name`.
     */
    function admitAdministration(bytes32 id, string calldata name) external;

    /**
     * @dev Makes `account` act for the administration `id`.
     */
    function addAccount(bytes32 id, address account) external;

    /**
     * @dev Stops `account` acting for the administration `id`.
     */
    function removeAccount(bytes32 id, address account) external;

    /**
     * @dev Suspends the administration `id`: none of its accounts is an active member until it is reinstated.
     */
    function suspendAdministration(bytes32 id) external;

    /**
     * @dev Lifts the suspension of the administration `id`.
     */
    function reinstateAdministration(bytes32 id) external;

    /**
     * @dev Returns true if `account` acts for an administration that is not suspended.
     */
    function isActiveMember(address account) external view returns (bool);

    /**
     * @dev Returns the id of the administration `account` acts for, or zero if it acts for none.
     */
    function administrationOf(address account) external view returns (bytes32);

    /**
     * @dev Returns the record of the administration `id`, zeroed if it was never admitted.
     */
    function getAdministration(bytes32 id) external view returns (Administration memory);

    /**
     * @dev Returns true if the administration `id` has been admitted (suspended or not).
     */
    function isAdmitted(bytes32 id) external view returns (bool);
}
