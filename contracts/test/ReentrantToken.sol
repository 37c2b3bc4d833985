// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice An ERC-20 that calls back into `target` with `payload` on every transfer, to show
/// that re-entry cannot move value. It records whether the re-entrant call succeeded.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    uint256 public successes;
    bytes public lastRevert;

    constructor() ERC20("Reentrant Token", "REN") {}

    /// @notice Mints `amount` to `to`; unrestricted, test only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the token: every later transfer calls `target_` with `payload_` first.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    /// @notice Lets the token itself act on `target_` (e.g. withdraw its own credit).
    function exec(address target_, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target_.call(data);
        require(ok, "exec failed");
        return ret;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (armed && from != address(0) && to != address(0)) {
            armed = false; // one attempt per arming, so the attack cannot recurse forever
            attempts += 1;
            (bool ok, bytes memory ret) = target.call(payload);
            if (ok) successes += 1;
            else lastRevert = ret;
        }
        super._update(from, to, value);
    }
}
