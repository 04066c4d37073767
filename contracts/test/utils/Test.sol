// SPDX-License-Identifier: EUPL-1.2
pragma solidity 0.8.37;

import {Vm} from "./Vm.sol";

/**
 * @dev Minimal base for Foundry tests: the cheatcode handle, assertions that fail through forge's own assertion
 * cheatcodes, `bound` for fuzz inputs, and the target lists forge reads for invariant campaigns.
 */
abstract contract Test {
    address internal constant VM_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));
    Vm internal constant vm = Vm(VM_ADDRESS);

    /// @dev Read by forge to recognise a test contract.
    bool public IS_TEST = true;

    /// @dev Same layout as forge-std's `StdInvariant.FuzzSelector`.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    FuzzSelector[] private _targetedSelectors;

    /// @dev Contracts the invariant fuzzer calls; when empty, forge calls every contract deployed in `setUp`.
    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    /// @dev Functions the invariant fuzzer calls on each target.
    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetedSelectors.push(selector);
    }

    /// @dev Maps `x` into `[min, max]` keeping small values where they are, like forge-std's `bound`.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) {
            return x;
        }
        return min + (x % (max - min + 1));
    }

    function assertTrue(bool condition, string memory message) internal pure {
        vm.assertTrue(condition, message);
    }

    function assertFalse(bool condition, string memory message) internal pure {
        vm.assertFalse(condition, message);
    }

    function assertEq(bool left, bool right, string memory message) internal pure {
        vm.assertEq(left, right, message);
    }

    function assertEq(uint256 left, uint256 right, string memory message) internal pure {
        vm.assertEq(left, right, message);
    }

    function assertEq(address left, address right, string memory message) internal pure {
        vm.assertEq(left, right, message);
    }

    function assertEq(bytes32 left, bytes32 right, string memory message) internal pure {
        vm.assertEq(left, right, message);
    }

    function assertEq(string memory left, string memory right, string memory message) internal pure {
        vm.assertEq(left, right, message);
    }
}
