// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RevertingReceiver
/// @notice A party (buyer or seller) that refuses ETH, to show that a receiver that reverts
/// hurts only itself: its own withdrawal fails and keeps its credit, nobody else is blocked.
contract RevertingReceiver {
    error NoEthAccepted();

    /// @notice Calls `target` with `data` and `msg.value`, bubbling up any revert.
    function exec(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        revert NoEthAccepted();
    }
}
